//! Rows of the exchange tables (passphrase versions, file requests) <-> domain values,
//! shared by both engines like `rows`.

use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileRequest, PassphraseVersion, RequestId, RequestParameters, RequestStatus};
use sqlx::FromRow;

use crate::errors::bad_row;
use crate::rows::{from_json, opt_time, tenant_id, time, uuid};

/// The columns `PassphraseRow` reads, as a literal for `concat!`.
macro_rules! passphrase_columns {
    () => {
        "tenant, version, sealed, created_at, created_by, retired_at"
    };
}
pub(crate) use passphrase_columns;

/// The columns `RequestRow` reads, as a literal for `concat!`.
macro_rules! request_columns {
    () => {
        "id, tenant, CAST(parameters AS TEXT) AS parameters, note, status, due_at, file_id, created_by, \
         created_at, updated_at"
    };
}
pub(crate) use request_columns;

#[derive(FromRow)]
pub(crate) struct PassphraseRow {
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
pub(crate) struct RequestRow {
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
pub(crate) fn request_conflict(id: RequestId, stored: &str) -> StoreError {
    StoreError::Conflict(format!("file request {id} is {stored}, not pending"))
}

pub(crate) fn status_str(s: RequestStatus) -> &'static str {
    s.as_str()
}
