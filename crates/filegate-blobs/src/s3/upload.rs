//! filegate's own streaming `put`: a body of unknown length, in bounded memory.
//!
//! S3 needs each request's length up front (no chunked `PUT`), so the body is cut into
//! parts of [`PART_SIZE`]. A body that fits in one part is sent with a single `PUT`; a
//! longer one becomes a multipart upload, each part sent while the next is read, so at most
//! two parts are held at once. The limit is checked as bytes arrive; on any failure the
//! multipart upload is aborted, and nothing appears under the key.

use std::io;

use bytes::Bytes;
use filegate_core::StoreError;
use filegate_core::domain::ContentType;
use filegate_core::ports::{BlobMeta, ByteStream};
use futures::StreamExt as _;
use reqwest::header::{CONTENT_LENGTH, ETAG};

use super::errors::Failure;
use super::multipart::AbortOnDrop;
use super::presign::{MAX_PARTS, check_key};
use super::{S3BlobStore, etag_from};

/// Bytes per part of a streamed upload (S3's minimum is 5 MiB; 10 000 parts of 8 MiB make
/// 78 GiB, the largest object `put` can store).
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// One part's bytes, as they arrived (no copy).
#[derive(Debug, Default)]
pub(super) struct Part {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Part {
    pub fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        self.chunks.push(chunk);
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn into_body(self) -> reqwest::Body {
        match <[Bytes; 1]>::try_from(self.chunks) {
            Ok([one]) => one.into(),
            Err(chunks) if chunks.is_empty() => reqwest::Body::from(Bytes::new()),
            Err(chunks) => {
                reqwest::Body::wrap_stream(futures::stream::iter(chunks.into_iter().map(Ok::<_, io::Error>)))
            }
        }
    }
}

/// A body cut into parts of exactly [`PART_SIZE`] bytes (the last one shorter).
struct Parts {
    body: ByteStream,
    /// What is left of a chunk that straddled a part boundary, or a chunk read ahead.
    pending: Option<Bytes>,
    ended: bool,
    received: u64,
    max: u64,
}

impl Parts {
    fn new(body: ByteStream, max: u64) -> Self {
        Self {
            body,
            pending: None,
            ended: false,
            received: 0,
            max,
        }
    }

    /// The next non-empty chunk of the body, counted against the limit.
    async fn chunk(&mut self) -> Result<Option<Bytes>, StoreError> {
        if let Some(chunk) = self.pending.take() {
            return Ok(Some(chunk));
        }
        while !self.ended {
            match self.body.next().await {
                None => self.ended = true,
                Some(Err(e)) => return Err(StoreError::Input(format!("the body broke off: {e}"))),
                Some(Ok(chunk)) if chunk.is_empty() => {}
                Some(Ok(chunk)) => {
                    self.received = self.received.saturating_add(chunk.len() as u64);
                    if self.received > self.max {
                        return Err(StoreError::TooLarge(self.max));
                    }
                    return Ok(Some(chunk));
                }
            }
        }
        Ok(None)
    }

    /// The next part; afterwards [`finished`](Self::finished) says whether it was the last.
    async fn next(&mut self) -> Result<Part, StoreError> {
        let mut part = Part::default();
        while part.len < PART_SIZE {
            let Some(mut chunk) = self.chunk().await? else { break };
            let room = PART_SIZE - part.len;
            if chunk.len() > room {
                part.push(chunk.split_to(room));
                self.pending = Some(chunk);
            } else {
                part.push(chunk);
            }
        }
        // Read ahead, so a body that ends exactly at a part boundary has no empty last part.
        if self.pending.is_none() {
            self.pending = self.chunk().await?;
        }
        Ok(part)
    }

    fn finished(&self) -> bool {
        self.ended && self.pending.is_none()
    }
}

impl S3BlobStore {
    pub(super) async fn put_stream(&self, key: &str, body: ByteStream, max_size: u64) -> Result<BlobMeta, StoreError> {
        check_key(key)?;
        let mut parts = Parts::new(body, max_size);
        let first = parts.next().await?;
        if parts.finished() {
            let size = first.len() as u64;
            let etag = self.put_whole(key, first).await?;
            // filegate's own writes declare no checksum: the pipeline hashes them.
            return Ok(BlobMeta {
                size,
                etag,
                sha256: None,
            });
        }
        let upload_id = self.create_upload(key, &ContentType::octet_stream()).await?;
        let guard = AbortOnDrop::new(self, key, &upload_id);
        match self.put_parts(key, &upload_id, first, &mut parts).await {
            Ok(meta) => {
                guard.disarm();
                Ok(meta)
            }
            Err(e) => {
                guard.abort_now().await;
                Err(e)
            }
        }
    }

    pub(super) async fn put_whole(&self, key: &str, part: Part) -> Result<filegate_core::domain::ETag, StoreError> {
        let url = self.internal(&self.bucket.put_object(Some(&self.credentials), key));
        let request = self
            .client
            .put(url)
            .header(CONTENT_LENGTH, part.len())
            .body(part.into_body());
        let resp = self.send(request, "put an object").await?;
        if !resp.status().is_success() {
            return Err(Failure::read(resp).await.into_error("put an object"));
        }
        etag_from(resp.headers().get(ETAG), "PutObject")
    }

    async fn put_parts(
        &self,
        key: &str,
        upload_id: &str,
        first: Part,
        parts: &mut Parts,
    ) -> Result<BlobMeta, StoreError> {
        let mut etags = Vec::new();
        let (mut current, mut number) = (first, 1);
        while !parts.finished() {
            if number >= MAX_PARTS {
                return Err(StoreError::TooLarge(u64::from(MAX_PARTS) * PART_SIZE as u64));
            }
            // Send this part while reading the next: two parts in memory at most.
            let (etag, next) = tokio::try_join!(self.upload_part(key, upload_id, number, current), parts.next())?;
            etags.push((number, etag));
            (current, number) = (next, number + 1);
        }
        etags.push((number, self.upload_part(key, upload_id, number, current).await?));
        let meta = self.complete_upload(key, upload_id, &etags).await?;
        if meta.size != parts.received {
            return Err(StoreError::Other(anyhow::anyhow!(
                "S3 stored {} bytes of a {}-byte body at {key}",
                meta.size,
                parts.received
            )));
        }
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: Vec<usize>) -> ByteStream {
        Box::pin(futures::stream::iter(
            chunks.into_iter().map(|n| Ok(Bytes::from(vec![7u8; n]))),
        ))
    }

    async fn cut(chunks: Vec<usize>, max: u64) -> Result<Vec<usize>, StoreError> {
        let mut parts = Parts::new(body(chunks), max);
        let mut sizes = vec![parts.next().await?.len()];
        while !parts.finished() {
            sizes.push(parts.next().await?.len());
        }
        Ok(sizes)
    }

    #[tokio::test]
    async fn bodies_are_cut_into_exact_parts() {
        const P: usize = PART_SIZE;
        assert_eq!(cut(vec![], 100).await.unwrap(), vec![0]);
        assert_eq!(cut(vec![0, 10, 0], 100).await.unwrap(), vec![10]);
        assert_eq!(cut(vec![P], u64::MAX).await.unwrap(), vec![P], "no empty last part");
        assert_eq!(cut(vec![P - 1, 1], u64::MAX).await.unwrap(), vec![P]);
        assert_eq!(cut(vec![P - 1, 2], u64::MAX).await.unwrap(), vec![P, 1]);
        assert_eq!(cut(vec![3 * P + 5], u64::MAX).await.unwrap(), vec![P, P, P, 5]);
        assert_eq!(
            cut(vec![1000; 2 * P / 1000 + 1], u64::MAX).await.unwrap(),
            vec![P, P, 2 * P / 1000 * 1000 + 1000 - 2 * P]
        );
    }

    #[tokio::test]
    async fn the_limit_is_checked_as_bytes_arrive() {
        assert!(matches!(cut(vec![60, 41], 100).await, Err(StoreError::TooLarge(100))));
        assert_eq!(cut(vec![60, 40], 100).await.unwrap(), vec![100]);
        let broken: ByteStream = Box::pin(futures::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(io::Error::other("reset")),
        ]));
        let mut parts = Parts::new(broken, 100);
        assert!(matches!(parts.next().await, Err(StoreError::Input(_))));
    }
}
