//! Reading stored bytes back to check them: shared by completion and the pipeline.

use std::io;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt as _, StreamExt as _};
use sha2::{Digest, Sha256};

use crate::domain::Sha256Hex;
use crate::error::StoreError;
use crate::ports::{BlobMeta, BlobStore, ByteStream};

/// The SHA-256 of a stored object, streamed: memory stays flat whatever the size. The
/// stores read ahead of their consumer (the local one on the blocking pool, S3 through the
/// socket's buffers), so reading and hashing already overlap.
pub(crate) async fn sha256_of(blobs: &dyn BlobStore, key: &str) -> Result<(Sha256Hex, u64), StoreError> {
    sha256_of_stream(blobs.get(key, None).await?).await
}

/// The SHA-256 of the stored object at `key`, of which storage just reported `meta`: the
/// digest the store vouches for (it computed it over these very bytes as it stored them),
/// else read back and computed here. `complete` checks a declared sha256 with it, so a
/// store that vouches spares reading a whole upload back before answering.
pub(crate) async fn stored_sha256(blobs: &dyn BlobStore, key: &str, meta: &BlobMeta) -> Result<Sha256Hex, StoreError> {
    match &meta.sha256 {
        Some(vouched) => Ok(vouched.clone()),
        None => Ok(sha256_of(blobs, key).await?.0),
    }
}

/// A read that breaks off after the object was found is the store going away (the S3
/// server stopped, the connection cut, the disk gone): `Unavailable`, so `complete` answers
/// 503 with `Retry-After` and the pipeline retries, rather than a 500.
pub(crate) async fn sha256_of_stream(stream: ByteStream) -> Result<(Sha256Hex, u64), StoreError> {
    sha256_passing_on(stream, None).await
}

/// [`sha256_of_stream`], handing every chunk on to `reader` as well (the same `Bytes`, not a
/// copy), through a bounded pipe: one read for two consumers (the pipeline's `hash` and
/// `scan`). A reader that stops early (it answered, or failed) leaves the hash to go on
/// alone; a read that breaks off reaches it as an error, so that it never answers for part
/// of the bytes.
pub(crate) async fn sha256_passing_on(
    mut stream: ByteStream,
    mut reader: Option<mpsc::Sender<io::Result<Bytes>>>,
) -> Result<(Sha256Hex, u64), StoreError> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                if let Some(reader) = &mut reader {
                    let _ = reader.send(Err(io::Error::new(e.kind(), e.to_string()))).await;
                }
                return Err(StoreError::Unavailable(e.into()));
            }
        };
        size += chunk.len() as u64;
        hasher.update(&chunk);
        if let Some(to) = &mut reader
            && to.send(Ok(chunk)).await.is_err()
        {
            reader = None;
        }
    }
    Ok((Sha256Hex::from_digest(&hasher.finalize()), size))
}

#[cfg(test)]
mod tests {
    use futures::{StreamExt as _, TryStreamExt as _};

    use super::*;

    fn body(chunks: Vec<io::Result<Bytes>>) -> ByteStream {
        Box::pin(futures::stream::iter(chunks))
    }

    #[tokio::test]
    async fn the_reader_passed_on_to_gets_every_byte_the_hash_covers() {
        let (pipe, piped) = mpsc::channel(8);
        let chunks = (0..20u8).map(|i| Ok(Bytes::from(vec![i; 1000]))).collect();
        let (read, seen) = futures::join!(
            sha256_passing_on(body(chunks), Some(pipe)),
            piped.try_collect::<Vec<Bytes>>()
        );
        let (digest, size) = read.expect("read");
        let seen = seen.expect("all chunks").concat();
        assert_eq!((size, seen.len()), (20_000, 20_000));
        assert_eq!(digest, Sha256Hex::from_digest(&Sha256::digest(&seen)));
    }

    #[tokio::test]
    async fn a_reader_that_stops_early_leaves_the_hash_to_finish() {
        let (pipe, mut piped) = mpsc::channel(1);
        let chunks: Vec<_> = (0..50u8).map(|i| Ok(Bytes::from(vec![i; 10]))).collect();
        let reader = async move {
            let first = piped.next().await;
            drop(piped);
            first
        };
        let (read, first) = futures::join!(sha256_passing_on(body(chunks), Some(pipe)), reader);
        assert_eq!(read.expect("the whole read").1, 500);
        assert!(matches!(first, Some(Ok(_))));
    }

    #[tokio::test]
    async fn a_read_that_breaks_off_reaches_the_reader_as_an_error() {
        let (pipe, piped) = mpsc::channel(8);
        let chunks = vec![
            Ok(Bytes::from_static(b"first")),
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")),
        ];
        let (read, seen) = futures::join!(
            sha256_passing_on(body(chunks), Some(pipe)),
            piped.try_collect::<Vec<Bytes>>()
        );
        assert!(matches!(read, Err(StoreError::Unavailable(_))));
        assert_eq!(
            seen.expect_err("the reader sees the break").kind(),
            io::ErrorKind::ConnectionReset
        );
    }

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
