//! Appending uploads (tus): one append-only file per upload, beside the multipart parts.
//!
//! ```text
//! root/multipart/<upload id>/key    the key the upload belongs to (as for multipart)
//! root/multipart/<upload id>/data   the bytes so far
//! ```
//!
//! An append holds an exclusive `flock` on `data` (a second one is refused, and a request
//! cut off cannot write under the next one), cuts the file back to the offset the caller
//! recorded (what a refused or crashed append left past it), writes, and fsyncs before it
//! answers. Finishing hashes the file once, for its etag (its SHA-256, as for every object
//! stored whole), and renames it into `objects/`, never over an object already there.
//!
//! Concatenation (tus) copies the partial uploads' `data` files, in order, into the final
//! upload's own (the kernel copies, `copy_file_range`: no buffer of ours), each source
//! locked as an append would lock it, then fsyncs; finishing is then as for any upload.

use std::fs::File;
use std::io::{self, Read as _, Seek as _};
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::Path;

use bytes::Bytes;
use filegate_core::StoreError;
use filegate_core::domain::{ETag, Sha256Hex};
use filegate_core::ports::{AppendLimits, Appended, Appending, BlobMeta, ByteStream};
use futures::StreamExt as _;

use super::LocalBlobStore;
use super::etag::{Hasher, of_object};
use super::modes;
use super::sidecar::Durability;
use super::write::{self, TempPath, blocking, fsync_dir, io_error};

const DATA_FILE: &str = "data";
/// Bytes gathered before each write (one `pwrite` on the blocking pool).
const BATCH: usize = 256 * 1024;

/// Opens the upload's data file (created if new) and locks it for this request alone.
/// Blocking. Also answers whether it was just created (its directory then needs an fsync).
fn open_locked(dir: &Path) -> Result<(File, bool), StoreError> {
    let path = dir.join(DATA_FILE);
    let created = !path.exists();
    // Read too: finishing hashes what was written.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(modes::FILE_MODE)
        .open(&path)
        .map_err(|e| io_error("open an appending upload", e))?;
    // `flock`: held by this open file alone, and let go when it closes, however the request ends.
    match file.try_lock() {
        Ok(()) => Ok((file, created)),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Conflict(
            "another request is appending to this upload".into(),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(io_error("lock an appending upload", e)),
    }
}

/// Cuts `file` back to `offset`; a file shorter than that lost acknowledged bytes.
fn truncate_to(file: &File, offset: u64) -> Result<(), StoreError> {
    let len = file
        .metadata()
        .map_err(|e| io_error("stat an appending upload", e))?
        .len();
    if len < offset {
        return Err(StoreError::Other(anyhow::anyhow!(
            "an appending upload holds {len} bytes, {offset} were recorded"
        )));
    }
    if len > offset {
        file.set_len(offset)
            .map_err(|e| io_error("cut an appending upload back", e))?;
    }
    Ok(())
}

fn write_batch(file: &File, at: u64, chunks: &[Bytes]) -> Result<u64, StoreError> {
    let mut at = at;
    for chunk in chunks {
        file.write_all_at(chunk, at)
            .map_err(|e| io_error("append to an upload", e))?;
        at += chunk.len() as u64;
    }
    Ok(at)
}

impl LocalBlobStore {
    pub(super) async fn begin_appending(&self, key: &str) -> Result<Appending, StoreError> {
        Ok(Appending {
            upload_id: self.create_upload(key).await?,
            offset: 0,
            engine: serde_json::Value::Null,
        })
    }

    pub(super) async fn append_body(
        &self,
        key: &str,
        from: &Appending,
        mut body: ByteStream,
        limits: AppendLimits,
    ) -> Result<Appended, StoreError> {
        let dir = self.upload_dir(key, &from.upload_id).await?;
        let offset = from.offset;
        let mut file = blocking(move || {
            let (file, created) = open_locked(&dir)?;
            truncate_to(&file, offset)?;
            if created {
                fsync_dir(&dir).map_err(|e| io_error("create an appending upload", e))?;
            }
            Ok(file)
        })
        .await?;
        let (mut at, mut batch, mut batched, mut broke) = (offset, Vec::new(), 0usize, None);
        loop {
            let next = body.next().await;
            let end = match next {
                None => true,
                Some(Err(e)) => {
                    broke = Some(format!("the body broke off: {e}"));
                    true
                }
                Some(Ok(chunk)) => {
                    if (at + batched as u64).saturating_add(chunk.len() as u64) > limits.max_offset {
                        return Err(StoreError::TooLarge(limits.max_offset));
                    }
                    batched += chunk.len();
                    batch.push(chunk);
                    false
                }
            };
            if batched >= BATCH || (end && batched > 0) {
                let chunks = std::mem::take(&mut batch);
                (file, at) = blocking(move || {
                    let at = write_batch(&file, at, &chunks)?;
                    Ok((file, at))
                })
                .await?;
                batched = 0;
            }
            if end {
                break;
            }
        }
        // Durable before the caller records (and the client is told) the new offset.
        blocking(move || file.sync_data().map_err(|e| io_error("fsync an appending upload", e))).await?;
        Ok(Appended {
            state: Appending {
                offset: at,
                ..from.clone()
            },
            broke,
        })
    }

    pub(super) async fn concat_appending(
        &self,
        key: &str,
        into: &Appending,
        sources: &[(String, Appending)],
    ) -> Result<Appending, StoreError> {
        let dir = self.upload_dir(key, &into.upload_id).await?;
        let mut from = Vec::with_capacity(sources.len());
        for (source_key, source) in sources {
            from.push((self.upload_dir(source_key, &source.upload_id).await?, source.offset));
        }
        let offset = blocking(move || {
            let (mut file, created) = open_locked(&dir)?;
            truncate_to(&file, 0)?;
            if created {
                fsync_dir(&dir).map_err(|e| io_error("create an appending upload", e))?;
            }
            file.rewind().map_err(|e| io_error("join partial uploads", e))?;
            let mut at = 0u64;
            for (source, len) in from {
                copy_upload(&source, len, &file)?;
                at = at.saturating_add(len);
            }
            // Durable before the caller records the joined state.
            file.sync_data().map_err(|e| io_error("fsync an appending upload", e))?;
            Ok(at)
        })
        .await?;
        Ok(Appending { offset, ..into.clone() })
    }

    pub(super) async fn finish_appending(&self, key: &str, at: &Appending) -> Result<BlobMeta, StoreError> {
        use filegate_core::ports::BlobStore as _;
        // A completion that stored the object and then failed a check is retried.
        if let Some(meta) = self.head(key).await? {
            return Ok(meta);
        }
        let dir = self.upload_dir(key, &at.upload_id).await?;
        let (scratch, objects, dest) = (
            self.scratch.dir().to_owned(),
            self.objects.clone(),
            self.object_path(key)?,
        );
        let (offset, key) = (at.offset, key.to_owned());
        blocking(move || {
            let (file, _) = open_locked(&dir)?;
            truncate_to(&file, offset)?;
            let digest = hash(&file).map_err(|e| io_error("hash an appending upload", e))?;
            let etag = of_object(&digest);
            let kept = write::stamp(&file, &etag, Durability::Rebuildable).map_err(|e| io_error("stamp an etag", e))?;
            file.sync_all().map_err(|e| io_error("fsync an appending upload", e))?;
            // Renamed from where it is: there is no moment the bytes are neither in the
            // upload nor the object. Not removed if the commit fails: the upload keeps them.
            let data = TempPath::kept(dir.join(DATA_FILE));
            write::commit(
                data,
                &scratch,
                &objects,
                &dest,
                &etag,
                kept,
                write::Placement::CreateOnce,
            )
            .map_err(|e| write::commit_error(e, &key))?;
            super::multipart::remove_upload(&dir, &scratch);
            Ok(BlobMeta {
                size: offset,
                sha256: Some(Sha256Hex::from_digest(&digest)),
                etag: ETag::new_unchecked(etag),
            })
        })
        .await
    }
}

/// Copies the first `len` bytes of the upload in `dir` to `dest`, at its position. Blocking.
fn copy_upload(dir: &Path, len: u64, mut dest: &File) -> Result<(), StoreError> {
    if len == 0 {
        return Ok(());
    }
    let source = File::open(dir.join(DATA_FILE)).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => StoreError::NotFound,
        _ => io_error("open a partial upload", e),
    })?;
    // As an append would: one appending to it now is refused rather than copied half-way.
    match source.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(StoreError::Conflict(
                "a request is appending to a partial upload".into(),
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_error("lock a partial upload", e)),
    }
    let copied = io::copy(&mut (&source).take(len), &mut dest).map_err(|e| io_error("join partial uploads", e))?;
    if copied != len {
        return Err(StoreError::Other(anyhow::anyhow!(
            "a partial upload holds {copied} bytes, {len} were recorded"
        )));
    }
    Ok(())
}

/// The SHA-256 of all of `file`. Blocking.
fn hash(mut file: &File) -> io::Result<super::etag::Digest> {
    let mut hasher = Hasher::default();
    let mut buf = vec![0; 1024 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
