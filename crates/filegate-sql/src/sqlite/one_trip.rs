//! One trip to the writer: a whole transaction (`BEGIN IMMEDIATE; …; COMMIT;`) sent as one
//! batch of statements, so the writer's connection thread is handed work once instead of
//! once per statement while every other writer waits. Used by the group commit of file
//! writes (`file_updates`). A change's effects (its jobs and audit records) ride in the same
//! batch, as JSON arrays the statements of [`jobs_from_json`] and [`audit_from_json`] read.

use filegate_core::StoreError;
use sqlx::Sqlite;
use sqlx::sqlite::{SqliteArguments, SqlitePool, SqliteRow};

use crate::audit::AUDIT_WRITTEN;

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
