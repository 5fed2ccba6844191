//! filegate's SQL engines: the `MetadataStore` and the database `JobQueue`.
//!
//! Metadata and jobs live in the same database, so a file's state change and the job it
//! causes commit in one transaction (`MetadataStore::update_file` with a job): the
//! transactional outbox. Each engine sits in its own module with its own migrations
//! (`migrations/<engine>/`) and passes the same contract tests (`tests/contract`).
//!
//! - [`SqliteStore`]: one SQLite file in WAL mode; the embedded default.
//! - [`PostgresStore`]: a PostgreSQL database shared by any number of gateway and worker
//!   processes; claims with `FOR UPDATE SKIP LOCKED`, wake-ups with `LISTEN`/`NOTIFY`.

mod archives;
mod audit;
mod bulk;
mod errors;
mod exchange_rows;
mod listing;
mod postgres;
mod quotas;
mod rows;
mod shares;
mod sqlite;
mod webhook_rows;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
