//! `AuditLog`: the append-only audit trail, in the metadata database.

use async_trait::async_trait;

use crate::domain::{AuditQuery, AuditRecord, TenantId};
use crate::error::StoreError;

#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Appends `record` (its `seq` is ignored and assigned). A record whose `id` is already
    /// in the log is not appended again: appending is idempotent.
    async fn append(&self, record: &AuditRecord) -> Result<(), StoreError>;
    /// [`append`](Self::append) for several records, in their order: what
    /// `filegate_memory::BatchedAuditLog` writes for the appends that arrived together. The
    /// database engines write them in one statement (all or none); this default, for
    /// engines that cannot, appends them one by one.
    async fn append_many(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        for record in records {
            self.append(record).await?;
        }
        Ok(())
    }
    /// The tenant's records matching `query`, newest first, at most `query.limit + 1` (so
    /// the caller can tell whether another page follows).
    async fn list(&self, tenant: &TenantId, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
}
