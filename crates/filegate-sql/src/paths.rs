//! Files by their path (`FilesByPath`): the newest ready file at a path, for the unsigned
//! URLs of public buckets; and the folders directly in a folder, for the folder view.
//!
//! The folders are a skip scan over the `(tenant, bucket, path)` index: each statement finds
//! the first path after the previous folder that goes deeper than the folder asked about;
//! its next segment is the next folder, and the scan then jumps past everything below that
//! folder (`…/` to `…0`, '0' following '/'). A folder of n files and k subfolders costs k
//! indexed lookups and the files between them, however many files the subfolders hold. The
//! text is the same for both engines (`substr` counts characters on both; paths hold no NUL).

use filegate_core::StoreError;
use filegate_core::domain::{BucketName, FileRecord, ObjectPath, TenantId};
use filegate_core::ports::FilesByPath;
use sqlx::QueryBuilder;

use crate::dialect::{BindExt as _, Dialect};
use crate::engine::Engine;
use crate::file_row::{FileRow, file_columns};
use crate::listing::prefix_end;
use crate::store::SqlStore;

/// The newest `ready` file at a path (`files_by_path` index).
fn ready_file_at<DB: Dialect>(tenant: &TenantId, bucket: &BucketName, path: &ObjectPath) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new(concat!("SELECT ", file_columns!(), " FROM files WHERE tenant = "));
    q.bind_value(tenant.as_str().to_owned())
        .push(" AND bucket = ")
        .bind_value(bucket.as_str().to_owned())
        .push(" AND path = ")
        .bind_value(path.to_string())
        .push(" AND status = 'ready' ORDER BY created_at DESC, id DESC LIMIT 1");
    q
}

/// The first live path at or after `from` below `folder` that has a `/` after `folder`.
fn next_deeper<DB: Dialect>(
    tenant: &TenantId,
    bucket: &BucketName,
    folder: &str,
    owner: Option<&str>,
    from: &str,
) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new("SELECT path FROM files WHERE tenant = ");
    q.bind_value(tenant.as_str().to_owned())
        .push(" AND bucket = ")
        .bind_value(bucket.as_str().to_owned())
        .push(" AND path >= ")
        .bind_value(from.to_owned());
    if let Some(end) = prefix_end(folder).filter(|_| !folder.is_empty()) {
        q.push(" AND path < ").bind_value(end);
    }
    q.push(" AND status NOT IN ('deleted', 'purged') AND kind = 'file'");
    if let Some(owner) = owner {
        q.push(" AND owner = ").bind_value(owner.to_owned());
    }
    let start = i64::try_from(folder.chars().count() + 1).unwrap_or(i64::MAX);
    q.push(" AND substr(path, CAST(")
        .bind_value(start)
        .push(" AS INTEGER)) LIKE '%/%' ORDER BY path LIMIT 1");
    q
}

#[async_trait::async_trait]
impl<E: Engine> FilesByPath for SqlStore<E> {
    async fn folders(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        folder: &str,
        owner: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        if folder.contains('\0') || !(folder.is_empty() || folder.ends_with('/')) {
            return Err(StoreError::Input("a folder is empty or ends with /".into()));
        }
        let mut from = match after {
            Some(name) => format!("{folder}{name}0"),
            None => folder.to_owned(),
        };
        let mut names = Vec::new();
        while names.len() < limit as usize {
            let next = next_deeper(tenant, bucket, folder, owner, &from);
            let Some((path,)) = self.read_optional::<(String,)>(next).await? else {
                break;
            };
            let Some(name) = path
                .strip_prefix(folder)
                .and_then(|rest| rest.split_once('/'))
                .map(|(name, _)| name.to_owned())
            else {
                // The statement only returns such paths; stop rather than loop.
                break;
            };
            from = format!("{folder}{name}0");
            names.push(name);
        }
        Ok(names)
    }

    async fn ready_file_at(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        path: &ObjectPath,
    ) -> Result<Option<FileRecord>, StoreError> {
        let row: Option<FileRow> = self.read_optional(ready_file_at(tenant, bucket, path)).await?;
        row.map(FileRecord::try_from).transpose()
    }
}
