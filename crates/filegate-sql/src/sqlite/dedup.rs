//! Shared blobs: finding a dedup source, inserting a file that shares its blob (atomic with
//! the check), whether a blob is still in use, its thumbnails, and batched download counts.

use filegate_core::StoreError;
use filegate_core::domain::{BucketName, FileId, FileRecord, FileStatus, Sha256Hex, TenantId};
use filegate_core::ports::NewJob;
use sqlx::FromRow;

use super::files::INSERT_FILE;
use super::quotas::enforce_quota;
use super::{SqliteStore, insert_jobs, next_change_seq};
use crate::errors::{bad_row, store_err};
use crate::rows::{FileRow, FileValues, download_counts, file_columns, thumbnail_sizes, to_i64, to_json};

impl SqliteStore {
    pub(super) async fn find_dedup_source_impl(
        &self,
        tenant: &TenantId,
        sha256: &Sha256Hex,
        size: u64,
        bucket: Option<&BucketName>,
    ) -> Result<Option<FileRecord>, StoreError> {
        sqlx::query_as::<_, FileRow>(concat!(
            "SELECT ",
            file_columns!(),
            " FROM files WHERE tenant = ?1 AND sha256 = ?2 AND size = ?3 AND status = 'ready' \
             AND (?4 IS NULL OR bucket = ?4) ORDER BY created_at, id LIMIT 1"
        ))
        .bind(tenant.as_str())
        .bind(sha256.as_str())
        .bind(to_i64("file.size", size)?)
        .bind(bucket.map(BucketName::as_str))
        .fetch_optional(&self.reader)
        .await
        .map_err(store_err)?
        .map(FileRecord::try_from)
        .transpose()
    }

    pub(super) async fn insert_deduplicated_impl(
        &self,
        file: &FileRecord,
        source: FileId,
        jobs: &[NewJob],
    ) -> Result<FileRecord, StoreError> {
        let v = FileValues::of(file)?;
        // BEGIN IMMEDIATE holds the database's only write lock until commit: nothing can
        // delete the source between this check and the insert.
        let mut tx = self.write_tx().await?;
        // Logical sizes: the shared bytes count again for the new file.
        enforce_quota(&mut tx, &file.tenant, file.size).await?;
        let qualifies: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM files WHERE tenant = ? AND id = ? AND status = 'ready' AND blob_key = ? \
             AND sha256 IS NOT NULL AND sha256 = ? AND size = ?",
        )
        .bind(v.tenant)
        .bind(source.to_string())
        .bind(v.blob_key)
        .bind(v.sha256)
        .bind(v.size)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?;
        if qualifies.is_none() {
            return Err(StoreError::Conflict(format!(
                "file {source} is no longer a ready file with that blob"
            )));
        }
        let seq = next_change_seq(&mut tx).await?;
        let row = v
            .bind(sqlx::query(INSERT_FILE), seq)
            .fetch_one(&mut *tx)
            .await
            .map_err(store_err)?;
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(store_err)?;
        if !jobs.is_empty() {
            self.wake_workers();
        }
        FileRecord::try_from(FileRow::from_row(&row).map_err(store_err)?)
    }

    pub(super) async fn blob_in_use_impl(
        &self,
        tenant: &TenantId,
        blob_key: &str,
        except: FileId,
    ) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM files WHERE blob_key = ? AND tenant = ? AND id <> ? \
             AND status NOT IN ('expired', 'purged'))",
        )
        .bind(blob_key)
        .bind(tenant.as_str())
        .bind(except.to_string())
        .fetch_one(&self.reader)
        .await
        .map_err(store_err)
    }

    pub(super) async fn blob_statuses_impl(
        &self,
        tenant: &TenantId,
        blob_key: &str,
    ) -> Result<Vec<FileStatus>, StoreError> {
        let raw: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT status FROM files WHERE blob_key = ? AND tenant = ?")
                .bind(blob_key)
                .bind(tenant.as_str())
                .fetch_all(&self.reader)
                .await
                .map_err(store_err)?;
        raw.iter()
            .map(|s| s.parse().map_err(|e| bad_row("files.status", e)))
            .collect()
    }

    pub(super) async fn blob_thumbnail_sizes_impl(
        &self,
        tenant: &TenantId,
        blob_key: &str,
    ) -> Result<Vec<u32>, StoreError> {
        // `json_extract` only on objects: on another element (a string) it would fail.
        let raw: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT DISTINCT CAST(json_extract(t.value, '$.size') AS TEXT) \
             FROM files, json_each(files.processing, '$.thumbnails') AS t \
             WHERE files.blob_key = ? AND files.tenant = ? AND t.type = 'object'",
        )
        .bind(blob_key)
        .bind(tenant.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(store_err)?;
        Ok(thumbnail_sizes(raw))
    }

    pub(super) async fn add_download_counts_impl(&self, counts: &[(TenantId, FileId, u64)]) -> Result<(), StoreError> {
        let rows: Vec<serde_json::Value> = download_counts(counts)
            .into_iter()
            .map(|(t, f, n)| serde_json::json!({"t": t, "f": f, "n": n}))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        // One statement for the whole batch, whatever its size: the counts travel as one JSON
        // array. `change_seq` and `updated_at` are left alone: a download changes no file.
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE files SET download_count = download_count + j.n \
             FROM (SELECT json_extract(value, '$.t') AS t, json_extract(value, '$.f') AS f, \
                          json_extract(value, '$.n') AS n FROM json_each(?)) AS j \
             WHERE files.tenant = j.t AND files.id = j.f",
        )
        .bind(to_json("download counts", &rows)?)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        tx.commit().await.map_err(store_err)
    }
}
