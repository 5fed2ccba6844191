//! `CachedStore`: a `MetadataStore` that reads files by id through a `Cache`.
//!
//! ## Ordering: write the store, then delete the key
//!
//! A read misses, reads the store and fills the cache (`file:<tenant>:<id>`, the record as
//! JSON, for `ttl`). A write goes to the store **first** and then deletes the key, whatever
//! the write's outcome (a write that reported an error may still have committed). Deleting
//! before writing would let a reader refill the old value between the delete and the commit,
//! for a whole TTL; deleting after means the only stale window is the classic race where a
//! reader read the store *before* the commit and stores what it read *after* the delete.
//!
//! - Within one instance that race is closed: every key has an epoch (256 sharded counters,
//!   each behind an async read-write lock) that the writer bumps between the store write
//!   and the delete. A reader notes the epoch before reading the store, and fills only while
//!   holding the shard's read lock and only if the epoch has not moved; the bump takes the
//!   write lock. So either the fill completes before the bump (and the writer's delete,
//!   issued after the bump, removes it), or the reader sees the bump and does not fill. A
//!   writer waits at most for the fills in flight on its shard (one cache round trip).
//! - Across instances the epochs are not shared, so a reader on another instance whose read
//!   raced a write this way can leave a value that is stale for at most `ttl` (60 s by
//!   default). Writes that must not act on a stale read are compare-and-set on the status in
//!   the store (`update_file`'s `expected`), so a stale read makes such a write `Conflict`,
//!   never a lost transition. Reads that decide whether work is left (the pipeline's) skip
//!   the cache altogether (`get_file_fresh`): even within one instance a job can be claimed
//!   between its enqueue's commit and the delete, and a `pending` copy would make it a no-op.
//!
//! ## A cache that fails
//!
//! Any cache error is logged (a warning when the cache starts failing, then at debug level),
//! counted in `filegate_cache_errors_total{op}`, and the call is answered by the store as if
//! the cache were empty. A delete that fails after a write could leave a stale entry behind
//! (a timeout while the cache is still up for others), so the key is remembered: this
//! instance reads it from the store only until a background retry deletes it or its TTL has
//! run out (by then any entry written before the change has expired).

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::RwLock;

use filegate_core::StoreError;
use filegate_core::domain::{
    ApiKey, ApiKeyId, Bucket, BucketName, FileId, FileQuery, FileRecord, FileStatus, Sha256Hex, Tenant, TenantId,
};
use filegate_core::domain::{ChangeCursor, ChangePage, ProcessingOutcome, Quota, TenantUsage};
use filegate_core::ports::{Cache, Effects, MetadataStore};

const EPOCH_SHARDS: usize = 256;
/// At most this many failed invalidations are remembered; past it, this instance stops
/// reading from the cache for one TTL instead.
const MAX_DEFERRED: usize = 10_000;
/// How often failed invalidations are retried.
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// The cache key of a file record: the tenant is part of it, so a tenant can never be
/// answered with another tenant's record.
pub fn file_key(tenant: &TenantId, id: FileId) -> String {
    format!("file:{tenant}:{id}")
}

/// Reads files by id through a cache, invalidates on write, passes everything else
/// straight to the inner store. Cheap to clone.
#[derive(Clone)]
pub struct CachedStore {
    inner: Arc<dyn MetadataStore>,
    cache: Arc<dyn Cache>,
    ttl: Duration,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for CachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStore")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

struct Shared {
    epochs: Box<[RwLock<u64>]>,
    /// Set while `deferred` holds keys or the cache is bypassed: lets reads skip the lock.
    degraded: AtomicBool,
    deferred: Mutex<Deferred>,
    /// Whether the last cache call failed, to log transitions instead of every error.
    failing: AtomicBool,
}

#[derive(Default)]
struct Deferred {
    keys: HashMap<String, DeferredKey>,
    /// Every read skips the cache until then, after a failed invalidation was not kept.
    bypass_all_until: Option<Instant>,
    flusher_running: bool,
    next_seq: u64,
}

struct DeferredKey {
    give_up_at: Instant,
    seq: u64,
}

impl Shared {
    fn epoch(&self, key: &str) -> &RwLock<u64> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        &self.epochs[hasher.finish() as usize % EPOCH_SHARDS]
    }

    fn lock(&self) -> MutexGuard<'_, Deferred> {
        self.deferred.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn update_degraded(&self, deferred: &Deferred) {
        let degraded = !deferred.keys.is_empty() || deferred.bypass_all_until.is_some();
        self.degraded.store(degraded, Ordering::SeqCst);
    }

    /// Whether reads of `key` must skip the cache (its invalidation is still pending).
    fn bypasses(&self, key: &str) -> bool {
        if !self.degraded.load(Ordering::SeqCst) {
            return false;
        }
        let mut deferred = self.lock();
        if deferred.bypass_all_until.is_some_and(|until| until <= Instant::now()) {
            deferred.bypass_all_until = None;
        }
        let bypass = deferred.bypass_all_until.is_some() || deferred.keys.contains_key(key);
        self.update_degraded(&deferred);
        bypass
    }

    fn cache_ok(&self) {
        if self.failing.swap(false, Ordering::SeqCst) {
            tracing::info!("cache available again");
        }
    }

    fn cache_error(&self, op: &'static str, error: &dyn std::fmt::Display) {
        metrics::counter!("filegate_cache_errors_total", "op" => op).increment(1);
        if self.failing.swap(true, Ordering::SeqCst) {
            tracing::debug!(op, error = %error, "cache error; using the store");
        } else {
            tracing::warn!(op, error = %error, "cache unavailable; using the store until it is back");
        }
    }
}

impl CachedStore {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

    /// Reads through `cache`, writes to `inner`. Every instance that writes to the same
    /// store must write through a `CachedStore` on the same cache, or its writes will not
    /// invalidate (workers included).
    pub fn new(inner: Arc<dyn MetadataStore>, cache: Arc<dyn Cache>) -> Self {
        let epochs = (0..EPOCH_SHARDS).map(|_| RwLock::new(0)).collect();
        Self {
            inner,
            cache,
            ttl: Self::DEFAULT_TTL,
            shared: Arc::new(Shared {
                epochs,
                degraded: AtomicBool::new(false),
                deferred: Mutex::new(Deferred::default()),
                failing: AtomicBool::new(false),
            }),
        }
    }

    /// How long a cached record may be served; bounds the staleness of a cross-instance
    /// race (see the module docs). Zero is raised to one millisecond.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// The store underneath, for callers that must bypass the cache.
    pub fn inner(&self) -> &Arc<dyn MetadataStore> {
        &self.inner
    }

    /// After a write of `key` to the store: bump its epoch (waiting for the fills in flight
    /// on its shard), then delete it.
    async fn invalidate(&self, key: &str) {
        *self.shared.epoch(key).write().await += 1;
        self.delete_or_defer(key).await;
    }

    async fn delete_or_defer(&self, key: &str) {
        match self.cache.delete(key).await {
            Ok(()) => self.shared.cache_ok(),
            Err(error) => {
                self.shared.cache_error("delete", &error);
                self.defer(key);
            }
        }
    }

    /// Remembers a failed invalidation and makes sure one task retries them.
    fn defer(&self, key: &str) {
        metrics::counter!("filegate_cache_invalidations_deferred_total").increment(1);
        let now = Instant::now();
        let mut deferred = self.shared.lock();
        if deferred.keys.len() >= MAX_DEFERRED && !deferred.keys.contains_key(key) {
            tracing::warn!("too many failed cache invalidations; reading from the store for one TTL");
            deferred.bypass_all_until = Some(now + self.ttl);
        } else {
            let seq = deferred.next_seq;
            deferred.next_seq += 1;
            let give_up_at = now + self.ttl;
            deferred.keys.insert(key.to_owned(), DeferredKey { give_up_at, seq });
        }
        self.shared.update_degraded(&deferred);
        if !deferred.keys.is_empty() && !deferred.flusher_running {
            deferred.flusher_running = true;
            tokio::spawn(retry_deferred(self.shared.clone(), self.cache.clone()));
        }
    }

    /// Stores a record just read from the store, unless a write of this instance moved the
    /// key's epoch since `epoch` was read (before the store read). The shard's read lock is
    /// held until the set has completed, so no bump (and no delete after it) overtakes it.
    async fn fill(&self, key: &str, file: &FileRecord, epoch: u64) {
        let shard = self.shared.epoch(key);
        let failed = {
            let current = shard.read().await;
            if *current != epoch {
                return;
            }
            let bytes = match serde_json::to_vec(file) {
                Ok(bytes) => bytes,
                Err(error) => return self.shared.cache_error("encode", &error),
            };
            match self.cache.set(key, &bytes, self.ttl).await {
                Ok(()) => {
                    self.shared.cache_ok();
                    false
                }
                Err(error) => {
                    self.shared.cache_error("set", &error);
                    true
                }
            }
        };
        // A set that failed (a timeout, say) may still land later; if a write moved the
        // epoch meanwhile, delete what it may have stored.
        if failed && *shard.read().await != epoch {
            self.delete_or_defer(key).await;
        }
    }
}

/// A cached record, checked to be the one asked for.
fn decode(bytes: &[u8], tenant: &TenantId, id: FileId) -> Result<FileRecord, String> {
    let file: FileRecord = serde_json::from_slice(bytes).map_err(|e| format!("undecodable entry: {e}"))?;
    if file.tenant != *tenant || file.id != id {
        return Err(format!("entry holds file {} of tenant {}", file.id, file.tenant));
    }
    Ok(file)
}

/// Retries the deferred invalidations until each succeeds or outlives its TTL.
async fn retry_deferred(shared: Arc<Shared>, cache: Arc<dyn Cache>) {
    loop {
        tokio::time::sleep(RETRY_EVERY).await;
        let batch: Vec<(String, u64)> = {
            let mut deferred = shared.lock();
            let now = Instant::now();
            deferred.keys.retain(|_, key| key.give_up_at > now);
            shared.update_degraded(&deferred);
            if deferred.keys.is_empty() {
                deferred.flusher_running = false;
                return;
            }
            deferred.keys.iter().map(|(key, d)| (key.clone(), d.seq)).collect()
        };
        for (key, seq) in batch {
            if let Err(error) = cache.delete(&key).await {
                tracing::debug!(error = %error, "cache still unavailable; will retry the invalidations");
                break;
            }
            let mut deferred = shared.lock();
            // A newer failure for the same key keeps it deferred.
            if deferred.keys.get(&key).is_some_and(|d| d.seq == seq) {
                deferred.keys.remove(&key);
            }
            shared.update_degraded(&deferred);
        }
    }
}

#[async_trait]
impl MetadataStore for CachedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    async fn commit_effects(&self, effects: &Effects) -> Result<(), StoreError> {
        self.inner.commit_effects(effects).await
    }

    async fn create_tenant(&self, tenant: &Tenant, first_bucket: &Bucket, effects: &Effects) -> Result<(), StoreError> {
        self.inner.create_tenant(tenant, first_bucket, effects).await
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.inner.get_tenant(id).await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.inner.list_tenants().await
    }

    async fn create_bucket(&self, bucket: &Bucket, effects: &Effects) -> Result<(), StoreError> {
        self.inner.create_bucket(bucket, effects).await
    }

    async fn update_bucket(&self, bucket: &Bucket, effects: &Effects) -> Result<(), StoreError> {
        self.inner.update_bucket(bucket, effects).await
    }

    async fn get_bucket(&self, tenant: &TenantId, name: &BucketName) -> Result<Option<Bucket>, StoreError> {
        self.inner.get_bucket(tenant, name).await
    }

    async fn list_buckets(&self, tenant: &TenantId) -> Result<Vec<Bucket>, StoreError> {
        self.inner.list_buckets(tenant).await
    }

    async fn create_api_key(&self, key: &ApiKey, effects: &Effects) -> Result<(), StoreError> {
        self.inner.create_api_key(key, effects).await
    }

    async fn find_api_key(&self, secret_hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        self.inner.find_api_key(secret_hash).await
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        self.inner.list_api_keys(tenant).await
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: ApiKeyId,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        self.inner.revoke_api_key(tenant, id, at, effects).await
    }

    async fn insert_file(&self, file: &FileRecord, effects: &Effects) -> Result<FileRecord, StoreError> {
        let result = self.inner.insert_file(file, effects).await;
        self.invalidate(&file_key(&file.tenant, file.id)).await;
        result
    }

    async fn get_file(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        let key = file_key(tenant, id);
        let bypass = self.shared.bypasses(&key);
        if bypass {
            metrics::counter!("filegate_cache_requests_total", "result" => "bypass").increment(1);
        } else {
            match self.cache.get(&key).await {
                Ok(Some(bytes)) => {
                    self.shared.cache_ok();
                    match decode(&bytes, tenant, id) {
                        Ok(file) => {
                            metrics::counter!("filegate_cache_requests_total", "result" => "hit").increment(1);
                            return Ok(Some(file));
                        }
                        Err(reason) => {
                            self.shared.cache_error("decode", &reason);
                            self.delete_or_defer(&key).await;
                        }
                    }
                }
                Ok(None) => {
                    self.shared.cache_ok();
                    metrics::counter!("filegate_cache_requests_total", "result" => "miss").increment(1);
                }
                Err(error) => self.shared.cache_error("get", &error),
            }
        }
        let epoch = *self.shared.epoch(&key).read().await;
        let file = self.inner.get_file(tenant, id).await?;
        if let Some(file) = &file
            && !bypass
        {
            self.fill(&key, file, epoch).await;
        }
        Ok(file)
    }

    /// Straight from the store, leaving the cache as it is: the writer whose invalidation
    /// may still be on its way deletes the entry itself.
    async fn get_file_fresh(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        self.inner.get_file(tenant, id).await
    }

    async fn update_file(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        effects: &Effects,
    ) -> Result<FileRecord, StoreError> {
        let result = self.inner.update_file(file, expected, effects).await;
        self.invalidate(&file_key(&file.tenant, file.id)).await;
        result
    }

    async fn start_processing(
        &self,
        seen: &FileRecord,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<FileRecord, StoreError> {
        let result = self.inner.start_processing(seen, at, effects).await;
        self.invalidate(&file_key(&seen.tenant, seen.id)).await;
        result
    }

    async fn finish_processing(
        &self,
        seen: &FileRecord,
        outcome: &ProcessingOutcome,
        effects: &Effects,
    ) -> Result<FileRecord, StoreError> {
        let result = self.inner.finish_processing(seen, outcome, effects).await;
        self.invalidate(&file_key(&seen.tenant, seen.id)).await;
        result
    }

    async fn record_upload(&self, seen: &FileRecord, next: &FileRecord) -> Result<FileRecord, StoreError> {
        let result = self.inner.record_upload(seen, next).await;
        self.invalidate(&file_key(&seen.tenant, seen.id)).await;
        result
    }

    async fn list_files(
        &self,
        tenant: &TenantId,
        query: &FileQuery,
    ) -> Result<(Vec<FileRecord>, Option<u64>), StoreError> {
        self.inner.list_files(tenant, query).await
    }

    async fn changed_files(
        &self,
        tenant: &TenantId,
        since: ChangeCursor,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        self.inner.changed_files(tenant, since, limit).await
    }

    async fn due_for_sweep(
        &self,
        expired_before: DateTime<Utc>,
        purge_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.inner.due_for_sweep(expired_before, purge_before, limit).await
    }

    async fn find_dedup_source(
        &self,
        tenant: &TenantId,
        sha256: &Sha256Hex,
        size: u64,
        bucket: Option<&BucketName>,
    ) -> Result<Option<FileRecord>, StoreError> {
        self.inner.find_dedup_source(tenant, sha256, size, bucket).await
    }

    async fn insert_deduplicated(
        &self,
        file: &FileRecord,
        source: FileId,
        effects: &Effects,
    ) -> Result<FileRecord, StoreError> {
        let result = self.inner.insert_deduplicated(file, source, effects).await;
        self.invalidate(&file_key(&file.tenant, file.id)).await;
        result
    }

    async fn blob_in_use(&self, tenant: &TenantId, blob_key: &str, except: FileId) -> Result<bool, StoreError> {
        self.inner.blob_in_use(tenant, blob_key, except).await
    }

    /// Not cached: a signed URL asks at serve time, and must see a deletion at once.
    async fn blob_statuses(&self, tenant: &TenantId, blob_key: &str) -> Result<Vec<FileStatus>, StoreError> {
        self.inner.blob_statuses(tenant, blob_key).await
    }

    async fn blob_thumbnail_sizes(&self, tenant: &TenantId, blob_key: &str) -> Result<Vec<u32>, StoreError> {
        self.inner.blob_thumbnail_sizes(tenant, blob_key).await
    }

    async fn add_download_counts(&self, counts: &[(TenantId, FileId, u64)]) -> Result<(), StoreError> {
        let result = self.inner.add_download_counts(counts).await;
        // Once per file per flush: a hot file is read from the store again once per flush
        // interval, and its cached count lags by at most that.
        for (tenant, id, _) in counts {
            self.invalidate(&file_key(tenant, *id)).await;
        }
        result
    }

    async fn tenant_quota(&self, tenant: &TenantId) -> Result<Quota, StoreError> {
        self.inner.tenant_quota(tenant).await
    }

    async fn set_tenant_quota(
        &self,
        tenant: &TenantId,
        quota: &Quota,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        self.inner.set_tenant_quota(tenant, quota, at, effects).await
    }

    async fn tenant_usage(&self, tenant: &TenantId) -> Result<TenantUsage, StoreError> {
        self.inner.tenant_usage(tenant).await
    }
}
