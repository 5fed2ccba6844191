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
        self.append_many(std::slice::from_ref(record)).await
    }

    async fn append_many(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        audit_insert::<Postgres>(records, "::jsonb")?
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
