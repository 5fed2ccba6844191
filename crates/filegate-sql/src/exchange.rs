//! Exchange passphrase versions and file requests (`ExchangeStore`): the rows, the
//! statements and the port.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{
    FileId, FileRequest, PassphraseVersion, RequestId, RequestParameters, RequestStatus, TenantId,
};
use filegate_core::ports::{Effects, ExchangeStore};
use sqlx::{FromRow, QueryBuilder};

use crate::convert::{from_json, micros, opt_time, tenant_id, time, to_json, uuid};
use crate::dialect::{BindExt as _, Dialect, Run as _};
use crate::engine::Engine;
use crate::errors::bad_row;
use crate::store::{SqlStore, commit_with_effects};

/// The columns `PassphraseRow` reads.
const PASSPHRASE_COLUMNS: &str = "tenant, version, sealed, created_at, created_by, retired_at";

/// The columns `RequestRow` reads (JSON cast to text for PostgreSQL's JSONB).
const REQUEST_COLUMNS: &str = "id, tenant, CAST(parameters AS TEXT) AS parameters, note, status, due_at, file_id, \
     created_by, created_at, updated_at";

#[derive(FromRow)]
pub struct PassphraseRow {
    tenant: String,
    version: i64,
    sealed: Vec<u8>,
    created_at: i64,
    created_by: String,
    retired_at: Option<i64>,
}

impl TryFrom<PassphraseRow> for PassphraseVersion {
    type Error = StoreError;
    fn try_from(r: PassphraseRow) -> Result<Self, StoreError> {
        Ok(PassphraseVersion {
            tenant: tenant_id(&r.tenant)?,
            version: u32::try_from(r.version).map_err(|_| bad_row("passphrase.version", r.version))?,
            sealed: r.sealed,
            created_at: time("passphrase.created_at", r.created_at)?,
            created_by: r.created_by,
            retired_at: opt_time("passphrase.retired_at", r.retired_at)?,
        })
    }
}

#[derive(FromRow)]
pub struct RequestRow {
    id: String,
    tenant: String,
    parameters: String,
    note: String,
    status: String,
    due_at: Option<i64>,
    file_id: Option<String>,
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<RequestRow> for FileRequest {
    type Error = StoreError;
    fn try_from(r: RequestRow) -> Result<Self, StoreError> {
        let parameters: serde_json::Value = from_json("request.parameters", &r.parameters)?;
        Ok(FileRequest {
            id: RequestId::from_uuid(uuid("request.id", &r.id)?),
            tenant: tenant_id(&r.tenant)?,
            parameters: RequestParameters::parse(parameters).map_err(|e| bad_row("request.parameters", e))?,
            note: r.note,
            status: r.status.parse().map_err(|e| bad_row("request.status", e))?,
            due_at: opt_time("request.due_at", r.due_at)?,
            file_id: r
                .file_id
                .map(|id| uuid("request.file_id", &id).map(FileId::from_uuid))
                .transpose()?,
            created_by: r.created_by,
            created_at: time("request.created_at", r.created_at)?,
            updated_at: time("request.updated_at", r.updated_at)?,
        })
    }
}

/// The status a CAS found a request in, as a conflict.
fn request_conflict(id: RequestId, stored: &str) -> StoreError {
    StoreError::Conflict(format!("file request {id} is {stored}, not pending"))
}

/// ` WHERE tenant = ? AND id = ?`
fn push_request_key<DB: Dialect>(q: &mut QueryBuilder<DB>, tenant: &TenantId, id: RequestId) {
    q.push(" WHERE tenant = ").bind_value(tenant.as_str());
    q.push(" AND id = ").bind_value(id.to_string());
}

#[async_trait::async_trait]
impl<E: Engine> ExchangeStore for SqlStore<E> {
    async fn passphrases(&self, tenant: &TenantId) -> Result<Vec<PassphraseVersion>, StoreError> {
        let mut q = QueryBuilder::new(format!(
            "SELECT {PASSPHRASE_COLUMNS} FROM exchange_passphrases WHERE tenant = "
        ));
        q.bind_value(tenant.as_str()).push(" ORDER BY version DESC");
        let rows: Vec<PassphraseRow> = self.read_all(q).await?;
        rows.into_iter().map(PassphraseVersion::try_from).collect()
    }

    async fn add_passphrase(&self, v: &PassphraseVersion, effects: &Effects) -> Result<(), StoreError> {
        let mut insert = QueryBuilder::<E::DB>::new(
            "INSERT INTO exchange_passphrases (tenant, version, sealed, created_at, created_by, retired_at) VALUES (",
        );
        insert.bind_value(v.tenant.as_str());
        insert.push(", ").bind_value(i64::from(v.version));
        insert.push(", ").bind_value(v.sealed.as_slice());
        insert.push(", ").bind_value(micros(v.created_at));
        insert.push(", ").bind_value(v.created_by.as_str());
        insert.push(", ").bind_value(v.retired_at.map(micros)).push(")");
        // The versions before it retire as it is added.
        let mut retire = QueryBuilder::<E::DB>::new("UPDATE exchange_passphrases SET retired_at = ");
        retire.bind_value(micros(v.created_at));
        retire.push(" WHERE tenant = ").bind_value(v.tenant.as_str());
        retire.push(" AND version < ").bind_value(i64::from(v.version));
        retire.push(" AND retired_at IS NULL");

        self.write_change(effects, |c| {
            Box::pin(async move {
                insert.execute(&mut *c).await?;
                retire.execute(c).await?;
                Ok(())
            })
        })
        .await
    }

    async fn create_request(&self, r: &FileRequest, effects: &Effects) -> Result<(), StoreError> {
        let mut q = QueryBuilder::<E::DB>::new(
            "INSERT INTO file_requests (id, tenant, parameters, note, status, due_at, file_id, created_by, \
             created_at, updated_at) VALUES (",
        );
        q.bind_value(r.id.to_string());
        q.push(", ").bind_value(r.tenant.as_str());
        q.push(", ")
            .bind_value(to_json("request.parameters", &r.parameters)?)
            .push(E::DB::JSON);
        q.push(", ").bind_value(r.note.as_str());
        q.push(", ").bind_value(r.status.as_str());
        q.push(", ").bind_value(r.due_at.map(micros));
        q.push(", ").bind_value(r.file_id.map(|id| id.to_string()));
        q.push(", ").bind_value(r.created_by.as_str());
        q.push(", ").bind_value(micros(r.created_at));
        q.push(", ").bind_value(micros(r.updated_at)).push(")");
        self.write_change(effects, |c| q.execute(c)).await?;
        Ok(())
    }

    async fn get_request(&self, tenant: &TenantId, id: RequestId) -> Result<Option<FileRequest>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {REQUEST_COLUMNS} FROM file_requests"));
        push_request_key(&mut q, tenant, id);
        let row: Option<RequestRow> = self.read_optional(q).await?;
        row.map(FileRequest::try_from).transpose()
    }

    async fn list_requests(
        &self,
        tenant: &TenantId,
        status: Option<RequestStatus>,
        limit: u32,
    ) -> Result<Vec<FileRequest>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {REQUEST_COLUMNS} FROM file_requests WHERE tenant = "));
        q.bind_value(tenant.as_str());
        if let Some(status) = status {
            q.push(" AND status = ").bind_value(status.as_str());
        }
        q.push(" ORDER BY created_at, id LIMIT ").bind_value(i64::from(limit));
        let rows: Vec<RequestRow> = self.read_all(q).await?;
        rows.into_iter().map(FileRequest::try_from).collect()
    }

    async fn close_request(
        &self,
        tenant: &TenantId,
        id: RequestId,
        to: RequestStatus,
        file_id: Option<FileId>,
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<FileRequest, StoreError> {
        let mut check = QueryBuilder::<E::DB>::new("SELECT status FROM file_requests");
        push_request_key(&mut check, tenant, id);
        // Locked to the commit (where the engine needs it): no other writer closes the
        // request between this check and the update.
        check.push(E::DB::FOR_UPDATE);
        let mut update = QueryBuilder::<E::DB>::new("UPDATE file_requests SET status = ");
        update.bind_value(to.as_str());
        update.push(", file_id = ").bind_value(file_id.map(|f| f.to_string()));
        update.push(", updated_at = ").bind_value(micros(at));
        push_request_key(&mut update, tenant, id);
        update.push(format!(" RETURNING {REQUEST_COLUMNS}"));

        let mut tx = self.engine.begin_write().await?;
        let stored: Option<(String,)> = check.fetch_optional(&mut tx).await?;
        match stored.as_ref().map(|(s,)| s.as_str()) {
            None => return Err(StoreError::NotFound),
            Some("pending") => {}
            Some(other) => return Err(request_conflict(id, other)),
        }
        let row: RequestRow = update.fetch_one(&mut tx).await?;
        commit_with_effects(&self.engine, tx, effects).await?;
        FileRequest::try_from(row)
    }
}
