//! The `files` table as Rust sees it, in one place: the columns read ([`file_columns!`],
//! [`FileRow`]), the columns written ([`COLUMNS`], [`FileValues`]), and the statements that
//! write them all. Adding a column touches this file and the two migrations: every insert,
//! update and batch (SQLite's group commit and one-trip insert too) is built from
//! [`COLUMNS`].

use filegate_core::StoreError;
use filegate_core::domain::{
    ChangeCursor, ChangePage, ContentType, ETag, Encryption, FileId, FileRecord, FileStatus, ObjectPath, RequestId,
    Sha256Hex,
};
use sqlx::{FromRow, QueryBuilder};

use crate::convert::{
    bucket_name, from_json, micros, opt_time, status, tenant_id, time, to_i64, to_json, to_u64, uuid,
};
use crate::dialect::{BindExt as _, Dialect};
use crate::engine::ChangeSeq;
use crate::errors::bad_row;

/// The columns of `files` that `FileRow` reads, as a literal for `concat!`. JSON columns are
/// cast to text, which SQLite (TEXT already) and PostgreSQL (JSONB) both understand.
macro_rules! file_columns {
    () => {
        "id, tenant, bucket, path, size, content_type, declared_sha256, sha256, etag, status, status_reason, \
         previous_status, owner, external_id, CAST(metadata AS TEXT) AS metadata, \
         CAST(processing AS TEXT) AS processing, download_count, blob_key, CAST(upload AS TEXT) AS upload, \
         upload_expires_at, created_at, updated_at, deleted_at, purge_after, change_seq, change_xid, encryption, \
         request_id"
    };
}
pub(crate) use file_columns;

#[derive(FromRow)]
pub struct FileRow {
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
    /// The writing transaction, where the engine orders the feed by it (0 on SQLite).
    change_xid: i64,
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

/// Decodes file rows, failing on the first that does not decode.
pub(crate) fn records(rows: Vec<FileRow>) -> Result<Vec<FileRecord>, StoreError> {
    rows.into_iter().map(FileRecord::try_from).collect()
}

/// A page of the change feed from its rows (in feed order): the position after the last
/// row, or `since` again when there is none.
pub(crate) fn change_page(rows: Vec<FileRow>, since: ChangeCursor) -> Result<ChangePage, StoreError> {
    let next_since = rows.last().map_or(since, |r| ChangeCursor {
        xid: r.change_xid,
        seq: r.change_seq,
    });
    Ok(ChangePage {
        items: records(rows)?,
        next_since,
    })
}

/// A file's values as bound to an `INSERT` or `UPDATE`, encoded once.
pub(crate) struct FileValues<'a> {
    pub id: String,
    pub tenant: &'a str,
    bucket: &'a str,
    path: &'a str,
    name: &'a str,
    pub size: i64,
    content_type: &'a str,
    content_essence: &'a str,
    declared_sha256: Option<&'a str>,
    pub sha256: Option<&'a str>,
    etag: Option<&'a str>,
    status: &'static str,
    status_reason: Option<&'a str>,
    previous_status: Option<&'static str>,
    owner: &'a str,
    external_id: Option<&'a str>,
    metadata: String,
    processing: String,
    download_count: i64,
    pub blob_key: &'a str,
    upload: String,
    upload_expires_at: i64,
    created_at: i64,
    updated_at: i64,
    deleted_at: Option<i64>,
    purge_after: Option<i64>,
    encryption: Option<&'static str>,
    request_id: Option<String>,
    /// [`FILE`] or [`TUS_PARTIAL`], fixed when the row is inserted.
    kind: &'static str,
}

/// The `kind` of a row that is a file.
pub(crate) const FILE: &str = "file";
/// The `kind` of a partial tus upload's row: no file of its own (`FileRecord::is_tus_partial`).
pub(crate) const TUS_PARTIAL: &str = "tus-partial";

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
            kind: if f.is_tus_partial() { TUS_PARTIAL } else { FILE },
        })
    }
}

/// One column's value as a write binds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Text(&'a str),
    MaybeText(Option<&'a str>),
    Int(i64),
    MaybeInt(Option<i64>),
    /// JSON, bound as text (and made the engine's JSON type: [`Dialect::JSON`]).
    Json(&'a str),
}

/// A column of `files` that writes set (all but `change_seq` and `change_xid`, which each
/// statement takes its own way): its name, whether an update writes it, and its value.
pub(crate) struct Column {
    pub name: &'static str,
    /// Updates leave out the key (`id`, `tenant`), the creation time, and the download
    /// count, which only `add_download_counts` changes.
    pub updated: bool,
    pub value: for<'v> fn(&'v FileValues<'_>) -> Value<'v>,
}

const fn column(name: &'static str, updated: bool, value: for<'v> fn(&'v FileValues<'_>) -> Value<'v>) -> Column {
    Column { name, updated, value }
}

/// Every written column of `files`, in the order statements name them.
pub(crate) const COLUMNS: [Column; 29] = [
    column("id", false, |v| Value::Text(&v.id)),
    column("tenant", false, |v| Value::Text(v.tenant)),
    column("bucket", true, |v| Value::Text(v.bucket)),
    column("path", true, |v| Value::Text(v.path)),
    column("name", true, |v| Value::Text(v.name)),
    column("size", true, |v| Value::Int(v.size)),
    column("content_type", true, |v| Value::Text(v.content_type)),
    column("content_essence", true, |v| Value::Text(v.content_essence)),
    column("declared_sha256", true, |v| Value::MaybeText(v.declared_sha256)),
    column("sha256", true, |v| Value::MaybeText(v.sha256)),
    column("etag", true, |v| Value::MaybeText(v.etag)),
    column("status", true, |v| Value::Text(v.status)),
    column("status_reason", true, |v| Value::MaybeText(v.status_reason)),
    column("previous_status", true, |v| Value::MaybeText(v.previous_status)),
    column("owner", true, |v| Value::Text(v.owner)),
    column("external_id", true, |v| Value::MaybeText(v.external_id)),
    column("metadata", true, |v| Value::Json(&v.metadata)),
    column("processing", true, |v| Value::Json(&v.processing)),
    column("download_count", false, |v| Value::Int(v.download_count)),
    column("blob_key", true, |v| Value::Text(v.blob_key)),
    column("upload", true, |v| Value::Json(&v.upload)),
    column("upload_expires_at", true, |v| Value::Int(v.upload_expires_at)),
    column("created_at", false, |v| Value::Int(v.created_at)),
    column("updated_at", true, |v| Value::Int(v.updated_at)),
    column("deleted_at", true, |v| Value::MaybeInt(v.deleted_at)),
    column("purge_after", true, |v| Value::MaybeInt(v.purge_after)),
    column("encryption", true, |v| Value::MaybeText(v.encryption)),
    column("request_id", true, |v| Value::MaybeText(v.request_id.as_deref())),
    column("kind", false, |v| Value::Text(v.kind)),
];

/// The written columns' names, comma-separated: `id, tenant, …, request_id`.
pub(crate) fn column_names() -> String {
    COLUMNS.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

pub(crate) fn bind_value<DB: Dialect>(q: &mut QueryBuilder<DB>, value: Value<'_>) {
    match value {
        Value::Text(s) => q.bind_value(s),
        Value::MaybeText(s) => q.bind_value(s),
        Value::Int(n) => q.bind_value(n),
        Value::MaybeInt(n) => q.bind_value(n),
        Value::Json(s) => q.bind_value(s).push(DB::JSON),
    };
}

/// A change number's value in a statement: bound, or the engine's expression.
pub(crate) fn push_change_seq<DB: Dialect>(q: &mut QueryBuilder<DB>, change_seq: ChangeSeq) {
    match change_seq {
        ChangeSeq::Taken(n) => q.bind_value(n),
        ChangeSeq::Drawn(expression) => q.push(expression),
    };
}

/// `(v1, v2, …, change_seq, change_xid)`: one row of values for [`column_names`] then the
/// change's place in the feed.
pub(crate) fn push_row<DB: Dialect>(q: &mut QueryBuilder<DB>, v: &FileValues<'_>, change_seq: ChangeSeq) {
    q.push("(");
    push_row_values(q, v, change_seq);
    q.push(")");
}

/// [`push_row`] without the parentheses: `v1, v2, …, change_seq, change_xid`.
pub(crate) fn push_row_values<DB: Dialect>(q: &mut QueryBuilder<DB>, v: &FileValues<'_>, change_seq: ChangeSeq) {
    for c in &COLUMNS {
        bind_value(q, (c.value)(v));
        q.push(", ");
    }
    push_change_seq(q, change_seq);
    q.push(", ").push(DB::CHANGE_XID);
}

/// `INSERT INTO files (…) VALUES `, rows to follow ([`push_row`]).
pub(crate) fn insert_head<DB: Dialect>() -> QueryBuilder<DB> {
    QueryBuilder::new(format!(
        "INSERT INTO files ({}, change_seq, change_xid) VALUES ",
        column_names()
    ))
}

/// Inserts one file with `change_seq`, returning the stored row.
pub(crate) fn insert_file<DB: Dialect>(v: &FileValues<'_>, change_seq: ChangeSeq) -> QueryBuilder<DB> {
    let mut q = insert_head();
    push_row(&mut q, v, change_seq);
    q.push(concat!(" RETURNING ", file_columns!()));
    q
}

/// `UPDATE files SET … WHERE tenant = … AND id = …`: writes every updated column of the
/// file with `change_seq`; the caller adds its guard to the `WHERE`, and a `RETURNING`.
pub(crate) fn push_update<DB: Dialect>(q: &mut QueryBuilder<DB>, v: &FileValues<'_>, change_seq: ChangeSeq) {
    q.push("UPDATE files SET ");
    for c in COLUMNS.iter().filter(|c| c.updated) {
        q.push(c.name).push(" = ");
        bind_value(q, (c.value)(v));
        q.push(", ");
    }
    q.push("change_seq = ");
    push_change_seq(q, change_seq);
    q.push(", change_xid = ").push(DB::CHANGE_XID);
    q.push(" WHERE tenant = ").bind_value(v.tenant);
    q.push(" AND id = ").bind_value(v.id.as_str());
}
