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
//!
//! The ports are written once (`crate::store::SqlStore`); this module holds only what is
//! SQLite's own: the connections ([`SqliteEngine`]), the SQL fragments that differ
//! (`dialect`), and what makes the one writer go further: whole transactions sent in one
//! trip (`one_trip`), file updates and transitions committed in groups (`file_updates`), and claims ranked
//! off the writer (`queue`).

mod dialect;
mod file_updates;
mod one_trip;
#[cfg(test)]
mod plans;
mod private_file;
mod queue;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::wakeups::LaneWakeups;
use anyhow::Context as _;
use filegate_core::StoreError;
use filegate_core::domain::{FileRecord, FileStatus};
use filegate_core::ports::Effects;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, Transaction};

use crate::dialect::Run as _;
use crate::engine::{ChangeSeq, Engine};
use crate::errors::store_err;
use crate::files::{insert_within_quota, refused, select_status};
use crate::store::SqlStore;
use crate::transitions::{Transition, refusal};
use file_updates::{Change, FileUpdates, Update};

/// How long a connection waits on another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a pooled connection before the store reports `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_READERS: u32 = 8;

/// `MetadataStore`, `JobQueue` and the other ports over one SQLite database file. Cheap to
/// clone: the clones share the pools.
pub type SqliteStore = SqlStore<SqliteEngine>;

/// The SQLite engine behind [`SqliteStore`]: its two pools and its group commit.
#[derive(Clone)]
pub struct SqliteEngine {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Wakes `wait_for_work` in this process when a job is enqueued.
    work: Arc<LaneWakeups>,
    /// Commits the file updates that arrive together in one transaction.
    updates: FileUpdates,
}

impl SqlStore<SqliteEngine> {
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

        let work = Arc::new(LaneWakeups::default());
        Ok(Self::new(SqliteEngine {
            updates: FileUpdates::start(writer.clone(), work.clone()),
            writer,
            reader,
            work,
        }))
    }
}

impl Engine for SqliteEngine {
    type DB = Sqlite;
    const STORE_NAME: &'static str = "SqliteStore";

    async fn reader(&self) -> Result<PoolConnection<Sqlite>, StoreError> {
        self.reader.acquire().await.map_err(store_err)
    }

    async fn writer(&self) -> Result<PoolConnection<Sqlite>, StoreError> {
        self.writer.acquire().await.map_err(store_err)
    }

    /// Holds SQLite's write lock from the first statement.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(store_err)
    }

    /// In WAL mode a read transaction reads one snapshot, without blocking the writer.
    async fn begin_snapshot(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.reader.begin().await.map_err(store_err)
    }

    /// From the one-row counter, in the write transaction that holds the database: numbers
    /// in commit order.
    async fn take_change_seqs(conn: &mut SqliteConnection, n: usize) -> Result<Vec<ChangeSeq>, StoreError> {
        let count = i64::try_from(n).map_err(|e| StoreError::Input(e.to_string()))?;
        let (last,): (i64,) =
            sqlx::query_as("UPDATE change_counter SET value = value + ?1 WHERE id = 1 RETURNING value")
                .bind(count)
                .fetch_one(conn)
                .await
                .map_err(store_err)?;
        Ok((last - count + 1..=last).map(ChangeSeq::Taken).collect())
    }

    /// Nothing to tell: every process sharing the file polls (`wait_for_work` times out).
    fn announce_jobs(&self) {}

    fn work(&self) -> &LaneWakeups {
        &self.work
    }

    /// Checkpoints the WAL as the last connection closes.
    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// The common case, a tenant without a quota, in the group commit with the file's
    /// effects (`file_updates`); otherwise, and when its id or path is taken, the quota is
    /// checked in a write transaction first and the conflict reported.
    async fn insert_file(&self, file: &FileRecord, effects: &Effects) -> Result<FileRecord, StoreError> {
        let insert = Update {
            change: Change::Insert(Box::new(file.clone())),
            effects: effects.clone(),
        };
        match self.updates.run(insert).await? {
            Some(inserted) => Ok(inserted),
            None => insert_within_quota(self, file, effects).await,
        }
    }

    /// Committed together with whatever other updates are waiting for the writer (see
    /// `file_updates`).
    async fn update_file(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        effects: &Effects,
    ) -> Result<FileRecord, StoreError> {
        let update = Update {
            change: Change::Whole {
                file: Box::new(file.clone()),
                expected: expected.to_vec(),
            },
            effects: effects.clone(),
        };
        if let Some(stored) = self.updates.run(update).await? {
            return Ok(stored);
        }
        // Nothing was written: the file is gone, or its status was not one expected.
        let mut conn = self.writer().await?;
        let stored: Option<(String,)> = select_status::<Sqlite>(file.tenant.as_str(), &file.id.to_string())
            .fetch_optional(&mut conn)
            .await?;
        Err(refused(file.id, stored.map(|(s,)| s), expected))
    }

    /// In the group commit too (see `file_updates`).
    async fn transition(&self, t: &Transition, effects: &Effects) -> Result<FileRecord, StoreError> {
        let update = Update {
            change: Change::Narrow(t.clone()),
            effects: effects.clone(),
        };
        match self.updates.run(update).await? {
            Some(stored) => Ok(stored),
            None => Err(refusal(self, t).await),
        }
    }
}
