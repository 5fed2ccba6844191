//! Reading stored bytes back to check them: shared by completion and the pipeline.

use futures::StreamExt as _;
use sha2::{Digest, Sha256};

use crate::domain::Sha256Hex;
use crate::error::StoreError;
use crate::ports::{BlobStore, ByteStream};

/// The SHA-256 of a stored object, streamed: memory stays flat whatever the size. The
/// stores read ahead of their consumer (the local one on the blocking pool, S3 through the
/// socket's buffers), so reading and hashing already overlap.
pub(crate) async fn sha256_of(blobs: &dyn BlobStore, key: &str) -> Result<(Sha256Hex, u64), StoreError> {
    sha256_of_stream(blobs.get(key, None).await?).await
}

/// A read that breaks off after the object was found is the store going away (the S3
/// server stopped, the connection cut, the disk gone): `Unavailable`, so `complete` answers
/// 503 with `Retry-After` and the pipeline retries, rather than a 500.
async fn sha256_of_stream(mut stream: ByteStream) -> Result<(Sha256Hex, u64), StoreError> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| StoreError::Unavailable(e.into()))?;
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((Sha256Hex::from_digest(&hasher.finalize()), size))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[tokio::test]
    async fn the_digest_covers_every_chunk() {
        let chunks = [Ok(Bytes::from_static(b"hello ")), Ok(Bytes::from_static(b"world"))];
        let (digest, size) = sha256_of_stream(Box::pin(futures::stream::iter(chunks)))
            .await
            .expect("read");
        assert_eq!(size, 11);
        assert_eq!(
            digest.as_str(),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
    }

    /// Found by the fault harness (`filegate-bench faults --scenario s3`): the S3 server
    /// stopped while `complete` read an object back, and the client got 500 without
    /// `Retry-After`.
    #[tokio::test]
    async fn a_read_that_breaks_off_is_unavailable_not_internal() {
        let chunks = [
            Ok(Bytes::from_static(b"first bytes")),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset",
            )),
        ];
        let err = sha256_of_stream(Box::pin(futures::stream::iter(chunks)))
            .await
            .expect_err("the read broke off");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
}
