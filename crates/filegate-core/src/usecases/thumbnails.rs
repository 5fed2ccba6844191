//! Thumbnails: the pictures the `thumbnail` stage rendered, served like the file itself
//! (reader permission, the principal's tenant, ready files only: a quarantined or failed
//! file shows nothing of itself, not even a small picture).

use super::context::{HasBlobs, HasSettings, HasStore};
use super::files::{load, servable};
use crate::domain::{FileId, FileRecord, Permission, Principal, thumbnail_key};
use crate::error::{Error, Result, StoreError};
use crate::ports::ByteStream;
use crate::usecases::pipeline::stages::thumbnail::ThumbnailInfo;

/// What `GET /v1/files/{id}/thumbnail` answers.
pub struct ThumbnailContent {
    pub file: FileRecord,
    pub thumbnail: ThumbnailInfo,
    pub body: ByteStream,
}

/// The size served when the client names none: 256 when rendered, else the smallest.
pub fn default_size(cx: &impl HasSettings) -> u32 {
    let sizes = &cx.settings().thumbnail_sizes;
    if sizes.contains(&256) {
        256
    } else {
        sizes.iter().copied().min().unwrap_or(256)
    }
}

/// The thumbnail of `size` px of a ready file; `NotFound` when none was rendered (not a
/// picture, a size not configured, or the file predates the stage).
pub async fn get(
    cx: &(impl HasStore + HasBlobs + HasSettings),
    principal: &Principal,
    id: FileId,
    size: Option<u32>,
) -> Result<ThumbnailContent> {
    principal.require(Permission::Read)?;
    let file = load(cx, principal, id).await?;
    servable(&file)?;
    let size = size.unwrap_or_else(|| default_size(cx));
    let thumbnail = file
        .processing
        .thumbnails
        .iter()
        .filter_map(|v| serde_json::from_value::<ThumbnailInfo>(v.clone()).ok())
        .find(|t| t.size == size)
        .ok_or(Error::not_found("thumbnail"))?;
    let body = cx
        .blobs()
        .get(&thumbnail_key(&file.blob_key, size), None)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::not_found("thumbnail"),
            other => other.into(),
        })?;
    Ok(ThumbnailContent { file, thumbnail, body })
}
