//! File records: insert, compare-and-set update (with its job, in one transaction),
//! listing with keyset or offset pagination, the change feed and the sweeper's query.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileQuery, FileRecord, FileStatus, TenantId};
use filegate_core::ports::NewJob;
use sqlx::{FromRow, Sqlite};

use super::file_updates::Update;
use super::quotas::enforce_quota;
use super::{SqliteStore, next_change_seq, one_trip, to_completion};
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

    /// The common case in one round trip to the writer's thread (see `one_trip`):
    /// `None` when the tenant has a quota, and nothing was inserted.
    async fn insert_unlimited(&self, file: &FileRecord) -> Result<Option<FileRecord>, StoreError> {
        let v = FileValues::of(file)?;
        let rows = one_trip(&self.writer, v.bind(sqlx::query(INSERT_FILE_UNLIMITED), 0))
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

    /// The compare-and-set update with its jobs, committed together with whatever other
    /// updates are waiting for the writer (see `file_updates`).
    pub(super) async fn update_file_impl(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        jobs: &[NewJob],
    ) -> Result<FileRecord, StoreError> {
        let update = Update {
            file: file.clone(),
            expected: expected.to_vec(),
            jobs: jobs.to_vec(),
        };
        if let Some(stored) = self.updates.run(update).await? {
            return Ok(stored);
        }
        // Nothing was written: the file is gone, or its status was not one expected.
        let stored: Option<String> = sqlx::query_scalar("SELECT status FROM files WHERE tenant = ? AND id = ?")
            .bind(file.tenant.as_str())
            .bind(file.id.to_string())
            .fetch_optional(&self.writer)
            .await
            .map_err(store_err)?;
        Err(match stored {
            None => StoreError::NotFound,
            Some(stored) => status_conflict(file.id, &stored, expected),
        })
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
