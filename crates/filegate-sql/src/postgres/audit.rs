//! The audit trail on PostgreSQL (the SQL is shared: `crate::audit`).

use filegate_core::StoreError;
use filegate_core::domain::{AuditQuery, AuditRecord, TenantId};
use filegate_core::ports::AuditLog;
use sqlx::Postgres;

use super::PostgresStore;
use crate::audit::{AuditRow, audit_insert, audit_listing};
use crate::errors::store_err;

#[async_trait::async_trait]
impl AuditLog for PostgresStore {
    async fn append(&self, record: &AuditRecord) -> Result<(), StoreError> {
        audit_insert::<Postgres>(record, "::jsonb")?
            .build()
            .execute(&self.pool)
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn list(&self, tenant: &TenantId, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        audit_listing::<Postgres>(tenant, query)
            .build_query_as::<AuditRow>()
            .fetch_all(&self.pool)
            .await
            .map_err(store_err)?
            .into_iter()
            .map(AuditRecord::try_from)
            .collect()
    }
}
