//! Zip bundles (`ArchiveStore`): the row, the statements (the same text everywhere; the
//! files a query picks are found by the list's filters) and the port.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::FileRecord;
use filegate_core::domain::{
    Archive, ArchiveEntry, ArchiveId, ArchiveQuery, ArchiveSelection, ArchiveStatus, FileId, FileQuery, FileStatus,
    TenantId,
};
use filegate_core::ports::{ArchiveStore, Effects};
use sqlx::{FromRow, QueryBuilder};

use crate::convert::{from_json, micros, tenant_id, time, to_i64, to_json, uuid};
use crate::dialect::{BindExt as _, Dialect, Run as _};
use crate::engine::Engine;
use crate::errors::bad_row;
use crate::file_row::{file_columns, records};
use crate::listing::push_filters;
use crate::store::SqlStore;

/// The columns `ArchiveRow` reads (JSON cast to text for PostgreSQL's JSONB).
pub(crate) const ARCHIVE_COLUMNS: &str = "id, tenant, status, CAST(selection AS TEXT) AS selection, \
     CAST(entries AS TEXT) AS entries, size, error, created_by, created_at, updated_at, expires_at";

#[derive(FromRow)]
pub struct ArchiveRow {
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

/// `INSERT` of one archive.
pub(crate) fn archive_insert<DB: Dialect>(a: &Archive) -> Result<QueryBuilder<DB>, StoreError> {
    let selection = to_json("archive.selection", &a.selection)?;
    let entries = to_json("archive.entries", &a.entries)?;
    let size = a.size.map(|s| to_i64("archive.size", s)).transpose()?;
    let mut q = QueryBuilder::<DB>::new(
        "INSERT INTO archives (id, tenant, status, selection, entries, size, error, created_by, created_at, \
         updated_at, expires_at) ",
    );
    q.push_values([a], |mut row, a| {
        row.bind_value(a.id.to_string())
            .bind_value(a.tenant.as_str().to_owned())
            .bind_value(a.status.as_str().to_owned())
            .bind_value(selection.clone())
            .push_unseparated(DB::JSON)
            .bind_value(entries.clone())
            .push_unseparated(DB::JSON)
            .bind_value(size)
            .bind_value(a.error.clone())
            .bind_value(a.created_by.clone())
            .bind_value(micros(a.created_at))
            .bind_value(micros(a.updated_at))
            .bind_value(micros(a.expires_at));
    });
    Ok(q)
}

/// The archive `id` of `tenant`.
pub(crate) fn archive_select<DB: Dialect>(tenant: &TenantId, id: ArchiveId) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new(format!("SELECT {ARCHIVE_COLUMNS} FROM archives WHERE tenant = "));
    q.bind_value(tenant.as_str().to_owned())
        .push(" AND id = ")
        .bind_value(id.to_string());
    q
}

/// Writes the mutable fields of `a` if its stored status is one of `expected`, returning
/// the row; no row means absent or in another status (tell them apart with
/// [`archive_select`]).
pub(crate) fn archive_update<DB: Dialect>(
    a: &Archive,
    expected: &[ArchiveStatus],
) -> Result<QueryBuilder<DB>, StoreError> {
    let size = a.size.map(|s| to_i64("archive.size", s)).transpose()?;
    let mut q = QueryBuilder::<DB>::new("UPDATE archives SET status = ");
    q.bind_value(a.status.as_str().to_owned())
        .push(", size = ")
        .bind_value(size)
        .push(", error = ")
        .bind_value(a.error.clone())
        .push(", updated_at = ")
        .bind_value(micros(a.updated_at))
        .push(", expires_at = ")
        .bind_value(micros(a.expires_at))
        .push(" WHERE tenant = ")
        .bind_value(a.tenant.as_str().to_owned())
        .push(" AND id = ")
        .bind_value(a.id.to_string())
        .push(" AND status IN (");
    let mut statuses = q.separated(", ");
    for status in expected {
        statuses.bind_value(status.as_str().to_owned());
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
pub(crate) fn archives_due<DB: Dialect>(now: DateTime<Utc>, limit: u32) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new(format!(
        "SELECT {ARCHIVE_COLUMNS} FROM archives WHERE status IN ('pending', 'ready', 'failed') AND expires_at < "
    ));
    q.bind_value(micros(now))
        .push(" ORDER BY expires_at, id LIMIT ")
        .bind_value(i64::from(limit));
    q
}

/// The tenant's files among `ids`, any status.
pub(crate) fn files_by_id<DB: Dialect>(tenant: &TenantId, ids: &[FileId]) -> QueryBuilder<DB> {
    // By the primary key: SQLite would otherwise take the tenant's index and read every
    // file of the tenant (a search page of 20 read 1M rows).
    let mut q = QueryBuilder::<DB>::new(format!(
        "SELECT {} FROM files WHERE {}tenant = ",
        file_columns!(),
        DB::NOT_BY_INDEX
    ));
    q.bind_value(tenant.as_str().to_owned()).push(" AND id IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.bind_value(id.to_string());
    }
    if ids.is_empty() {
        list.push("NULL");
    }
    q.push(")");
    q
}

/// The tenant's `ready` files matching `query`, by path then id, at most `limit`.
pub(crate) fn files_matching<DB: Dialect>(tenant: &TenantId, query: &ArchiveQuery, limit: u32) -> QueryBuilder<DB> {
    let filters = FileQuery {
        bucket: query.bucket.clone(),
        prefix: query.prefix.clone(),
        status: Some(FileStatus::Ready),
        metadata: query.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ..FileQuery::default()
    };
    let mut q = QueryBuilder::<DB>::new(concat!("SELECT ", file_columns!(), " FROM files"));
    push_filters(&mut q, tenant, &filters);
    q.push(" ORDER BY path, id LIMIT ").bind_value(i64::from(limit));
    q
}

#[async_trait::async_trait]
impl<E: Engine> ArchiveStore for SqlStore<E> {
    async fn files_by_id(&self, tenant: &TenantId, ids: &[FileId]) -> Result<Vec<FileRecord>, StoreError> {
        records(self.read_all(files_by_id(tenant, ids)).await?)
    }

    async fn files_matching(
        &self,
        tenant: &TenantId,
        query: &ArchiveQuery,
        limit: u32,
    ) -> Result<Vec<FileRecord>, StoreError> {
        records(self.read_all(files_matching(tenant, query, limit)).await?)
    }

    async fn create_archive(&self, archive: &Archive, effects: &Effects) -> Result<(), StoreError> {
        let insert = archive_insert::<E::DB>(archive)?;
        self.write_change(effects, |c| insert.execute(c)).await?;
        Ok(())
    }

    async fn get_archive(&self, tenant: &TenantId, id: ArchiveId) -> Result<Option<Archive>, StoreError> {
        let row: Option<ArchiveRow> = self.read_optional(archive_select(tenant, id)).await?;
        row.map(Archive::try_from).transpose()
    }

    async fn update_archive(
        &self,
        archive: &Archive,
        expected: &[ArchiveStatus],
        effects: &Effects,
    ) -> Result<Archive, StoreError> {
        // One statement: the status check and the write are atomic. When it changed nothing,
        // a read says whether the archive is absent or in another status.
        let update = archive_update::<E::DB>(archive, expected)?;
        let updated: Option<ArchiveRow> = self.write_change(effects, |c| update.fetch_optional(c)).await?;
        match updated {
            Some(row) => Archive::try_from(row),
            None => Err(update_refused(self.get_archive(&archive.tenant, archive.id).await?)),
        }
    }

    async fn archives_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Archive>, StoreError> {
        let rows: Vec<ArchiveRow> = self.read_all(archives_due(now, limit)).await?;
        rows.into_iter().map(Archive::try_from).collect()
    }
}
