//! `SqlStore<E>`: every port of the database, written once over an [`Engine`]. The public
//! names are aliases of it: `SqliteStore` and `PostgresStore`.
//!
//! The helpers here say where a statement runs: on a reader, on the writer (one statement,
//! atomic by itself), or in a write transaction with what commits with it (`Effects`: jobs,
//! which wake the workers once committed, and audit records): [`SqlStore::write_change`].

use filegate_core::StoreError;
use filegate_core::ports::{Effects, NewJob};
use sqlx::{QueryBuilder, Transaction};

use crate::audit::insert_audit;
use crate::dialect::{BoxFuture, Exec, Fetch, Run as _};
use crate::engine::{Conn, Engine};
use crate::jobs::insert_jobs;

/// `MetadataStore`, `JobQueue` and the other ports over one SQL database. Cheap to clone:
/// clones share the engine's pools.
#[derive(Clone)]
pub struct SqlStore<E> {
    pub(crate) engine: E,
}

impl<E: Engine> std::fmt::Debug for SqlStore<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(E::STORE_NAME).finish_non_exhaustive()
    }
}

impl<E: Engine> SqlStore<E> {
    pub(crate) fn new(engine: E) -> Self {
        Self { engine }
    }

    /// Closes every connection. Later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.engine.close().await;
    }

    /// At most one row, read on a reader.
    pub(crate) async fn read_optional<R>(&self, q: QueryBuilder<E::DB>) -> Result<Option<R>, StoreError>
    where
        E::DB: Fetch<R>,
    {
        let mut conn = self.engine.reader().await?;
        q.fetch_optional(&mut conn).await
    }

    /// Every row, read on a reader.
    pub(crate) async fn read_all<R>(&self, q: QueryBuilder<E::DB>) -> Result<Vec<R>, StoreError>
    where
        E::DB: Fetch<R>,
    {
        let mut conn = self.engine.reader().await?;
        q.fetch_all(&mut conn).await
    }

    /// Exactly one row, read on a reader.
    pub(crate) async fn read_one<R>(&self, q: QueryBuilder<E::DB>) -> Result<R, StoreError>
    where
        E::DB: Fetch<R>,
    {
        let mut conn = self.engine.reader().await?;
        q.fetch_one(&mut conn).await
    }

    /// One statement on the writer; the number of rows it changed.
    pub(crate) async fn write(&self, q: QueryBuilder<E::DB>) -> Result<u64, StoreError>
    where
        E::DB: Exec,
    {
        let mut conn = self.engine.writer().await?;
        q.execute(&mut conn).await
    }

    /// One statement on the writer that must change a row: `NotFound` when it changed none.
    pub(crate) async fn write_found(&self, q: QueryBuilder<E::DB>) -> Result<(), StoreError> {
        match self.write(q).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

/// What a change says about whether it wrote anything: the rows a statement changed, the
/// row it returned, or `()` for a change that says "nothing written" with an error.
pub(crate) trait Written: Send {
    fn written(&self) -> bool;
}

impl Written for u64 {
    fn written(&self) -> bool {
        *self > 0
    }
}

impl<R: Send> Written for Option<R> {
    fn written(&self) -> bool {
        self.is_some()
    }
}

impl Written for () {
    fn written(&self) -> bool {
        true
    }
}

impl<E: Engine> SqlStore<E> {
    /// A change and what commits with it: runs `change` in a write transaction and, when it
    /// wrote something ([`Written`]), writes `effects` there and commits
    /// ([`commit_with_effects`]). A change that wrote nothing, or failed, is rolled back with
    /// nothing more written: no job and no record without their change, and no change
    /// without them. Returns what `change` returned.
    pub(crate) async fn write_change<T: Written>(
        &self,
        effects: &Effects,
        change: impl for<'c> FnOnce(&'c mut Conn<E>) -> BoxFuture<'c, Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        let mut tx = self.engine.begin_write().await?;
        let outcome = change(&mut tx).await?;
        if outcome.written() {
            commit_with_effects(&self.engine, tx, effects).await?;
        }
        Ok(outcome)
    }

    /// [`write_change`](Self::write_change) of one statement that must change a row:
    /// `NotFound` (and nothing written) when it changed none.
    pub(crate) async fn write_found_with(&self, q: QueryBuilder<E::DB>, effects: &Effects) -> Result<(), StoreError> {
        match self.write_change(effects, |c| q.execute(c)).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

/// Writes what commits with a change (`Effects`: its jobs, the outbox, and its audit
/// records) in the caller's write transaction `tx`, then commits it with [`commit_waking`].
pub(crate) async fn commit_with_effects<E: Engine>(
    engine: &E,
    mut tx: Transaction<'static, E::DB>,
    effects: &Effects,
) -> Result<(), StoreError> {
    insert_jobs::<E>(&mut tx, &effects.jobs).await?;
    insert_audit::<E>(&mut tx, &effects.audit).await?;
    commit_waking(engine, tx, &effects.jobs).await
}

/// Commits `tx`, in which `jobs` were inserted (`crate::jobs::insert_jobs`), then, when
/// there were any, wakes a worker of this process and announces them to the others.
pub(crate) async fn commit_waking<E: Engine>(
    engine: &E,
    tx: Transaction<'static, E::DB>,
    jobs: &[NewJob],
) -> Result<(), StoreError> {
    tx.commit().await.map_err(crate::errors::store_err)?;
    if !jobs.is_empty() {
        // `notify_one` stores a permit when nobody waits yet, so a worker that is between a
        // fruitless claim and its wait still sees these jobs.
        engine.work().wake();
        engine.announce_jobs();
    }
    Ok(())
}

/// Commits a write transaction that enqueued nothing.
pub(crate) async fn commit<E: Engine>(tx: Transaction<'static, E::DB>) -> Result<(), StoreError> {
    tx.commit().await.map_err(crate::errors::store_err)
}
