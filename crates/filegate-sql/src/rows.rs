//! Rows <-> domain values, shared by every engine. Everything read from the database is
//! decoded with errors, never unwrapped: a row that does not decode is `StoreError::Other`
//! naming what failed.
//!
//! Both engines store the same representations — ids as UUID text, timestamps as integer
//! microseconds since the Unix epoch, structured values as JSON (TEXT in SQLite, JSONB in
//! PostgreSQL, read back as text) — so one set of row types and one binder serve both.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{
    ApiKey, ApiKeyId, Bucket, BucketName, ContentType, ETag, Encryption, FileId, FileRecord, FileStatus, JobId,
    ObjectPath, RequestId, Role, Sha256Hex, Tenant, TenantId,
};
use filegate_core::ports::{ClaimedJob, Job, NewJob};
use sqlx::query::Query;
use sqlx::{Database, Encode, FromRow, Type};
use uuid::Uuid;

use crate::errors::{bad_row, unstorable};

/// The columns of `files` that `FileRow` reads, as a literal for `concat!`. JSON columns are
/// cast to text, which SQLite (TEXT already) and PostgreSQL (JSONB) both understand.
macro_rules! file_columns {
    () => {
        "id, tenant, bucket, path, size, content_type, declared_sha256, sha256, etag, status, status_reason, \
         previous_status, owner, external_id, CAST(metadata AS TEXT) AS metadata, \
         CAST(processing AS TEXT) AS processing, download_count, blob_key, CAST(upload AS TEXT) AS upload, \
         upload_expires_at, created_at, updated_at, deleted_at, purge_after, change_seq, encryption, request_id"
    };
}
pub(crate) use file_columns;

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn time(what: &str, v: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| bad_row(what, format!("timestamp {v} out of range")))
}

pub(crate) fn opt_time(what: &str, v: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    v.map(|v| time(what, v)).transpose()
}

pub(crate) fn to_i64(what: &str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| unstorable(what, format!("{v} exceeds the engine's integer range")))
}

fn to_u64(what: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| bad_row(what, format!("negative value {v}")))
}

pub(crate) fn uuid(what: &str, s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| bad_row(what, e))
}

pub(crate) fn to_json<T: serde::Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| unstorable(what, e))
}

/// A job's columns as every engine stores them.
pub(crate) type JobValues = (String, &'static str, String, i64, &'static str, String);

/// A job's columns as every engine stores them: id, kind, payload (JSON), run_at, lane and
/// tenant ('' for the platform's own work; the queues claim fairly across tenants).
pub(crate) fn job_values(job: &NewJob) -> Result<JobValues, StoreError> {
    Ok((
        job.id.to_string(),
        job.job.kind(),
        to_json("job", &job.job)?,
        micros(job.run_at),
        job.job.lane().as_str(),
        job.job.tenant().map(ToString::to_string).unwrap_or_default(),
    ))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| bad_row(what, e))
}

fn status(what: &str, s: &str) -> Result<FileStatus, StoreError> {
    s.parse().map_err(|_| bad_row(what, format!("unknown status {s:?}")))
}

pub(crate) fn tenant_id(s: &str) -> Result<TenantId, StoreError> {
    TenantId::parse(s).map_err(|e| bad_row("tenant id", e))
}

fn bucket_name(s: &str) -> Result<BucketName, StoreError> {
    BucketName::parse(s).map_err(|e| bad_row("bucket name", e))
}

#[derive(FromRow)]
pub(crate) struct TenantRow {
    id: String,
    created_at: i64,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> Result<Self, StoreError> {
        Ok(Tenant {
            id: tenant_id(&r.id)?,
            created_at: time("tenant.created_at", r.created_at)?,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct BucketRow {
    tenant: String,
    name: String,
    policy: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<BucketRow> for Bucket {
    type Error = StoreError;
    fn try_from(r: BucketRow) -> Result<Self, StoreError> {
        Ok(Bucket {
            tenant: tenant_id(&r.tenant)?,
            name: bucket_name(&r.name)?,
            policy: from_json("bucket.policy", &r.policy)?,
            created_at: time("bucket.created_at", r.created_at)?,
            updated_at: time("bucket.updated_at", r.updated_at)?,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct ApiKeyRow {
    id: String,
    tenant: String,
    name: String,
    roles: String,
    secret_hash: Vec<u8>,
    created_at: i64,
    revoked_at: Option<i64>,
}

pub(crate) fn roles_json(roles: &[Role]) -> Result<String, StoreError> {
    to_json("api_key.roles", &roles.iter().map(|r| r.as_str()).collect::<Vec<_>>())
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;
    fn try_from(r: ApiKeyRow) -> Result<Self, StoreError> {
        let names: Vec<String> = from_json("api_key.roles", &r.roles)?;
        let roles = names
            .iter()
            .map(|n| Role::parse(n).map_err(|e| bad_row("api_key.roles", e)))
            .collect::<Result<_, _>>()?;
        let secret_hash: [u8; 32] = r
            .secret_hash
            .as_slice()
            .try_into()
            .map_err(|_| bad_row("api_key.secret_hash", format!("{} bytes, not 32", r.secret_hash.len())))?;
        Ok(ApiKey {
            id: ApiKeyId::from_uuid(uuid("api_key.id", &r.id)?),
            tenant: tenant_id(&r.tenant)?,
            name: r.name,
            roles,
            secret_hash,
            created_at: time("api_key.created_at", r.created_at)?,
            revoked_at: opt_time("api_key.revoked_at", r.revoked_at)?,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct FileRow {
    id: String,
    tenant: String,
    bucket: String,
    path: String,
    size: i64,
    content_type: String,
    declared_sha256: Option<String>,
    sha256: Option<String>,
    etag: Option<String>,
    status: String,
    status_reason: Option<String>,
    previous_status: Option<String>,
    owner: String,
    external_id: Option<String>,
    metadata: String,
    processing: String,
    download_count: i64,
    blob_key: String,
    upload: String,
    upload_expires_at: i64,
    created_at: i64,
    updated_at: i64,
    deleted_at: Option<i64>,
    purge_after: Option<i64>,
    change_seq: i64,
    encryption: Option<String>,
    request_id: Option<String>,
}

impl TryFrom<FileRow> for FileRecord {
    type Error = StoreError;
    fn try_from(r: FileRow) -> Result<Self, StoreError> {
        let sha = |what: &str, v: Option<String>| {
            v.map(|s| Sha256Hex::parse(&s).map_err(|e| bad_row(what, e)))
                .transpose()
        };
        Ok(FileRecord {
            id: FileId::from_uuid(uuid("file.id", &r.id)?),
            tenant: tenant_id(&r.tenant)?,
            bucket: bucket_name(&r.bucket)?,
            path: ObjectPath::from_stored(&r.path).map_err(|e| bad_row("file.path", e))?,
            size: to_u64("file.size", r.size)?,
            content_type: ContentType::parse(&r.content_type).map_err(|e| bad_row("file.content_type", e))?,
            declared_sha256: sha("file.declared_sha256", r.declared_sha256)?,
            sha256: sha("file.sha256", r.sha256)?,
            etag: r
                .etag
                .map(|s| ETag::parse(&s).map_err(|e| bad_row("file.etag", e)))
                .transpose()?,
            status: status("file.status", &r.status)?,
            status_reason: r.status_reason,
            previous_status: r
                .previous_status
                .map(|s| status("file.previous_status", &s))
                .transpose()?,
            owner: r.owner,
            external_id: r.external_id,
            metadata: from_json("file.metadata", &r.metadata)?,
            processing: from_json("file.processing", &r.processing)?,
            download_count: to_u64("file.download_count", r.download_count)?,
            blob_key: r.blob_key,
            upload: from_json("file.upload", &r.upload)?,
            upload_expires_at: time("file.upload_expires_at", r.upload_expires_at)?,
            created_at: time("file.created_at", r.created_at)?,
            updated_at: time("file.updated_at", r.updated_at)?,
            deleted_at: opt_time("file.deleted_at", r.deleted_at)?,
            purge_after: opt_time("file.purge_after", r.purge_after)?,
            change_seq: r.change_seq,
            encryption: r
                .encryption
                .map(|e| Encryption::parse(&e).map_err(|err| bad_row("file.encryption", err)))
                .transpose()?,
            request_id: r
                .request_id
                .map(|id| uuid("file.request_id", &id).map(RequestId::from_uuid))
                .transpose()?,
        })
    }
}

/// A file's values as bound to an `INSERT` or `UPDATE`, encoded once.
pub(crate) struct FileValues<'a> {
    pub id: String,
    pub tenant: &'a str,
    pub bucket: &'a str,
    pub path: &'a str,
    pub name: &'a str,
    pub size: i64,
    pub content_type: &'a str,
    pub content_essence: &'a str,
    pub declared_sha256: Option<&'a str>,
    pub sha256: Option<&'a str>,
    pub etag: Option<&'a str>,
    pub status: &'static str,
    pub status_reason: Option<&'a str>,
    pub previous_status: Option<&'static str>,
    pub owner: &'a str,
    pub external_id: Option<&'a str>,
    pub metadata: String,
    pub processing: String,
    pub download_count: i64,
    pub blob_key: &'a str,
    pub upload: String,
    pub upload_expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub purge_after: Option<i64>,
    pub encryption: Option<&'static str>,
    pub request_id: Option<String>,
}

impl<'a> FileValues<'a> {
    pub fn of(f: &'a FileRecord) -> Result<Self, StoreError> {
        Ok(Self {
            id: f.id.to_string(),
            tenant: f.tenant.as_str(),
            bucket: f.bucket.as_str(),
            path: f.path.as_str(),
            name: f.name(),
            size: to_i64("file.size", f.size)?,
            content_type: f.content_type.as_str(),
            content_essence: f.content_type.essence(),
            declared_sha256: f.declared_sha256.as_ref().map(|s| s.as_str()),
            sha256: f.sha256.as_ref().map(|s| s.as_str()),
            etag: f.etag.as_ref().map(|s| s.as_str()),
            status: f.status.as_str(),
            status_reason: f.status_reason.as_deref(),
            previous_status: f.previous_status.map(FileStatus::as_str),
            owner: &f.owner,
            external_id: f.external_id.as_deref(),
            metadata: to_json("file.metadata", &f.metadata)?,
            processing: to_json("file.processing", &f.processing)?,
            download_count: to_i64("file.download_count", f.download_count)?,
            blob_key: &f.blob_key,
            upload: to_json("file.upload", &f.upload)?,
            upload_expires_at: micros(f.upload_expires_at),
            created_at: micros(f.created_at),
            updated_at: micros(f.updated_at),
            deleted_at: f.deleted_at.map(micros),
            purge_after: f.purge_after.map(micros),
            encryption: f.encryption.map(Encryption::as_str),
            request_id: f.request_id.map(|id| id.to_string()),
        })
    }

    /// Binds every value, then `change_seq`, in the order each engine's `INSERT` and `UPDATE`
    /// number their parameters: 1 id, 2 tenant, 3 bucket, 4 path, 5 name, 6 size,
    /// 7 content_type, 8 content_essence, 9 declared_sha256, 10 sha256, 11 etag, 12 status,
    /// 13 status_reason, 14 previous_status, 15 owner, 16 external_id, 17 metadata,
    /// 18 processing, 19 download_count, 20 blob_key, 21 upload, 22 upload_expires_at,
    /// 23 created_at, 24 updated_at, 25 deleted_at, 26 purge_after, 27 change_seq,
    /// 28 encryption, 29 request_id.
    pub fn bind<'q, DB>(
        &self,
        query: Query<'q, DB, <DB as Database>::Arguments>,
        change_seq: i64,
    ) -> Query<'q, DB, <DB as Database>::Arguments>
    where
        DB: Database,
        for<'e> &'e str: Encode<'e, DB> + Type<DB>,
        for<'e> Option<&'e str>: Encode<'e, DB> + Type<DB>,
        for<'e> i64: Encode<'e, DB> + Type<DB>,
        for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    {
        query
            .bind(self.id.as_str())
            .bind(self.tenant)
            .bind(self.bucket)
            .bind(self.path)
            .bind(self.name)
            .bind(self.size)
            .bind(self.content_type)
            .bind(self.content_essence)
            .bind(self.declared_sha256)
            .bind(self.sha256)
            .bind(self.etag)
            .bind(self.status)
            .bind(self.status_reason)
            .bind(self.previous_status)
            .bind(self.owner)
            .bind(self.external_id)
            .bind(self.metadata.as_str())
            .bind(self.processing.as_str())
            .bind(self.download_count)
            .bind(self.blob_key)
            .bind(self.upload.as_str())
            .bind(self.upload_expires_at)
            .bind(self.created_at)
            .bind(self.updated_at)
            .bind(self.deleted_at)
            .bind(self.purge_after)
            .bind(change_seq)
            .bind(self.encryption)
            .bind(self.request_id.as_deref())
    }
}

/// Decodes file rows, failing on the first that does not decode.
pub(crate) fn records(rows: Vec<FileRow>) -> Result<Vec<FileRecord>, StoreError> {
    rows.into_iter().map(FileRecord::try_from).collect()
}

/// A count from `COUNT(*)` or `SUM(…)`, which is never negative.
pub(crate) fn count(what: &str, n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Other(anyhow::anyhow!("negative {what} count {n}")))
}

#[derive(FromRow)]
pub(crate) struct ClaimedRow {
    pub id: String,
    payload: String,
    attempts: i64,
}

impl TryFrom<ClaimedRow> for ClaimedJob {
    type Error = StoreError;
    fn try_from(r: ClaimedRow) -> Result<Self, StoreError> {
        let job: Job = from_json("job.payload", &r.payload)?;
        Ok(ClaimedJob {
            id: JobId::from_uuid(uuid("job.id", &r.id)?),
            job,
            attempt: u32::try_from(r.attempts).map_err(|_| bad_row("job.attempts", r.attempts))?,
        })
    }
}

/// Claimed rows, split into the jobs they decode to and the (id, error) of those no worker
/// can read: a claim buries the latter at once (they would be claimed and fail forever).
pub(crate) fn decode_claimed(rows: Vec<ClaimedRow>) -> (Vec<ClaimedJob>, Vec<(String, String)>) {
    let mut jobs = Vec::with_capacity(rows.len());
    let mut undecodable = Vec::new();
    for row in rows {
        let id = row.id.clone();
        match ClaimedJob::try_from(row) {
            Ok(job) => jobs.push(job),
            Err(e) => {
                tracing::error!(job = %id, error = %e, "burying a job that does not decode");
                undecodable.push((id, e.to_string()));
            }
        }
    }
    (jobs, undecodable)
}

/// Download counts as bound to one statement: one entry per file (duplicates summed, since
/// an `UPDATE … FROM` applies only one source row per target row), as (tenant, id, n).
pub(crate) fn download_counts(counts: &[(TenantId, FileId, u64)]) -> Vec<(String, String, i64)> {
    let mut summed: std::collections::BTreeMap<(&str, FileId), u64> = std::collections::BTreeMap::new();
    for (tenant, id, n) in counts {
        let slot = summed.entry((tenant.as_str(), *id)).or_insert(0);
        *slot = slot.saturating_add(*n);
    }
    summed
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((tenant, id), n)| (tenant.to_owned(), id.to_string(), i64::try_from(n).unwrap_or(i64::MAX)))
        .collect()
}

/// Thumbnail sizes read back as text from `processing.thumbnails[].size`: those that are
/// sizes (whole numbers in `u32`), ascending, without duplicates.
pub(crate) fn thumbnail_sizes(raw: Vec<Option<String>>) -> Vec<u32> {
    let mut sizes: Vec<u32> = raw.into_iter().flatten().filter_map(|s| s.parse().ok()).collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}
