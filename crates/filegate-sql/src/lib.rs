//! filegate's SQL engines: the `MetadataStore`, the database `JobQueue` and the other ports
//! that live in the database.
//!
//! Metadata, jobs and the audit trail live in the same database, so a file's state change,
//! the jobs it causes and its audit records commit in one transaction
//! (`MetadataStore::update_file` with its `Effects`): the transactional outbox, and a trail
//! that never misses a committed change. Each engine has its own migrations
//! (`migrations/<engine>/`) and passes the same contract tests (`tests/contract`).
//!
//! - [`SqliteStore`]: one SQLite file in WAL mode; the embedded default.
//! - [`PostgresStore`]: a PostgreSQL database shared by any number of gateway and worker
//!   processes; claims with `FOR UPDATE SKIP LOCKED`, wake-ups with `LISTEN`/`NOTIFY`.
//!
//! # Layout
//!
//! Every port is implemented once, on `SqlStore<E: Engine>` (`store`), and both stores are
//! that type: the statements are one text for both engines (`sqlx::QueryBuilder` numbers
//! the placeholders each engine's way), built next to the rows of their tables. What
//! differs comes from two small traits:
//!
//! - `dialect::Dialect`, on the sqlx database type: binding and decoding (one bound for
//!   generic code, see the module) and the SQL fragments whose text differs (JSON casts,
//!   row locks, the queue's clock, JSON and array handling);
//! - `engine::Engine`, on each engine's connections: where statements run, how a write
//!   transaction starts, change numbers, wake-ups, and the operations an engine does its
//!   own way (a file's writes with their effects: SQLite's group commit and one-trip
//!   inserts, PostgreSQL's single statements; and PostgreSQL's `SKIP LOCKED` claims).

mod archives;
mod audit;
mod blobs;
mod bulk;
mod convert;
mod dialect;
mod engine;
mod errors;
mod exchange;
mod file_row;
mod files;
mod jobs;
mod listing;
mod metadata;
mod paths;
mod postgres;
mod queue;
mod quotas;
mod shares;
mod sqlite;
mod store;
mod tenants;
#[doc(hidden)]
pub mod testing;
mod transitions;
mod wakeups;
mod webhooks;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
