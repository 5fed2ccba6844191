//! `ExchangeStore`: exchange passphrase versions and file requests, in SQLite or PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{FileId, FileRequest, PassphraseVersion, RequestId, RequestStatus, TenantId};
use crate::error::StoreError;
use crate::ports::metadata::Effects;

/// Scoped by tenant like `MetadataStore`: no method returns another tenant's row.
#[async_trait]
pub trait ExchangeStore: Send + Sync + 'static {
    /// Every version of the tenant's passphrase, newest first.
    async fn passphrases(&self, tenant: &TenantId) -> Result<Vec<PassphraseVersion>, StoreError>;
    /// Adds a version and, in the same transaction, retires the versions before it (sets
    /// their `retired_at` to the new one's `created_at`) and writes `effects`. `Conflict`
    /// when the version exists (another rotation won the race; nothing is written, effects
    /// included).
    async fn add_passphrase(&self, version: &PassphraseVersion, effects: &Effects) -> Result<(), StoreError>;

    /// Inserts the request and writes `effects` (its audit record) in one transaction.
    async fn create_request(&self, request: &FileRequest, effects: &Effects) -> Result<(), StoreError>;
    async fn get_request(&self, tenant: &TenantId, id: RequestId) -> Result<Option<FileRequest>, StoreError>;
    /// Oldest first (the order they should be worked on), at most `limit`, optionally only
    /// those in `status`.
    async fn list_requests(
        &self,
        tenant: &TenantId,
        status: Option<RequestStatus>,
        limit: u32,
    ) -> Result<Vec<FileRequest>, StoreError>;
    /// Compare-and-set from `pending` to `to` (`fulfilled` with `file_id`, or `cancelled`),
    /// writing `effects` (its events, its audit record) in the same transaction. Returns the
    /// stored request.
    /// `NotFound` when absent; `Conflict` when it is no longer pending.
    async fn close_request(
        &self,
        tenant: &TenantId,
        id: RequestId,
        to: RequestStatus,
        file_id: Option<FileId>,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<FileRequest, StoreError>;
}
