//! The PostgreSQL engine: metadata and the job queue in one database that any number of
//! gateway and worker processes share.
//!
//! Writers run `READ COMMITTED` transactions. The change feed's counter is one row that each
//! writing transaction increments and keeps locked until it commits, so `change_seq` follows
//! commit order (see the migration). Workers claim with `FOR UPDATE SKIP LOCKED`, and an
//! enqueue sends `NOTIFY filegate_jobs` in its transaction, which PostgreSQL delivers at
//! commit to every store's listener ([`wakeups`]). Leases and due times are measured by the
//! database's clock, so processes on different machines agree.

mod archives;
mod audit;
mod bulk;
mod dedup;
mod exchange;
mod files;
mod queue;
mod quotas;
mod shares;
mod tenants;
mod wakeups;
mod webhooks;

use std::str::FromStr;
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
use sqlx::migrate::MigrateError;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres, Transaction};

use crate::errors::store_err;
use crate::rows::job_values;
use wakeups::Wakeups;

/// How long a caller waits for a pooled connection (or for a new one to connect) before the
/// store reports `Unavailable`: a database that is down fails requests fast.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: u32 = 16;
/// Idle connections beyond what the load needs are closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The channel every store listens on and every enqueue notifies.
const JOBS_CHANNEL: &str = "filegate_jobs";

/// `MetadataStore` and `JobQueue` over one PostgreSQL database. Cheap to clone; the clones
/// share one connection pool and one notification listener.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    wakeups: Arc<Wakeups>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`),
    /// applies the migrations, and starts listening for enqueued jobs.
    ///
    /// Several processes may start at once: the migrator holds an advisory lock while it
    /// works, and a migration already applied is skipped. A database that cannot be reached
    /// within a few seconds fails with [`StoreError::Unavailable`] (downcast the error).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .context("parsing the PostgreSQL URL")?
            .application_name("filegate");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(IDLE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(store_err)
            .context("connecting to PostgreSQL")?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(migrate_err)
            .context("migrating the PostgreSQL database")?;
        let wakeups = Wakeups::start(options.application_name("filegate-listener"), ACQUIRE_TIMEOUT)
            .await
            .map_err(store_err)
            .context("listening for jobs on PostgreSQL")?;
        Ok(Self {
            pool,
            wakeups: Arc::new(wakeups),
        })
    }

    /// Closes every connection. Later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.wakeups.stop();
        self.pool.close().await;
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(store_err)
    }

    /// Wakes a `wait_for_work` in this process at once; other processes hear the `NOTIFY`.
    fn wake_workers(&self) {
        self.wakeups.wake_one();
    }
}

/// A migration that could not run because the database went away is `Unavailable`, like any
/// other call; anything else (a migration that fails, a history that does not match) is not.
fn migrate_err(e: MigrateError) -> anyhow::Error {
    match e {
        MigrateError::Execute(e) => store_err(e).into(),
        MigrateError::ExecuteMigration(e, version) => {
            anyhow::Error::new(store_err(e)).context(format!("applying migration {version}"))
        }
        other => other.into(),
    }
}

/// Takes the next `change_seq` inside the caller's transaction. The counter row stays locked
/// until that transaction ends: call this as late as possible.
async fn next_change_seq(conn: &mut PgConnection) -> Result<i64, StoreError> {
    sqlx::query_scalar("UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value")
        .fetch_one(conn)
        .await
        .map_err(store_err)
}

/// Inserts a job inside the caller's transaction. `Conflict` when the id exists. Call
/// [`notify_workers`] in the same transaction.
async fn insert_job(conn: &mut PgConnection, job: &NewJob) -> Result<(), StoreError> {
    let (id, kind, payload, run_at, lane, tenant) = job_values(job)?;
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, run_at, lane, tenant, attempts, created_at) \
         VALUES ($1, $2, $3::jsonb, $4, $5, $6, 0, filegate_now_micros())",
    )
    .bind(id)
    .bind(kind)
    .bind(payload)
    .bind(run_at)
    .bind(lane)
    .bind(tenant)
    .execute(conn)
    .await
    .map_err(store_err)?;
    Ok(())
}

/// `NOTIFY` every listening store; PostgreSQL delivers it when the transaction commits, so a
/// worker it wakes finds the job.
async fn notify_workers(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(JOBS_CHANNEL)
        .execute(conn)
        .await
        .map_err(store_err)?;
    Ok(())
}

#[async_trait::async_trait]
impl MetadataStore for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(store_err)?;
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
