//! Zip bundles' SQL, for every engine: the row mapping and the statements are the same text
//! everywhere (the query builder numbers placeholders per engine), except how a metadata
//! value is read out of the JSON column ([`Dialect`]).

use filegate_core::StoreError;
use filegate_core::domain::{
    Archive, ArchiveEntry, ArchiveId, ArchiveQuery, ArchiveSelection, ArchiveStatus, FileId, FileQuery, FileStatus,
    TenantId,
};
use sqlx::{Database, Encode, FromRow, QueryBuilder, Type};

use crate::errors::bad_row;
use crate::listing::push_filters;
use crate::rows::{file_columns, from_json, micros, tenant_id, time, to_i64, to_json, uuid};

/// The columns `ArchiveRow` reads (JSON cast to text for PostgreSQL's JSONB).
pub(crate) const ARCHIVE_COLUMNS: &str = "id, tenant, status, CAST(selection AS TEXT) AS selection, \
     CAST(entries AS TEXT) AS entries, size, error, created_by, created_at, updated_at, expires_at";

/// How an engine reads one key of the `metadata` JSON object as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `json_extract(metadata, '$."key"')`.
    Sqlite,
    /// `metadata ->> 'key'`.
    Postgres,
}

#[derive(FromRow)]
pub(crate) struct ArchiveRow {
    id: String,
    tenant: String,
    status: String,
    selection: String,
    entries: String,
    size: Option<i64>,
    error: Option<String>,
    created_by: String,
    created_at: i64,
    updated_at: i64,
    expires_at: i64,
}

impl TryFrom<ArchiveRow> for Archive {
    type Error = StoreError;
    fn try_from(r: ArchiveRow) -> Result<Self, StoreError> {
        Ok(Archive {
            id: ArchiveId::from_uuid(uuid("archive.id", &r.id)?),
            tenant: tenant_id(&r.tenant)?,
            status: r.status.parse().map_err(|e| bad_row("archive.status", e))?,
            selection: from_json::<ArchiveSelection>("archive.selection", &r.selection)?,
            entries: from_json::<Vec<ArchiveEntry>>("archive.entries", &r.entries)?,
            size: r
                .size
                .map(|s| u64::try_from(s).map_err(|_| bad_row("archive.size", s)))
                .transpose()?,
            error: r.error,
            created_by: r.created_by,
            created_at: time("archive.created_at", r.created_at)?,
            updated_at: time("archive.updated_at", r.updated_at)?,
            expires_at: time("archive.expires_at", r.expires_at)?,
        })
    }
}

/// `INSERT` of one archive; `json_cast` turns bound text into the engine's JSON type (`""`
/// for SQLite's TEXT, `"::jsonb"` for PostgreSQL).
pub(crate) fn archive_insert<DB>(a: &Archive, json_cast: &str) -> Result<QueryBuilder<DB>, StoreError>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
{
    let selection = to_json("archive.selection", &a.selection)?;
    let entries = to_json("archive.entries", &a.entries)?;
    let size = a.size.map(|s| to_i64("archive.size", s)).transpose()?;
    let mut q = QueryBuilder::<DB>::new(
        "INSERT INTO archives (id, tenant, status, selection, entries, size, error, created_by, created_at, \
         updated_at, expires_at) ",
    );
    q.push_values([a], |mut row, a| {
        row.push_bind(a.id.to_string())
            .push_bind(a.tenant.as_str().to_owned())
            .push_bind(a.status.as_str().to_owned())
            .push_bind(selection.clone())
            .push_unseparated(json_cast)
            .push_bind(entries.clone())
            .push_unseparated(json_cast)
            .push_bind(size)
            .push_bind(a.error.clone())
            .push_bind(a.created_by.clone())
            .push_bind(micros(a.created_at))
            .push_bind(micros(a.updated_at))
            .push_bind(micros(a.expires_at));
    });
    Ok(q)
}

/// The archive `id` of `tenant`.
pub(crate) fn archive_select<DB>(tenant: &TenantId, id: ArchiveId) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new(format!("SELECT {ARCHIVE_COLUMNS} FROM archives WHERE tenant = "));
    q.push_bind(tenant.as_str().to_owned())
        .push(" AND id = ")
        .push_bind(id.to_string());
    q
}

/// Writes the mutable fields of `a` if its stored status is one of `expected`, returning
/// the row; no row means absent or in another status (tell them apart with
/// [`archive_select`]).
pub(crate) fn archive_update<DB>(a: &Archive, expected: &[ArchiveStatus]) -> Result<QueryBuilder<DB>, StoreError>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
{
    let size = a.size.map(|s| to_i64("archive.size", s)).transpose()?;
    let mut q = QueryBuilder::<DB>::new("UPDATE archives SET status = ");
    q.push_bind(a.status.as_str().to_owned())
        .push(", size = ")
        .push_bind(size)
        .push(", error = ")
        .push_bind(a.error.clone())
        .push(", updated_at = ")
        .push_bind(micros(a.updated_at))
        .push(", expires_at = ")
        .push_bind(micros(a.expires_at))
        .push(" WHERE tenant = ")
        .push_bind(a.tenant.as_str().to_owned())
        .push(" AND id = ")
        .push_bind(a.id.to_string())
        .push(" AND status IN (");
    let mut statuses = q.separated(", ");
    for status in expected {
        statuses.push_bind(status.as_str().to_owned());
    }
    if expected.is_empty() {
        // `IN ()` is not SQL; nothing is expected, so nothing matches.
        statuses.push("NULL");
    }
    q.push(format!(") RETURNING {ARCHIVE_COLUMNS}"));
    Ok(q)
}

/// The archive a compare-and-set found in another status (or none), as the port's error.
pub(crate) fn update_refused(stored: Option<Archive>) -> StoreError {
    match stored {
        None => StoreError::NotFound,
        Some(a) => StoreError::Conflict(format!("archive {} is {}", a.id, a.status)),
    }
}

/// Archives not yet expired whose expiry is before `now`, oldest expiry first.
pub(crate) fn archives_due<DB>(now: chrono::DateTime<chrono::Utc>, limit: u32) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new(format!(
        "SELECT {ARCHIVE_COLUMNS} FROM archives WHERE status IN ('pending', 'ready', 'failed') AND expires_at < "
    ));
    q.push_bind(micros(now))
        .push(" ORDER BY expires_at, id LIMIT ")
        .push_bind(i64::from(limit));
    q
}

/// The tenant's files among `ids`, any status.
pub(crate) fn files_by_id<DB>(tenant: &TenantId, ids: &[FileId]) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new(concat!("SELECT ", file_columns!(), " FROM files WHERE tenant = "));
    q.push_bind(tenant.as_str().to_owned()).push(" AND id IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id.to_string());
    }
    if ids.is_empty() {
        list.push("NULL");
    }
    q.push(")");
    q
}

/// The tenant's `ready` files matching `query`, by path then id, at most `limit`.
pub(crate) fn files_matching<DB>(
    tenant: &TenantId,
    query: &ArchiveQuery,
    limit: u32,
    dialect: Dialect,
) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
{
    let filters = FileQuery {
        bucket: query.bucket.clone(),
        prefix: query.prefix.clone(),
        status: Some(FileStatus::Ready),
        ..FileQuery::default()
    };
    let mut q = QueryBuilder::<DB>::new(concat!("SELECT ", file_columns!(), " FROM files"));
    push_filters(&mut q, tenant, &filters);
    for (key, value) in &query.metadata {
        // Keys and values were parsed (`Metadata::parse`): keys are `[A-Za-z0-9._-]`, so the
        // quoted JSON path cannot be broken out of; both are bound, never spliced.
        match dialect {
            Dialect::Sqlite => q
                .push(" AND json_extract(metadata, ")
                .push_bind(format!("$.\"{key}\""))
                .push(")"),
            Dialect::Postgres => q.push(" AND metadata ->> ").push_bind(key.clone()),
        };
        q.push(" = ").push_bind(value.clone());
    }
    q.push(" ORDER BY path, id LIMIT ").push_bind(i64::from(limit));
    q
}
