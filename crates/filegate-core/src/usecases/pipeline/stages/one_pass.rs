//! One read of the stored bytes for the two stages that need all of them: `hash` (their
//! SHA-256) and `scan` (clamd). When a bucket runs both, `hash` streams the object once,
//! hashing each chunk and handing it on to the scanner through a pipe of a few chunks, so
//! the scan runs beside the read in bounded memory; `scan` then finds its verdict reached.
//! Each stage stays idempotent, and runs on its own read as before when the other has
//! nothing to do (`complete` recorded the sha256 already, or the bucket does not scan).

use std::sync::Arc;

use futures::channel::mpsc;

use super::{StageContext, StageError};
use crate::domain::Sha256Hex;
use crate::ports::{ScanError, ScanVerdict, Scanner};
use crate::usecases::verify::{sha256_of_stream, sha256_passing_on};

/// Chunks the pipe to the scanner holds, as every pipe between tasks.
const PIPE_CHUNKS: usize = 8;

/// A verdict the shared read reached, for the stored object at `blob_key`.
pub(crate) struct Scanned {
    blob_key: String,
    result: Result<ScanVerdict, ScanError>,
}

/// The SHA-256 and size of the stored bytes, in one read that also scans them when the
/// bucket's `scan` stage is to run after (its verdict is kept in `ctx` for that stage).
pub(crate) async fn hash(ctx: &mut StageContext<'_>) -> Result<(Sha256Hex, u64), StageError> {
    let key = ctx.file.blob_key.clone();
    let body = ctx.services.blobs.get(&key, None).await?;
    let Some(scanner) = scanner_to_feed(ctx) else {
        return Ok(sha256_of_stream(body).await?);
    };
    let (pipe, piped) = mpsc::channel(PIPE_CHUNKS);
    let (read, result) = futures::join!(sha256_passing_on(body, Some(pipe)), scanner.scan(Box::pin(piped)));
    // A read that broke off keeps no verdict: the scan saw only part of the bytes.
    let read = read?;
    ctx.scanned = Some(Scanned { blob_key: key, result });
    Ok(read)
}

/// The verdict the shared read reached for the file's current bytes, if it did.
pub(crate) fn take_scan(ctx: &mut StageContext<'_>) -> Option<Result<ScanVerdict, ScanError>> {
    ctx.scanned
        .take()
        .filter(|s| s.blob_key == ctx.file.blob_key)
        .map(|s| s.result)
}

/// The scanner to feed: the bucket scans (after `hash`, in pipeline order) and one is
/// configured. Without one, `scan` waits for it on its own, as before.
fn scanner_to_feed(ctx: &StageContext<'_>) -> Option<Arc<dyn Scanner>> {
    if ctx.bucket.policy.stages.iter().any(|s| s == "scan") {
        ctx.services.scanner.clone()
    } else {
        None
    }
}
