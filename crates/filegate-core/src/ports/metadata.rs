//! `MetadataStore`: tenants, buckets, API keys and file records, in SQLite or PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    ApiKey, ApiKeyId, Bucket, BucketName, FileId, FileQuery, FileRecord, FileStatus, Tenant, TenantId,
};
use crate::error::StoreError;
use crate::ports::queue::NewJob;

/// Every method is scoped by tenant where the data belongs to one; no method returns a row
/// of another tenant. Methods return `StoreError::NotFound` / `Conflict` as documented, and
/// `Unavailable` when the engine cannot be reached.
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// Cheap round trip for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a tenant with its first bucket, atomically. `Conflict` when the tenant exists.
    async fn create_tenant(&self, tenant: &Tenant, first_bucket: &Bucket) -> Result<(), StoreError>;
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;

    /// `Conflict` when a bucket of that name exists in the tenant.
    async fn create_bucket(&self, bucket: &Bucket) -> Result<(), StoreError>;
    /// Replaces the policy and `updated_at`. `NotFound` when absent.
    async fn update_bucket(&self, bucket: &Bucket) -> Result<(), StoreError>;
    async fn get_bucket(&self, tenant: &TenantId, name: &BucketName) -> Result<Option<Bucket>, StoreError>;
    /// Ordered by name.
    async fn list_buckets(&self, tenant: &TenantId) -> Result<Vec<Bucket>, StoreError>;

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    /// Looks a key up by the SHA-256 of its secret; revoked keys are returned too (the caller
    /// refuses them).
    async fn find_api_key(&self, secret_hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError>;
    /// Ordered by creation.
    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError>;
    /// Sets `revoked_at` (idempotent). `NotFound` when absent.
    async fn revoke_api_key(&self, tenant: &TenantId, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Inserts a new file row and returns it with its `change_seq` assigned.
    /// `Conflict` when the id exists.
    async fn insert_file(&self, file: &FileRecord) -> Result<FileRecord, StoreError>;
    /// Any status, deleted and purged included.
    async fn get_file(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError>;
    /// Compare-and-set: writes every mutable field of `file` (all but id, tenant, created_at)
    /// if the stored status is one of `expected`, assigns a new `change_seq`, and — in the same
    /// transaction — enqueues `jobs` (the work and the events the change causes: this is the
    /// transactional outbox). Returns the stored row.
    /// `NotFound` when absent; `Conflict` when the stored status is not in `expected`.
    async fn update_file(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        jobs: &[NewJob],
    ) -> Result<FileRecord, StoreError>;
    /// Files matching `query`, in its sort order with the id as tie-breaker, starting after
    /// its cursor or at its offset. Returns at most `query.limit + 1` rows so the caller can
    /// tell whether another page follows, and the total count when `query.start` is an offset.
    async fn list_files(
        &self,
        tenant: &TenantId,
        query: &FileQuery,
    ) -> Result<(Vec<FileRecord>, Option<u64>), StoreError>;
    /// Files whose `change_seq` is greater than `since`, in `change_seq` order, deleted and
    /// purged included.
    async fn changed_files(&self, tenant: &TenantId, since: i64, limit: u32) -> Result<Vec<FileRecord>, StoreError>;
    /// Across all tenants: `pending` files whose `upload_expires_at` is before `now`, and
    /// `deleted` files whose `purge_after` is before `now`. At most `limit`, oldest first.
    async fn due_for_sweep(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<FileRecord>, StoreError>;
}
