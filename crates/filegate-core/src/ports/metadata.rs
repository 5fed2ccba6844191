//! `MetadataStore`: tenants, buckets, API keys and file records, in SQLite or PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    ApiKey, ApiKeyId, AuditRecord, Bucket, BucketName, ChangeCursor, ChangePage, FileId, FileQuery, FileRecord,
    FileStatus, ProcessingOutcome, Sha256Hex, Tenant, TenantId,
};
use crate::domain::{Quota, TenantUsage};
use crate::error::StoreError;
use crate::ports::queue::NewJob;

/// What commits with a change, in the change's own transaction: the jobs it causes (its
/// work and the events announcing it: the transactional outbox) and the audit records that
/// tell who made it. A store writes the change and all of these, or none of them: a change
/// can never commit without its record, nor a record be written for a change that did not.
///
/// Appending a record is idempotent by its id (as [`AuditLog::append`]), so a job that runs
/// twice may carry the same `entry_once` record twice.
///
/// [`AuditLog::append`]: crate::ports::AuditLog::append
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    pub jobs: Vec<NewJob>,
    pub audit: Vec<AuditRecord>,
}

impl Effects {
    /// Nothing but the change itself.
    pub const NONE: Self = Self {
        jobs: Vec::new(),
        audit: Vec::new(),
    };

    /// These jobs, and no audit record.
    pub fn jobs(jobs: impl Into<Vec<NewJob>>) -> Self {
        Self {
            jobs: jobs.into(),
            audit: Vec::new(),
        }
    }

    /// These effects and `record`.
    #[must_use]
    pub fn audited(mut self, record: AuditRecord) -> Self {
        self.audit.push(record);
        self
    }
}

/// Every method is scoped by tenant where the data belongs to one; no method returns a row
/// of another tenant. Methods return `StoreError::NotFound` / `Conflict` as documented, and
/// `Unavailable` when the engine cannot be reached.
///
/// A write that takes [`Effects`] writes them in its own transaction, and only when the change
/// itself is written: a refused change (`NotFound`, `Conflict`, …) leaves no job and no
/// record behind, and a change whose record cannot be written does not commit. The other
/// ports' writes that take `Effects` (shares, webhooks, zip bundles, …) do the same.
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// Cheap round trip for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Writes `effects` alone, in one transaction: the jobs and records of an action that
    /// changes no row of its own (an asynchronous trigger call queued, with its record).
    async fn commit_effects(&self, effects: &Effects) -> Result<(), StoreError>;

    /// Creates a tenant with its first bucket and writes `effects`, in one transaction.
    /// `Conflict` when the tenant exists (then nothing is written, effects included).
    async fn create_tenant(&self, tenant: &Tenant, first_bucket: &Bucket, effects: &Effects) -> Result<(), StoreError>;
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;
    /// Every tenant, by id (for operator tools that walk them all: `filegate reindex`).
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// Inserts the bucket and writes `effects` in one transaction. `Conflict` when a bucket
    /// of that name exists in the tenant (then nothing is written, effects included).
    async fn create_bucket(&self, bucket: &Bucket, effects: &Effects) -> Result<(), StoreError>;
    /// Replaces the policy and `updated_at`, and writes `effects` in the same transaction.
    /// `NotFound` when absent (then nothing is written, effects included).
    async fn update_bucket(&self, bucket: &Bucket, effects: &Effects) -> Result<(), StoreError>;
    async fn get_bucket(&self, tenant: &TenantId, name: &BucketName) -> Result<Option<Bucket>, StoreError>;
    /// Ordered by name.
    async fn list_buckets(&self, tenant: &TenantId) -> Result<Vec<Bucket>, StoreError>;

    /// Inserts the key and writes `effects` in one transaction.
    async fn create_api_key(&self, key: &ApiKey, effects: &Effects) -> Result<(), StoreError>;
    /// Looks a key up by the SHA-256 of its secret; revoked keys are returned too (the caller
    /// refuses them).
    async fn find_api_key(&self, secret_hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError>;
    /// Ordered by creation.
    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError>;
    /// Sets `revoked_at` (idempotent: a second revocation keeps the first time) and writes
    /// `effects` in the same transaction. `NotFound` when absent (then nothing is written,
    /// effects included).
    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: ApiKeyId,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<(), StoreError>;

    /// Inserts a new file row with its `effects` (jobs and audit records) in one transaction
    /// and returns it with its `change_seq` assigned.
    /// `Conflict` when the id exists; `QuotaExceeded` when the tenant's quota does not allow
    /// one more file of `file.size` bytes, checked against its usage in the same
    /// transaction, so concurrent inserts cannot together pass a limit.
    async fn insert_file(&self, file: &FileRecord, effects: &Effects) -> Result<FileRecord, StoreError>;
    /// Any status, deleted and purged included.
    async fn get_file(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError>;
    /// [`get_file`](Self::get_file) from the store of record, never from a copy a cache
    /// keeps. For reads that decide background work or are written back whole: a copy from
    /// just before the write that enqueued a job (another gateway's invalidation still on its
    /// way) would make the job find nothing to do, and the file would stay where it is.
    async fn get_file_fresh(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        self.get_file(tenant, id).await
    }
    /// Compare-and-set: writes every mutable field of `file` (all but id, tenant, created_at
    /// and `download_count`, which only [`MetadataStore::add_download_counts`] changes) if
    /// the stored status is one of `expected`, assigns a new `change_seq`, and — in the same
    /// transaction — writes `effects`: enqueues its jobs (the work and the events the change
    /// causes: this is the transactional outbox) and appends its audit records. Returns the
    /// stored row. `NotFound` when absent; `Conflict` when the stored status is not in
    /// `expected` (then nothing is written, effects included).
    async fn update_file(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        effects: &Effects,
    ) -> Result<FileRecord, StoreError>;
    /// The pipeline's first transition, narrow: `uploaded` → `processing`, writing only the
    /// status and `updated_at = at`, and only if the stored file is still `seen` (status
    /// `uploaded` and `seen.change_seq`). Like [`update_file`](Self::update_file) it
    /// assigns a new `change_seq` and writes `effects` in the same transaction, and returns
    /// the stored row. `NotFound` when absent; `Conflict` when the status or the change
    /// number moved (the caller reads the file again to tell which).
    async fn start_processing(
        &self,
        seen: &FileRecord,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<FileRecord, StoreError>;
    /// The pipeline's last transition, narrow: `processing` → the outcome's verdict, writing
    /// only what [`ProcessingOutcome`] holds, and only if the stored file is still `seen`
    /// (status `processing` and `seen.change_seq`). Otherwise as
    /// [`start_processing`](Self::start_processing).
    async fn finish_processing(
        &self,
        seen: &FileRecord,
        outcome: &ProcessingOutcome,
        effects: &Effects,
    ) -> Result<FileRecord, StoreError>;
    /// A pending upload's progress (tus, docs/tus.md), narrow: writes only `upload`,
    /// `upload_expires_at`, `size` and `updated_at` of `next`, and only if the stored file is
    /// still `seen` (status `pending` and `seen.change_seq`), taking a new change number.
    /// Returns the stored row. `NotFound` when absent; `Conflict` when the status or the
    /// change number moved: of two requests racing on one upload, one wins.
    async fn record_upload(&self, seen: &FileRecord, next: &FileRecord) -> Result<FileRecord, StoreError>;
    /// Files matching `query`, in its sort order with the id as tie-breaker, starting after
    /// its cursor or at its offset. Returns at most `query.limit + 1` rows so the caller can
    /// tell whether another page follows, and the total count when `query.start` is an offset.
    async fn list_files(
        &self,
        tenant: &TenantId,
        query: &FileQuery,
    ) -> Result<(Vec<FileRecord>, Option<u64>), StoreError>;
    /// Up to `limit` files changed after `since`, in change order, deleted and purged
    /// included, and the position after the last of them. A change that is still being
    /// committed, or that may be followed by an earlier one still being committed, is left
    /// for a later call: no change ever lands behind a position already returned.
    async fn changed_files(&self, tenant: &TenantId, since: ChangeCursor, limit: u32)
    -> Result<ChangePage, StoreError>;
    /// Across all tenants: `pending` files whose `upload_expires_at` is before
    /// `expired_before` (the sweeper passes now minus the expiry grace), and `deleted` files
    /// whose `purge_after` is before `purge_before`. At most `limit`, oldest first.
    async fn due_for_sweep(
        &self,
        expired_before: DateTime<Utc>,
        purge_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, StoreError>;

    /// A `ready` file of `tenant` whose computed `sha256` (never the declared one) and size
    /// are these, in `bucket` when given; the oldest when several match.
    async fn find_dedup_source(
        &self,
        tenant: &TenantId,
        sha256: &Sha256Hex,
        size: u64,
        bucket: Option<&BucketName>,
    ) -> Result<Option<FileRecord>, StoreError>;
    /// Inserts `file`, which shares the blob of `source`, and writes `effects` — only if, in
    /// the same transaction, `source` (same tenant) is still `ready` with `file`'s blob key,
    /// sha256 and size; the source row is locked until commit, so it cannot be deleted
    /// meanwhile. Returns the stored row. `Conflict` when the source no longer qualifies or
    /// the id exists; `QuotaExceeded` as for [`MetadataStore::insert_file`] (the file counts
    /// its full size, although it shares the bytes).
    async fn insert_deduplicated(
        &self,
        file: &FileRecord,
        source: FileId,
        effects: &Effects,
    ) -> Result<FileRecord, StoreError>;
    /// Whether a file of `tenant` other than `except` references `blob_key` in a status that
    /// still needs the bytes (anything but `expired` and `purged`).
    async fn blob_in_use(&self, tenant: &TenantId, blob_key: &str, except: FileId) -> Result<bool, StoreError>;
    /// The statuses of the files of `tenant` that reference `blob_key` (several share one
    /// blob after dedup), each once; empty when no file does (a thumbnail, a bundle).
    async fn blob_statuses(&self, tenant: &TenantId, blob_key: &str) -> Result<Vec<FileStatus>, StoreError>;
    /// Every thumbnail size recorded (`processing.thumbnails[].size`) by any file of
    /// `tenant` that references `blob_key`, whatever its status, ascending.
    async fn blob_thumbnail_sizes(&self, tenant: &TenantId, blob_key: &str) -> Result<Vec<u32>, StoreError>;

    /// Adds each `n` to the `download_count` of that file, in one statement per batch,
    /// without touching `updated_at` or the change feed. Unknown files are ignored.
    async fn add_download_counts(&self, counts: &[(TenantId, FileId, u64)]) -> Result<(), StoreError>;

    /// The tenant's storage quota; unlimited when none was ever set.
    async fn tenant_quota(&self, tenant: &TenantId) -> Result<Quota, StoreError>;
    /// Replaces the tenant's quota (`None` limits are unlimited) and writes `effects` in the
    /// same transaction. Files already stored stay, even past a lowered limit. `NotFound`
    /// when the tenant does not exist (then nothing is written, effects included).
    async fn set_tenant_quota(
        &self,
        tenant: &TenantId,
        quota: &Quota,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<(), StoreError>;
    /// What the tenant keeps (see [`Quota`] for what counts), in total and per bucket.
    async fn tenant_usage(&self, tenant: &TenantId) -> Result<TenantUsage, StoreError>;
}
