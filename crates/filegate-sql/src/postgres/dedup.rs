//! Shared blobs: finding a dedup source, inserting a file that shares its blob (atomic with
//! the check), whether a blob is still in use, its thumbnails, and batched download counts.

use filegate_core::StoreError;
use filegate_core::domain::{BucketName, FileId, FileRecord, FileStatus, Sha256Hex, TenantId};
use filegate_core::ports::NewJob;
use sqlx::FromRow;

use super::files::INSERT_FILE;
use super::quotas::enforce_quota;
use super::{PostgresStore, insert_job, next_change_seq, notify_workers};
use crate::errors::{bad_row, store_err};
use crate::rows::{FileRow, FileValues, download_counts, file_columns, thumbnail_sizes, to_i64};

impl PostgresStore {
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
            " FROM files WHERE tenant = $1 AND sha256 = $2 AND size = $3 AND status = 'ready' \
             AND ($4::text IS NULL OR bucket = $4) ORDER BY created_at, id LIMIT 1"
        ))
        .bind(tenant.as_str())
        .bind(sha256.as_str())
        .bind(to_i64("file.size", size)?)
        .bind(bucket.map(BucketName::as_str))
        .fetch_optional(&self.pool)
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
        let mut tx = self.write_tx().await?;
        // Logical sizes: the shared bytes count again for the new file.
        enforce_quota(&mut tx, &file.tenant, file.size).await?;
        // `FOR SHARE` locks the source row until commit: a delete (`update_file` locks the row
        // `FOR UPDATE`) waits for this insert, and then the RemoveBlob check that follows its
        // purge sees the new row. A source changed meanwhile is re-checked on its newest
        // version (READ COMMITTED), so a source deleted first is not found here.
        let qualifies: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM files WHERE tenant = $1 AND id = $2 AND status = 'ready' AND blob_key = $3 \
             AND sha256 IS NOT NULL AND sha256 = $4 AND size = $5 FOR SHARE",
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

    pub(super) async fn blob_in_use_impl(
        &self,
        tenant: &TenantId,
        blob_key: &str,
        except: FileId,
    ) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM files WHERE blob_key = $1 AND tenant = $2 AND id <> $3 \
             AND status NOT IN ('expired', 'purged'))",
        )
        .bind(blob_key)
        .bind(tenant.as_str())
        .bind(except.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)
    }

    pub(super) async fn blob_statuses_impl(
        &self,
        tenant: &TenantId,
        blob_key: &str,
    ) -> Result<Vec<FileStatus>, StoreError> {
        let raw: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT status FROM files WHERE blob_key = $1 AND tenant = $2")
                .bind(blob_key)
                .bind(tenant.as_str())
                .fetch_all(&self.pool)
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
        // `jsonb_array_elements` fails on anything but an array: guard it.
        let raw: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT DISTINCT t.value ->> 'size' FROM files, jsonb_array_elements( \
                 CASE WHEN jsonb_typeof(files.processing -> 'thumbnails') = 'array' \
                      THEN files.processing -> 'thumbnails' ELSE '[]'::jsonb END) AS t(value) \
             WHERE files.blob_key = $1 AND files.tenant = $2 AND jsonb_typeof(t.value) = 'object'",
        )
        .bind(blob_key)
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(thumbnail_sizes(raw))
    }

    pub(super) async fn add_download_counts_impl(&self, counts: &[(TenantId, FileId, u64)]) -> Result<(), StoreError> {
        let rows = download_counts(counts);
        if rows.is_empty() {
            return Ok(());
        }
        let mut tenants = Vec::with_capacity(rows.len());
        let mut ids = Vec::with_capacity(rows.len());
        let mut ns = Vec::with_capacity(rows.len());
        for (tenant, id, n) in rows {
            tenants.push(tenant);
            ids.push(id);
            ns.push(n);
        }
        // One statement for the whole batch; `change_seq` and `updated_at` are left alone: a
        // download changes no file.
        sqlx::query(
            "UPDATE files SET download_count = files.download_count + v.n \
             FROM UNNEST($1::text[], $2::text[], $3::int8[]) AS v(tenant, id, n) \
             WHERE files.tenant = v.tenant AND files.id = v.id",
        )
        .bind(tenants)
        .bind(ids)
        .bind(ns)
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(())
    }
}
