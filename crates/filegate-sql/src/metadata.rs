//! `MetadataStore`: which statements each call runs, where (a reader, the writer, a write
//! transaction) and how rows become domain values. The statements sit with their tables
//! (`tenants`, `file_row`, `files`, `listing`, `blobs`, `quotas`); the writes an engine
//! does its own way are `Engine::insert_file`, `Engine::update_file` and `Engine::transition`.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{
    ApiKey, ApiKeyId, Bucket, BucketName, ChangeCursor, ChangePage, FileId, FileQuery, FileRecord, FileStatus,
    ProcessingOutcome, Quota, Sha256Hex, Tenant, TenantId, TenantUsage,
};
use filegate_core::ports::{Effects, MetadataStore};
use sqlx::QueryBuilder;

use crate::blobs::{blob_in_use, blob_statuses, dedup_source_qualifies, find_dedup_source};
use crate::convert::{count, download_counts, thumbnail_sizes};
use crate::dialect::{Dialect, Run as _};
use crate::engine::Engine;
use crate::errors::{bad_row, exists};
use crate::file_row::{FileRow, FileValues, change_page, insert_file, records};
use crate::files::{changed_files, due_for_sweep, select_file, take_change_seq};
use crate::listing::{FileListing, file_listing};
use crate::quotas::{enforce_quota, read_quota, read_usage, write_quota};
use crate::store::{SqlStore, commit, commit_with_effects};
use crate::tenants::{self as sql, ApiKeyRow, BucketRow, TenantRow};
use crate::transitions::Transition;

#[async_trait::async_trait]
impl<E: Engine> MetadataStore for SqlStore<E> {
    async fn ping(&self) -> Result<(), StoreError> {
        self.read_one::<(i64,)>(QueryBuilder::new("SELECT CAST(1 AS BIGINT)"))
            .await?;
        Ok(())
    }

    async fn commit_effects(&self, effects: &Effects) -> Result<(), StoreError> {
        self.write_change(effects, |_| Box::pin(async { Ok(()) })).await
    }

    async fn create_tenant(&self, tenant: &Tenant, first_bucket: &Bucket, effects: &Effects) -> Result<(), StoreError> {
        if first_bucket.tenant != tenant.id {
            return Err(StoreError::Other(anyhow::anyhow!(
                "the first bucket of tenant {} belongs to tenant {}",
                tenant.id,
                first_bucket.tenant
            )));
        }
        let insert = sql::insert_tenant::<E::DB>(tenant);
        let bucket = sql::insert_bucket::<E::DB>(first_bucket)?;
        let exists = exists(format!("tenant {}", tenant.id));
        self.write_change(effects, |c| {
            Box::pin(async move {
                insert.execute(&mut *c).await.map_err(exists)?;
                bucket.execute(c).await?;
                Ok(())
            })
        })
        .await
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let row: Option<TenantRow> = self.read_optional(sql::select_tenant(id)).await?;
        row.map(Tenant::try_from).transpose()
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows: Vec<TenantRow> = self.read_all(sql::list_tenants()).await?;
        rows.into_iter().map(Tenant::try_from).collect()
    }

    async fn create_bucket(&self, bucket: &Bucket, effects: &Effects) -> Result<(), StoreError> {
        let insert = sql::insert_bucket::<E::DB>(bucket)?;
        let exists = exists(format!("bucket {}", bucket.name));
        self.write_change(effects, |c| {
            Box::pin(async move { insert.execute(c).await.map_err(exists) })
        })
        .await?;
        Ok(())
    }

    async fn update_bucket(&self, bucket: &Bucket, effects: &Effects) -> Result<(), StoreError> {
        self.write_found_with(sql::update_bucket(bucket)?, effects).await
    }

    async fn get_bucket(&self, tenant: &TenantId, name: &BucketName) -> Result<Option<Bucket>, StoreError> {
        let row: Option<BucketRow> = self.read_optional(sql::select_bucket(tenant, name)).await?;
        row.map(Bucket::try_from).transpose()
    }

    async fn list_buckets(&self, tenant: &TenantId) -> Result<Vec<Bucket>, StoreError> {
        let rows: Vec<BucketRow> = self.read_all(sql::list_buckets(tenant)).await?;
        rows.into_iter().map(Bucket::try_from).collect()
    }

    async fn create_api_key(&self, key: &ApiKey, effects: &Effects) -> Result<(), StoreError> {
        let insert = sql::insert_api_key::<E::DB>(key)?;
        self.write_change(effects, |c| insert.execute(c)).await?;
        Ok(())
    }

    async fn find_api_key(&self, secret_hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        let row: Option<ApiKeyRow> = self.read_optional(sql::find_api_key(secret_hash)).await?;
        row.map(ApiKey::try_from).transpose()
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        let rows: Vec<ApiKeyRow> = self.read_all(sql::list_api_keys(tenant)).await?;
        rows.into_iter().map(ApiKey::try_from).collect()
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: ApiKeyId,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        self.write_found_with(sql::revoke_api_key(tenant, id, at), effects)
            .await
    }

    async fn insert_file(&self, file: &FileRecord, effects: &Effects) -> Result<FileRecord, StoreError> {
        self.engine.insert_file(file, effects).await
    }

    async fn get_file(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        let row: Option<FileRow> = self.read_optional(select_file(tenant, id)).await?;
        row.map(FileRecord::try_from).transpose()
    }

    async fn update_file(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        effects: &Effects,
    ) -> Result<FileRecord, StoreError> {
        self.engine.update_file(file, expected, effects).await
    }

    async fn start_processing(
        &self,
        seen: &FileRecord,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<FileRecord, StoreError> {
        self.engine.transition(&Transition::start(seen, at), effects).await
    }

    async fn finish_processing(
        &self,
        seen: &FileRecord,
        outcome: &ProcessingOutcome,
        effects: &Effects,
    ) -> Result<FileRecord, StoreError> {
        self.engine
            .transition(&Transition::finish(seen, outcome)?, effects)
            .await
    }

    async fn record_upload(&self, seen: &FileRecord, next: &FileRecord) -> Result<FileRecord, StoreError> {
        self.engine
            .transition(&Transition::upload(seen, next)?, &Effects::NONE)
            .await
    }

    async fn list_files(
        &self,
        tenant: &TenantId,
        query: &FileQuery,
    ) -> Result<(Vec<FileRecord>, Option<u64>), StoreError> {
        let FileListing { page, count: total } = file_listing::<E::DB>(tenant, query)?;
        let Some(total) = total else {
            return Ok((records(self.read_all(page).await?)?, None));
        };
        // One snapshot for both queries: the total counts the rows the page was cut from.
        let mut tx = self.engine.begin_snapshot().await?;
        let rows: Vec<FileRow> = page.fetch_all(&mut tx).await?;
        let (n,): (i64,) = total.fetch_one(&mut tx).await?;
        commit::<E>(tx).await?;
        Ok((records(rows)?, Some(count("file", n)?)))
    }

    async fn changed_files(
        &self,
        tenant: &TenantId,
        since: ChangeCursor,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        change_page(self.read_all(changed_files(tenant, since, limit)).await?, since)
    }

    async fn due_for_sweep(
        &self,
        expired_before: DateTime<Utc>,
        purge_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, StoreError> {
        records(
            self.read_all(due_for_sweep(expired_before, purge_before, limit))
                .await?,
        )
    }

    async fn find_dedup_source(
        &self,
        tenant: &TenantId,
        sha256: &Sha256Hex,
        size: u64,
        bucket: Option<&BucketName>,
    ) -> Result<Option<FileRecord>, StoreError> {
        let row: Option<FileRow> = self
            .read_optional(find_dedup_source(tenant, sha256, size, bucket)?)
            .await?;
        row.map(FileRecord::try_from).transpose()
    }

    async fn insert_deduplicated(
        &self,
        file: &FileRecord,
        source: FileId,
        effects: &Effects,
    ) -> Result<FileRecord, StoreError> {
        let v = FileValues::of(file)?;
        let mut tx = self.engine.begin_write().await?;
        // Logical sizes: the shared bytes count again for the new file.
        enforce_quota::<E::DB>(&mut tx, &file.tenant, file.size).await?;
        let qualifies: Option<(String,)> = dedup_source_qualifies::<E::DB>(&v, source)
            .fetch_optional(&mut tx)
            .await?;
        if qualifies.is_none() {
            return Err(StoreError::Conflict(format!(
                "file {source} is no longer a ready file with that blob"
            )));
        }
        let seq = take_change_seq::<E>(&mut tx).await?;
        let row: FileRow = insert_file::<E::DB>(&v, seq).fetch_one(&mut tx).await?;
        commit_with_effects(&self.engine, tx, effects).await?;
        FileRecord::try_from(row)
    }

    async fn blob_in_use(&self, tenant: &TenantId, blob_key: &str, except: FileId) -> Result<bool, StoreError> {
        let (in_use,): (bool,) = self.read_one(blob_in_use(tenant, blob_key, except)).await?;
        Ok(in_use)
    }

    async fn blob_statuses(&self, tenant: &TenantId, blob_key: &str) -> Result<Vec<FileStatus>, StoreError> {
        let rows: Vec<(String,)> = self.read_all(blob_statuses(tenant, blob_key)).await?;
        rows.iter()
            .map(|(s,)| s.parse().map_err(|e| bad_row("files.status", e)))
            .collect()
    }

    async fn blob_thumbnail_sizes(&self, tenant: &TenantId, blob_key: &str) -> Result<Vec<u32>, StoreError> {
        let rows: Vec<(Option<String>,)> = self.read_all(E::DB::thumbnail_sizes(tenant.as_str(), blob_key)).await?;
        Ok(thumbnail_sizes(rows.into_iter().map(|(s,)| s).collect()))
    }

    async fn add_download_counts(&self, counts: &[(TenantId, FileId, u64)]) -> Result<(), StoreError> {
        let counts = download_counts(counts);
        if counts.is_empty() {
            return Ok(());
        }
        self.write(E::DB::add_download_counts(counts)?).await?;
        Ok(())
    }

    async fn tenant_quota(&self, tenant: &TenantId) -> Result<Quota, StoreError> {
        let mut conn = self.engine.reader().await?;
        read_quota::<E::DB>(&mut conn, tenant).await
    }

    async fn set_tenant_quota(
        &self,
        tenant: &TenantId,
        quota: &Quota,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        let (tenant, quota) = (tenant.clone(), *quota);
        self.write_change(effects, |c| {
            Box::pin(async move { write_quota::<E::DB>(c, &tenant, &quota, at).await })
        })
        .await
    }

    async fn tenant_usage(&self, tenant: &TenantId) -> Result<TenantUsage, StoreError> {
        let mut conn = self.engine.reader().await?;
        read_usage::<E::DB>(&mut conn, tenant).await
    }
}
