//! Share links (`ShareStore`): the row, the statements
//! (one text for every engine; the query builder numbers the placeholders) and the ports.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{EmailAddress, FileId, PasswordHash, Share, ShareId, SharePermission, TenantId, TokenHash};
use filegate_core::ports::{Effects, ShareStore};
use sqlx::{FromRow, QueryBuilder};

use crate::convert::{micros, opt_time, tenant_id, time, uuid};
use crate::dialect::{BindExt as _, Dialect, Run as _};
use crate::engine::Engine;
use crate::errors::bad_row;
use crate::store::SqlStore;

/// The columns `ShareRow` reads.
pub(crate) const SHARE_COLUMNS: &str = "id, tenant, file_id, token_hash, permission, created_by, created_at, \
     expires_at, recipient_email, password_hash, max_downloads, download_count, access_count, last_accessed_at, \
     revoked_at, password_failures, locked_until";

#[derive(FromRow)]
pub struct ShareRow {
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

pub(crate) fn insert_share<DB: Dialect>(s: &Share) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new(format!("INSERT INTO shares ({SHARE_COLUMNS}) "));
    q.push_values([s], |mut row, s| {
        row.bind_value(s.id.to_string())
            .bind_value(s.tenant.as_str().to_owned())
            .bind_value(s.file_id.to_string())
            .bind_value(s.token_hash.as_bytes().to_vec())
            .bind_value(s.permission.as_str().to_owned())
            .bind_value(s.created_by.clone())
            .bind_value(micros(s.created_at))
            .bind_value(micros(s.expires_at))
            .bind_value(s.recipient_email.as_ref().map(|e| e.as_str().to_owned()))
            .bind_value(s.password.as_ref().map(|p| p.as_str().to_owned()))
            .bind_value(s.max_downloads.map(i64::from))
            .bind_value(i64::from(s.download_count))
            .bind_value(i64::try_from(s.access_count).unwrap_or(i64::MAX))
            .bind_value(s.last_accessed_at.map(micros))
            .bind_value(s.revoked_at.map(micros))
            .bind_value(i64::from(s.password_failures))
            .bind_value(s.locked_until.map(micros));
    });
    q
}

/// `… WHERE tenant = ? AND id = ?`
fn push_key<DB: Dialect>(q: &mut QueryBuilder<DB>, tenant: &TenantId, id: ShareId) {
    q.push(" WHERE tenant = ")
        .bind_value(tenant.as_str().to_owned())
        .push(" AND id = ")
        .bind_value(id.to_string());
}

pub(crate) fn select_share<DB: Dialect>(tenant: &TenantId, id: ShareId) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new(format!("SELECT {SHARE_COLUMNS} FROM shares"));
    push_key(&mut q, tenant, id);
    q
}

pub(crate) fn select_share_by_hash<DB: Dialect>(hash: &TokenHash) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new(format!("SELECT {SHARE_COLUMNS} FROM shares WHERE token_hash = "));
    q.bind_value(hash.as_bytes().to_vec());
    q
}

/// Newest first.
pub(crate) fn list_shares<DB: Dialect>(tenant: &TenantId, file_id: FileId) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new(format!("SELECT {SHARE_COLUMNS} FROM shares WHERE tenant = "));
    q.bind_value(tenant.as_str().to_owned())
        .push(" AND file_id = ")
        .bind_value(file_id.to_string())
        .push(" ORDER BY created_at DESC, id DESC");
    q
}

/// Idempotent: the first revocation's time stays.
pub(crate) fn revoke_share<DB: Dialect>(tenant: &TenantId, id: ShareId, at: DateTime<Utc>) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new("UPDATE shares SET revoked_at = COALESCE(revoked_at, ");
    q.bind_value(micros(at)).push(")");
    push_key(&mut q, tenant, id);
    q.push(format!(" RETURNING {SHARE_COLUMNS}"));
    q
}

/// The conditional count of one access: the row changes only while the share opens, so two
/// requests racing for the last download cannot both get it.
pub(crate) fn record_access<DB: Dialect>(
    tenant: &TenantId,
    id: ShareId,
    at: DateTime<Utc>,
    download: bool,
) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new(
        "UPDATE shares SET access_count = access_count + 1, download_count = download_count + ",
    );
    q.bind_value(i64::from(download))
        .push(", last_accessed_at = ")
        .bind_value(micros(at));
    push_key(&mut q, tenant, id);
    q.push(" AND revoked_at IS NULL AND expires_at > ")
        .bind_value(micros(at))
        .push(" AND (max_downloads IS NULL OR download_count < max_downloads)")
        .push(format!(" RETURNING {SHARE_COLUMNS}"));
    q
}

/// Compare-and-set of the attempt counter from `seen` to `seen + 1`.
pub(crate) fn count_password_attempt<DB: Dialect>(
    tenant: &TenantId,
    id: ShareId,
    seen: u32,
    locked_until: Option<DateTime<Utc>>,
) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new("UPDATE shares SET password_failures = ");
    q.bind_value(i64::from(seen) + 1)
        .push(", locked_until = ")
        .bind_value(locked_until.map(micros));
    push_key(&mut q, tenant, id);
    q.push(" AND password_failures = ").bind_value(i64::from(seen));
    q
}

pub(crate) fn clear_password_failures<DB: Dialect>(tenant: &TenantId, id: ShareId) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new("UPDATE shares SET password_failures = 0, locked_until = NULL");
    push_key(&mut q, tenant, id);
    q
}

#[async_trait::async_trait]
impl<E: Engine> ShareStore for SqlStore<E> {
    async fn create_share(&self, share: &Share, effects: &Effects) -> Result<(), StoreError> {
        let insert = insert_share::<E::DB>(share);
        self.write_change(effects, |c| insert.execute(c)).await?;
        Ok(())
    }

    async fn get_share(&self, tenant: &TenantId, id: ShareId) -> Result<Option<Share>, StoreError> {
        let row: Option<ShareRow> = self.read_optional(select_share(tenant, id)).await?;
        row.map(Share::try_from).transpose()
    }

    async fn find_share(&self, token_hash: &TokenHash) -> Result<Option<Share>, StoreError> {
        let row: Option<ShareRow> = self.read_optional(select_share_by_hash(token_hash)).await?;
        row.map(Share::try_from).transpose()
    }

    async fn list_shares(&self, tenant: &TenantId, file_id: FileId) -> Result<Vec<Share>, StoreError> {
        let rows: Vec<ShareRow> = self.read_all(list_shares(tenant, file_id)).await?;
        rows.into_iter().map(Share::try_from).collect()
    }

    async fn revoke_share(
        &self,
        tenant: &TenantId,
        id: ShareId,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<Share, StoreError> {
        let revoke = revoke_share::<E::DB>(tenant, id, at);
        let row: Option<ShareRow> = self.write_change(effects, |c| revoke.fetch_optional(c)).await?;
        row.ok_or(StoreError::NotFound).and_then(Share::try_from)
    }

    async fn record_share_access(
        &self,
        tenant: &TenantId,
        id: ShareId,
        at: DateTime<Utc>,
        download: bool,
        effects: &Effects,
    ) -> Result<Option<Share>, StoreError> {
        let access = record_access::<E::DB>(tenant, id, at, download);
        let row: Option<ShareRow> = self.write_change(effects, |c| access.fetch_optional(c)).await?;
        row.map(Share::try_from).transpose()
    }

    async fn count_password_attempt(
        &self,
        tenant: &TenantId,
        id: ShareId,
        seen: u32,
        locked_until: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let changed = self
            .write(count_password_attempt(tenant, id, seen, locked_until))
            .await?;
        Ok(changed == 1)
    }

    async fn clear_password_failures(&self, tenant: &TenantId, id: ShareId) -> Result<(), StoreError> {
        self.write(clear_password_failures(tenant, id)).await?;
        Ok(())
    }
}
