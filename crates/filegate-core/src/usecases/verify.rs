//! Reading stored bytes back to check them: shared by completion and the pipeline.

use futures::StreamExt as _;
use sha2::{Digest, Sha256};

use crate::domain::Sha256Hex;
use crate::error::StoreError;
use crate::ports::BlobStore;

/// Chunks read ahead of the hasher. Reading (the blocking pool's file reads, or the
/// network) and hashing (this task) then overlap on two cores instead of taking turns,
/// while memory stays bounded: at most this many chunks wait.
const READ_AHEAD: usize = 4;

/// The reading task, stopped when the hash is abandoned (an error, or a cancelled job).
struct Reader(Option<tokio::task::JoinHandle<()>>);

impl Reader {
    /// Waits for the task: a reader that panicked must not pass for the end of the bytes.
    async fn finished(mut self) -> Result<(), StoreError> {
        match self.0.take() {
            Some(task) => task
                .await
                .map_err(|e| StoreError::Other(anyhow::anyhow!("reading the object failed: {e}"))),
            None => Ok(()),
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// The SHA-256 of a stored object, streamed: memory stays flat whatever the size.
pub(crate) async fn sha256_of(blobs: &dyn BlobStore, key: &str) -> Result<(Sha256Hex, u64), StoreError> {
    let mut stream = blobs.get(key, None).await?;
    let (chunks, mut ahead) = tokio::sync::mpsc::channel(READ_AHEAD);
    let reader = Reader(Some(tokio::spawn(async move {
        while let Some(chunk) = stream.next().await {
            // The hasher went away: stop reading.
            if chunks.send(chunk).await.is_err() {
                return;
            }
        }
    })));
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = ahead.recv().await {
        let chunk = chunk.map_err(|e| StoreError::Other(e.into()))?;
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    reader.finished().await?;
    Ok((Sha256Hex::from_digest(&hasher.finalize()), size))
}
