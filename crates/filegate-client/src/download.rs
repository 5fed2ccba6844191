//! [`Client::download_file`]: a ready file down to disk through its signed URL, resumed
//! with `Range` after an interruption, its SHA-256 checked against the server's before
//! it takes its name. Bytes go to a hidden partial file beside the destination
//! (`.NAME.ID.filegate-part`): a file's bytes never change once it is `ready`, so the
//! partial of one id can always be continued.

use std::{
    io,
    path::{Path, PathBuf},
};

use filegate_api::FileView;
use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};

use crate::{
    Client, ContentResponse, Error, Result,
    taps::{READ_CHUNK, SharedSha256, Taps},
};

/// How [`Client::download_file`] fetches.
#[derive(Debug, Clone, Default)]
pub struct DownloadOptions {
    /// Progress and bandwidth limit.
    pub taps: Taps,
}

/// What a download did.
#[derive(Debug, Clone)]
pub struct DownloadReport {
    pub file: FileView,
    /// Bytes of the file in all.
    pub bytes: u64,
    /// Bytes an earlier, interrupted download had already fetched.
    pub resumed_from: u64,
    /// The SHA-256 (hex) of the bytes written.
    pub sha256: String,
    /// Whether the server knew the file's SHA-256 and it matched (a bucket without the
    /// `hash` stage records none; then only the size was checked).
    pub verified: bool,
}

/// The partial file of downloading `id` to `dest`.
fn partial_path(dest: &Path, id: &str) -> Result<PathBuf> {
    let name = dest
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{} is not a file name", dest.display())))?;
    Ok(dest.with_file_name(format!(".{}.{id}.filegate-part", name.to_string_lossy())))
}

impl Client {
    /// Downloads the `ready` file `id` to `dest` (replacing it), continuing an earlier
    /// interrupted download of the same id to the same place. A checksum mismatch
    /// removes the partial file and is [`Error::Integrity`].
    pub async fn download_file(&self, id: &str, dest: &Path, options: &DownloadOptions) -> Result<DownloadReport> {
        let file = self.ready_file(id).await?;
        let partial = partial_path(dest, &file.id)?;
        let mut sha = SharedSha256::default();
        let mut have = match tokio::fs::metadata(&partial).await {
            Ok(meta) if meta.len() <= file.size => hash_prefix(&partial, &sha).await?,
            Ok(_) => 0,
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e.into()),
        };
        let out = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)
            .await?;
        if have == 0 {
            out.set_len(0).await?;
        }
        let body = if have < file.size {
            let body = self.fetch_from(&file.id, have).await?;
            if body.status == 200 && have > 0 {
                // The store ignored the range: start over.
                out.set_len(0).await?;
                have = 0;
                sha = SharedSha256::default();
            }
            body.into_stream()
        } else {
            futures::stream::empty().boxed()
        };
        if let Some(progress) = &options.taps.progress {
            progress.total(file.size);
            progress.advance(have);
        }
        let mut writer = BufWriter::with_capacity(READ_CHUNK * 4, out);
        copy_tapped(body, &mut writer, &options.taps.with_sha256(sha.clone())).await?;
        writer.flush().await?;
        let out = writer.into_inner();
        out.sync_all().await?;
        let bytes = out.metadata().await?.len();
        if let Err(e) = check(&file, bytes, &sha.hex()) {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        tokio::fs::rename(&partial, dest).await?;
        Ok(DownloadReport {
            verified: file.sha256.is_some(),
            sha256: sha.hex(),
            bytes,
            resumed_from: have,
            file,
        })
    }

    /// Streams the `ready` file `id` into `out` (no resume); the checksum is checked at
    /// the end, after the bytes were written: a mismatch is [`Error::Integrity`].
    pub async fn download_to_writer(
        &self,
        id: &str,
        out: &mut (impl AsyncWrite + Unpin),
        options: &DownloadOptions,
    ) -> Result<DownloadReport> {
        let file = self.ready_file(id).await?;
        if let Some(progress) = &options.taps.progress {
            progress.total(file.size);
        }
        let sha = SharedSha256::default();
        let body = self.fetch_from(&file.id, 0).await?;
        let bytes = copy_tapped(body.into_stream(), out, &options.taps.with_sha256(sha.clone())).await?;
        out.flush().await?;
        check(&file, bytes, &sha.hex())?;
        Ok(DownloadReport {
            verified: file.sha256.is_some(),
            sha256: sha.hex(),
            bytes,
            resumed_from: 0,
            file,
        })
    }

    /// The file, if it is `ready` ([`Error::NotReady`] otherwise).
    async fn ready_file(&self, id: &str) -> Result<FileView> {
        let file = self.get_file(id).await?;
        if file.status != "ready" {
            return Err(Error::NotReady {
                id: file.id,
                status: file.status,
                reason: file.status_reason,
            });
        }
        Ok(file)
    }

    /// The bytes from `offset` on, through a fresh signed download URL.
    async fn fetch_from(&self, id: &str, offset: u64) -> Result<ContentResponse> {
        let link = self.download_url(id, None).await?;
        let range = (offset > 0).then(|| format!("bytes={offset}-"));
        let body = self.get_signed(&link.url, range).await?;
        if body.status == 206 {
            let starts_right = body
                .content_range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes "))
                .and_then(|r| r.split('-').next())
                .is_some_and(|start| start.trim() == offset.to_string());
            if !starts_right {
                return Err(Error::Protocol(format!(
                    "asked for the bytes from {offset}, got Content-Range {:?}",
                    body.content_range
                )));
            }
        }
        Ok(body)
    }
}

/// The size and (when the server knows it) the SHA-256 must match.
fn check(file: &FileView, bytes: u64, sha256: &str) -> Result<()> {
    if bytes != file.size {
        return Err(Error::Integrity(format!(
            "{bytes} bytes arrived; the file has {}",
            file.size
        )));
    }
    match &file.sha256 {
        Some(expected) if !expected.eq_ignore_ascii_case(sha256) => Err(Error::Integrity(format!(
            "the sha256 of the bytes downloaded ({sha256}) differs from the server's ({expected})"
        ))),
        _ => Ok(()),
    }
}

/// Reads the partial file into the hash; returns its length.
async fn hash_prefix(path: &Path, sha: &SharedSha256) -> io::Result<u64> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut buf = vec![0u8; READ_CHUNK * 4];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        sha.update(&buf[..n]);
        total += n as u64;
    }
}

/// Copies a body into `out` through `taps`; returns the bytes written.
async fn copy_tapped(body: crate::ByteStream, out: &mut (impl AsyncWrite + Unpin), taps: &Taps) -> Result<u64> {
    let mut body = std::pin::pin!(taps.clone().tap(body.map_err(io::Error::other)));
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| match e.downcast::<Error>() {
            Ok(inner) => inner,
            Err(e) => Error::Io(e),
        })?;
        out.write_all(&chunk).await?;
        written += chunk.len() as u64;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_files_are_hidden_beside_the_destination() {
        let p = partial_path(Path::new("/tmp/out/report.csv"), "0190").unwrap();
        assert_eq!(p, Path::new("/tmp/out/.report.csv.0190.filegate-part"));
        assert!(partial_path(Path::new("/"), "x").is_err());
    }

    #[test]
    fn size_and_checksum_must_match() {
        let file = FileView {
            size: 3,
            sha256: Some("AB".into()),
            ..test_file()
        };
        assert!(check(&file, 3, "ab").is_ok());
        assert!(matches!(check(&file, 2, "ab"), Err(Error::Integrity(_))));
        assert!(matches!(check(&file, 3, "cd"), Err(Error::Integrity(_))));
        let unhashed = FileView { sha256: None, ..file };
        assert!(check(&unhashed, 3, "cd").is_ok());
    }

    fn test_file() -> FileView {
        serde_json::from_value(serde_json::json!({
            "id": "f", "tenant": "t", "bucket": "b", "path": "p", "name": "p", "size": 0,
            "content_type": "text/plain", "etag": null, "sha256": null, "status": "ready",
            "status_reason": null, "owner": "o", "external_id": null, "metadata": {},
            "processing": {"thumbnails": []}, "download_count": 0, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "deleted_at": null
        }))
        .unwrap()
    }
}
