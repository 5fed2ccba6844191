//! Shared blobs' statements (run by `metadata.rs`): finding a dedup source, checking it in
//! the transaction of the insert that shares its blob, whether a blob is still in use, and
//! the statuses of the rows sharing one. Thumbnail sizes and batched download counts are
//! the dialect's (`Dialect::thumbnail_sizes`, `Dialect::add_download_counts`): their JSON
//! and array handling differ per engine.

use filegate_core::StoreError;
use filegate_core::domain::{BucketName, FileId, Sha256Hex, TenantId};
use sqlx::QueryBuilder;

use crate::convert::to_i64;
use crate::dialect::{BindExt as _, Dialect};
use crate::file_row::{FileValues, file_columns};

/// The tenant's oldest `ready` file with this content, in `bucket` when given.
pub(crate) fn find_dedup_source<DB: Dialect>(
    tenant: &TenantId,
    sha256: &Sha256Hex,
    size: u64,
    bucket: Option<&BucketName>,
) -> Result<QueryBuilder<DB>, StoreError> {
    let mut q = QueryBuilder::new(concat!("SELECT ", file_columns!(), " FROM files WHERE tenant = "));
    q.bind_value(tenant.as_str());
    q.push(" AND sha256 = ").bind_value(sha256.as_str());
    q.push(" AND size = ").bind_value(to_i64("file.size", size)?);
    q.push(" AND status = 'ready'");
    if let Some(bucket) = bucket {
        q.push(" AND bucket = ").bind_value(bucket.as_str());
    }
    q.push(" ORDER BY created_at, id LIMIT 1");
    Ok(q)
}

/// A row while `source` is still a `ready` file of the new file's tenant, blob and content,
/// held (`FOR SHARE`, where the engine needs it) until the insert commits: a delete
/// (`update_file`'s `UPDATE` locks the row) waits for this insert, and then the RemoveBlob
/// check that follows its purge sees the new row. A source changed meanwhile is re-checked
/// on its newest version (READ COMMITTED), so a source deleted first is not found here.
/// SQLite's write transaction holds the whole database instead.
pub(crate) fn dedup_source_qualifies<DB: Dialect>(file: &FileValues<'_>, source: FileId) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new("SELECT id FROM files WHERE tenant = ");
    q.bind_value(file.tenant);
    q.push(" AND id = ").bind_value(source.to_string());
    q.push(" AND status = 'ready' AND blob_key = ")
        .bind_value(file.blob_key);
    q.push(" AND sha256 IS NOT NULL AND sha256 = ").bind_value(file.sha256);
    q.push(" AND size = ").bind_value(file.size);
    q.push(DB::FOR_SHARE);
    q
}

/// Whether a row other than `except` still holds the blob's storage.
pub(crate) fn blob_in_use<DB: Dialect>(tenant: &TenantId, blob_key: &str, except: FileId) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new("SELECT EXISTS (SELECT 1 FROM files WHERE blob_key = ");
    q.bind_value(blob_key);
    q.push(format_args!(" AND {}tenant = ", DB::NOT_BY_INDEX))
        .bind_value(tenant.as_str());
    q.push(" AND id <> ").bind_value(except.to_string());
    q.push(" AND status NOT IN ('expired', 'purged'))");
    q
}

pub(crate) fn blob_statuses<DB: Dialect>(tenant: &TenantId, blob_key: &str) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new("SELECT DISTINCT status FROM files WHERE blob_key = ");
    q.bind_value(blob_key)
        .push(format_args!(" AND {}tenant = ", DB::NOT_BY_INDEX))
        .bind_value(tenant.as_str());
    q
}
