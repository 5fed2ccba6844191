//! One trip to the writer: a whole transaction (`BEGIN IMMEDIATE; …; COMMIT;`) sent as one
//! batch of statements, so the writer's connection thread is handed work once instead of
//! once per statement while every other writer waits. Used by the group commit of file
//! updates (`file_updates`) and by the insert of a file whose tenant has no quota, the
//! common case, here.

use std::sync::LazyLock;

use filegate_core::StoreError;
use filegate_core::domain::FileRecord;
use sqlx::sqlite::{SqliteArguments, SqlitePool, SqliteRow};
use sqlx::{FromRow as _, Sqlite};

use crate::errors::{exists, store_err};
use crate::file_row::{COLUMNS, FileRow, FileValues, Value, column_names, file_columns};

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

/// The insert of a file as one batch: the change number from the counter, and no row at all
/// when the tenant has a quota row (then the quota must be checked first, on the slower
/// path). `?N` is the N-th of [`COLUMNS`].
static INSERT_UNLIMITED: LazyLock<String> = LazyLock::new(|| {
    let values: Vec<String> = (1..=COLUMNS.len()).map(|n| format!("?{n}")).collect();
    let tenant = COLUMNS.iter().position(|c| c.name == "tenant").map_or(0, |i| i + 1);
    format!(
        "BEGIN IMMEDIATE; \
         UPDATE change_counter SET value = value + 1 WHERE id = 1; \
         INSERT INTO files ({}, change_seq) SELECT {}, (SELECT value FROM change_counter WHERE id = 1) \
         WHERE NOT EXISTS (SELECT 1 FROM tenant_quotas WHERE tenant = ?{tenant}) RETURNING {}; \
         COMMIT;",
        column_names(),
        values.join(", "),
        file_columns!()
    )
});

/// Inserts `file` in one trip when its tenant has no quota; `None` (and nothing written)
/// when it has one.
pub(super) async fn insert_unlimited(writer: SqlitePool, file: FileRecord) -> Result<Option<FileRecord>, StoreError> {
    to_completion(async move {
        let v = FileValues::of(&file)?;
        let batch = COLUMNS.iter().fold(sqlx::query(INSERT_UNLIMITED.as_str()), |batch, c| {
            bind(batch, (c.value)(&v))
        });
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
        assert!(INSERT_UNLIMITED.contains("SELECT ?1, ?2, ?3, "));
        assert!(INSERT_UNLIMITED.contains("WHERE tenant = ?2)"));
        assert!(INSERT_UNLIMITED.contains(&format!("?{}, (SELECT value", COLUMNS.len())));
    }
}
