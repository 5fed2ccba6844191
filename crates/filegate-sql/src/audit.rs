//! The audit trail (`AuditLog`): the row, the statements (the same text everywhere; the
//! query builder numbers placeholders per engine) and the port. Appending is `INSERT … ON
//! CONFLICT (id) DO NOTHING` (idempotent by id) in both dialects. The records of a file's
//! change are appended in its write transaction ([`insert_audit`], through
//! `crate::store::commit_with_effects`; SQLite's one-trip batches have their own statements).

use filegate_core::StoreError;
use filegate_core::domain::{AuditAction, AuditQuery, AuditRecord, FileId, TenantId};
use filegate_core::ports::AuditLog;
use sqlx::{FromRow, QueryBuilder};

use crate::convert::{micros, time};
use crate::dialect::{BindExt as _, Dialect, Run as _};
use crate::engine::{Conn, Engine};
use crate::errors::bad_row;
use crate::store::SqlStore;

/// The columns `AuditRow` reads (JSON cast to text for PostgreSQL's JSONB).
pub(crate) const AUDIT_COLUMNS: &str =
    "seq, id, tenant, actor, action, file_id, request_id, client_ip, user_agent, at, CAST(details AS TEXT) AS details";

#[derive(FromRow)]
pub struct AuditRow {
    seq: i64,
    id: String,
    tenant: String,
    actor: String,
    action: String,
    file_id: Option<String>,
    request_id: Option<String>,
    client_ip: Option<String>,
    user_agent: Option<String>,
    at: i64,
    details: String,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditRecord {
            id: uuid::Uuid::parse_str(&r.id).map_err(|e| bad_row("audit.id", e))?,
            tenant: TenantId::parse(&r.tenant).map_err(|e| bad_row("audit.tenant", e))?,
            actor: r.actor,
            action: r.action,
            file_id: r
                .file_id
                .map(|f| FileId::parse(&f).map_err(|e| bad_row("audit.file_id", e)))
                .transpose()?,
            request_id: r.request_id,
            client_ip: r.client_ip,
            user_agent: r.user_agent,
            at: time("audit.at", r.at)?,
            details: serde_json::from_str(&r.details).map_err(|e| bad_row("audit.details", e))?,
            seq: r.seq,
        })
    }
}

/// The columns of `audit_log` an append writes, in the order [`audit_values`] gives them.
pub(crate) const AUDIT_WRITTEN: &str =
    "id, tenant, actor, action, file_id, request_id, client_ip, user_agent, at, details";

/// One record as a JSON array of [`AUDIT_WRITTEN`]'s values, for the statements that read
/// their rows from JSON (SQLite's one-trip batches). `details` goes in as a string: the
/// stored text is exactly what [`audit_insert`] stores.
pub(crate) fn audit_values(r: &AuditRecord) -> Result<serde_json::Value, StoreError> {
    let details = serde_json::to_string(&r.details).map_err(|e| crate::errors::unstorable("audit.details", e))?;
    Ok(serde_json::json!([
        r.id.to_string(),
        r.tenant.as_str(),
        r.actor,
        r.action,
        r.file_id.map(|f| f.to_string()),
        r.request_id,
        r.client_ip,
        r.user_agent,
        micros(r.at),
        details,
    ]))
}

/// One `INSERT` of `records`, in their order (so their `seq`s follow it). One statement: all
/// of them are stored, or none.
pub(crate) fn audit_insert<DB: Dialect>(records: &[AuditRecord]) -> Result<QueryBuilder<DB>, StoreError> {
    let mut q = QueryBuilder::<DB>::new(format!("INSERT INTO audit_log ({AUDIT_WRITTEN}) "));
    push_audit_rows(&mut q, records)?;
    q.push(" ON CONFLICT (id) DO NOTHING");
    Ok(q)
}

/// `VALUES (…), (…)`: the rows of `records`, for [`AUDIT_WRITTEN`].
pub(crate) fn push_audit_rows<DB: Dialect>(
    q: &mut QueryBuilder<DB>,
    records: &[AuditRecord],
) -> Result<(), StoreError> {
    let details = records
        .iter()
        .map(|r| serde_json::to_string(&r.details).map_err(|e| crate::errors::unstorable("audit.details", e)))
        .collect::<Result<Vec<_>, _>>()?;
    q.push_values(records.iter().zip(details), |mut row, (r, details)| {
        row.bind_value(r.id.to_string())
            .bind_value(r.tenant.as_str().to_owned())
            .bind_value(r.actor.clone())
            .bind_value(r.action.clone())
            .bind_value(r.file_id.map(|f| f.to_string()))
            .bind_value(r.request_id.clone())
            .bind_value(r.client_ip.clone())
            .bind_value(r.user_agent.clone())
            .bind_value(micros(r.at))
            .bind_value(details)
            .push_unseparated(DB::JSON);
    });
    Ok(())
}

/// Appends `records` in the caller's write transaction (the change they describe commits
/// with them), in one statement however many there are; nothing when there are none.
pub(crate) async fn insert_audit<E: Engine>(conn: &mut Conn<E>, records: &[AuditRecord]) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    audit_insert::<E::DB>(records)?.execute(&mut *conn).await?;
    Ok(())
}

/// The tenant's records matching `query`, newest first, `limit + 1` of them.
pub(crate) fn audit_listing<DB: Dialect>(tenant: &TenantId, query: &AuditQuery) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE tenant = "));
    q.bind_value(tenant.as_str().to_owned());
    if let Some(file_id) = query.file_id {
        q.push(" AND file_id = ").bind_value(file_id.to_string());
    }
    if let Some(actor) = &query.actor {
        q.push(" AND actor = ").bind_value(actor.clone());
    }
    match &query.action {
        Some(AuditAction::Exact(action)) => {
            q.push(" AND action = ").bind_value(action.clone());
        }
        // `substr` rather than LIKE: action names may contain `_`, a LIKE wildcard.
        Some(AuditAction::Prefix(prefix)) if !prefix.is_empty() => {
            q.push(" AND substr(action, 1, CAST(")
                .bind_value(i64::try_from(prefix.len()).unwrap_or(i64::MAX))
                .push(" AS INTEGER)) = ")
                .bind_value(prefix.clone());
        }
        Some(AuditAction::Prefix(_)) | None => {}
    }
    if let Some(since) = query.since {
        q.push(" AND at >= ").bind_value(micros(since));
    }
    if let Some(before) = query.before_seq {
        q.push(" AND seq < ").bind_value(before);
    }
    q.push(" ORDER BY seq DESC LIMIT ")
        .bind_value(i64::from(query.limit) + 1);
    q
}

#[async_trait::async_trait]
impl<E: Engine> AuditLog for SqlStore<E> {
    async fn append(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.append_many(std::slice::from_ref(record)).await
    }

    async fn append_many(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        self.write(audit_insert(records)?).await?;
        Ok(())
    }

    async fn list(&self, tenant: &TenantId, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let rows: Vec<AuditRow> = self.read_all(audit_listing(tenant, query)).await?;
        rows.into_iter().map(AuditRecord::try_from).collect()
    }
}
