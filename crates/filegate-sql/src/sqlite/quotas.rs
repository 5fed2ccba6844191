//! Tenant quotas and usage on SQLite (the SQL is shared: `crate::quotas`).

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{Quota, TenantId, TenantUsage};
use sqlx::{Sqlite, SqliteConnection};

use super::SqliteStore;
use crate::errors::store_err;
use crate::quotas::{
    BucketUsageRow, QuotaRow, quota_of, quota_select, quota_upsert, storage_usage, usage_by_bucket, usage_of,
    usage_total,
};

/// Refuses (`QuotaExceeded`) one more file of `size` bytes for `tenant` unless its quota
/// allows it, inside the caller's write transaction, before the insert. The transaction
/// holds SQLite's write lock from `BEGIN IMMEDIATE`, so no other insert runs between this
/// check and commit: two inserts cannot both take the last byte.
pub(super) async fn enforce_quota(conn: &mut SqliteConnection, tenant: &TenantId, size: u64) -> Result<(), StoreError> {
    let row: Option<QuotaRow> = quota_select::<Sqlite>(tenant, false)
        .build_query_as()
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_err)?;
    let quota = quota_of(row)?;
    if quota.is_unlimited() {
        return Ok(());
    }
    let (bytes, files): (i64, i64) = usage_total::<Sqlite>(tenant)
        .build_query_as()
        .fetch_one(&mut *conn)
        .await
        .map_err(store_err)?;
    quota
        .admit(&storage_usage(bytes, files)?, size)
        .map_err(StoreError::QuotaExceeded)
}

impl SqliteStore {
    pub(super) async fn tenant_quota_impl(&self, tenant: &TenantId) -> Result<Quota, StoreError> {
        let row: Option<QuotaRow> = quota_select::<Sqlite>(tenant, false)
            .build_query_as()
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?;
        quota_of(row)
    }

    pub(super) async fn set_tenant_quota_impl(
        &self,
        tenant: &TenantId,
        quota: &Quota,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM tenants WHERE id = ?")
            .bind(tenant.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_err)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        quota_upsert::<Sqlite>(tenant, quota, at)?
            .build()
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        tx.commit().await.map_err(store_err)
    }

    pub(super) async fn tenant_usage_impl(&self, tenant: &TenantId) -> Result<TenantUsage, StoreError> {
        let rows: Vec<BucketUsageRow> = usage_by_bucket::<Sqlite>(tenant)
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?;
        usage_of(rows)
    }
}
