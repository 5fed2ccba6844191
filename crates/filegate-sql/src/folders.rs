//! The folders directly in a folder, for the folder view (`FilesByPath::folders`): a skip
//! scan over the `(tenant, bucket, path)` index. Each statement finds the first path after
//! the previous folder that goes deeper than the folder asked about; its next segment is
//! the next folder, and the scan then jumps past everything below that folder (`…/` to
//! `…0`, '0' following '/'). A folder of n files and k subfolders costs k indexed lookups
//! and the files between them, however many files the subfolders hold. The text is the
//! same for both engines (`substr` counts characters on both; paths hold no NUL).

use filegate_core::StoreError;
use filegate_core::domain::{BucketName, TenantId};
use sqlx::QueryBuilder;

use crate::dialect::{BindExt as _, Dialect};
use crate::engine::Engine;
use crate::listing::prefix_end;
use crate::store::SqlStore;

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
    q.push(" AND status NOT IN ('deleted', 'purged')");
    if let Some(owner) = owner {
        q.push(" AND owner = ").bind_value(owner.to_owned());
    }
    let start = i64::try_from(folder.chars().count() + 1).unwrap_or(i64::MAX);
    q.push(" AND substr(path, CAST(")
        .bind_value(start)
        .push(" AS INTEGER)) LIKE '%/%' ORDER BY path LIMIT 1");
    q
}

impl<E: Engine> SqlStore<E> {
    pub(crate) async fn list_folders(
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
            let Some((path,)) = self
                .read_optional::<(String,)>(next_deeper(tenant, bucket, folder, owner, &from))
                .await?
            else {
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
}
