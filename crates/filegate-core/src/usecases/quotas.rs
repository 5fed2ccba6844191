//! Storage quotas per tenant: a tenant admin reads its quota and usage, a superadmin sets
//! any tenant's quota (a tenant raising its own limit would make it no limit). New tenants
//! start with the configured default (`Settings::default_quota`).
//!
//! The binding check is the store's: `insert_file` refuses a file the quota does not allow
//! in the transaction that would insert it. The checks here come earlier, to refuse before
//! anything is prepared in storage (a multipart upload, a streamed body).

use serde_json::json;

use super::audit::{self, Actor};
use super::context::{HasClock, HasLookups, HasSettings, HasStore};
use crate::domain::{Permission, Principal, Quota, QuotaExceeded, QuotaLimit, StorageUsage, TenantId, TenantUsage};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::Effects;

/// The tenant a quota request is about: the caller's own (tenant admin), or any tenant
/// (superadmin). Another tenant that does not exist is `NotFound`.
async fn target(cx: &impl HasStore, principal: &Principal, tenant: Option<TenantId>) -> Result<TenantId> {
    match tenant {
        Some(other) if other != principal.tenant => {
            principal.require(Permission::Operate)?;
            if !super::tenants::exists(cx, &other).await? {
                return Err(Error::not_found("tenant"));
            }
            Ok(other)
        }
        _ => {
            principal.require(Permission::Administer)?;
            Ok(principal.tenant.clone())
        }
    }
}

/// The quota of the caller's tenant, or of `tenant` for a superadmin.
pub async fn get(cx: &impl HasStore, principal: &Principal, tenant: Option<TenantId>) -> Result<(TenantId, Quota)> {
    let tenant = target(cx, principal, tenant).await?;
    let quota = cx.store().tenant_quota(&tenant).await?;
    Ok((tenant, quota))
}

/// Replaces a tenant's quota (superadmin only, also for its own tenant). Files already
/// stored stay when a limit is lowered below the usage; new ones are refused until the
/// usage is back under it.
#[tracing::instrument(skip_all, fields(actor = %principal.subject))]
pub async fn set(
    cx: &(impl HasStore + HasClock + HasLookups),
    principal: &Principal,
    tenant: Option<TenantId>,
    quota: Quota,
) -> Result<(TenantId, Quota)> {
    principal.require(Permission::Operate)?;
    // The engines keep signed 64-bit integers; nothing stores more bytes than that anyway.
    if [quota.max_bytes, quota.max_files]
        .into_iter()
        .flatten()
        .any(|limit| i64::try_from(limit).is_err())
    {
        return Err(Error::invalid(
            ErrorCode::InvalidQuota,
            format!("a limit is at most {} (or null: unlimited)", i64::MAX),
        ));
    }
    let tenant = target(cx, principal, tenant).await?;
    // In the tenant's trail, whose admins see who changed their limits, and in the
    // superadmin's own when that is another tenant.
    let details = json!({"tenant": tenant.as_str(), "max_bytes": quota.max_bytes, "max_files": quota.max_files});
    let actor = Actor::of(principal);
    let mut effects = Effects::NONE;
    if tenant != principal.tenant {
        effects = effects.audited(audit::entry(cx, &actor, "quota.changed", None, details.clone()));
    }
    let in_target = Actor {
        tenant: tenant.clone(),
        ..actor
    };
    let effects = effects.audited(audit::entry(cx, &in_target, "quota.changed", None, details));
    let changed = cx
        .store()
        .set_tenant_quota(&tenant, &quota, cx.clock().now(), &effects)
        .await;
    cx.lookups().forget_quota(&tenant).await;
    changed.map_err(|e| match e {
        StoreError::NotFound => Error::not_found("tenant"),
        other => other.into(),
    })?;
    tracing::info!(%tenant, max_bytes = ?quota.max_bytes, max_files = ?quota.max_files, "quota changed");
    Ok((tenant, quota))
}

/// A tenant's usage per bucket, with its quota.
pub async fn usage(
    cx: &impl HasStore,
    principal: &Principal,
    tenant: Option<TenantId>,
) -> Result<(TenantId, Quota, TenantUsage)> {
    let tenant = target(cx, principal, tenant).await?;
    let quota = cx.store().tenant_quota(&tenant).await?;
    let usage = cx.store().tenant_usage(&tenant).await?;
    Ok((tenant, quota, usage))
}

/// Gives a new tenant the configured default quota (nothing to write when it is unlimited).
pub(crate) async fn apply_default(
    cx: &(impl HasStore + HasSettings + HasClock + HasLookups),
    tenant: &TenantId,
) -> Result<()> {
    let quota = cx.settings().default_quota;
    if !quota.is_unlimited() {
        cx.store()
            .set_tenant_quota(tenant, &quota, cx.clock().now(), &Effects::NONE)
            .await?;
        cx.lookups().forget_quota(tenant).await;
    }
    Ok(())
}

/// Refuses early (`quota-exceeded`) a file of `size` bytes that the tenant's quota does not
/// allow now. Not the binding check (a concurrent upload may still take the room first):
/// it keeps a refused upload from preparing anything in storage.
pub(crate) async fn precheck(cx: &(impl HasStore + HasLookups), tenant: &TenantId, size: u64) -> Result<()> {
    // A copy up to a second old in another process is fine here: this check only spares
    // storage work, and the insert checks the quota it commits under.
    let quota = cx.lookups().quota(cx.store(), tenant).await?;
    if quota.is_unlimited() {
        return Ok(());
    }
    let usage = cx.store().tenant_usage(tenant).await?.total;
    quota.admit(&usage, size).map_err(Error::quota_exceeded)
}

/// Whether a zip bundle of `size` bytes fits the tenant's byte limit beside what it keeps
/// (files, and the bundles already stored): the limit it would break otherwise. A bundle
/// is not a file: `max_files` does not apply. Checked when a bundle is asked for (with
/// the files' total, the size of a zip that stores them) and again by the build with the
/// zip's real size, before the bundle becomes `ready` and starts to count.
pub(crate) async fn admit_bundle(
    cx: &impl HasStore,
    tenant: &TenantId,
    size: u64,
) -> Result<Result<(), QuotaExceeded>> {
    let quota = cx.store().tenant_quota(tenant).await?;
    let Some(max) = quota.max_bytes else {
        return Ok(Ok(()));
    };
    let used = cx.store().tenant_usage(tenant).await?.total.bytes;
    if used.saturating_add(size) > max {
        return Ok(Err(QuotaExceeded {
            limit: QuotaLimit::Bytes,
            used,
            adding: size,
            max,
        }));
    }
    Ok(Ok(()))
}

/// The room a body of unknown size may fill, for an upload streamed through the gateway:
/// `None` when the tenant has no byte limit. Refused (`quota-exceeded`) up front when the
/// tenant may keep no more files.
pub(crate) async fn room(cx: &impl HasStore, tenant: &TenantId) -> Result<Option<Room>> {
    let quota = cx.store().tenant_quota(tenant).await?;
    if quota.is_unlimited() {
        return Ok(None);
    }
    let usage = cx.store().tenant_usage(tenant).await?.total;
    quota.admit(&usage, 0).map_err(Error::quota_exceeded)?;
    Ok(quota.max_bytes.map(|max| Room { usage, max }))
}

/// The bytes left under a tenant's byte limit when a streamed upload began.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Room {
    usage: StorageUsage,
    max: u64,
}

impl Room {
    pub(crate) fn bytes(&self) -> u64 {
        self.max.saturating_sub(self.usage.bytes)
    }

    /// The error for a body that ran past [`Room::bytes`].
    pub(crate) fn exceeded(&self) -> Error {
        Error::quota_exceeded(QuotaExceeded {
            limit: QuotaLimit::Bytes,
            used: self.usage.bytes,
            adding: self.bytes().saturating_add(1),
            max: self.max,
        })
    }
}
