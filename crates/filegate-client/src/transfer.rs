//! High-level helpers: a whole presigned upload in one call, and waiting for a status.

use std::{io::SeekFrom, path::PathBuf, time::Duration};

use bytes::Bytes;
use filegate_api::{CompleteUpload, CreateUpload, FileView, UploadInstructions};
use futures::stream;
use reqwest::Body;
use tokio::{
    io::{AsyncReadExt, AsyncSeekExt},
    time::Instant,
};
use tokio_util::io::ReaderStream;

use crate::{
    Client, Error, Payload, Result,
    parts::{PartBodies, PartJournal},
    taps::{READ_CHUNK, Taps},
};

/// How many parts of a multipart upload are sent at once.
pub const PART_PARALLELISM: usize = 4;

/// Poll intervals of [`Client::wait_for_status`]: doubling from the first to the last.
const POLL_FIRST: Duration = Duration::from_millis(20);
const POLL_MAX: Duration = Duration::from_millis(250);

/// Where the bytes of [`Client::upload`] come from.
#[derive(Debug, Clone)]
pub enum UploadSource {
    Bytes(Bytes),
    /// Streamed from disk; never read into memory whole.
    File(PathBuf),
}

impl UploadSource {
    async fn size(&self) -> Result<u64> {
        Ok(match self {
            UploadSource::Bytes(bytes) => bytes.len() as u64,
            UploadSource::File(path) => tokio::fs::metadata(path).await?.len(),
        })
    }

    /// `len` bytes from `offset`, streamed through `taps`.
    pub(crate) async fn range(&self, offset: u64, len: u64, taps: &Taps) -> Result<Payload> {
        let chunks: ByteChunks = match self {
            UploadSource::Bytes(bytes) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
                let end = usize::try_from(offset.saturating_add(len))
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                Box::pin(stream::iter([Ok(bytes.slice(start..end))]))
            }
            UploadSource::File(path) => {
                let mut file = tokio::fs::File::open(path).await?;
                file.seek(SeekFrom::Start(offset)).await?;
                Box::pin(ReaderStream::with_capacity(file.take(len), READ_CHUNK))
            }
        };
        Ok(Payload::sized(Body::wrap_stream(taps.clone().tap(chunks)), len))
    }
}

type ByteChunks = std::pin::Pin<Box<dyn futures::Stream<Item = std::io::Result<Bytes>> + Send>>;

/// One part of a multipart upload: its number, offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlannedPart {
    pub number: u32,
    pub offset: u64,
    pub len: u64,
}

/// Splits `size` bytes into the parts the server announced, checking they agree.
pub(crate) fn plan_parts(size: u64, part_size: u64, part_count: u32) -> Result<Vec<PlannedPart>> {
    if part_size == 0 {
        return Err(Error::Protocol("multipart upload with part_size 0".into()));
    }
    let expected = size.div_ceil(part_size).max(1);
    if u64::from(part_count) != expected {
        return Err(Error::Protocol(format!(
            "{size} bytes in parts of {part_size} make {expected} parts, not {part_count}"
        )));
    }
    Ok((1..=part_count)
        .map(|number| {
            let offset = u64::from(number - 1) * part_size;
            PlannedPart {
                number,
                offset,
                len: part_size.min(size - offset),
            }
        })
        .collect())
}

/// The last segment of an object path.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Client {
    /// A whole presigned upload: `POST /v1/uploads`, then the bytes (a PUT, a form POST,
    /// or the parts of a multipart upload, [`PART_PARALLELISM`] at a time, asking for
    /// missing part URLs as needed), then `…/complete`. `request.size` is set from the
    /// source. When sending the bytes fails, the upload is aborted (best effort).
    pub async fn upload(&self, mut request: CreateUpload, source: UploadSource) -> Result<FileView> {
        request.size = source.size().await?;
        let created = self.create_upload(&request).await?;
        // Deduplicated: the server already holds these bytes (it matched the sha256 the
        // request declared); the file is `uploaded` and there is nothing to send.
        let Some(upload) = created.upload else {
            return self.get_file(&created.file_id).await;
        };
        match self
            .send_upload(&request, &created.file_id, upload, &source, Sending::default())
            .await
        {
            Ok(complete) => self.complete_upload(&created.file_id, &complete).await,
            Err(e) => {
                let _ = self.abort_upload(&created.file_id).await;
                Err(e)
            }
        }
    }

    /// [`Client::upload`] of bytes in memory.
    pub async fn upload_bytes(&self, bucket: &str, path: &str, content_type: &str, bytes: Bytes) -> Result<FileView> {
        let request = CreateUpload {
            bucket: bucket.to_owned(),
            path: path.to_owned(),
            content_type: Some(content_type.to_owned()),
            ..CreateUpload::default()
        };
        self.upload(request, UploadSource::Bytes(bytes)).await
    }

    /// [`Client::upload`] of a file, streamed from disk.
    pub async fn upload_file(
        &self,
        bucket: &str,
        path: &str,
        content_type: &str,
        file: &std::path::Path,
    ) -> Result<FileView> {
        let request = CreateUpload {
            bucket: bucket.to_owned(),
            path: path.to_owned(),
            content_type: Some(content_type.to_owned()),
            ..CreateUpload::default()
        };
        self.upload(request, UploadSource::File(file.to_owned())).await
    }

    /// Sends the bytes as instructed, through `taps` (a multipart upload's parts go out
    /// of order, so they are never hashed); returns what `…/complete` needs.
    pub(crate) async fn send_upload(
        &self,
        request: &CreateUpload,
        file_id: &str,
        instructions: UploadInstructions,
        source: &UploadSource,
        sending: Sending<'_>,
    ) -> Result<CompleteUpload> {
        let mut complete = CompleteUpload {
            size: Some(request.size),
            sha256: request.sha256.clone(),
            ..CompleteUpload::default()
        };
        match instructions {
            UploadInstructions::Put { url, headers } => {
                let body = source.range(0, request.size, sending.taps).await?;
                complete.etag = Some(self.put_signed(&url, &headers, body).await?);
            }
            UploadInstructions::Post { url, fields } => {
                let content_type = request.content_type.as_deref().unwrap_or("application/octet-stream");
                let body = source.range(0, request.size, sending.taps).await?;
                let name = file_name(&request.path);
                complete.etag = self.post_form_signed(&url, &fields, name, content_type, body).await?;
            }
            UploadInstructions::Multipart {
                part_size,
                part_count,
                parts,
                ..
            } => {
                let plan = plan_parts(request.size, part_size, part_count)?;
                let urls = parts.into_iter().map(|p| (p.number, p.url)).collect();
                let bodies = PartBodies::Source(source, sending.taps.without_sha256());
                complete.parts = self
                    .send_parts(file_id, &plan, urls, &bodies, sending.parallel, sending.journal)
                    .await?;
            }
            UploadInstructions::Tus { .. } => {
                return Err(Error::Protocol(
                    "the server answered a tus upload, which this client does not ask for".into(),
                ));
            }
        }
        Ok(complete)
    }

    /// Polls `GET /v1/files/{id}/status` until the status is one of `statuses`, then
    /// returns the file; [`Error::Timeout`] after `timeout`.
    pub async fn wait_for_status(&self, id: &str, statuses: &[&str], timeout: Duration) -> Result<FileView> {
        let done = |status: &str| statuses.contains(&status);
        self.poll_status(id, done, timeout, (POLL_FIRST, POLL_MAX)).await
    }

    /// Polls the status of a completed upload until processing has ended (`ready`,
    /// `failed`, `quarantined`, or any status processing does not leave by itself), then
    /// returns the file; [`Error::Timeout`] after `timeout`.
    pub async fn wait_until_processed(&self, id: &str, timeout: Duration) -> Result<FileView> {
        let done = |status: &str| !IN_FLIGHT.contains(&status);
        self.poll_status(id, done, timeout, (SETTLE_POLL_FIRST, SETTLE_POLL_MAX))
            .await
    }

    /// Polls the status, the interval doubling from the first to the last of `intervals`,
    /// until `done` accepts it; then returns the file.
    async fn poll_status(
        &self,
        id: &str,
        done: impl Fn(&str) -> bool,
        timeout: Duration,
        (first, max): (Duration, Duration),
    ) -> Result<FileView> {
        let start = Instant::now();
        let deadline = start + timeout;
        let mut interval = first;
        loop {
            let status = self.file_status(id).await?;
            if done(&status.status) {
                return self.get_file(id).await;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    waited: now - start,
                    last_status: status.status,
                });
            }
            tokio::time::sleep(interval.min(deadline - now)).await;
            interval = (interval * 2).min(max);
        }
    }
}

/// The statuses a file moves on from by itself; any other status is where processing ended.
const IN_FLIGHT: [&str; 3] = ["pending", "uploaded", "processing"];

/// Poll intervals of [`Client::wait_until_processed`]: doubling up to a few seconds, for
/// waits that may last as long as a virus scan or a decryption of a large file.
const SETTLE_POLL_FIRST: Duration = Duration::from_millis(50);
const SETTLE_POLL_MAX: Duration = Duration::from_secs(2);

/// How [`Client::send_upload`] sends: taps, parts in flight, and where stored parts are
/// journaled (for resumable uploads).
#[derive(Clone, Copy)]
pub(crate) struct Sending<'a> {
    pub taps: &'a Taps,
    pub parallel: usize,
    pub journal: Option<PartJournal<'a>>,
}

static NO_TAPS: Taps = Taps {
    progress: None,
    limit: None,
    sha256: None,
};

impl Default for Sending<'_> {
    fn default() -> Self {
        Sending {
            taps: &NO_TAPS,
            parallel: PART_PARALLELISM,
            journal: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lens(plan: &[PlannedPart]) -> Vec<(u32, u64, u64)> {
        plan.iter().map(|p| (p.number, p.offset, p.len)).collect()
    }

    #[test]
    fn parts_cover_the_file_exactly() {
        assert_eq!(
            lens(&plan_parts(25, 10, 3).unwrap()),
            [(1, 0, 10), (2, 10, 10), (3, 20, 5)]
        );
        assert_eq!(lens(&plan_parts(20, 10, 2).unwrap()), [(1, 0, 10), (2, 10, 10)]);
        assert_eq!(lens(&plan_parts(0, 10, 1).unwrap()), [(1, 0, 0)]);
        let big = plan_parts(5 * (1 << 30) + 1, 8 << 20, 641).unwrap();
        assert_eq!(big.last().map(|p| p.len), Some(1));
    }

    #[test]
    fn inconsistent_instructions_are_refused() {
        assert!(matches!(plan_parts(25, 10, 2), Err(Error::Protocol(_))));
        assert!(matches!(plan_parts(25, 10, 4), Err(Error::Protocol(_))));
        assert!(matches!(plan_parts(25, 0, 1), Err(Error::Protocol(_))));
    }

    #[tokio::test]
    async fn sources_give_the_same_ranges() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let dir = std::env::temp_dir().join(format!("filegate-client-{}", std::process::id()));
        tokio::fs::create_dir_all(&dir).await.unwrap();
        let path = dir.join("source.bin");
        tokio::fs::write(&path, &data).await.unwrap();
        let sources = [UploadSource::Bytes(Bytes::from(data.clone())), UploadSource::File(path)];
        for source in &sources {
            assert_eq!(source.size().await.unwrap(), 10_000);
            let payload = source.range(4096, 5000, &Taps::default()).await.unwrap();
            assert_eq!(payload.size(), Some(5000));
            let body = payload.into_body();
            let got: Vec<u8> = http_body_bytes(body).await;
            assert_eq!(got, &data[4096..9096]);
        }
        tokio::fs::remove_dir_all(&dir).await.unwrap();
    }

    /// Collects a `reqwest::Body` (buffered or streamed) without a server.
    async fn http_body_bytes(body: reqwest::Body) -> Vec<u8> {
        let resp = reqwest::Response::from(http::Response::new(body));
        resp.bytes().await.unwrap().to_vec()
    }

    #[test]
    fn file_names_are_the_last_segment() {
        assert_eq!(file_name("2026/11/ward-a.csv"), "ward-a.csv");
        assert_eq!(file_name("x"), "x");
    }
}
