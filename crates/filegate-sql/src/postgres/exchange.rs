//! Exchange passphrase versions and file requests.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileRequest, PassphraseVersion, RequestId, RequestStatus, TenantId};
use filegate_core::ports::{ExchangeStore, NewJob};

use super::{PostgresStore, insert_job, notify_workers};
use crate::errors::store_err;
use crate::exchange_rows::{
    PassphraseRow, RequestRow, passphrase_columns, request_columns, request_conflict, status_str,
};
use crate::rows::{micros, to_json};

#[async_trait::async_trait]
impl ExchangeStore for PostgresStore {
    async fn passphrases(&self, tenant: &TenantId) -> Result<Vec<PassphraseVersion>, StoreError> {
        sqlx::query_as::<_, PassphraseRow>(concat!(
            "SELECT ",
            passphrase_columns!(),
            " FROM exchange_passphrases WHERE tenant = $1 ORDER BY version DESC"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
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
             VALUES ($1, $2, $3, $4, $5, $6)",
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
            "UPDATE exchange_passphrases SET retired_at = $1 \
             WHERE tenant = $2 AND version < $3 AND retired_at IS NULL",
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
        sqlx::query(
            "INSERT INTO file_requests (id, tenant, parameters, note, status, due_at, file_id, created_by, \
             created_at, updated_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10)",
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
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn get_request(&self, tenant: &TenantId, id: RequestId) -> Result<Option<FileRequest>, StoreError> {
        sqlx::query_as::<_, RequestRow>(concat!(
            "SELECT ",
            request_columns!(),
            " FROM file_requests WHERE tenant = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
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
            " FROM file_requests WHERE tenant = $1 AND ($2::text IS NULL OR status = $2) \
             ORDER BY created_at, id LIMIT $3"
        ))
        .bind(tenant.as_str())
        .bind(status.map(status_str))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
        // The row lock holds to commit: no other writer closes it between check and update.
        let stored: Option<String> =
            sqlx::query_scalar("SELECT status FROM file_requests WHERE tenant = $1 AND id = $2 FOR UPDATE")
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
            "UPDATE file_requests SET status = $1, file_id = $2, updated_at = $3 WHERE tenant = $4 AND id = $5 \
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
        FileRequest::try_from(row)
    }
}
