//! `ArchiveStore`: zip bundle records, and the file selections they are made from, in
//! SQLite or PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{Archive, ArchiveId, ArchiveQuery, ArchiveStatus, FileId, FileRecord, TenantId};
use crate::error::StoreError;
use crate::ports::metadata::Effects;

/// Scoped by tenant like `MetadataStore`: no method returns another tenant's row.
#[async_trait]
pub trait ArchiveStore: Send + Sync + 'static {
    /// The tenant's files among `ids`, in any status, in no particular order; ids of no file
    /// of the tenant are simply absent.
    async fn files_by_id(&self, tenant: &TenantId, ids: &[FileId]) -> Result<Vec<FileRecord>, StoreError>;
    /// The tenant's `ready` files matching `query`, ordered by path then id, at most `limit`.
    async fn files_matching(
        &self,
        tenant: &TenantId,
        query: &ArchiveQuery,
        limit: u32,
    ) -> Result<Vec<FileRecord>, StoreError>;

    /// Inserts the archive and writes `effects` (its build, its audit record) in the same
    /// transaction. `Conflict` when the id exists.
    async fn create_archive(&self, archive: &Archive, effects: &Effects) -> Result<(), StoreError>;
    async fn get_archive(&self, tenant: &TenantId, id: ArchiveId) -> Result<Option<Archive>, StoreError>;
    /// Compare-and-set: writes `archive`'s status, size, error, expiry and `updated_at` if
    /// the stored status is one of `expected`, and `effects` in the same transaction.
    /// Returns the stored row. `NotFound` when absent; `Conflict` when the stored status is
    /// not in `expected` (then nothing is written, effects included).
    async fn update_archive(
        &self,
        archive: &Archive,
        expected: &[ArchiveStatus],
        effects: &Effects,
    ) -> Result<Archive, StoreError>;
    /// Across all tenants: archives not yet `expired` whose `expires_at` is before `now`,
    /// oldest expiry first, at most `limit`.
    async fn archives_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Archive>, StoreError>;
}
