//! What the SQL written once needs from an engine's SQL: binding values, running statements,
//! and the few fragments whose text differs. Implemented by the sqlx database types
//! (`sqlx::Sqlite` in `sqlite/dialect.rs`, `sqlx::Postgres` in `postgres/dialect.rs`).
//!
//! Why traits with the database as `Self`: code generic over `DB: Database` would need a
//! higher-ranked where-clause for every type it binds or decodes (`for<'e> String:
//! Encode<'e, DB>`, `FileRow: for<'r> FromRow<'r, DB::Row>`, …), and Rust implies no
//! where-clause but a supertrait. So each capability is a trait of the database, given by a
//! blanket impl, and [`Dialect`] names them all as supertraits: `DB: Dialect` is the one
//! bound the statements carry. Statements run on `&mut DB::Connection` (a pool connection,
//! or `&mut *tx`), through [`Run`], whose futures are boxed and `Send` by their signature,
//! so async code generic over the engine never has to prove it.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use sqlx::query_builder::Separated;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, QueryBuilder, Type};

use crate::errors::store_err;

/// A boxed `Send` future: what [`Fetch`] and [`Exec`] return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The database binds `T` as a statement parameter.
pub trait Bind<T>: Database {
    fn bind(q: &mut QueryBuilder<Self>, value: T);
    fn bind_separated(list: &mut Separated<'_, Self, &'static str>, value: T);
}

// `'t` is left free (not `for<'e>`): `Option<&'a str>` encodes only for `'t` within `'a`.
impl<'t, DB: Database, T> Bind<T> for DB
where
    T: Encode<'t, DB> + Type<DB>,
{
    fn bind(q: &mut QueryBuilder<Self>, value: T) {
        q.push_bind(value);
    }
    fn bind_separated(list: &mut Separated<'_, Self, &'static str>, value: T) {
        list.push_bind(value);
    }
}

/// The database decodes its rows as `R` (a row struct or a tuple).
pub trait Fetch<R>: Database {
    fn fetch_optional(
        conn: &mut Self::Connection,
        q: QueryBuilder<Self>,
    ) -> BoxFuture<'_, Result<Option<R>, StoreError>>;
    fn fetch_all(conn: &mut Self::Connection, q: QueryBuilder<Self>) -> BoxFuture<'_, Result<Vec<R>, StoreError>>;
    fn fetch_one(conn: &mut Self::Connection, q: QueryBuilder<Self>) -> BoxFuture<'_, Result<R, StoreError>>;
}

impl<DB: Database, R> Fetch<R> for DB
where
    R: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    fn fetch_optional(
        conn: &mut Self::Connection,
        mut q: QueryBuilder<Self>,
    ) -> BoxFuture<'_, Result<Option<R>, StoreError>> {
        Box::pin(async move { q.build_query_as::<R>().fetch_optional(conn).await.map_err(store_err) })
    }
    fn fetch_all(conn: &mut Self::Connection, mut q: QueryBuilder<Self>) -> BoxFuture<'_, Result<Vec<R>, StoreError>> {
        Box::pin(async move { q.build_query_as::<R>().fetch_all(conn).await.map_err(store_err) })
    }
    fn fetch_one(conn: &mut Self::Connection, mut q: QueryBuilder<Self>) -> BoxFuture<'_, Result<R, StoreError>> {
        Box::pin(async move { q.build_query_as::<R>().fetch_one(conn).await.map_err(store_err) })
    }
}

/// The database runs statements that return no rows.
pub trait Exec: Database {
    /// Runs `q`; the number of rows it changed.
    fn execute(conn: &mut Self::Connection, q: QueryBuilder<Self>) -> BoxFuture<'_, Result<u64, StoreError>>;
}

impl<DB: Database> Exec for DB
where
    DB::QueryResult: RowsAffected,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    fn execute(conn: &mut Self::Connection, mut q: QueryBuilder<Self>) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let done = q.build().execute(conn).await.map_err(store_err)?;
            Ok(done.rows_affected())
        })
    }
}

/// What a statement's result says about the rows it changed (each engine's result type has
/// the method, but no sqlx trait names it).
pub trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

/// `q.bind_value(v)`: `push_bind` where the database is only known to be a [`Dialect`].
pub trait BindExt<DB: Database> {
    fn bind_value<T>(&mut self, value: T) -> &mut Self
    where
        DB: Bind<T>;
}

impl<DB: Database> BindExt<DB> for QueryBuilder<DB> {
    fn bind_value<T>(&mut self, value: T) -> &mut Self
    where
        DB: Bind<T>,
    {
        DB::bind(self, value);
        self
    }
}

impl<DB: Database> BindExt<DB> for Separated<'_, DB, &'static str> {
    fn bind_value<T>(&mut self, value: T) -> &mut Self
    where
        DB: Bind<T>,
    {
        DB::bind_separated(self, value);
        self
    }
}

/// Runs a built statement on a connection: `q.fetch_all::<Row>(&mut conn)`.
pub trait Run<DB: Database>: Sized {
    fn fetch_optional<R>(self, conn: &mut DB::Connection) -> BoxFuture<'_, Result<Option<R>, StoreError>>
    where
        DB: Fetch<R>;
    fn fetch_all<R>(self, conn: &mut DB::Connection) -> BoxFuture<'_, Result<Vec<R>, StoreError>>
    where
        DB: Fetch<R>;
    fn fetch_one<R>(self, conn: &mut DB::Connection) -> BoxFuture<'_, Result<R, StoreError>>
    where
        DB: Fetch<R>;
    fn execute(self, conn: &mut DB::Connection) -> BoxFuture<'_, Result<u64, StoreError>>
    where
        DB: Exec;
}

impl<DB: Database> Run<DB> for QueryBuilder<DB> {
    fn fetch_optional<R>(self, conn: &mut DB::Connection) -> BoxFuture<'_, Result<Option<R>, StoreError>>
    where
        DB: Fetch<R>,
    {
        DB::fetch_optional(conn, self)
    }
    fn fetch_all<R>(self, conn: &mut DB::Connection) -> BoxFuture<'_, Result<Vec<R>, StoreError>>
    where
        DB: Fetch<R>,
    {
        DB::fetch_all(conn, self)
    }
    fn fetch_one<R>(self, conn: &mut DB::Connection) -> BoxFuture<'_, Result<R, StoreError>>
    where
        DB: Fetch<R>,
    {
        DB::fetch_one(conn, self)
    }
    fn execute(self, conn: &mut DB::Connection) -> BoxFuture<'_, Result<u64, StoreError>>
    where
        DB: Exec,
    {
        DB::execute(conn, self)
    }
}

/// Everything the statements written once bind, decode and splice: one bound for them all.
///
/// The values bound are those of `crate::convert` (ids as text, times as `i64`
/// microseconds, JSON as text); the rows decoded are listed here, so that adding a row type
/// means adding it to this list.
pub trait Dialect:
    Database
    + Exec
    + Bind<String>
    + for<'a> Bind<&'a str>
    + Bind<Option<String>>
    + for<'a> Bind<Option<&'a str>>
    + Bind<i64>
    + Bind<Option<i64>>
    + Bind<bool>
    + Bind<Vec<u8>>
    + for<'a> Bind<&'a [u8]>
    + Fetch<crate::file_row::FileRow>
    + Fetch<crate::tenants::TenantRow>
    + Fetch<crate::tenants::BucketRow>
    + Fetch<crate::tenants::ApiKeyRow>
    + Fetch<crate::shares::ShareRow>
    + Fetch<crate::archives::ArchiveRow>
    + Fetch<crate::audit::AuditRow>
    + Fetch<crate::webhooks::WebhookRow>
    + Fetch<crate::webhooks::DeliveryRow>
    + Fetch<crate::exchange::PassphraseRow>
    + Fetch<crate::exchange::RequestRow>
    + Fetch<crate::jobs::ClaimedRow>
    + Fetch<(i64,)>
    + Fetch<(bool,)>
    + Fetch<(String,)>
    + Fetch<(Option<String>,)>
    + Fetch<(String, i64)>
    + Fetch<(i64, i64)>
    + Fetch<(i64, i64, i64)>
    + Fetch<(Option<i64>, Option<i64>)>
    + Fetch<(String, i64, i64)>
{
    /// Follows a bound JSON text to make it the engine's JSON column type (PostgreSQL's
    /// `::jsonb`; SQLite keeps JSON as TEXT: nothing).
    const JSON: &'static str;

    /// Follows a `SELECT` whose rows must stay as read until the write transaction commits
    /// (PostgreSQL's `FOR UPDATE`; SQLite's write transaction already holds the whole
    /// database: nothing).
    const FOR_UPDATE: &'static str;

    /// Like [`Dialect::FOR_UPDATE`], for rows others may read but not change meanwhile.
    const FOR_SHARE: &'static str;

    /// The value of `files.change_xid` for a row the current transaction writes: the
    /// change feed orders by it first. PostgreSQL: the transaction's 64-bit id (ids are
    /// handed out when a transaction first writes, and never wrap). SQLite, whose writes
    /// are numbered in commit order already: 0.
    const CHANGE_XID: &'static str;

    /// Follows the change feed's conditions: leaves out every change that an older
    /// transaction still running could yet precede. PostgreSQL: only transactions older than
    /// the snapshot's horizon (`pg_snapshot_xmin`, the oldest still running), all of which
    /// have ended; SQLite: nothing (a change is numbered when it commits).
    const CHANGE_HORIZON: &'static str;

    /// Precedes `tenant` where a condition that few files meet has an index of its own: the
    /// list's `metadata.KEY=VALUE` and `external_id` filters, reads by ids or by blob.
    /// SQLite, which plans without statistics, would otherwise walk every file of the
    /// tenant through a tenant index and test each; `+` keeps the condition but not its
    /// index (`sqlite/plans.rs` checks the plans). PostgreSQL's statistics tell it: nothing.
    const NOT_BY_INDEX: &'static str;

    /// The queue's "now", `now` being the caller's clock: SQLite binds it; PostgreSQL
    /// measures leases by the database's clock, the same for every process.
    fn push_now(q: &mut QueryBuilder<Self>, now: DateTime<Utc>);

    /// When a lease taken now for `lease` ends, by the clock of [`Dialect::push_now`].
    fn push_lease_end(q: &mut QueryBuilder<Self>, now: DateTime<Utc>, lease: Duration);

    /// ` IN (…)` over `ids` as one bound value, whatever their number: one statement text
    /// (prepared once), no limit on parameters.
    fn push_in(q: &mut QueryBuilder<Self>, ids: Vec<String>) -> Result<(), StoreError>;

    /// `text` as a text column can hold it (PostgreSQL refuses NUL).
    fn storable_text(text: &str) -> String;

    /// ` AND …`: the file's metadata has every pair of `pairs` (`metadata.KEY=VALUE`), read
    /// through an index (PostgreSQL: containment, `@>`, with a GIN index; SQLite: the
    /// `file_metadata` table its triggers keep).
    fn push_metadata_match(q: &mut QueryBuilder<Self>, tenant: &str, pairs: &BTreeMap<String, String>);

    /// `SELECT DISTINCT <size as text>` of every thumbnail in `processing.thumbnails` of the
    /// tenant's files with this blob; entries that are not objects are left out.
    fn thumbnail_sizes(tenant: &str, blob_key: &str) -> QueryBuilder<Self>;

    /// One `UPDATE` adding `n` to the download count of each `(tenant, id, n)` (one entry
    /// per file), leaving `change_seq` and `updated_at` alone: a download changes no file.
    fn add_download_counts(counts: Vec<(String, String, i64)>) -> Result<QueryBuilder<Self>, StoreError>;
}
