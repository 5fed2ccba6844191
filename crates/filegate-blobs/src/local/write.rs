//! Streaming a body into a temp file, and committing a finished temp file as an object.
//!
//! An object becomes visible only by `rename`, after its bytes (and its etag sidecar) are
//! on disk; the directory is fsynced after, so the rename itself survives a power cut.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use filegate_core::StoreError;
use filegate_core::ports::ByteStream;
use futures::StreamExt as _;
use md5::{Digest as _, Md5};
use tokio::io::{AsyncWriteExt as _, BufWriter};

use super::sidecar::Sidecar;

/// Bytes gathered before each write to the file: few blocking-pool round trips, flat memory.
const WRITE_BUFFER: usize = 256 * 1024;

/// A path in the scratch directory that is removed when dropped, unless it was moved away.
/// Dropping the `put` future (a client disconnect) therefore removes its temp file.
#[derive(Debug)]
pub(crate) struct TempPath {
    path: PathBuf,
    armed: bool,
}

impl TempPath {
    pub(crate) fn new_in(dir: &Path, suffix: &str) -> Self {
        let name = format!("{}.{suffix}", uuid::Uuid::new_v4().simple());
        Self {
            path: dir.join(name),
            armed: true,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file was renamed away: nothing left to remove.
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed {
            // Unlinking is quick, and on Unix fine while a handle is still open.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// How much a body may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max: u64,
    /// The body must be exactly this long (a signed upload pins its size).
    pub exact: Option<u64>,
}

/// A fully received body: flushed to the temp file, not yet fsynced.
pub(crate) struct Received {
    pub temp: TempPath,
    pub file: tokio::fs::File,
    pub size: u64,
    pub md5: [u8; 16],
}

/// Streams `body` into a new temp file in `dir`, hashing it on the way.
///
/// `TooLarge` as soon as one byte past the limit arrives (the rest is never read); `Input`
/// when the stream errors or, with `exact`, ends early. The temp file goes with the error.
pub(crate) async fn receive(dir: &Path, mut body: ByteStream, limits: Limits) -> Result<Received, StoreError> {
    let limit = limits.exact.map_or(limits.max, |exact| exact.min(limits.max));
    let temp = TempPath::new_in(dir, "tmp");
    let file = tokio::fs::File::create_new(temp.path())
        .await
        .map_err(|e| io_error("create a temp file", e))?;
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut md5 = Md5::new();
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StoreError::Input(format!("the body broke off: {e}")))?;
        size = size.saturating_add(chunk.len() as u64);
        if size > limit {
            return Err(StoreError::TooLarge(limit));
        }
        md5.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| io_error("write a temp file", e))?;
    }
    if let Some(exact) = limits.exact
        && size != exact
    {
        return Err(StoreError::Input(format!(
            "the body ended early: expected {exact} bytes, got {size}"
        )));
    }
    out.flush().await.map_err(|e| io_error("write a temp file", e))?;
    Ok(Received {
        temp,
        file: out.into_inner(),
        size,
        md5: md5.finalize().into(),
    })
}

/// Makes the fsynced temp file the object at `dest` (replacing any old one), with `etag`
/// in its sidecar. Blocking: run it on the blocking pool, where it finishes even if the
/// caller goes away, so the object and its sidecar are never left half-renamed by a cancel.
pub(crate) fn commit(temp: TempPath, scratch: &Path, objects: &Path, dest: &Path, etag: &str) -> io::Result<()> {
    let meta = fs::metadata(temp.path())?;
    let sidecar = Sidecar {
        etag: etag.to_owned(),
        inode: inode(&meta),
        size: meta.len(),
    };
    let sidecar_temp = sidecar.write_temp(scratch)?;
    let parent = dest
        .parent()
        .ok_or_else(|| io::Error::other("an object path has a parent"))?;
    create_parents(objects, parent)?;
    // Sidecar first: a brand-new object then never exists without its etag. When an old
    // object is replaced, a crash between the renames leaves a sidecar naming the wrong
    // inode, which `Sidecar::etag_of` notices.
    fs::rename(sidecar_temp.path(), Sidecar::path_for(dest))?;
    sidecar_temp.disarm();
    fs::rename(temp.path(), dest)?;
    temp.disarm();
    fsync_dir(parent)
}

/// `create_dir_all`, plus an fsync of each directory that gained an entry, so the new
/// directories survive a power cut along with the object in them.
fn create_parents(objects: &Path, parent: &Path) -> io::Result<()> {
    if parent.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(parent)?;
    let mut dir = parent;
    while dir != objects
        && let Some(up) = dir.parent()
    {
        fsync_dir(up)?;
        dir = up;
    }
    Ok(())
}

pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(unix)]
pub(crate) fn inode(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

/// Without inodes, a stale sidecar after a crashed overwrite is only caught by its size.
#[cfg(not(unix))]
pub(crate) fn inode(_meta: &fs::Metadata) -> u64 {
    0
}

/// Storage failures: a full or read-only disk is `Unavailable` (retry later), the rest is a
/// plain engine error with what we were doing.
pub(crate) fn io_error(doing: &'static str, e: io::Error) -> StoreError {
    use io::ErrorKind::*;
    let unavailable = matches!(e.kind(), StorageFull | ReadOnlyFilesystem | QuotaExceeded);
    let err = anyhow::Error::new(e).context(format!("local blob store: {doing}"));
    if unavailable {
        StoreError::Unavailable(err)
    } else {
        StoreError::Other(err)
    }
}

/// Runs blocking filesystem work on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("local blob store: a blocking task failed: {e}")))?
}
