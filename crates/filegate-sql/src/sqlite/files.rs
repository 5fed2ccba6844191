//! File records: insert, compare-and-set update (with its job, in one transaction),
//! listing with keyset or offset pagination, the change feed and the sweeper's query.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileQuery, FileRecord, FileStatus, TenantId};
use filegate_core::ports::NewJob;
use sqlx::{FromRow, Sqlite};

use super::quotas::enforce_quota;
use super::{SqliteStore, next_change_seq, to_completion};
use crate::errors::{status_conflict, store_err};
use crate::listing::{FileListing, file_listing};
use crate::rows::{FileRow, FileValues, count as count_of, file_columns, micros, records, to_json};

/// Inserts every column of a file (numbered as `FileValues::bind` binds them), returning the row.
pub(super) const INSERT_FILE: &str = concat!(
    "INSERT INTO files (id, tenant, bucket, path, name, size, content_type, content_essence, \
     declared_sha256, sha256, etag, status, status_reason, previous_status, owner, external_id, \
     metadata, processing, download_count, blob_key, upload, upload_expires_at, created_at, \
     updated_at, deleted_at, purge_after, change_seq, encryption, request_id) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
     ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29) RETURNING ",
    file_columns!()
);

/// [`INSERT_FILE`] for a tenant without a quota, as one batch: the change number from the
/// counter, and no row at all when the tenant has a quota row (then the quota must be
/// checked first, on the slower path).
const INSERT_FILE_UNLIMITED: &str = concat!(
    "BEGIN IMMEDIATE; \
     UPDATE change_counter SET value = value + 1 WHERE id = 1; \
     INSERT INTO files (id, tenant, bucket, path, name, size, content_type, content_essence, \
     declared_sha256, sha256, etag, status, status_reason, previous_status, owner, external_id, \
     metadata, processing, download_count, blob_key, upload, upload_expires_at, created_at, \
     updated_at, deleted_at, purge_after, change_seq, encryption, request_id) \
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
     ?20, ?21, ?22, ?23, ?24, ?25, ?26, (SELECT value FROM change_counter WHERE id = 1), ?28, ?29 \
     WHERE NOT EXISTS (SELECT 1 FROM tenant_quotas WHERE tenant = ?2) RETURNING ",
    file_columns!(),
    "; COMMIT;"
);

impl SqliteStore {
    pub(super) async fn insert_file_impl(&self, file: &FileRecord) -> Result<FileRecord, StoreError> {
        let (store, file) = (self.clone(), file.clone());
        to_completion(async move {
            match store.insert_unlimited(&file).await? {
                Some(inserted) => Ok(inserted),
                None => store.insert_within_quota(&file).await,
            }
        })
        .await
    }

    /// The common case in one round trip to the writer's thread (see `update_file`):
    /// `None` when the tenant has a quota, and nothing was inserted.
    async fn insert_unlimited(&self, file: &FileRecord) -> Result<Option<FileRecord>, StoreError> {
        let v = FileValues::of(file)?;
        let rows = self
            .one_trip(v.bind(sqlx::query(INSERT_FILE_UNLIMITED), 0))
            .await
            .map_err(|e| match store_err(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("file {} exists", file.id)),
                other => other,
            })?;
        rows.first()
            .map(|row| FileRecord::try_from(FileRow::from_row(row).map_err(store_err)?))
            .transpose()
    }

    /// A tenant with a quota: checked and inserted in one write transaction.
    async fn insert_within_quota(&self, file: &FileRecord) -> Result<FileRecord, StoreError> {
        let v = FileValues::of(file)?;
        let mut tx = self.write_tx().await?;
        enforce_quota(&mut tx, &file.tenant, file.size).await?;
        let seq = next_change_seq(&mut tx).await?;
        let row = v
            .bind(sqlx::query(INSERT_FILE), seq)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| match store_err(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("file {} exists", file.id)),
                other => other,
            })?;
        tx.commit().await.map_err(store_err)?;
        FileRecord::try_from(FileRow::from_row(&row).map_err(store_err)?)
    }

    pub(super) async fn get_file_impl(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        sqlx::query_as::<_, FileRow>(concat!(
            "SELECT ",
            file_columns!(),
            " FROM files WHERE tenant = ? AND id = ?"
        ))
        .bind(tenant.as_str())
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_err)?
        .map(FileRecord::try_from)
        .transpose()
    }

    pub(super) async fn update_file_impl(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        jobs: &[NewJob],
    ) -> Result<FileRecord, StoreError> {
        let (store, file, expected, jobs) = (self.clone(), file.clone(), expected.to_vec(), jobs.to_vec());
        to_completion(async move { store.update_file_in_one_trip(&file, &expected, &jobs).await }).await
    }

    /// The compare-and-set update, its change number and its jobs as one batch of
    /// statements: one round trip to the writer connection's thread instead of one per
    /// statement. The small-files pipeline and every completion spend their time waiting
    /// on these round trips while the one writer sits idle between them.
    ///
    /// The batch bumps the change counter first, then updates the row only if its status is
    /// one of `expected` (taking the new counter value), then inserts the jobs only if the
    /// row now carries that value. When the status did not match, the batch commits just
    /// the bumped counter (a gap in the change numbers, which readers never rely on) and
    /// we look at why; when a statement fails, the transaction is rolled back.
    async fn update_file_in_one_trip(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        jobs: &[NewJob],
    ) -> Result<FileRecord, StoreError> {
        let v = FileValues::of(file)?;
        let expected_json = to_json(
            "expected statuses",
            &expected.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        )?;
        let sql = update_batch(jobs.len());
        // ?1..?29 as in the insert (?27, the change number, comes from the counter instead);
        // ?30 the statuses the row may have; ?31 the jobs' creation time; then 4 per job.
        let mut query = v.bind(sqlx::query(sqlx::AssertSqlSafe(sql)), 0).bind(expected_json);
        query = query.bind(micros(chrono::Utc::now()));
        for job in jobs {
            query = query
                .bind(job.id.to_string())
                .bind(job.job.kind())
                .bind(to_json("job", &job.job)?)
                .bind(micros(job.run_at));
        }
        let rows = self.one_trip(query).await.map_err(store_err)?;
        let Some(row) = rows.first() else {
            let stored: Option<String> = sqlx::query_scalar("SELECT status FROM files WHERE tenant = ? AND id = ?")
                .bind(file.tenant.as_str())
                .bind(file.id.to_string())
                .fetch_optional(&self.writer)
                .await
                .map_err(store_err)?;
            return Err(match stored {
                None => StoreError::NotFound,
                Some(stored) => status_conflict(file.id, &stored, expected),
            });
        };
        if !jobs.is_empty() {
            self.wake_workers();
        }
        FileRecord::try_from(FileRow::from_row(row).map_err(store_err)?)
    }

    pub(super) async fn list_files_impl(
        &self,
        tenant: &TenantId,
        query: &FileQuery,
    ) -> Result<(Vec<FileRecord>, Option<u64>), StoreError> {
        let FileListing { mut page, count } = file_listing::<Sqlite>(tenant, query)?;
        let Some(mut count) = count else {
            let rows = page
                .build_query_as::<FileRow>()
                .fetch_all(&self.reader)
                .await
                .map_err(store_err)?;
            return Ok((records(rows)?, None));
        };

        // One read transaction: the page and the total come from the same snapshot.
        let mut tx = self.reader.begin().await.map_err(store_err)?;
        let rows = page
            .build_query_as::<FileRow>()
            .fetch_all(&mut *tx)
            .await
            .map_err(store_err)?;
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&mut *tx)
            .await
            .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        Ok((records(rows)?, Some(count_of("file", total)?)))
    }

    pub(super) async fn changed_files_impl(
        &self,
        tenant: &TenantId,
        since: i64,
        limit: u32,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let rows = sqlx::query_as::<_, FileRow>(concat!(
            "SELECT ",
            file_columns!(),
            " FROM files WHERE tenant = ? AND change_seq > ? ORDER BY change_seq LIMIT ?"
        ))
        .bind(tenant.as_str())
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(store_err)?;
        records(rows)
    }

    pub(super) async fn due_for_sweep_impl(
        &self,
        expired_before: DateTime<Utc>,
        purge_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, StoreError> {
        // Each arm walks its own index and stops at `limit`; the union is then ordered by the
        // moment each file became due.
        let rows = sqlx::query_as::<_, FileRow>(concat!(
            "SELECT ",
            file_columns!(),
            " FROM (",
            "SELECT * FROM (SELECT *, upload_expires_at AS due FROM files ",
            "WHERE status = 'pending' AND upload_expires_at < ? ORDER BY upload_expires_at LIMIT ?) ",
            "UNION ALL ",
            "SELECT * FROM (SELECT *, purge_after AS due FROM files ",
            "WHERE status = 'deleted' AND purge_after < ? ORDER BY purge_after LIMIT ?)",
            ") AS due_files ORDER BY due, id LIMIT ?"
        ))
        .bind(micros(expired_before))
        .bind(i64::from(limit))
        .bind(micros(purge_before))
        .bind(i64::from(limit))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(store_err)?;
        records(rows)
    }
}

/// The statements of [`SqliteStore::update_file_in_one_trip`] for `jobs` jobs.
fn update_batch(jobs: usize) -> String {
    const CURRENT_SEQ: &str = "(SELECT value FROM change_counter WHERE id = 1)";
    let mut sql = format!(
        "BEGIN IMMEDIATE; \
         UPDATE change_counter SET value = value + 1 WHERE id = 1; \
         UPDATE files SET bucket = ?3, path = ?4, name = ?5, size = ?6, content_type = ?7, \
         content_essence = ?8, declared_sha256 = ?9, sha256 = ?10, etag = ?11, status = ?12, \
         status_reason = ?13, previous_status = ?14, owner = ?15, external_id = ?16, metadata = ?17, \
         processing = ?18, blob_key = ?20, upload = ?21, \
         upload_expires_at = ?22, updated_at = ?24, deleted_at = ?25, purge_after = ?26, \
         change_seq = {CURRENT_SEQ}, encryption = ?28, request_id = ?29 \
         WHERE tenant = ?2 AND id = ?1 AND status IN (SELECT value FROM json_each(?30)) RETURNING {}; ",
        file_columns!()
    );
    if jobs > 0 {
        let rows: Vec<String> = (0..jobs)
            .map(|i| {
                let n = 32 + 4 * i;
                format!("(?{}, ?{}, ?{}, ?{})", n, n + 1, n + 2, n + 3)
            })
            .collect();
        sql.push_str(&format!(
            "INSERT INTO jobs (id, kind, payload, run_at, attempts, created_at) \
             SELECT column1, column2, column3, column4, 0, ?31 FROM (VALUES {}) \
             WHERE EXISTS (SELECT 1 FROM files WHERE tenant = ?2 AND id = ?1 AND change_seq = {CURRENT_SEQ}); ",
            rows.join(", ")
        ));
    }
    sql.push_str("COMMIT;");
    sql
}
