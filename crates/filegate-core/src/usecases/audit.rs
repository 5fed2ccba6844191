//! The audit trail: every sensitive action appends one record (actor, tenant, action, file,
//! request id, client IP, user agent, time, details), and admins read it back.
//!
//! A read that is audited (a download, a passphrase) is recorded *before* the data is handed
//! out: when the trail cannot be written, the caller gets 503 and no data.
//!
//! A change carries its record into the store's write: [`entry`] (or [`entry_once`]) makes
//! it, and the store writes it in the change's own transaction (`ports::Effects`). So do
//! changes to files (an upload created, completed or aborted, a rename, a delete, a restore,
//! an expiry or purge, a quarantine, a dedup), file requests (created, fulfilled,
//! cancelled), API keys, buckets, tenants, quotas, webhooks, alert recipients, shares, zip
//! bundles (asked for, ready, failed, expired), passphrase rotations and queued trigger
//! calls. The change and its record commit together or not at all; when the record cannot
//! be written, nothing changed and the caller gets the error.
//!
//! What is not a write of ours has nothing to commit with: a wrong share password (the
//! attempt is counted before the check) is recorded with [`record`] before the refusal is
//! told; a synchronous trigger's call, made already, with [`record_after`]; a job's own
//! action with [`record_once`].

use uuid::Uuid;

use super::context::{HasAudit, HasClock};
use crate::domain::{AuditQuery, AuditRecord, FileId, MAX_AUDIT_PAGE, Origin, Permission, Principal, TenantId};
use crate::error::Result;

/// Who acts: a principal with where its request came from, or filegate itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub subject: String,
    pub tenant: TenantId,
    pub origin: Origin,
}

impl Actor {
    pub fn of(principal: &Principal) -> Self {
        Self {
            subject: principal.subject.clone(),
            tenant: principal.tenant.clone(),
            origin: principal.origin.clone(),
        }
    }

    /// filegate itself (`system:pipeline`, `system:sweeper`), acting in `tenant`.
    pub fn system(tenant: TenantId, part: &str) -> Self {
        Self {
            subject: format!("system:{part}"),
            tenant,
            origin: Origin::default(),
        }
    }
}

/// A record of `action`, to be written with the change it describes (`ports::Effects`).
pub fn entry(
    cx: &impl HasClock,
    actor: &Actor,
    action: &str,
    file_id: Option<FileId>,
    details: serde_json::Value,
) -> AuditRecord {
    entry_once(cx, actor, Uuid::now_v7(), action, file_id, details)
}

/// [`entry`] under a stable `key` (see [`once_key`]): for changes made by jobs that may run
/// twice, whose record is then written at most once.
pub fn entry_once(
    cx: &impl HasClock,
    actor: &Actor,
    key: Uuid,
    action: &str,
    file_id: Option<FileId>,
    details: serde_json::Value,
) -> AuditRecord {
    AuditRecord {
        id: key,
        tenant: actor.tenant.clone(),
        actor: actor.subject.clone(),
        action: action.to_owned(),
        file_id,
        request_id: actor.origin.request_id.clone(),
        client_ip: actor.origin.client_ip.clone(),
        user_agent: actor.origin.user_agent.clone(),
        at: cx.clock().now(),
        details,
        seq: 0,
    }
}

/// Appends `record` of an action that is no write of ours and is made already (a
/// synchronous trigger's call): there is nothing to commit it with, and answering an error
/// would make the caller repeat what happened. So a failure to append is logged and counted
/// (`filegate_audit_failures_total`), not returned.
pub async fn record_after(cx: &impl HasAudit, record: &AuditRecord) {
    if let Err(e) = cx.audit().append(record).await {
        metrics::counter!("filegate_audit_failures_total").increment(1);
        tracing::error!(error = %e, action = %record.action, actor = %record.actor, "could not append to the audit trail");
    }
}

/// Appends one record; an error means nothing was recorded (audited reads fail closed).
pub async fn record(
    cx: &(impl HasAudit + HasClock),
    actor: &Actor,
    action: &str,
    file_id: Option<FileId>,
    details: serde_json::Value,
) -> Result<()> {
    append(cx, actor, Uuid::now_v7(), action, file_id, details).await
}

/// Appends one record at most once per `key`, however often it is called: for actions
/// recorded by jobs that may run twice, outside a file's change. Make the key with
/// [`once_key`].
pub async fn record_once(
    cx: &(impl HasAudit + HasClock),
    actor: &Actor,
    key: Uuid,
    action: &str,
    file_id: Option<FileId>,
    details: serde_json::Value,
) -> Result<()> {
    append(cx, actor, key, action, file_id, details).await
}

/// A stable key for "`action` happened to `subject`" (a UUIDv5 in a namespace of ours).
pub fn once_key(action: &str, subject: &str) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_3c0e_8f4b_4d0a_9b7e_2c5d_1e0f_a7b3);
    Uuid::new_v5(&NAMESPACE, format!("{action}\n{subject}").as_bytes())
}

async fn append(
    cx: &(impl HasAudit + HasClock),
    actor: &Actor,
    id: Uuid,
    action: &str,
    file_id: Option<FileId>,
    details: serde_json::Value,
) -> Result<()> {
    let record = entry_once(cx, actor, id, action, file_id, details);
    cx.audit().append(&record).await?;
    tracing::debug!(action, actor = %record.actor, "audited");
    Ok(())
}

/// One page of the tenant's trail, newest first, and the cursor of the next page.
pub async fn list(
    cx: &impl HasAudit,
    principal: &Principal,
    mut query: AuditQuery,
) -> Result<(Vec<AuditRecord>, Option<i64>)> {
    principal.require(Permission::Administer)?;
    query.limit = query.limit.clamp(1, MAX_AUDIT_PAGE);
    let mut records = cx.audit().list(&principal.tenant, &query).await?;
    let next = if records.len() > query.limit as usize {
        records.truncate(query.limit as usize);
        records.last().map(|r| r.seq)
    } else {
        None
    };
    Ok((records, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_keys_are_stable_and_distinct() {
        assert_eq!(once_key("a", "1"), once_key("a", "1"));
        assert_ne!(once_key("a", "1"), once_key("a", "2"));
    }
}
