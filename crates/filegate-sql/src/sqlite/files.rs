//! File records: insert, compare-and-set update (with its job, in one transaction),
//! listing with keyset or offset pagination, the change feed and the sweeper's query.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileQuery, FileRecord, FileStatus, TenantId};
use filegate_core::ports::NewJob;
use sqlx::{FromRow, Sqlite};

use super::quotas::enforce_quota;
use super::{SqliteStore, insert_job, next_change_seq};
use crate::errors::{status_conflict, store_err};
use crate::listing::{FileListing, file_listing};
use crate::rows::{FileRow, FileValues, count as count_of, file_columns, micros, records};

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

impl SqliteStore {
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
        let v = FileValues::of(file)?;
        let mut tx = self.write_tx().await?;
        // The write lock is held from BEGIN IMMEDIATE, so nothing changes between this read
        // and the update below.
        let stored: Option<String> = sqlx::query_scalar("SELECT status FROM files WHERE tenant = ? AND id = ?")
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
        // Numbered like the insert: ?1 (id) and ?2 (tenant) select the row; ?19 (download_count,
        // which only `add_download_counts` changes) and ?23 (created_at) are bound but never written.
        let row = v
            .bind(
                sqlx::query(concat!(
                    "UPDATE files SET bucket = ?3, path = ?4, name = ?5, size = ?6, content_type = ?7, \
                     content_essence = ?8, declared_sha256 = ?9, sha256 = ?10, etag = ?11, status = ?12, \
                     status_reason = ?13, previous_status = ?14, owner = ?15, external_id = ?16, metadata = ?17, \
                     processing = ?18, blob_key = ?20, upload = ?21, \
                     upload_expires_at = ?22, updated_at = ?24, deleted_at = ?25, purge_after = ?26, \
                     change_seq = ?27, encryption = ?28, request_id = ?29 \
                     WHERE tenant = ?2 AND id = ?1 RETURNING ",
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
