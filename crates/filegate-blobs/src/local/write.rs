//! Streaming a body into a temp file, and committing a finished temp file as an object.
//!
//! An object becomes visible only by `rename`, after its bytes and its etag are on disk; the directory is fsynced after, so the rename itself survives a power cut.
//! Bytes that arrive through a signed URL are placed [`Placement::CreateOnce`]: the rename
//! refuses to replace an object already there, so the bytes `complete` verified stay the
//! bytes served, however long another request to the same URL took.

use std::fs::{self, File};
use std::io::{self, IoSlice, Write as _};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use filegate_core::StoreError;
use filegate_core::ports::ByteStream;
use futures::StreamExt as _;
use tokio::task::JoinHandle;

use super::etag::{Digest, Hasher};
use super::etag_xattr;
use super::sidecar::{Durability, Sidecar};

/// Bytes gathered before each hand-off to the blocking pool (one `writev` each): few round
/// trips and system calls, flat memory.
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

    /// A file that stays if the commit it is handed to fails (an appending upload's data).
    pub(crate) fn kept(path: PathBuf) -> Self {
        Self { path, armed: false }
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

/// A fully received body: written to the temp file, not yet fsynced.
pub(crate) struct Received {
    pub temp: TempPath,
    pub file: File,
    pub size: u64,
    /// What the bytes hash to (see `etag.rs`).
    pub digest: Digest,
}

/// Streams `body` into a new temp file in `dir`, hashing it on the way.
///
/// The body is gathered here in batches of [`WRITE_BUFFER`] bytes; each batch is hashed
/// and written on the blocking pool while the next one arrives, so receiving from the
/// socket, hashing and writing overlap instead of taking turns. No thread waits on the
/// client: a slow upload holds blocking threads only while one of its batches is being
/// hashed and written. At most two batches are in memory.
///
/// `TooLarge` as soon as one byte past the limit arrives (the rest is never read); `Input`
/// when the stream errors or, with `exact`, ends early. The temp file goes with the error.
///
/// `then` (blocking: the fsync and rename that store it, typically) runs on the received
/// body on the blocking pool, in the same trip as its last batch when the body fit in one:
/// a small upload, what a busy control plane mostly sees, is created, written, hashed and
/// stored in one trip instead of two, each a pair of thread switches.
pub(crate) async fn receive_then<T, F>(
    dir: &Path,
    mut body: ByteStream,
    limits: Limits,
    then: F,
) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(Received) -> Result<T, StoreError> + Send + 'static,
{
    let limit = limits.exact.map_or(limits.max, |exact| exact.min(limits.max));
    let temp = TempPath::new_in(dir, "tmp");
    // Created with the first full batch: a body that fits in one batch is created, written,
    // hashed and handed to `then` in one trip to the blocking pool.
    let mut writer: Option<Writing> = None;
    let mut batch = Batch::default();
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StoreError::Input(format!("the body broke off: {e}")))?;
        size = size.saturating_add(chunk.len() as u64);
        if size > limit {
            return Err(StoreError::TooLarge(limit));
        }
        batch.push(chunk);
        if batch.len >= WRITE_BUFFER {
            let started = match writer.take() {
                Some(writing) => writing,
                None => {
                    let path = temp.path().to_owned();
                    Writing::new(blocking(move || Sink::create(&path)).await?)
                }
            };
            writer = Some(started.write(std::mem::take(&mut batch)).await?);
        }
    }
    if let Some(exact) = limits.exact
        && size != exact
    {
        return Err(StoreError::Input(format!(
            "the body ended early: expected {exact} bytes, got {size}"
        )));
    }
    match writer {
        Some(writing) => {
            let (file, digest) = writing.write(batch).await?.finish().await?;
            let received = Received {
                temp,
                file,
                size,
                digest,
            };
            blocking(move || then(received)).await
        }
        None => {
            blocking(move || {
                let sink = Sink::create(temp.path())?.append(&batch.chunks)?;
                let mut hasher = Hasher::default();
                batch.chunks.iter().for_each(|chunk| hasher.update(chunk));
                then(Received {
                    temp,
                    file: sink.file,
                    size,
                    digest: hasher.finish(),
                })
            })
            .await
        }
    }
}

/// Received chunks waiting to be written together.
#[derive(Default)]
struct Batch {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Batch {
    /// Empty chunks (a form parser yields some) are left out: a `writev` of nothing but
    /// empty slices writes zero bytes, which must mean a full disk, not an empty chunk.
    fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len();
        self.chunks.push(chunk);
    }
}

/// Bytes written between two requests to start writeback (see [`Sink::append`]).
const WRITEBACK_STEP: u64 = 8 * 1024 * 1024;

/// The temp file, how much of it is written, and how much of that is already on its way
/// to the disk.
struct Sink {
    file: File,
    written: u64,
    writeback_from: u64,
}

impl Sink {
    fn create(path: &Path) -> Result<Self, StoreError> {
        let file = super::modes::create_new(path).map_err(|e| io_error("create a temp file", e))?;
        Ok(Self {
            file,
            written: 0,
            writeback_from: 0,
        })
    }

    /// Blocking. The chunks go to the file as they are, in one `writev` where the kernel
    /// takes them all: no copy into a buffer of ours, and no big allocation on the blocking
    /// pool's threads (each would keep its own malloc arena, and the memory with it).
    ///
    /// Every [`WRITEBACK_STEP`] bytes the kernel is asked to start writing them to disk.
    /// Left to itself it would hold a big upload in the page cache until the final fsync,
    /// which would then wait for all of it; started early, the disk works while the body
    /// still arrives, and the fsync waits only for the tail.
    fn append(mut self, chunks: &[Bytes]) -> Result<Self, StoreError> {
        let mut slices: Vec<IoSlice<'_>> = chunks.iter().map(|c| IoSlice::new(c)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match self.file.write_vectored(rest) {
                Ok(0) => {
                    return Err(io_error("write a temp file", io::ErrorKind::WriteZero.into()));
                }
                Ok(n) => {
                    self.written += n as u64;
                    IoSlice::advance_slices(&mut rest, n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error("write a temp file", e)),
            }
        }
        if self.written - self.writeback_from >= WRITEBACK_STEP {
            start_writeback(&self.file, self.writeback_from, self.written - self.writeback_from);
            self.writeback_from = self.written;
        }
        Ok(self)
    }
}

/// Asks Linux to start writing a range of `file` to disk, without waiting for it.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd as _;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: the descriptor belongs to `file`, open for the whole call; the call takes
    // plain integers and touches no memory of ours.
    let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
    if rc != 0 {
        // Costs speed only: the fsync before the commit makes the bytes durable anyway.
        tracing::debug!(error = %io::Error::last_os_error(), "could not start writeback early");
    }
}

/// Elsewhere the final fsync writes everything.
#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

/// The file and the hash of what it holds so far, in hand or busy with a batch on the
/// blocking pool. A batch is hashed and written by two tasks at once: on two cores the
/// hash (the most expensive part of an upload) no longer waits for the copy into the page
/// cache, nor the copy for the hash. Both read the same chunks; nothing is copied for it.
enum Writing {
    Idle(Sink, Hasher),
    Busy(JoinHandle<Result<Sink, StoreError>>, JoinHandle<Hasher>),
}

impl Writing {
    fn new(sink: Sink) -> Self {
        Self::Idle(sink, Hasher::default())
    }

    /// Waits for the batch in flight, if any, and hands `batch` over.
    async fn write(self, batch: Batch) -> Result<Self, StoreError> {
        let (sink, mut hasher) = self.ready().await?;
        if batch.chunks.is_empty() {
            return Ok(Self::Idle(sink, hasher));
        }
        let chunks = batch.chunks;
        let to_hash = chunks.clone();
        let written = tokio::task::spawn_blocking(move || sink.append(&chunks));
        let hashed = tokio::task::spawn_blocking(move || {
            for chunk in &to_hash {
                hasher.update(chunk);
            }
            hasher
        });
        Ok(Self::Busy(written, hashed))
    }

    async fn ready(self) -> Result<(Sink, Hasher), StoreError> {
        match self {
            Self::Idle(sink, hasher) => Ok((sink, hasher)),
            Self::Busy(written, hashed) => {
                let failed = |e: tokio::task::JoinError| {
                    StoreError::Other(anyhow::anyhow!("local blob store: a write failed: {e}"))
                };
                let (sink, hasher) = futures::future::join(written, hashed).await;
                Ok((sink.map_err(failed)??, hasher.map_err(failed)?))
            }
        }
    }

    /// Everything written (not yet fsynced): the file and the hash of all of it.
    async fn finish(self) -> Result<(File, Digest), StoreError> {
        let (sink, hasher) = self.ready().await?;
        Ok((sink.file, hasher.finish()))
    }
}

/// Where an object's etag is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EtagKept {
    /// On the object's inode (`etag_xattr.rs`): nothing more to write.
    OnInode,
    /// In a sidecar file, written at commit (`sidecar.rs`).
    Sidecar(Durability),
}

/// Stamps `etag` on the temp file when the filesystem allows, before its fsync so that one
/// fsync covers both; otherwise the commit writes a sidecar with `durability`. Blocking.
pub(crate) fn stamp(file: &File, etag: &str, durability: Durability) -> io::Result<EtagKept> {
    Ok(if etag_xattr::set(file, etag)? {
        EtagKept::OnInode
    } else {
        EtagKept::Sidecar(durability)
    })
}

/// Whether a commit may replace an object already stored at its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// filegate's own writes (a proxied upload, a thumbnail, decrypted bytes).
    Replace,
    /// Bytes from outside (a signed URL, an assembled multipart upload): stored once. A
    /// commit that finds an object at its key fails with `AlreadyExists` and changes nothing.
    CreateOnce,
}

/// Makes the fsynced temp file the object at `dest`, with `etag` kept as [`stamp`]
/// decided; `placement` says whether an old object may be replaced. Blocking: run it on
/// the blocking pool, where it finishes even if the caller goes away, so an object and its
/// sidecar are never left half-renamed by a cancel.
pub(crate) fn commit(
    temp: TempPath,
    scratch: &Path,
    objects: &Path,
    dest: &Path,
    etag: &str,
    kept: EtagKept,
    placement: Placement,
) -> io::Result<()> {
    let parent = dest
        .parent()
        .ok_or_else(|| io::Error::other("an object path has a parent"))?;
    create_parents(objects, parent)?;
    let sidecar_temp = match kept {
        EtagKept::OnInode => None,
        EtagKept::Sidecar(durability) => {
            let meta = fs::metadata(temp.path())?;
            let sidecar = Sidecar {
                etag: etag.to_owned(),
                inode: inode(&meta),
                size: meta.len(),
            };
            Some(sidecar.write_temp(scratch, durability)?)
        }
    };
    match placement {
        Placement::Replace => {
            // Sidecar first: a brand-new object then never exists without its etag. When an
            // old object is replaced, a crash between the renames leaves a sidecar naming the
            // wrong inode, which `Sidecar::etag_of` notices.
            if let Some(sidecar_temp) = sidecar_temp {
                fs::rename(sidecar_temp.path(), Sidecar::path_for(dest))?;
                sidecar_temp.disarm();
            }
            fs::rename(temp.path(), dest)?;
        }
        Placement::CreateOnce => {
            // The object first, and only if its name is free: a refused commit must not
            // touch the sidecar of the object that is there. A reader between the two
            // renames finds no sidecar and rebuilds the same etag from the bytes.
            rename_new(temp.path(), dest)?;
            if let Some(sidecar_temp) = sidecar_temp {
                fs::rename(sidecar_temp.path(), Sidecar::path_for(dest))?;
                sidecar_temp.disarm();
            }
        }
    }
    temp.disarm();
    super::dir_sync::after_rename(parent)
}

/// Renames `from` to `to` only if no file is at `to` (`AlreadyExists` otherwise), in one
/// atomic step: two writers racing for one name cannot both win.
fn rename_new(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            // A filesystem without the flag: fall back to a hard link below.
            Err(e) if e == Errno::INVAL || e == Errno::NOSYS || e == Errno::NOTSUP => {}
            Err(e) => return Err(e.into()),
        }
    }
    // A link is only made to a free name, atomically; the temp name then goes.
    fs::hard_link(from, to)?;
    fs::remove_file(from)
}

/// `create_dir_all`, plus an fsync of each directory that gained an entry, so the new
/// directories survive a power cut along with the object in them.
fn create_parents(objects: &Path, parent: &Path) -> io::Result<()> {
    if parent.is_dir() {
        return Ok(());
    }
    super::modes::create_dir_all(parent)?;
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

/// A failed commit: `Conflict` when [`Placement::CreateOnce`] found an object in place.
pub(crate) fn commit_error(e: io::Error, key: &str) -> StoreError {
    if e.kind() == io::ErrorKind::AlreadyExists {
        StoreError::Conflict(format!("an object is already stored at {key}"))
    } else {
        io_error("commit an object", e)
    }
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
