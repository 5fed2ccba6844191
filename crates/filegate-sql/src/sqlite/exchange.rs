//! Exchange passphrase versions and file requests.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileRequest, PassphraseVersion, RequestId, RequestStatus, TenantId};
use filegate_core::ports::{ExchangeStore, NewJob};

use super::{SqliteStore, insert_jobs};
use crate::errors::store_err;
use crate::exchange_rows::{
    PassphraseRow, RequestRow, passphrase_columns, request_columns, request_conflict, status_str,
};
use crate::rows::{micros, to_json};

#[async_trait::async_trait]
impl ExchangeStore for SqliteStore {
    async fn passphrases(&self, tenant: &TenantId) -> Result<Vec<PassphraseVersion>, StoreError> {
        sqlx::query_as::<_, PassphraseRow>(concat!(
            "SELECT ",
            passphrase_columns!(),
            " FROM exchange_passphrases WHERE tenant = ? ORDER BY version DESC"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(PassphraseVersion::try_from)
        .collect()
    }

    async fn add_passphrase(&self, v: &PassphraseVersion) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO exchange_passphrases (tenant, version, sealed, created_at, created_by, retired_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(v.tenant.as_str())
        .bind(i64::from(v.version))
        .bind(v.sealed.as_slice())
        .bind(micros(v.created_at))
        .bind(&v.created_by)
        .bind(v.retired_at.map(micros))
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        sqlx::query(
            "UPDATE exchange_passphrases SET retired_at = ? \
             WHERE tenant = ? AND version < ? AND retired_at IS NULL",
        )
        .bind(micros(v.created_at))
        .bind(v.tenant.as_str())
        .bind(i64::from(v.version))
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        tx.commit().await.map_err(store_err)
    }

    async fn create_request(&self, r: &FileRequest) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO file_requests (id, tenant, parameters, note, status, due_at, file_id, created_by, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.id.to_string())
        .bind(r.tenant.as_str())
        .bind(to_json("request.parameters", &r.parameters)?)
        .bind(&r.note)
        .bind(status_str(r.status))
        .bind(r.due_at.map(micros))
        .bind(r.file_id.map(|id| id.to_string()))
        .bind(&r.created_by)
        .bind(micros(r.created_at))
        .bind(micros(r.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        tx.commit().await.map_err(store_err)
    }

    async fn get_request(&self, tenant: &TenantId, id: RequestId) -> Result<Option<FileRequest>, StoreError> {
        sqlx::query_as::<_, RequestRow>(concat!(
            "SELECT ",
            request_columns!(),
            " FROM file_requests WHERE tenant = ? AND id = ?"
        ))
        .bind(tenant.as_str())
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_err)?
        .map(FileRequest::try_from)
        .transpose()
    }

    async fn list_requests(
        &self,
        tenant: &TenantId,
        status: Option<RequestStatus>,
        limit: u32,
    ) -> Result<Vec<FileRequest>, StoreError> {
        sqlx::query_as::<_, RequestRow>(concat!(
            "SELECT ",
            request_columns!(),
            " FROM file_requests WHERE tenant = ? AND (? IS NULL OR status = ?) \
             ORDER BY created_at, id LIMIT ?"
        ))
        .bind(tenant.as_str())
        .bind(status.map(status_str))
        .bind(status.map(status_str))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(FileRequest::try_from)
        .collect()
    }

    async fn close_request(
        &self,
        tenant: &TenantId,
        id: RequestId,
        to: RequestStatus,
        file_id: Option<FileId>,
        at: DateTime<Utc>,
        jobs: &[NewJob],
    ) -> Result<FileRequest, StoreError> {
        let mut tx = self.write_tx().await?;
        let stored: Option<String> = sqlx::query_scalar("SELECT status FROM file_requests WHERE tenant = ? AND id = ?")
            .bind(tenant.as_str())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_err)?;
        match stored.as_deref() {
            None => return Err(StoreError::NotFound),
            Some("pending") => {}
            Some(other) => return Err(request_conflict(id, other)),
        }
        let row = sqlx::query_as::<_, RequestRow>(concat!(
            "UPDATE file_requests SET status = ?, file_id = ?, updated_at = ? WHERE tenant = ? AND id = ? \
             RETURNING ",
            request_columns!()
        ))
        .bind(status_str(to))
        .bind(file_id.map(|f| f.to_string()))
        .bind(micros(at))
        .bind(tenant.as_str())
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(store_err)?;
        if !jobs.is_empty() {
            self.wake_workers();
        }
        FileRequest::try_from(row)
    }
}
