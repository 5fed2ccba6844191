//! `thumbnail`: for PNG, JPEG, GIF and WebP pictures, one thumbnail per configured size
//! (default 256 px), stored beside the blob (`domain::thumbnail_key`) and listed in
//! `processing.thumbnails`. The dimensions are checked against the limits from the header
//! first, so a decompression bomb fails the file (`image-too-large`) before its bytes are
//! even read; the decoder then runs under the same limits, off the async runtime.

use std::sync::LazyLock;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::metadata::{HEADER_BYTES, sniffed_type};
use super::{Stage, StageContext, StageError, read_prefix};
use crate::domain::{MediaError, thumbnail_key};

pub struct Thumbnail;

/// Pictures read and decoded at once in this process: one per core.
static RENDERING: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get)));

/// One entry of `processing.thumbnails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThumbnailInfo {
    /// The `?size=` it answers.
    pub size: u32,
    pub width: u32,
    pub height: u32,
    pub content_type: String,
    /// Its length in bytes.
    pub bytes: u64,
}

#[async_trait]
impl Stage for Thumbnail {
    fn name(&self) -> &'static str {
        "thumbnail"
    }

    async fn run(&self, ctx: &mut StageContext<'_>) -> Result<(), StageError> {
        let services = ctx.services;
        let settings = &services.settings;
        let head = read_prefix(ctx, HEADER_BYTES).await?;
        ctx.file.processing.thumbnails = Vec::new();
        let media = services.media.clone();
        let Some(kind) = sniffed_type(ctx, &head).filter(|k| media.is_image(k)) else {
            return Ok(());
        };
        let limits = settings.image_limits;
        // The cheap refusal: the header alone says the picture is too big to decode.
        if let Ok(info) = media.inspect(&head, &kind) {
            limits.check(info.width, info.height).map_err(too_large)?;
        }
        if ctx.file.size > settings.max_thumbnail_source {
            return Err(StageError::Fail(format!(
                "image-too-large: the image is {} bytes; thumbnails are made from images up to {} bytes",
                ctx.file.size, settings.max_thumbnail_source
            )));
        }
        // The worker runs many jobs at once, most of them waiting on I/O; decoding pictures
        // is CPU and memory, so only as many as there are cores decode at a time.
        let _turn = RENDERING
            .acquire()
            .await
            .map_err(|e| StageError::Retry(anyhow::anyhow!("the thumbnail gate closed: {e}")))?;
        let source = if ctx.file.size <= head.len() as u64 {
            head
        } else {
            read_prefix(ctx, settings.max_thumbnail_source).await?
        };
        let sizes = settings.thumbnail_sizes.clone();
        let rendered = tokio::task::spawn_blocking(move || media.render_thumbnails(&source, &kind, &sizes, &limits))
            .await
            .map_err(|e| StageError::Retry(anyhow::anyhow!("the thumbnail task stopped: {e}")))?;
        let thumbnails = match rendered {
            Ok(t) => t,
            Err(e @ MediaError::TooLarge(_)) => return Err(too_large(e)),
            Err(MediaError::Unreadable(why)) => {
                tracing::info!(file_id = %ctx.file.id, %why, "no thumbnail: the picture does not decode");
                return Ok(());
            }
        };
        let mut recorded = Vec::with_capacity(thumbnails.len());
        for thumb in thumbnails {
            let len = thumb.bytes.len() as u64;
            let body = futures::stream::once(async move { Ok(Bytes::from(thumb.bytes)) });
            // Same key on every run: a retried stage overwrites, never piles up.
            ctx.services
                .blobs
                .put(&thumbnail_key(&ctx.file.blob_key, thumb.size), Box::pin(body), len)
                .await?;
            let info = ThumbnailInfo {
                size: thumb.size,
                width: thumb.width,
                height: thumb.height,
                content_type: thumb.content_type.to_owned(),
                bytes: len,
            };
            recorded.push(
                serde_json::to_value(&info)
                    .map_err(|e| StageError::Retry(anyhow::Error::new(e).context("thumbnail record")))?,
            );
        }
        ctx.file.processing.thumbnails = recorded;
        Ok(())
    }
}

fn too_large(e: MediaError) -> StageError {
    StageError::Fail(format!("image-too-large: {e}"))
}
