//! `ShareStore`: share links, in SQLite or PostgreSQL; and `FilesByPath`, the lookups behind
//! the unsigned URLs of public buckets and the folder view.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{BucketName, FileId, FileRecord, ObjectPath, Share, ShareId, TenantId, TokenHash};
use crate::error::StoreError;
use crate::ports::metadata::Effects;

/// Scoped by tenant, except [`ShareStore::find_share`]: the token is the only credential a
/// share's holder has, so it is looked up across tenants.
#[async_trait]
pub trait ShareStore: Send + Sync + 'static {
    /// Inserts a share and writes `effects` (its email, its audit record) in the same
    /// transaction. `Conflict` when the id or the token hash exists.
    async fn create_share(&self, share: &Share, effects: &Effects) -> Result<(), StoreError>;
    async fn get_share(&self, tenant: &TenantId, id: ShareId) -> Result<Option<Share>, StoreError>;
    /// The share whose token hashes to `token_hash`, whatever its tenant and state.
    async fn find_share(&self, token_hash: &TokenHash) -> Result<Option<Share>, StoreError>;
    /// The file's shares, newest first.
    async fn list_shares(&self, tenant: &TenantId, file_id: FileId) -> Result<Vec<Share>, StoreError>;
    /// Sets `revoked_at` unless it is set already (idempotent) and writes `effects` in the
    /// same transaction; returns the stored share. `NotFound` when absent (then nothing is
    /// written, effects included).
    async fn revoke_share(
        &self,
        tenant: &TenantId,
        id: ShareId,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<Share, StoreError>;
    /// Counts one access, atomically and only if at `at` the share is not revoked, not
    /// expired and — when it has a limit — has downloads left: `access_count` + 1,
    /// `download_count` + 1 when `download`, `last_accessed_at` = `at`; and writes `effects`
    /// (its event) in the same transaction, only when it counted. Concurrent downloads can never exceed the limit.
    /// Returns the updated share, or `None` when the condition failed (nothing changed).
    /// `NotFound` when absent.
    async fn record_share_access(
        &self,
        tenant: &TenantId,
        id: ShareId,
        at: DateTime<Utc>,
        download: bool,
        effects: &Effects,
    ) -> Result<Option<Share>, StoreError>;
    /// Counts one password attempt before it is checked: compare-and-set of
    /// `password_failures` from `seen` to `seen + 1`, setting `locked_until`. Returns whether
    /// it applied (`false`: another attempt counted meanwhile; read the share again).
    async fn count_password_attempt(
        &self,
        tenant: &TenantId,
        id: ShareId,
        seen: u32,
        locked_until: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError>;
    /// The right password was given: failures and lock are cleared.
    async fn clear_password_failures(&self, tenant: &TenantId, id: ShareId) -> Result<(), StoreError>;
}

/// Files by their logical path, for public buckets' stable URLs and the folder view.
#[async_trait]
pub trait FilesByPath: Send + Sync + 'static {
    /// The names of the folders directly in `folder` (empty, or ending with `/`) of
    /// `bucket`: the distinct next path segments of files below it that have a `/` after
    /// it, in byte order, after `after` (a folder name), at most `limit`. Files that are
    /// deleted or purged do not count; with `owner`, only that subject's files do.
    async fn folders(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        folder: &str,
        owner: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
    /// The newest `ready` file of `tenant` at `bucket`/`path` (a new upload to the same path
    /// replaces what the URL serves once it is ready).
    async fn ready_file_at(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        path: &ObjectPath,
    ) -> Result<Option<FileRecord>, StoreError>;
}
