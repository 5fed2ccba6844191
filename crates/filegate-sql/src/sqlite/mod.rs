//! The SQLite engine: metadata and the job queue in one database file.
//!
//! SQLite allows one writer at a time. Rather than let concurrent writers collide on the
//! file lock (`SQLITE_BUSY`, and deadlocks when a reading transaction tries to upgrade), the
//! store keeps two pools: a *writer* pool of exactly one connection, whose queue serialises
//! writes fairly inside the process, and a *reader* pool of several connections that, in WAL
//! mode, read a consistent snapshot without blocking or being blocked by the writer. Write
//! transactions still start with `BEGIN IMMEDIATE`, so another process writing the same
//! file (a CLI, a second server by mistake) makes us wait on the busy timeout instead of
//! failing half-way through a transaction.

mod archives;
mod audit;
mod bulk;
mod dedup;
mod exchange;
mod file_updates;
mod files;
mod private_file;
mod queue;
mod quotas;
mod shares;
mod tenants;
mod webhooks;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{
    ApiKey, ApiKeyId, Bucket, BucketName, FileId, FileQuery, FileRecord, FileStatus, Sha256Hex, Tenant, TenantId,
};
use filegate_core::domain::{Quota, TenantUsage};
use filegate_core::ports::{MetadataStore, NewJob};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, Transaction};
use tokio::sync::Notify;

use crate::errors::store_err;
use crate::rows::{job_values, micros};

/// How long a connection waits on another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a pooled connection before the store reports `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_READERS: u32 = 8;

/// `MetadataStore` and `JobQueue` over one SQLite database file. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Wakes `wait_for_work` in this process when a job is enqueued.
    work: Arc<Notify>,
    /// Commits the file updates that arrive together in one transaction.
    updates: file_updates::FileUpdates,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it when missing) the database at `path` and applies the migrations.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        private_file::create_private(path)
            .with_context(|| format!("creating the SQLite database {}", path.display()))?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Statement journals and temporary tables in memory, not as files created and
            // unlinked in /var/tmp: on the one writer connection, each such file was an
            // inode allocation every few transactions, and a slow one blocked every write.
            .pragma("temp_store", "memory")
            .busy_timeout(BUSY_TIMEOUT);

        // No liveness test on acquire (sqlx's default): a connection to a local file does
        // not go away, and the test is one more round trip to the connection's thread before
        // every statement — a quarter of the small-files pipeline's database time.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("opening the SQLite database {}", path.display()))?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .with_context(|| format!("migrating the SQLite database {}", path.display()))?;

        let readers = std::thread::available_parallelism()
            .map_or(4, |n| n.get())
            .clamp(2, MAX_READERS as usize);
        let reader = SqlitePoolOptions::new()
            .max_connections(u32::try_from(readers).unwrap_or(MAX_READERS))
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A reader that tried to write would be a bug; make SQLite refuse it.
            .connect_with(options.pragma("query_only", "ON"))
            .await
            .with_context(|| format!("opening readers on the SQLite database {}", path.display()))?;

        let work = Arc::new(Notify::new());
        Ok(Self {
            updates: file_updates::FileUpdates::start(writer.clone(), work.clone()),
            writer,
            reader,
            work,
        })
    }

    /// Closes every connection, checkpointing the WAL. Later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// Starts a write transaction holding SQLite's write lock from the first statement.
    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(store_err)
    }

    fn wake_workers(&self) {
        // `notify_one` stores a permit when nobody waits yet, so a worker that is between
        // a fruitless claim and its wait still sees this enqueue.
        self.work.notify_one();
    }
}

/// Runs `work` on a task of its own and waits for it: a caller that goes away (a client
/// disconnecting) cannot cut it off half-way. A one-trip batch ([`one_trip`])
/// opens a transaction that only its own last statement closes, so it must always finish.
async fn to_completion<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work)
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("a database write stopped: {e}")))?
}

/// Runs a batch of statements (`BEGIN IMMEDIATE; …; COMMIT;`) in one call on the writer:
/// one hand-off to the connection's thread instead of one per statement. Returns the rows
/// its statements returned; on an error, whatever ran of it is rolled back (there is no
/// transaction to roll back when `BEGIN` itself failed). Call it from a task that is not
/// cancelled half-way ([`to_completion`]): only the batch's last statement closes the
/// transaction it opens.
async fn one_trip(
    writer: &SqlitePool,
    batch: sqlx::query::Query<'_, Sqlite, sqlx::sqlite::SqliteArguments>,
) -> Result<Vec<sqlx::sqlite::SqliteRow>, sqlx::Error> {
    let mut conn = writer.acquire().await?;
    match batch.fetch_all(&mut *conn).await {
        Ok(rows) => Ok(rows),
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}

/// Takes the next `change_seq` inside the caller's write transaction.
async fn next_change_seq(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    sqlx::query_scalar("UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value")
        .fetch_one(conn)
        .await
        .map_err(store_err)
}

/// Inserts jobs inside the caller's transaction, in one statement (one round trip to the
/// connection's thread, however many). `Conflict` when an id exists.
async fn insert_jobs(conn: &mut SqliteConnection, jobs: &[NewJob]) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let created_at = micros(Utc::now());
    let rows = jobs.iter().map(job_values).collect::<Result<Vec<_>, _>>()?;
    sqlx::QueryBuilder::<Sqlite>::new(
        "INSERT INTO jobs (id, kind, payload, run_at, lane, tenant, attempts, created_at) ",
    )
    .push_values(rows, |mut row, (id, kind, payload, run_at, lane, tenant)| {
        row.push_bind(id)
            .push_bind(kind)
            .push_bind(payload)
            .push_bind(run_at)
            .push_bind(lane)
            .push_bind(tenant)
            .push_bind(0_i64)
            .push_bind(created_at);
    })
    .build()
    .execute(conn)
    .await
    .map_err(store_err)?;
    Ok(())
}

#[async_trait::async_trait]
impl MetadataStore for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(store_err)?;
        Ok(())
    }

    async fn create_tenant(&self, tenant: &Tenant, first_bucket: &Bucket) -> Result<(), StoreError> {
        self.create_tenant_impl(tenant, first_bucket).await
    }
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.get_tenant_impl(id).await
    }

    async fn create_bucket(&self, bucket: &Bucket) -> Result<(), StoreError> {
        self.create_bucket_impl(bucket).await
    }
    async fn update_bucket(&self, bucket: &Bucket) -> Result<(), StoreError> {
        self.update_bucket_impl(bucket).await
    }
    async fn get_bucket(&self, tenant: &TenantId, name: &BucketName) -> Result<Option<Bucket>, StoreError> {
        self.get_bucket_impl(tenant, name).await
    }
    async fn list_buckets(&self, tenant: &TenantId) -> Result<Vec<Bucket>, StoreError> {
        self.list_buckets_impl(tenant).await
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.create_api_key_impl(key).await
    }
    async fn find_api_key(&self, secret_hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        self.find_api_key_impl(secret_hash).await
    }
    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        self.list_api_keys_impl(tenant).await
    }
    async fn revoke_api_key(&self, tenant: &TenantId, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.revoke_api_key_impl(tenant, id, at).await
    }

    async fn insert_file(&self, file: &FileRecord) -> Result<FileRecord, StoreError> {
        self.insert_file_impl(file).await
    }
    async fn get_file(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        self.get_file_impl(tenant, id).await
    }
    async fn update_file(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        jobs: &[NewJob],
    ) -> Result<FileRecord, StoreError> {
        self.update_file_impl(file, expected, jobs).await
    }
    async fn list_files(
        &self,
        tenant: &TenantId,
        query: &FileQuery,
    ) -> Result<(Vec<FileRecord>, Option<u64>), StoreError> {
        self.list_files_impl(tenant, query).await
    }
    async fn changed_files(&self, tenant: &TenantId, since: i64, limit: u32) -> Result<Vec<FileRecord>, StoreError> {
        self.changed_files_impl(tenant, since, limit).await
    }
    async fn due_for_sweep(
        &self,
        expired_before: DateTime<Utc>,
        purge_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.due_for_sweep_impl(expired_before, purge_before, limit).await
    }

    async fn find_dedup_source(
        &self,
        tenant: &TenantId,
        sha256: &Sha256Hex,
        size: u64,
        bucket: Option<&BucketName>,
    ) -> Result<Option<FileRecord>, StoreError> {
        self.find_dedup_source_impl(tenant, sha256, size, bucket).await
    }
    async fn insert_deduplicated(
        &self,
        file: &FileRecord,
        source: FileId,
        jobs: &[NewJob],
    ) -> Result<FileRecord, StoreError> {
        self.insert_deduplicated_impl(file, source, jobs).await
    }
    async fn blob_in_use(&self, tenant: &TenantId, blob_key: &str, except: FileId) -> Result<bool, StoreError> {
        self.blob_in_use_impl(tenant, blob_key, except).await
    }
    async fn blob_statuses(&self, tenant: &TenantId, blob_key: &str) -> Result<Vec<FileStatus>, StoreError> {
        self.blob_statuses_impl(tenant, blob_key).await
    }
    async fn blob_thumbnail_sizes(&self, tenant: &TenantId, blob_key: &str) -> Result<Vec<u32>, StoreError> {
        self.blob_thumbnail_sizes_impl(tenant, blob_key).await
    }
    async fn add_download_counts(&self, counts: &[(TenantId, FileId, u64)]) -> Result<(), StoreError> {
        self.add_download_counts_impl(counts).await
    }

    async fn tenant_quota(&self, tenant: &TenantId) -> Result<Quota, StoreError> {
        self.tenant_quota_impl(tenant).await
    }
    async fn set_tenant_quota(&self, tenant: &TenantId, quota: &Quota, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_tenant_quota_impl(tenant, quota, at).await
    }
    async fn tenant_usage(&self, tenant: &TenantId) -> Result<TenantUsage, StoreError> {
        self.tenant_usage_impl(tenant).await
    }
}
