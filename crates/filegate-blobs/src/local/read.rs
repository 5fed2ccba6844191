//! Streaming an object out: positioned reads on the blocking pool, a few chunks ahead of
//! whoever consumes the stream (the socket of a download, the hasher of the pipeline).
//!
//! Each chunk is its own blocking task (`pread` at its offset), so a slow client holds no
//! thread while it drains what was read; and up to [`READ_AHEAD`] chunks are in flight, so
//! the disk (or page cache) and the consumer work at the same time instead of taking turns.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use filegate_core::StoreError;
use filegate_core::domain::ByteRange;
use filegate_core::ports::ByteStream;
use futures::StreamExt as _;

use super::write::{blocking, io_error};

/// Bytes per read: large enough that the per-chunk hand-offs cost little next to the copy.
const READ_CHUNK: u64 = 256 * 1024;
/// Chunks read ahead of the consumer; with the one being consumed, the most a stream holds.
const READ_AHEAD: usize = 2;

/// The object at `path`, or the `range` of it. `NotFound` when there is none; `Input` for
/// a range outside it. An object that fits in one chunk is read right away, in the same
/// trip to the blocking pool as the open (most objects are small).
pub(crate) async fn open(path: PathBuf, range: Option<ByteRange>) -> Result<ByteStream, StoreError> {
    let opened = blocking(move || {
        // The open handle keeps reading this version even if the key is replaced meanwhile.
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(io_error("open an object", e)),
        };
        let meta = file.metadata().map_err(|e| io_error("stat an object", e))?;
        if !meta.is_file() {
            return Err(StoreError::NotFound);
        }
        let size = meta.len();
        let (start, len) = match range {
            None => (0, size),
            Some(r) if r.start <= r.end && r.end < size => (r.start, r.len()),
            Some(r) => {
                return Err(StoreError::Input(format!(
                    "range {}-{} is outside the object's {size} bytes",
                    r.start, r.end
                )));
            }
        };
        if len <= READ_CHUNK {
            let bytes = read_at(&file, start, len).map_err(|e| io_error("read an object", e))?;
            return Ok(Opened::Read(bytes));
        }
        Ok(Opened::Big { file, start, len })
    })
    .await?;
    Ok(match opened {
        Opened::Read(bytes) if bytes.is_empty() => Box::pin(futures::stream::empty()),
        Opened::Read(bytes) => Box::pin(futures::stream::once(async move { Ok(bytes) })),
        Opened::Big { file, start, len } => stream(file, start, len),
    })
}

enum Opened {
    /// All the bytes asked for.
    Read(Bytes),
    /// More than a chunk: streamed.
    Big { file: File, start: u64, len: u64 },
}

/// The `len` bytes of `file` from `start`, in order. A file that turns out shorter than
/// that (truncated behind our back) ends the stream with an error, never with short data
/// passed off as complete.
fn stream(file: File, start: u64, len: u64) -> ByteStream {
    let file = Arc::new(file);
    let end = start.saturating_add(len);
    let offsets = (start..end).step_by(usize::try_from(READ_CHUNK).unwrap_or(usize::MAX));
    let chunks = futures::stream::iter(offsets)
        .map(move |offset| {
            let file = Arc::clone(&file);
            // Allocated here, on the runtime's threads, and filled on the blocking pool:
            // a buffer allocated by a blocking thread stays in that thread's malloc arena,
            // and with many such threads the process's memory grows with no reason.
            let chunk = usize::try_from(READ_CHUNK.min(end - offset)).map(|n| vec![0; n]);
            tokio::task::spawn_blocking(move || fill_at(&file, offset, chunk.map_err(io::Error::other)?))
        })
        .buffered(READ_AHEAD)
        .map(|joined| joined.unwrap_or_else(|e| Err(io::Error::other(e))));
    Box::pin(chunks)
}

fn read_at(file: &File, offset: u64, n: u64) -> io::Result<Bytes> {
    let n = usize::try_from(n).map_err(io::Error::other)?;
    fill_at(file, offset, vec![0; n])
}

fn fill_at(file: &File, offset: u64, mut chunk: Vec<u8>) -> io::Result<Bytes> {
    file.read_exact_at(&mut chunk, offset)?;
    Ok(Bytes::from(chunk))
}
