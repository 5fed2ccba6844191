//! Which jobs stream stored bytes, and their turns. A job in flight mostly waits (on the
//! database, on storage), so a worker runs many; but a job that streams a big file holds
//! its read buffers for as long as it reads, and a scan holds a clamd connection. Those
//! take a turn from `Services::stream_turns` (`workers.streams`), so `workers.concurrency`
//! can be raised for small files without raising the memory and scanner connections that
//! big files take.

use tokio::sync::SemaphorePermit;

use super::StageError;
use super::stages::PREFIX_BYTES;
use crate::domain::{Bucket, FileRecord};
use crate::usecases::Services;

/// Whether processing `file` streams: it is bigger than the one read every header-reading
/// stage shares, or its bucket scans it (a clamd connection, whatever the size).
pub(crate) fn needs_turn(file: &FileRecord, bucket: &Bucket) -> bool {
    file.size > PREFIX_BYTES || bucket.policy.stages.iter().any(|s| s == "scan")
}

/// Waits for a turn; the turn ends when the permit is dropped.
pub(crate) async fn turn(services: &Services) -> Result<SemaphorePermit<'_>, StageError> {
    services
        .stream_turns
        .acquire()
        .await
        .map_err(|e| StageError::Retry(anyhow::anyhow!("the stream turns closed: {e}")))
}
