//! Share links and files by path on SQLite (the SQL is shared: `crate::shares`).

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{BucketName, FileId, FileRecord, ObjectPath, Share, ShareId, TenantId, TokenHash};
use filegate_core::ports::{FilesByPath, NewJob, ShareStore};
use sqlx::Sqlite;

use super::{SqliteStore, insert_jobs};
use crate::errors::store_err;
use crate::rows::FileRow;
use crate::shares::{self as sql, ShareRow};

#[async_trait::async_trait]
impl ShareStore for SqliteStore {
    async fn create_share(&self, share: &Share, jobs: &[NewJob]) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sql::insert_share::<Sqlite>(share)
            .build()
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(store_err)?;
        if !jobs.is_empty() {
            self.wake_workers();
        }
        Ok(())
    }

    async fn get_share(&self, tenant: &TenantId, id: ShareId) -> Result<Option<Share>, StoreError> {
        sql::select_share::<Sqlite>(tenant, id)
            .build_query_as::<ShareRow>()
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(Share::try_from)
            .transpose()
    }

    async fn find_share(&self, token_hash: &TokenHash) -> Result<Option<Share>, StoreError> {
        sql::select_share_by_hash::<Sqlite>(token_hash)
            .build_query_as::<ShareRow>()
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(Share::try_from)
            .transpose()
    }

    async fn list_shares(&self, tenant: &TenantId, file_id: FileId) -> Result<Vec<Share>, StoreError> {
        sql::list_shares::<Sqlite>(tenant, file_id)
            .build_query_as::<ShareRow>()
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?
            .into_iter()
            .map(Share::try_from)
            .collect()
    }

    async fn revoke_share(&self, tenant: &TenantId, id: ShareId, at: DateTime<Utc>) -> Result<Share, StoreError> {
        sql::revoke_share::<Sqlite>(tenant, id, at)
            .build_query_as::<ShareRow>()
            .fetch_optional(&self.writer)
            .await
            .map_err(store_err)?
            .ok_or(StoreError::NotFound)
            .and_then(Share::try_from)
    }

    async fn record_share_access(
        &self,
        tenant: &TenantId,
        id: ShareId,
        at: DateTime<Utc>,
        download: bool,
        jobs: &[NewJob],
    ) -> Result<Option<Share>, StoreError> {
        let mut tx = self.write_tx().await?;
        let Some(row) = sql::record_access::<Sqlite>(tenant, id, at, download)
            .build_query_as::<ShareRow>()
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_err)?
        else {
            return Ok(None);
        };
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(store_err)?;
        if !jobs.is_empty() {
            self.wake_workers();
        }
        Share::try_from(row).map(Some)
    }

    async fn count_password_attempt(
        &self,
        tenant: &TenantId,
        id: ShareId,
        seen: u32,
        locked_until: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let done = sql::count_password_attempt::<Sqlite>(tenant, id, seen, locked_until)
            .build()
            .execute(&self.writer)
            .await
            .map_err(store_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn clear_password_failures(&self, tenant: &TenantId, id: ShareId) -> Result<(), StoreError> {
        sql::clear_password_failures::<Sqlite>(tenant, id)
            .build()
            .execute(&self.writer)
            .await
            .map_err(store_err)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl FilesByPath for SqliteStore {
    async fn ready_file_at(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        path: &ObjectPath,
    ) -> Result<Option<FileRecord>, StoreError> {
        sql::ready_file_at::<Sqlite>(tenant, bucket, path)
            .build_query_as::<FileRow>()
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(FileRecord::try_from)
            .transpose()
    }
}
