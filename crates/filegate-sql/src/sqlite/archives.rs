//! Zip bundles on SQLite (the SQL is shared: `crate::archives`).

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{Archive, ArchiveId, ArchiveQuery, ArchiveStatus, FileId, FileRecord, TenantId};
use filegate_core::ports::{ArchiveStore, NewJob};
use sqlx::Sqlite;

use super::{SqliteStore, insert_jobs};
use crate::archives::{
    ArchiveRow, Dialect, archive_insert, archive_select, archive_update, archives_due, files_by_id, files_matching,
    update_refused,
};
use crate::errors::store_err;
use crate::rows::{FileRow, records};

#[async_trait::async_trait]
impl ArchiveStore for SqliteStore {
    async fn files_by_id(&self, tenant: &TenantId, ids: &[FileId]) -> Result<Vec<FileRecord>, StoreError> {
        let rows = files_by_id::<Sqlite>(tenant, ids)
            .build_query_as::<FileRow>()
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?;
        records(rows)
    }

    async fn files_matching(
        &self,
        tenant: &TenantId,
        query: &ArchiveQuery,
        limit: u32,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let rows = files_matching::<Sqlite>(tenant, query, limit, Dialect::Sqlite)
            .build_query_as::<FileRow>()
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?;
        records(rows)
    }

    async fn create_archive(&self, archive: &Archive, jobs: &[NewJob]) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        archive_insert::<Sqlite>(archive, "")?
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

    async fn get_archive(&self, tenant: &TenantId, id: ArchiveId) -> Result<Option<Archive>, StoreError> {
        archive_select::<Sqlite>(tenant, id)
            .build_query_as::<ArchiveRow>()
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(Archive::try_from)
            .transpose()
    }

    async fn update_archive(&self, archive: &Archive, expected: &[ArchiveStatus]) -> Result<Archive, StoreError> {
        // One statement: the status check and the write are atomic. When it changed nothing,
        // a read says whether the archive is absent or in another status.
        let updated = archive_update::<Sqlite>(archive, expected)?
            .build_query_as::<ArchiveRow>()
            .fetch_optional(&self.writer)
            .await
            .map_err(store_err)?;
        match updated {
            Some(row) => Archive::try_from(row),
            None => Err(update_refused(self.get_archive(&archive.tenant, archive.id).await?)),
        }
    }

    async fn archives_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Archive>, StoreError> {
        archives_due::<Sqlite>(now, limit)
            .build_query_as::<ArchiveRow>()
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?
            .into_iter()
            .map(Archive::try_from)
            .collect()
    }
}
