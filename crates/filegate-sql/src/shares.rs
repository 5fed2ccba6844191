//! Share links' SQL, for every engine: one text per statement (the query builder numbers the
//! placeholders per engine), one row type. The engines only run these in their own pools
//! and transactions (`sqlite/shares.rs`, `postgres/shares.rs`).

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{
    BucketName, EmailAddress, FileId, ObjectPath, PasswordHash, Share, ShareId, SharePermission, TenantId, TokenHash,
};
use sqlx::{Database, Encode, FromRow, QueryBuilder, Type};

use crate::errors::bad_row;
use crate::rows::{file_columns, micros, opt_time, tenant_id, time, uuid};

/// The columns `ShareRow` reads.
pub(crate) const SHARE_COLUMNS: &str = "id, tenant, file_id, token_hash, permission, created_by, created_at, \
     expires_at, recipient_email, password_hash, max_downloads, download_count, access_count, last_accessed_at, \
     revoked_at, password_failures, locked_until";

#[derive(FromRow)]
pub(crate) struct ShareRow {
    id: String,
    tenant: String,
    file_id: String,
    token_hash: Vec<u8>,
    permission: String,
    created_by: String,
    created_at: i64,
    expires_at: i64,
    recipient_email: Option<String>,
    password_hash: Option<String>,
    max_downloads: Option<i64>,
    download_count: i64,
    access_count: i64,
    last_accessed_at: Option<i64>,
    revoked_at: Option<i64>,
    password_failures: i64,
    locked_until: Option<i64>,
}

fn small(what: &str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| bad_row(what, v))
}

impl TryFrom<ShareRow> for Share {
    type Error = StoreError;
    fn try_from(r: ShareRow) -> Result<Self, StoreError> {
        let hash: [u8; 32] = r
            .token_hash
            .try_into()
            .map_err(|_| bad_row("share.token_hash", "not 32 bytes"))?;
        Ok(Share {
            id: ShareId::from_uuid(uuid("share.id", &r.id)?),
            tenant: tenant_id(&r.tenant)?,
            file_id: FileId::from_uuid(uuid("share.file_id", &r.file_id)?),
            token_hash: TokenHash::from_bytes(hash),
            permission: SharePermission::parse(&r.permission).map_err(|e| bad_row("share.permission", e))?,
            created_by: r.created_by,
            created_at: time("share.created_at", r.created_at)?,
            expires_at: time("share.expires_at", r.expires_at)?,
            recipient_email: r
                .recipient_email
                .map(|e| EmailAddress::parse(&e).map_err(|err| bad_row("share.recipient_email", err)))
                .transpose()?,
            password: r.password_hash.map(PasswordHash::from_stored),
            max_downloads: r.max_downloads.map(|n| small("share.max_downloads", n)).transpose()?,
            download_count: small("share.download_count", r.download_count)?,
            access_count: u64::try_from(r.access_count).map_err(|_| bad_row("share.access_count", r.access_count))?,
            last_accessed_at: opt_time("share.last_accessed_at", r.last_accessed_at)?,
            revoked_at: opt_time("share.revoked_at", r.revoked_at)?,
            password_failures: small("share.password_failures", r.password_failures)?,
            locked_until: opt_time("share.locked_until", r.locked_until)?,
        })
    }
}

pub(crate) fn insert_share<DB>(s: &Share) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> Vec<u8>: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new(format!("INSERT INTO shares ({SHARE_COLUMNS}) "));
    q.push_values([s], |mut row, s| {
        row.push_bind(s.id.to_string())
            .push_bind(s.tenant.as_str().to_owned())
            .push_bind(s.file_id.to_string())
            .push_bind(s.token_hash.as_bytes().to_vec())
            .push_bind(s.permission.as_str().to_owned())
            .push_bind(s.created_by.clone())
            .push_bind(micros(s.created_at))
            .push_bind(micros(s.expires_at))
            .push_bind(s.recipient_email.as_ref().map(|e| e.as_str().to_owned()))
            .push_bind(s.password.as_ref().map(|p| p.as_str().to_owned()))
            .push_bind(s.max_downloads.map(i64::from))
            .push_bind(i64::from(s.download_count))
            .push_bind(i64::try_from(s.access_count).unwrap_or(i64::MAX))
            .push_bind(s.last_accessed_at.map(micros))
            .push_bind(s.revoked_at.map(micros))
            .push_bind(i64::from(s.password_failures))
            .push_bind(s.locked_until.map(micros));
    });
    q
}

/// `… WHERE tenant = ? AND id = ?`
fn push_key<DB>(q: &mut QueryBuilder<DB>, tenant: &TenantId, id: ShareId)
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    q.push(" WHERE tenant = ")
        .push_bind(tenant.as_str().to_owned())
        .push(" AND id = ")
        .push_bind(id.to_string());
}

pub(crate) fn select_share<DB>(tenant: &TenantId, id: ShareId) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new(format!("SELECT {SHARE_COLUMNS} FROM shares"));
    push_key(&mut q, tenant, id);
    q
}

pub(crate) fn select_share_by_hash<DB>(hash: &TokenHash) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> Vec<u8>: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new(format!("SELECT {SHARE_COLUMNS} FROM shares WHERE token_hash = "));
    q.push_bind(hash.as_bytes().to_vec());
    q
}

/// Newest first.
pub(crate) fn list_shares<DB>(tenant: &TenantId, file_id: FileId) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new(format!("SELECT {SHARE_COLUMNS} FROM shares WHERE tenant = "));
    q.push_bind(tenant.as_str().to_owned())
        .push(" AND file_id = ")
        .push_bind(file_id.to_string())
        .push(" ORDER BY created_at DESC, id DESC");
    q
}

/// Idempotent: the first revocation's time stays.
pub(crate) fn revoke_share<DB>(tenant: &TenantId, id: ShareId, at: DateTime<Utc>) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new("UPDATE shares SET revoked_at = COALESCE(revoked_at, ");
    q.push_bind(micros(at)).push(")");
    push_key(&mut q, tenant, id);
    q.push(format!(" RETURNING {SHARE_COLUMNS}"));
    q
}

/// The conditional count of one access: the row changes only while the share opens, so two
/// requests racing for the last download cannot both get it.
pub(crate) fn record_access<DB>(tenant: &TenantId, id: ShareId, at: DateTime<Utc>, download: bool) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new(
        "UPDATE shares SET access_count = access_count + 1, download_count = download_count + ",
    );
    q.push_bind(i64::from(download))
        .push(", last_accessed_at = ")
        .push_bind(micros(at));
    push_key(&mut q, tenant, id);
    q.push(" AND revoked_at IS NULL AND expires_at > ")
        .push_bind(micros(at))
        .push(" AND (max_downloads IS NULL OR download_count < max_downloads)")
        .push(format!(" RETURNING {SHARE_COLUMNS}"));
    q
}

/// Compare-and-set of the attempt counter from `seen` to `seen + 1`.
pub(crate) fn count_password_attempt<DB>(
    tenant: &TenantId,
    id: ShareId,
    seen: u32,
    locked_until: Option<DateTime<Utc>>,
) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new("UPDATE shares SET password_failures = ");
    q.push_bind(i64::from(seen) + 1)
        .push(", locked_until = ")
        .push_bind(locked_until.map(micros));
    push_key(&mut q, tenant, id);
    q.push(" AND password_failures = ").push_bind(i64::from(seen));
    q
}

pub(crate) fn clear_password_failures<DB>(tenant: &TenantId, id: ShareId) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new("UPDATE shares SET password_failures = 0, locked_until = NULL");
    push_key(&mut q, tenant, id);
    q
}

/// The newest `ready` file at a path (`files_by_path` index).
pub(crate) fn ready_file_at<DB>(tenant: &TenantId, bucket: &BucketName, path: &ObjectPath) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new(concat!("SELECT ", file_columns!(), " FROM files WHERE tenant = "));
    q.push_bind(tenant.as_str().to_owned())
        .push(" AND bucket = ")
        .push_bind(bucket.as_str().to_owned())
        .push(" AND path = ")
        .push_bind(path.to_string())
        .push(" AND status = 'ready' ORDER BY created_at DESC, id DESC LIMIT 1");
    q
}
