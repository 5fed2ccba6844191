//! Public buckets (files anyone may fetch, e.g. a site's assets): a `ready` file in a bucket whose policy says
//! `public` has a stable, unsigned URL (`/p/{tenant}/{bucket}/{path}`), fit for a CDN.
//! Anything else — a private bucket, no such path, a file not (or no longer) ready — is
//! `not-found` alike, so the URL space reveals nothing about private files.

use super::context::{HasBlobs, HasDownloads, HasPaths, HasStore};
use super::files::{self, Content};
use crate::domain::{BucketName, ObjectPath, TenantId};
use crate::error::{Error, Result};

/// The newest ready file at `path` of a public bucket: its bytes (whole or the range),
/// or `NotModified` when `if_none_match` names its etag. Downloads are counted like
/// `/v1/files/{id}/content`'s; nothing is audited (the file is public).
pub async fn content(
    cx: &(impl HasStore + HasBlobs + HasDownloads + HasPaths),
    tenant: &TenantId,
    bucket: &BucketName,
    path: &ObjectPath,
    if_none_match: Option<&str>,
    range: Option<&str>,
) -> Result<Content> {
    let hidden = || Error::not_found("file");
    cx.store()
        .get_bucket(tenant, bucket)
        .await?
        .filter(|b| b.policy.public)
        .ok_or_else(hidden)?;
    let file = cx
        .paths()
        .ready_file_at(tenant, bucket, path)
        .await?
        .ok_or_else(hidden)?;
    let answer = files::prepare_content(cx, file, if_none_match, range).await?;
    if let Content::Bytes { file, range, .. } = &answer {
        files::count_download(cx, file, *range);
    }
    Ok(answer)
}
