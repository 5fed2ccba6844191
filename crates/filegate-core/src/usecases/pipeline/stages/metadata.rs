//! `metadata`: for an image, its dimensions and selected EXIF fields, read from the first
//! [`HEADER_BYTES`] of the file without decoding a pixel (`processing.image`). Other types
//! have nothing here yet. A picture whose header cannot be read keeps `image: null`: its
//! bytes are still the client's file, and refusing it is the allow-list's job.

use async_trait::async_trait;

use super::{Stage, StageContext, StageError, read_prefix};

pub struct Metadata;

/// Enough for the header and the EXIF block of every common picture (JPEG's APP1 segment,
/// which holds EXIF, is at most 64 KiB and comes first).
pub const HEADER_BYTES: u64 = 256 * 1024;

#[async_trait]
impl Stage for Metadata {
    fn name(&self) -> &'static str {
        "metadata"
    }

    async fn run(&self, ctx: &mut StageContext<'_>) -> Result<(), StageError> {
        let head = read_prefix(ctx, HEADER_BYTES).await?;
        let kind = sniffed_type(ctx, &head);
        ctx.file.processing.image = None;
        let media = &ctx.services.media;
        let Some(kind) = kind.filter(|k| media.is_image(k)) else {
            return Ok(());
        };
        match media.inspect(&head, &kind) {
            Ok(info) => {
                ctx.file.processing.image = Some(
                    serde_json::to_value(&info)
                        .map_err(|e| StageError::Retry(anyhow::Error::new(e).context("image facts")))?,
                );
            }
            Err(e) => tracing::info!(file_id = %ctx.file.id, error = %e, "image header unreadable"),
        }
        Ok(())
    }
}

/// The sniffed type: from the `sniff` stage when it ran, else from these bytes (a bucket
/// may run `metadata` or `thumbnail` without `sniff`; the declared type is never trusted
/// to pick a decoder).
pub(crate) fn sniffed_type(ctx: &StageContext<'_>, head: &[u8]) -> Option<String> {
    ctx.file
        .processing
        .sniffed_type
        .clone()
        .or_else(|| ctx.services.media.sniff(head).map(str::to_owned))
}
