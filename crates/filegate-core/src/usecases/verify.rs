//! Reading stored bytes back to check them: shared by completion and the pipeline.

use futures::StreamExt as _;
use sha2::{Digest, Sha256};

use crate::domain::Sha256Hex;
use crate::error::StoreError;
use crate::ports::BlobStore;

/// The SHA-256 of a stored object, streamed: memory stays flat whatever the size. The
/// stores read ahead of their consumer (the local one on the blocking pool, S3 through the
/// socket's buffers), so reading and hashing already overlap.
pub(crate) async fn sha256_of(blobs: &dyn BlobStore, key: &str) -> Result<(Sha256Hex, u64), StoreError> {
    let mut stream = blobs.get(key, None).await?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| StoreError::Other(e.into()))?;
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((Sha256Hex::from_digest(&hasher.finalize()), size))
}
