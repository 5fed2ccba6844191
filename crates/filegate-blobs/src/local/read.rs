//! Streaming an object out: positioned reads on the blocking pool, a few chunks ahead of
//! whoever consumes the stream (the socket of a download, the hasher of the pipeline).
//!
//! Each chunk is its own blocking task (`pread` at its offset), so a slow client holds no
//! thread while it drains what was read; and up to [`READ_AHEAD`] chunks are in flight, so
//! the disk (or page cache) and the consumer work at the same time instead of taking turns.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use filegate_core::StoreError;
use filegate_core::domain::ByteRange;
use filegate_core::ports::ByteStream;
use futures::StreamExt as _;
use rustix::buffer::spare_capacity;

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
            let n = usize::try_from(READ_CHUNK.min(end - offset));
            let chunk = n.map(|n| (Vec::with_capacity(n), n));
            tokio::task::spawn_blocking(move || {
                let (chunk, n) = chunk.map_err(io::Error::other)?;
                fill_at(&file, offset, chunk, n)
            })
        })
        .buffered(READ_AHEAD)
        .map(|joined| joined.unwrap_or_else(|e| Err(io::Error::other(e))));
    Box::pin(chunks)
}

fn read_at(file: &File, offset: u64, n: u64) -> io::Result<Bytes> {
    let n = usize::try_from(n).map_err(io::Error::other)?;
    fill_at(file, offset, Vec::with_capacity(n), n)
}

/// Fills `chunk` (allocated with room for `n`) with `n` bytes of `file` from `offset`. The
/// reads go straight into the fresh memory: a zeroed buffer would be written twice, and
/// zeroing it was 14% of a download's samples (glibc hands out reused heap memory for these
/// sizes, which `calloc` must clear). A file that ends first is `UnexpectedEof`.
fn fill_at(file: &File, offset: u64, mut chunk: Vec<u8>, n: usize) -> io::Result<Bytes> {
    while chunk.len() < n {
        let at = offset.saturating_add(chunk.len() as u64);
        match rustix::io::pread(file, spare_capacity(&mut chunk), at) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The allocator may have given more room than asked for, and the read may have used it.
    chunk.truncate(n);
    Ok(Bytes::from(chunk))
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt as _;

    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    async fn collect(stream: ByteStream) -> io::Result<Vec<u8>> {
        let chunks: Vec<Bytes> = stream.try_collect().await?;
        Ok(chunks.concat())
    }

    #[tokio::test]
    async fn whole_objects_and_ranges_across_chunks_come_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object");
        let chunk = READ_CHUNK as usize;
        let bytes = pattern(3 * chunk + 123);
        std::fs::write(&path, &bytes).unwrap();

        let whole = collect(open(path.clone(), None).await.unwrap()).await.unwrap();
        assert!(whole == bytes, "the whole object, byte for byte");
        for (start, end) in [
            (0, 0),
            (chunk - 1, chunk),
            (100, 2 * chunk + 7),
            (bytes.len() - 1, bytes.len() - 1),
        ] {
            let range = ByteRange {
                start: start as u64,
                end: end as u64,
            };
            let got = collect(open(path.clone(), Some(range)).await.unwrap()).await.unwrap();
            assert!(got == bytes[start..=end], "range {start}-{end}");
        }
    }

    #[tokio::test]
    async fn an_object_cut_short_behind_our_back_ends_in_an_error_not_short_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object");
        std::fs::write(&path, pattern(3 * READ_CHUNK as usize)).unwrap();
        let stream = open(path.clone(), None).await.unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(READ_CHUNK + 10)
            .unwrap();
        let err = collect(stream).await.expect_err("a short object is an error");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
