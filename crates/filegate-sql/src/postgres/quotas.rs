//! Tenant quotas and usage on PostgreSQL (the SQL and the logic are shared: `crate::quotas`).

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{Quota, TenantId, TenantUsage};
use sqlx::{PgConnection, Postgres};

use super::PostgresStore;
use crate::errors::store_err;
use crate::quotas::{read_quota, read_usage, write_quota};

/// `crate::quotas::enforce_quota` inside a write transaction: the quota row is locked `FOR UPDATE` until commit.
pub(super) async fn enforce_quota(conn: &mut PgConnection, tenant: &TenantId, size: u64) -> Result<(), StoreError> {
    crate::quotas::enforce_quota::<Postgres>(conn, tenant, size, true).await
}

impl PostgresStore {
    pub(super) async fn tenant_quota_impl(&self, tenant: &TenantId) -> Result<Quota, StoreError> {
        read_quota(&self.pool, tenant).await
    }

    pub(super) async fn set_tenant_quota_impl(
        &self,
        tenant: &TenantId,
        quota: &Quota,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        write_quota::<Postgres>(&mut tx, tenant, quota, at).await?;
        tx.commit().await.map_err(store_err)
    }

    pub(super) async fn tenant_usage_impl(&self, tenant: &TenantId) -> Result<TenantUsage, StoreError> {
        read_usage(&self.pool, tenant).await
    }
}
