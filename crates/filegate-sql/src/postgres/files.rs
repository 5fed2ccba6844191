//! File records: insert, compare-and-set update (with its jobs, in one transaction),
//! listing with keyset or offset pagination, the change feed and the sweeper's query.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileQuery, FileRecord, FileStatus, TenantId};
use filegate_core::ports::NewJob;
use sqlx::{FromRow, Postgres};

use super::quotas::enforce_quota;
use super::{PostgresStore, insert_job, next_change_seq, notify_workers};
use crate::errors::{status_conflict, store_err};
use crate::listing::{FileListing, file_listing};
use crate::rows::{FileRow, FileValues, count, file_columns, micros, records};

/// Inserts every column of a file (numbered as `FileValues::bind` binds them), returning the row.
pub(super) const INSERT_FILE: &str = concat!(
    "INSERT INTO files (id, tenant, bucket, path, name, size, content_type, content_essence, \
     declared_sha256, sha256, etag, status, status_reason, previous_status, owner, external_id, \
     metadata, processing, download_count, blob_key, upload, upload_expires_at, created_at, \
     updated_at, deleted_at, purge_after, change_seq, encryption, request_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb, \
     $18::jsonb, $19, $20, $21::jsonb, $22, $23, $24, $25, $26, $27, $28, $29) RETURNING ",
    file_columns!()
);

impl PostgresStore {
    pub(super) async fn insert_file_impl(&self, file: &FileRecord) -> Result<FileRecord, StoreError> {
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
            " FROM files WHERE tenant = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
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
        let v = FileValues::of(file)?;
        let mut tx = self.write_tx().await?;
        // The row lock holds from here to commit: no other writer changes the status between
        // this check and the update below.
        let stored: Option<String> =
            sqlx::query_scalar("SELECT status FROM files WHERE tenant = $1 AND id = $2 FOR UPDATE")
                .bind(v.tenant)
                .bind(&v.id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_err)?;
        let Some(stored) = stored else {
            return Err(StoreError::NotFound);
        };
        if !expected.iter().any(|s| s.as_str() == stored) {
            return Err(status_conflict(file.id, &stored, expected));
        }
        let seq = next_change_seq(&mut tx).await?;
        // Numbered like the insert: $1 (id) and $2 (tenant) select the row; $19 (download_count,
        // which only `add_download_counts` changes) and $23 (created_at) are bound but never written.
        let row = v
            .bind(
                sqlx::query(concat!(
                    "UPDATE files SET bucket = $3, path = $4, name = $5, size = $6, content_type = $7, \
                     content_essence = $8, declared_sha256 = $9, sha256 = $10, etag = $11, status = $12, \
                     status_reason = $13, previous_status = $14, owner = $15, external_id = $16, \
                     metadata = $17::jsonb, processing = $18::jsonb, blob_key = $20, \
                     upload = $21::jsonb, upload_expires_at = $22, updated_at = $24, deleted_at = $25, \
                     purge_after = $26, change_seq = $27, encryption = $28, request_id = $29 \
                     WHERE tenant = $2 AND id = $1 RETURNING ",
                    file_columns!()
                )),
                seq,
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(store_err)?;
        for job in jobs {
            insert_job(&mut tx, job).await?;
        }
        if !jobs.is_empty() {
            notify_workers(&mut tx).await?;
        }
        tx.commit().await.map_err(store_err)?;
        if !jobs.is_empty() {
            self.wake_workers();
        }
        FileRecord::try_from(FileRow::from_row(&row).map_err(store_err)?)
    }

    pub(super) async fn list_files_impl(
        &self,
        tenant: &TenantId,
        query: &FileQuery,
    ) -> Result<(Vec<FileRecord>, Option<u64>), StoreError> {
        let FileListing { mut page, count: total } = file_listing::<Postgres>(tenant, query)?;
        let Some(mut total) = total else {
            let rows = page
                .build_query_as::<FileRow>()
                .fetch_all(&self.pool)
                .await
                .map_err(store_err)?;
            return Ok((records(rows)?, None));
        };

        // One snapshot for both queries: the total counts the rows the page was cut from.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(store_err)?;
        let rows = page
            .build_query_as::<FileRow>()
            .fetch_all(&mut *tx)
            .await
            .map_err(store_err)?;
        let n: i64 = total
            .build_query_scalar()
            .fetch_one(&mut *tx)
            .await
            .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        Ok((records(rows)?, Some(count("file", n)?)))
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
            " FROM files WHERE tenant = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3"
        ))
        .bind(tenant.as_str())
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
        // Each arm walks its own partial index and stops at `limit`; the union is then ordered
        // by the moment each file became due.
        let rows = sqlx::query_as::<_, FileRow>(concat!(
            "SELECT ",
            file_columns!(),
            " FROM (",
            "(SELECT *, upload_expires_at AS due FROM files ",
            "WHERE status = 'pending' AND upload_expires_at < $1 ORDER BY upload_expires_at LIMIT $2) ",
            "UNION ALL ",
            "(SELECT *, purge_after AS due FROM files ",
            "WHERE status = 'deleted' AND purge_after < $3 ORDER BY purge_after LIMIT $2)",
            ") AS due_files ORDER BY due, id LIMIT $2"
        ))
        .bind(micros(expired_before))
        .bind(i64::from(limit))
        .bind(micros(purge_before))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        records(rows)
    }
}
