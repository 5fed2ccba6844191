//! What an engine supplies to the ports written once (`SqlStore<E: Engine>`): where
//! statements run, how a write transaction starts, how change numbers are taken, how
//! enqueued jobs wake workers, and the few operations an engine does its own way for speed
//! or for concurrency: claims ([`Claims`]: PostgreSQL's `SKIP LOCKED`, SQLite's ranking off
//! the writer) and a file's writes with their effects ([`Engine::insert_file`],
//! [`Engine::update_file`] and [`Engine::transition`]: SQLite's group commit and one-trip
//! inserts, PostgreSQL's single statements). Everything else is the same SQL on both
//! engines.

use std::future::Future;
use std::time::Duration;

use crate::wakeups::LaneWakeups;
use filegate_core::StoreError;
use filegate_core::domain::{FileRecord, FileStatus};
use filegate_core::ports::{ClaimedJob, Effects, Lane};
use sqlx::pool::PoolConnection;
use sqlx::{Database, Transaction};

use crate::dialect::Dialect;
use crate::transitions::Transition;

/// A connection of the engine's database.
pub type Conn<E> = <<E as Engine>::DB as Database>::Connection;

pub trait Engine: Claims + Clone + Send + Sync + 'static {
    /// The SQL the engine speaks.
    type DB: Dialect;

    /// How `Debug` names the store.
    const STORE_NAME: &'static str;

    /// A connection for reads (it may refuse writes).
    fn reader(&self) -> impl Future<Output = Result<PoolConnection<Self::DB>, StoreError>> + Send;

    /// A connection for writes of one statement, which is atomic without a transaction.
    fn writer(&self) -> impl Future<Output = Result<PoolConnection<Self::DB>, StoreError>> + Send;

    /// A transaction for writes of several statements.
    fn begin_write(&self) -> impl Future<Output = Result<Transaction<'static, Self::DB>, StoreError>> + Send;

    /// A read-only transaction: its statements all see the same snapshot.
    fn begin_snapshot(&self) -> impl Future<Output = Result<Transaction<'static, Self::DB>, StoreError>> + Send;

    /// The change numbers (`files.change_seq`, the change feed's order within a writing
    /// transaction) of the `n` rows the caller's write transaction is about to write, in
    /// order. Call it as late as possible: an engine that takes them from a counter keeps
    /// the counter locked until the transaction ends.
    fn take_change_seqs(
        conn: &mut Conn<Self>,
        n: usize,
    ) -> impl Future<Output = Result<Vec<ChangeSeq>, StoreError>> + Send;

    /// Tells other processes' workers about jobs whose transaction has just committed.
    /// Workers in this process are woken through [`Engine::work`].
    fn announce_jobs(&self);

    /// Wakes the workers of this process that wait for work (`JobQueue::wait_for_lane`).
    fn work(&self) -> &LaneWakeups;

    /// Closes every connection; later calls fail with `Unavailable`.
    fn close(&self) -> impl Future<Output = ()> + Send;

    /// `MetadataStore::insert_file`: the row and its effects (jobs, audit records) in one
    /// transaction; for a tenant with a quota, after checking it there
    /// (`crate::files::insert_within_quota`).
    fn insert_file(
        &self,
        file: &FileRecord,
        effects: &Effects,
    ) -> impl Future<Output = Result<FileRecord, StoreError>> + Send;

    /// `MetadataStore::update_file`: the compare-and-set and its effects in one
    /// transaction; when nothing was written, `NotFound` or `Conflict` as the stored row says
    /// (`crate::files::refused`).
    fn update_file(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        effects: &Effects,
    ) -> impl Future<Output = Result<FileRecord, StoreError>> + Send;

    /// `MetadataStore::start_processing` and `finish_processing`: the guarded narrow update
    /// and its effects in one transaction (`crate::transitions`); when nothing was written,
    /// `crate::transitions::refusal`.
    fn transition(
        &self,
        t: &Transition,
        effects: &Effects,
    ) -> impl Future<Output = Result<FileRecord, StoreError>> + Send;
}

/// The change number a written row of `files` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSeq {
    /// Taken before the statement (SQLite: from its counter, in commit order since it has
    /// one writer at a time).
    Taken(i64),
    /// Drawn by the statement itself with this SQL expression (PostgreSQL: a sequence, so
    /// that no row is locked by every writer; the feed orders by transaction instead).
    Drawn(&'static str),
}

/// How an engine claims: `JobQueue::claim` and its batches, the one part of the queue whose
/// SQL (and the way it stays fair and race-free) is each engine's own.
pub trait Claims {
    /// Leases up to `max` due jobs of `lanes` to `worker`, fairly across tenants (the tenant
    /// with the fewest jobs running first), and says how many rows it leased; the rows that
    /// do not decode are buried (`crate::jobs::bury_undecodable`) and left out of the jobs.
    fn lease_due(
        &self,
        lanes: &[Lane],
        worker: &str,
        lease: Duration,
        max: usize,
    ) -> impl Future<Output = Result<(usize, Vec<ClaimedJob>), StoreError>> + Send;
}
