//! One trip to the writer: a whole transaction (`BEGIN IMMEDIATE; …; COMMIT;`) sent as one
//! batch of statements, so the writer's connection thread is handed work once instead of
//! once per statement while every other writer waits. Used by the group commit of file
//! updates (`file_updates`) and by the insert of a file whose tenant has no quota, the
//! common case, here. A change's effects (its jobs and audit records) ride in the same
//! batch, as JSON arrays the statements of [`jobs_from_json`] and [`audit_from_json`] read.

use std::sync::LazyLock;

use filegate_core::StoreError;
use filegate_core::domain::FileRecord;
use filegate_core::ports::Effects;
use sqlx::sqlite::{SqliteArguments, SqlitePool, SqliteRow};
use sqlx::{FromRow as _, Sqlite};

use crate::audit::{AUDIT_WRITTEN, audit_values};
use crate::convert::{micros, to_json};
use crate::errors::{exists, store_err};
use crate::file_row::{COLUMNS, FileRow, FileValues, Value, column_names, file_columns};
use crate::jobs::job_values;

pub(super) type Batch = sqlx::query::Query<'static, Sqlite, SqliteArguments>;

/// Runs `work` on a task of its own and waits for it: a caller that goes away (a client
/// disconnecting) cannot cut it off half-way. A one-trip batch ([`one_trip`]) opens a
/// transaction that only its own last statement closes, so it must always finish.
pub(super) async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work)
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("a database write stopped: {e}")))?
}

/// Runs a batch of statements (`BEGIN IMMEDIATE; …; COMMIT;`) in one call on the writer.
/// Returns the rows its statements returned; on an error, whatever ran of it is rolled back
/// (there is no transaction to roll back when `BEGIN` itself failed). Call it from a task
/// that is not cancelled half-way ([`to_completion`]): only the batch's last statement
/// closes the transaction it opens.
pub(super) async fn one_trip(writer: &SqlitePool, batch: Batch) -> Result<Vec<SqliteRow>, sqlx::Error> {
    let mut conn = writer.acquire().await?;
    match batch.fetch_all(&mut *conn).await {
        Ok(rows) => Ok(rows),
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}

/// Binds one column's value to a batch.
pub(super) fn bind(batch: Batch, value: Value<'_>) -> Batch {
    match value {
        Value::Text(s) | Value::Json(s) => batch.bind(s),
        Value::MaybeText(s) => batch.bind(s),
        Value::Int(n) => batch.bind(n),
        Value::MaybeInt(n) => batch.bind(n),
    }
}

/// The statement that inserts the jobs (each a JSON array of `crate::jobs::job_values`) that
/// `from` yields as `j.value`, created at `now`, where `guard` holds.
pub(super) fn jobs_from_json(from: &str, now: &str, guard: &str) -> String {
    format!(
        "INSERT INTO jobs (id, kind, payload, run_at, lane, tenant, attempts, created_at) \
         SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5, 0, {now} \
         FROM {from} WHERE {guard}; "
    )
}

/// The statement that appends the audit records (each a JSON array of
/// `crate::audit::audit_values`) that `from` yields as `a.value`, where `guard` holds; an id
/// already in the log is skipped (appending is idempotent).
pub(super) fn audit_from_json(from: &str, guard: &str) -> String {
    let values: Vec<String> = (0..AUDIT_WRITTEN.split(", ").count())
        .map(|i| format!("a.value ->> {i}"))
        .collect();
    // The `WHERE` also keeps SQLite from reading `ON CONFLICT` as a join's constraint.
    format!(
        "INSERT INTO audit_log ({AUDIT_WRITTEN}) SELECT {} FROM {from} WHERE {guard} ON CONFLICT (id) DO NOTHING; ",
        values.join(", ")
    )
}

/// A change's effects as one JSON parameter: `[jobs, audit records]` (see [`jobs_from_json`]
/// and [`audit_from_json`]).
pub(super) fn effects_json(effects: &Effects) -> Result<String, StoreError> {
    let jobs = effects.jobs.iter().map(job_values).collect::<Result<Vec<_>, _>>()?;
    let audit = effects.audit.iter().map(audit_values).collect::<Result<Vec<_>, _>>()?;
    to_json("file effects", &(jobs, audit))
}

/// The parameters of [`INSERT_UNLIMITED`] before the file's columns: the effects' JSON
/// ([`effects_json`]) and the jobs' creation time. Column `i` of [`COLUMNS`] is then
/// `?{i + FIRST_COLUMN}`.
const FIRST_COLUMN: usize = 3;

/// The insert of a file as one batch: the change number from the counter, and no row at all
/// when the tenant has a quota row (then the quota must be checked first, on the slower
/// path); then its jobs and audit records, only if its row is there with that number. `?1`
/// holds the effects ([`effects_json`]), `?2` the jobs' creation time, and `?N` for N from
/// [`FIRST_COLUMN`] the columns of [`COLUMNS`], in order. (The gaps in a statement's
/// numbers stay few and low: sqlx fills each gap with the next bound value, counting on
/// across the batch's statements, and stops binding a statement once that count passes the
/// last value.)
static INSERT_UNLIMITED: LazyLock<String> = LazyLock::new(|| {
    let param = |name: &str| {
        COLUMNS
            .iter()
            .position(|c| c.name == name)
            .map_or(0, |i| i + FIRST_COLUMN)
    };
    let values: Vec<String> = (0..COLUMNS.len()).map(|i| format!("?{}", i + FIRST_COLUMN)).collect();
    let (id, tenant) = (param("id"), param("tenant"));
    let counter = "(SELECT value FROM change_counter WHERE id = 1)";
    let inserted =
        format!("EXISTS (SELECT 1 FROM files WHERE id = ?{id} AND tenant = ?{tenant} AND change_seq = {counter})");
    format!(
        "BEGIN IMMEDIATE; \
         UPDATE change_counter SET value = value + 1 WHERE id = 1; \
         INSERT INTO files ({}, change_seq) SELECT {}, {counter} \
         WHERE NOT EXISTS (SELECT 1 FROM tenant_quotas WHERE tenant = ?{tenant}) RETURNING {}; \
         {}{}COMMIT;",
        column_names(),
        values.join(", "),
        file_columns!(),
        jobs_from_json("json_each(?1, '$[0]') AS j", "?2", &inserted),
        audit_from_json("json_each(?1, '$[1]') AS a", &inserted),
    )
});

/// Inserts `file` with its `effects` in one trip when its tenant has no quota; `None` (and
/// nothing written) when it has one.
pub(super) async fn insert_unlimited(
    writer: SqlitePool,
    file: FileRecord,
    effects: Effects,
) -> Result<Option<FileRecord>, StoreError> {
    to_completion(async move {
        let v = FileValues::of(&file)?;
        let start = sqlx::query(INSERT_UNLIMITED.as_str())
            .bind(effects_json(&effects)?)
            .bind(micros(chrono::Utc::now()));
        let batch = COLUMNS.iter().fold(start, |batch, c| bind(batch, (c.value)(&v)));
        let rows = one_trip(&writer, batch)
            .await
            .map_err(|e| exists(format!("file {}", file.id))(store_err(e)))?;
        rows.first()
            .map(|row| FileRecord::try_from(FileRow::from_row(row).map_err(store_err)?))
            .transpose()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unlimited_insert_checks_the_quota_of_the_files_tenant() {
        assert!(INSERT_UNLIMITED.contains("INSERT INTO files (id, tenant, "));
        assert!(INSERT_UNLIMITED.contains("SELECT ?3, ?4, ?5, "));
        assert!(INSERT_UNLIMITED.contains("WHERE tenant = ?4)"));
        assert!(INSERT_UNLIMITED.contains(&format!("?{}, (SELECT value", COLUMNS.len() + 2)));
    }

    /// The jobs and the records are written only with the row: the statements that insert
    /// them are guarded by the row carrying this batch's change number.
    #[test]
    fn the_unlimited_insert_writes_its_effects_only_with_its_row() {
        let guard = "WHERE EXISTS (SELECT 1 FROM files WHERE id = ?3 AND tenant = ?4 AND change_seq = (SELECT value";
        assert_eq!(INSERT_UNLIMITED.matches(guard).count(), 2, "{}", *INSERT_UNLIMITED);
        assert!(INSERT_UNLIMITED.contains("FROM json_each(?1, '$[0]') AS j WHERE"));
        assert!(INSERT_UNLIMITED.contains("INSERT INTO audit_log (id, tenant, "));
        assert!(INSERT_UNLIMITED.contains("a.value ->> 9 FROM json_each(?1, '$[1]') AS a WHERE"));
        assert!(INSERT_UNLIMITED.ends_with("ON CONFLICT (id) DO NOTHING; COMMIT;"));
    }
}
