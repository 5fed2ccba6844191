//! The PostgreSQL engine: metadata and the job queue in one database that any number of
//! gateway and worker processes share.
//!
//! Writers run `READ COMMITTED` transactions. Nothing every writer touches is locked: a
//! changed row draws its `change_seq` from a sequence and records its transaction's id in
//! `change_xid`; the change feed orders by the two and shows a change only once every older
//! transaction has ended (see migration 0010 and `Dialect::CHANGE_HORIZON`). Workers claim with `FOR UPDATE SKIP LOCKED`, and an
//! enqueue's commit is followed by a `NOTIFY filegate_jobs` (one for many commits:
//! [`announcer`]) to every store's listener ([`wakeups`]). Leases and due times are measured by the
//! database's clock, so processes on different machines agree.
//!
//! The ports are written once (`crate::store::SqlStore`); this module holds only what is
//! PostgreSQL's own: the connections ([`PgEngine`]), the SQL fragments that differ
//! (`dialect`), a file's write with its jobs and audit records as one statement
//! (`file_writes`) and the inserts that arrive together as one (`file_inserts`), the `SKIP LOCKED` claim (`queue`), the `LISTEN`/`NOTIFY` wake-ups
//! (`wakeups`) and the search index (`search`: `PostgresStore` is a `SearchIndex` too).

mod announcer;
mod dialect;
mod file_inserts;
mod file_writes;
mod queue;
mod search;
mod wakeups;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::wakeups::LaneWakeups;
use anyhow::Context as _;
use filegate_core::StoreError;
use filegate_core::domain::{FileRecord, FileStatus};
use filegate_core::ports::Effects;
use sqlx::migrate::MigrateError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, Postgres, Transaction};

use crate::engine::{ChangeSeq, Engine};
use crate::errors::store_err;
use crate::store::SqlStore;
use crate::transitions::Transition;
use announcer::Announcer;
use file_inserts::Inserts;
use wakeups::Wakeups;

/// How long a caller waits for a pooled connection (or for a new one to connect) before the
/// store reports `Unavailable`: a database that is down fails requests fast.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: u32 = 16;
/// Idle connections beyond what the load needs are closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// A connection idle longer than this is pinged before it is handed out (the server may
/// have restarted or dropped it meanwhile); one that was just returned is not. sqlx's
/// default pings every time: one more round trip for every write of a busy gateway.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(5);
/// The channel every store listens on and every enqueue notifies.
const JOBS_CHANNEL: &str = "filegate_jobs";
/// The change number of every written row of `files`: drawn from a sequence by the
/// statement that writes it.
const CHANGE_SEQ: ChangeSeq = ChangeSeq::Drawn("nextval('files_change_seq')");

/// `MetadataStore`, `JobQueue` and the other ports over one PostgreSQL database. Cheap to
/// clone; the clones share one connection pool and one notification listener.
pub type PostgresStore = SqlStore<PgEngine>;

/// The PostgreSQL engine behind [`PostgresStore`]: its pool and its job listener.
#[derive(Clone)]
pub struct PgEngine {
    pool: PgPool,
    wakeups: Arc<Wakeups>,
    announcer: Arc<Announcer>,
    inserts: Arc<Inserts>,
}

impl SqlStore<PgEngine> {
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
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_WHEN_IDLE_FOR {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
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
        Ok(Self::new(PgEngine {
            announcer: Arc::new(Announcer::start(pool.clone())),
            inserts: Arc::new(Inserts::start(pool.clone())),
            pool,
            wakeups: Arc::new(wakeups),
        }))
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

impl Engine for PgEngine {
    type DB = Postgres;
    const STORE_NAME: &'static str = "PostgresStore";

    async fn reader(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        self.pool.acquire().await.map_err(store_err)
    }

    async fn writer(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        self.pool.acquire().await.map_err(store_err)
    }

    /// READ COMMITTED: the rows a transaction checks before writing are locked
    /// (`Dialect::FOR_UPDATE`) until it commits.
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(store_err)
    }

    async fn begin_snapshot(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(store_err)
    }

    /// Each row draws its own number from a sequence in its statement: no round trip, and
    /// no row that every writer locks. The feed's order comes from the writing
    /// transaction's id (`Dialect::CHANGE_XID`), not from these numbers.
    async fn take_change_seqs(_: &mut PgConnection, n: usize) -> Result<Vec<ChangeSeq>, StoreError> {
        Ok(vec![CHANGE_SEQ; n])
    }

    /// `NOTIFY` every listening store, after the commit and for many commits at once
    /// (`announcer`).
    fn announce_jobs(&self) {
        self.announcer.jobs_committed();
    }

    /// Workers in other processes hear the `NOTIFY` through their own listener.
    fn work(&self) -> &LaneWakeups {
        self.wakeups.work()
    }

    async fn close(&self) {
        self.wakeups.stop();
        self.announcer.stop();
        self.pool.close().await;
    }

    /// In a batch of inserts with their effects, for a tenant without a quota
    /// (`file_inserts`).
    async fn insert_file(&self, file: &FileRecord, effects: &Effects) -> Result<FileRecord, StoreError> {
        self.insert_one(file, effects).await
    }

    /// One statement with its effects (`file_writes`).
    async fn update_file(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        effects: &Effects,
    ) -> Result<FileRecord, StoreError> {
        self.update_one(file, expected, effects).await
    }

    /// One statement with its effects (`file_writes`).
    async fn transition(&self, t: &Transition, effects: &Effects) -> Result<FileRecord, StoreError> {
        self.transition_one(t, effects).await
    }
}
