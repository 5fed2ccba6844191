//! `ID|PATH` arguments: a file id, or the path of a file in a bucket (the newest file
//! at that exact path wins when several share it).

use filegate_client::{ListFiles, api::FileView};
use futures::TryStreamExt as _;

use crate::{
    exit::{Exit, Failure},
    profile::Connection,
};

/// Whether `target` is a file id rather than a path.
pub fn is_id(target: &str) -> bool {
    uuid::Uuid::parse_str(target).is_ok()
}

/// The file `target` names. `status` narrows a path lookup (`deleted` for `restore`).
pub async fn resolve(
    conn: &Connection,
    target: &str,
    bucket: Option<&str>,
    status: Option<&str>,
) -> Result<FileView, Failure> {
    if is_id(target) {
        return Ok(conn.client.get_file(target).await?);
    }
    let bucket = conn.bucket(bucket);
    let path = target.trim_start_matches('/');
    let found = newest_at_path(conn, &bucket, path, status, |_| true).await?;
    found.ok_or_else(|| Failure::new(Exit::NotFound, format!("no file at {bucket}/{path}")))
}

/// The newest file at exactly `path` in `bucket` (in `status`, when given; otherwise
/// any but deleted) that `wanted` accepts.
pub async fn newest_at_path(
    conn: &Connection,
    bucket: &str,
    path: &str,
    status: Option<&str>,
    wanted: impl Fn(&FileView) -> bool,
) -> Result<Option<FileView>, Failure> {
    let query = ListFiles {
        prefix: Some(path.to_owned()),
        status: status.map(str::to_owned),
        sort: Some("-created_at".to_owned()),
        ..ListFiles::bucket(bucket)
    };
    let found = std::pin::pin!(conn.client.list_all_files(query))
        .try_filter(|f| futures::future::ready(f.path == path && wanted(f)))
        .try_next()
        .await?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuids_and_everything_else_is_a_path() {
        assert!(is_id("0190c6e2-6a4b-7cc4-9a8f-3b1d2e4f5a6b"));
        assert!(!is_id("reports/2026/a.csv"));
        assert!(!is_id("0190c6e2"));
    }
}
