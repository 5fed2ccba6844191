//! How stored bytes are presented to a browser (an uploader's script must not run): inline only when they cannot run
//! script, or when their bucket opts in (`inline_active`). An uploader's HTML or SVG shown
//! inline would otherwise run in the origin that holds the API and its signed URLs.

use super::context::HasStore;
use crate::domain::FileRecord;
use crate::error::Result;
use crate::ports::Disposition;

/// `asked`, unless it is inline for an active type in a bucket that does not show those.
pub async fn for_file(cx: &impl HasStore, file: &FileRecord, asked: Disposition) -> Result<Disposition> {
    if asked == Disposition::Attachment || !file.content_type.is_active() {
        return Ok(asked);
    }
    let bucket = cx.store().get_bucket(&file.tenant, &file.bucket).await?;
    Ok(match bucket {
        Some(b) if b.policy.shows_inline(&file.content_type) => Disposition::Inline,
        _ => Disposition::Attachment,
    })
}
