//! Multipart uploads: parts arrive separately (in any order, retried at will), then are
//! assembled into the object.
//!
//! ```text
//! root/multipart/<upload id>/key     the key the upload belongs to
//! root/multipart/<upload id>/00042   part 42: its bytes, then their 32-byte SHA-256
//! ```
//!
//! The digest travels inside the part file, so a part and its etag are replaced together by one
//! rename: a retried part never pairs new bytes with an old etag. Removing an upload first
//! renames its directory into the scratch area, so a part still streaming in finds its
//! upload gone instead of recreating it.

use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use filegate_core::StoreError;
use filegate_core::domain::ETag;
use filegate_core::ports::{BlobMeta, ByteStream};

use super::LocalBlobStore;
use super::etag::{DIGEST_LEN, Digest, of_object as etag_of, of_parts as etag_of_parts};
use super::modes;
use super::sidecar::Durability;
use super::write::{self, Limits, TempPath, blocking, fsync_dir, io_error};
use crate::key;

/// S3's limit, kept so a client written for either store works with both.
pub(crate) const MAX_PARTS: u32 = 10_000;
const KEY_FILE: &str = "key";

pub(crate) fn check_part_number(part: u32) -> Result<(), StoreError> {
    if (1..=MAX_PARTS).contains(&part) {
        Ok(())
    } else {
        Err(StoreError::Input(format!(
            "part numbers run from 1 to {MAX_PARTS}, got {part}"
        )))
    }
}

fn part_name(part: u32) -> String {
    format!("{part:05}")
}

fn not_found_is(e: io::Error, what: StoreError, doing: &'static str) -> StoreError {
    if e.kind() == io::ErrorKind::NotFound {
        what
    } else {
        io_error(doing, e)
    }
}

impl LocalBlobStore {
    pub(super) async fn create_upload(&self, key: &str) -> Result<String, StoreError> {
        self.object_path(key)?;
        let id = key::new_upload_id();
        let (scratch, dest, key) = (self.scratch.dir().to_owned(), self.multipart.join(&id), key.to_owned());
        blocking(move || {
            // Built aside and renamed in, so an upload directory always has its key file.
            let building = scratch.join(format!("{}.upload", uuid::Uuid::new_v4().simple()));
            let made = (|| {
                modes::create_dir(&building)?;
                let mut file = modes::create_new(&building.join(KEY_FILE))?;
                io::Write::write_all(&mut file, key.as_bytes())?;
                file.sync_all()?;
                fs::rename(&building, &dest)?;
                fsync_dir(dest.parent().unwrap_or(&dest))
            })();
            if made.is_err() {
                let _ = fs::remove_dir_all(&building);
            }
            made.map_err(|e| io_error("create a multipart upload", e))
        })
        .await?;
        Ok(id)
    }

    /// The directory of `upload_id`, if it exists and belongs to `key`; `NotFound` otherwise.
    pub(super) async fn upload_dir(&self, key: &str, upload_id: &str) -> Result<PathBuf, StoreError> {
        self.object_path(key)?;
        key::validate_upload_id(upload_id).map_err(|e| StoreError::Input(e.to_string()))?;
        let dir = self.multipart.join(upload_id);
        let owner = tokio::fs::read(dir.join(KEY_FILE))
            .await
            .map_err(|e| not_found_is(e, StoreError::NotFound, "read a multipart upload"))?;
        if owner != key.as_bytes() {
            return Err(StoreError::NotFound);
        }
        Ok(dir)
    }

    /// Stores part `part` (1 to 10 000) of `upload_id`, replacing an earlier try of the same
    /// part; returns its etag (the hex SHA-256 of its bytes). `TooLarge` past `max_part_size`,
    /// `Input` when the body breaks, `NotFound` when the upload does not exist for `key`
    /// (or is completed or aborted while the part streams in).
    pub async fn put_part(
        &self,
        key: &str,
        upload_id: &str,
        part: u32,
        body: ByteStream,
        max_part_size: u64,
    ) -> Result<ETag, StoreError> {
        let dir = self.upload_dir(key, upload_id).await?;
        check_part_number(part)?;
        let limits = Limits {
            max: max_part_size,
            exact: None,
        };
        write::receive_then(self.scratch.dir(), body, limits, move |received| {
            let (temp, mut file, digest) = (received.temp, received.file, received.digest);
            file.write_all(&digest)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error("write a part", e))?;
            drop(file);
            fs::rename(temp.path(), dir.join(part_name(part)))
                .map_err(|e| not_found_is(e, StoreError::NotFound, "store a part"))?;
            temp.disarm();
            fsync_dir(&dir).map_err(|e| io_error("store a part", e))?;
            Ok(ETag::new_unchecked(etag_of(&digest)))
        })
        .await
    }

    pub(super) async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, ETag)],
    ) -> Result<BlobMeta, StoreError> {
        let dir = self.upload_dir(key, upload_id).await?;
        check_order(parts)?;
        let parts: Vec<(u32, String)> = parts.iter().map(|(n, e)| (*n, e.as_str().to_owned())).collect();
        let scratch = self.scratch.dir().to_owned();
        let objects = self.objects.clone();
        let (dest, key) = (self.object_path(key)?, key.to_owned());
        // On the blocking pool, copying with the kernel's help (`copy_file_range`); once
        // started it runs to the end even if the caller goes away.
        blocking(move || {
            let assembled = assemble(&dir, &parts, &scratch)?;
            let etag = assembled.etag.clone();
            // Once: of two completions racing, the second must not replace what the first
            // stored (and its caller may already have verified).
            let placement = write::Placement::CreateOnce;
            write::commit(
                assembled.temp,
                &scratch,
                &objects,
                &dest,
                &etag,
                assembled.kept,
                placement,
            )
            .map_err(|e| write::commit_error(e, &key))?;
            remove_upload(&dir, &scratch);
            Ok(BlobMeta {
                size: assembled.size,
                // Assembled with the kernel's copy, never hashed whole.
                sha256: None,
                etag: ETag::new_unchecked(etag),
            })
        })
        .await
    }

    pub(super) async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        let dir = match self.upload_dir(key, upload_id).await {
            Ok(dir) => dir,
            // Already gone (or never was): aborting is idempotent.
            Err(StoreError::NotFound) if !self.multipart.join(upload_id).exists() => return Ok(()),
            Err(e) => return Err(e),
        };
        let scratch = self.scratch.dir().to_owned();
        blocking(move || {
            remove_upload(&dir, &scratch);
            Ok(())
        })
        .await
    }
}

/// Parts must be listed by strictly increasing number, each within 1..=10 000.
fn check_order(parts: &[(u32, ETag)]) -> Result<(), StoreError> {
    if parts.is_empty() {
        return Err(StoreError::Input("a multipart upload needs at least one part".into()));
    }
    let mut previous = 0;
    for (n, _) in parts {
        check_part_number(*n)?;
        if *n <= previous {
            return Err(StoreError::Input(
                "parts must be listed in strictly increasing order".into(),
            ));
        }
        previous = *n;
    }
    Ok(())
}

struct Assembled {
    temp: TempPath,
    size: u64,
    etag: String,
    kept: write::EtagKept,
}

/// Opens part `n` and checks it against the etag the client was given for it.
fn open_part(dir: &Path, n: u32, etag: &str) -> Result<(File, u64, Digest), StoreError> {
    let file = File::open(dir.join(part_name(n))).map_err(|e| {
        not_found_is(
            e,
            StoreError::Conflict(format!("part {n} was not uploaded")),
            "open a part",
        )
    })?;
    let len = file.metadata().map_err(|e| io_error("stat a part", e))?.len();
    let data_len = len
        .checked_sub(DIGEST_LEN as u64)
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("part file {n} is shorter than its checksum")))?;
    let mut digest = [0; DIGEST_LEN];
    file.read_exact_at(&mut digest, data_len)
        .map_err(|e| io_error("read a part", e))?;
    if !etag_of(&digest).eq_ignore_ascii_case(etag) {
        return Err(StoreError::Conflict(format!(
            "part {n}: the etag does not match the uploaded part"
        )));
    }
    Ok((file, data_len, digest))
}

/// Concatenates the listed parts into a new fsynced temp file. Every part is checked before
/// any byte is copied, and checked again through the handle it is copied from, so a part
/// replaced in between cannot slip in unchecked.
fn assemble(dir: &Path, parts: &[(u32, String)], scratch: &Path) -> Result<Assembled, StoreError> {
    for (n, etag) in parts {
        open_part(dir, *n, etag)?;
    }
    let temp = TempPath::new_in(scratch, "tmp");
    let mut out = modes::create_new(temp.path()).map_err(|e| io_error("create a temp file", e))?;
    let mut digests = Vec::with_capacity(parts.len());
    let mut size = 0;
    for (n, etag) in parts {
        let (file, data_len, digest) = open_part(dir, *n, etag)?;
        let copied = io::copy(&mut (&file).take(data_len), &mut out).map_err(|e| io_error("assemble parts", e))?;
        if copied != data_len {
            return Err(StoreError::Other(anyhow::anyhow!(
                "part {n} shrank while being assembled"
            )));
        }
        size += data_len;
        digests.push(digest);
    }
    let etag = etag_of_parts(digests.iter());
    // Unlike a plain object's, this etag cannot be rebuilt from the bytes: a sidecar must
    // be fsynced on its own.
    let kept = write::stamp(&out, &etag, Durability::Fsync).map_err(|e| io_error("stamp an etag", e))?;
    out.sync_all().map_err(|e| io_error("fsync an assembled object", e))?;
    Ok(Assembled { temp, size, etag, kept })
}

/// Moves the upload out of sight in one rename, then deletes it. Failing to delete costs
/// only disk space until the next sweep, so it is logged, not returned.
pub(super) fn remove_upload(dir: &Path, scratch: &Path) {
    let grave = scratch.join(format!("{}.dead", uuid::Uuid::new_v4().simple()));
    match fs::rename(dir, &grave) {
        Ok(()) => {
            if let Err(e) = fs::remove_dir_all(&grave) {
                tracing::warn!(path = %grave.display(), error = %e, "could not remove a finished upload");
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %dir.display(), error = %e, "could not remove a finished upload")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etag() -> ETag {
        ETag::new_unchecked("x".into())
    }

    #[test]
    fn part_lists_must_be_strictly_increasing_and_in_range() {
        assert!(check_order(&[(1, etag()), (2, etag()), (7, etag())]).is_ok());
        assert!(check_order(&[(10_000, etag())]).is_ok());
        for bad in [
            vec![],
            vec![(0, etag())],
            vec![(10_001, etag())],
            vec![(2, etag()), (1, etag())],
            vec![(1, etag()), (1, etag())],
        ] {
            assert!(matches!(check_order(&bad), Err(StoreError::Input(_))), "{bad:?}");
        }
    }
}
