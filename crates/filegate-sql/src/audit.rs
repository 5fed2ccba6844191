//! The audit trail's SQL, for every engine: the row mapping and the listing query are the
//! same text everywhere (the query builder numbers placeholders per engine). Appending is
//! `INSERT … ON CONFLICT (id) DO NOTHING` (idempotent by id) in both dialects.

use filegate_core::StoreError;
use filegate_core::domain::{AuditAction, AuditQuery, AuditRecord, FileId, TenantId};
use sqlx::{Database, Encode, FromRow, QueryBuilder, Type};

use crate::errors::bad_row;
use crate::rows::{micros, time};

/// The columns `AuditRow` reads (JSON cast to text for PostgreSQL's JSONB).
pub(crate) const AUDIT_COLUMNS: &str =
    "seq, id, tenant, actor, action, file_id, request_id, client_ip, user_agent, at, CAST(details AS TEXT) AS details";

#[derive(FromRow)]
pub(crate) struct AuditRow {
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

/// One `INSERT` of `records`, in their order (so their `seq`s follow it); `details_cast` is
/// how the engine turns bound text into its JSON column type (`""` for SQLite's TEXT,
/// `"::jsonb"` for PostgreSQL). One statement: all of them are stored, or none.
pub(crate) fn audit_insert<DB>(records: &[AuditRecord], details_cast: &str) -> Result<QueryBuilder<DB>, StoreError>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
{
    let details = records
        .iter()
        .map(|r| serde_json::to_string(&r.details).map_err(|e| crate::errors::unstorable("audit.details", e)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut q = QueryBuilder::<DB>::new(
        "INSERT INTO audit_log (id, tenant, actor, action, file_id, request_id, client_ip, user_agent, at, details) ",
    );
    q.push_values(records.iter().zip(details), |mut row, (r, details)| {
        row.push_bind(r.id.to_string())
            .push_bind(r.tenant.as_str().to_owned())
            .push_bind(r.actor.clone())
            .push_bind(r.action.clone())
            .push_bind(r.file_id.map(|f| f.to_string()))
            .push_bind(r.request_id.clone())
            .push_bind(r.client_ip.clone())
            .push_bind(r.user_agent.clone())
            .push_bind(micros(r.at))
            .push_bind(details)
            .push_unseparated(details_cast);
    });
    q.push(" ON CONFLICT (id) DO NOTHING");
    Ok(q)
}

/// The tenant's records matching `query`, newest first, `limit + 1` of them.
pub(crate) fn audit_listing<DB>(tenant: &TenantId, query: &AuditQuery) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE tenant = "));
    q.push_bind(tenant.as_str().to_owned());
    if let Some(file_id) = query.file_id {
        q.push(" AND file_id = ").push_bind(file_id.to_string());
    }
    if let Some(actor) = &query.actor {
        q.push(" AND actor = ").push_bind(actor.clone());
    }
    match &query.action {
        Some(AuditAction::Exact(action)) => {
            q.push(" AND action = ").push_bind(action.clone());
        }
        // `substr` rather than LIKE: action names may contain `_`, a LIKE wildcard.
        Some(AuditAction::Prefix(prefix)) if !prefix.is_empty() => {
            q.push(" AND substr(action, 1, CAST(")
                .push_bind(i64::try_from(prefix.len()).unwrap_or(i64::MAX))
                .push(" AS INTEGER)) = ")
                .push_bind(prefix.clone());
        }
        Some(AuditAction::Prefix(_)) | None => {}
    }
    if let Some(since) = query.since {
        q.push(" AND at >= ").push_bind(micros(since));
    }
    if let Some(before) = query.before_seq {
        q.push(" AND seq < ").push_bind(before);
    }
    q.push(" ORDER BY seq DESC LIMIT ")
        .push_bind(i64::from(query.limit) + 1);
    q
}
