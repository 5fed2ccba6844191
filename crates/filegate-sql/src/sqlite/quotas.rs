//! Tenant quotas and usage on SQLite (the SQL and the logic are shared: `crate::quotas`).

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{Quota, TenantId, TenantUsage};
use sqlx::{Sqlite, SqliteConnection};

use super::SqliteStore;
use crate::errors::store_err;
use crate::quotas::{read_quota, read_usage, write_quota};

/// `crate::quotas::enforce_quota` inside a write transaction: SQLite's write transaction (`BEGIN IMMEDIATE`) holds the database.
pub(super) async fn enforce_quota(conn: &mut SqliteConnection, tenant: &TenantId, size: u64) -> Result<(), StoreError> {
    crate::quotas::enforce_quota::<Sqlite>(conn, tenant, size, false).await
}

impl SqliteStore {
    pub(super) async fn tenant_quota_impl(&self, tenant: &TenantId) -> Result<Quota, StoreError> {
        read_quota(&self.reader, tenant).await
    }

    pub(super) async fn set_tenant_quota_impl(
        &self,
        tenant: &TenantId,
        quota: &Quota,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        write_quota::<Sqlite>(&mut tx, tenant, quota, at).await?;
        tx.commit().await.map_err(store_err)
    }

    pub(super) async fn tenant_usage_impl(&self, tenant: &TenantId) -> Result<TenantUsage, StoreError> {
        read_usage(&self.reader, tenant).await
    }
}
