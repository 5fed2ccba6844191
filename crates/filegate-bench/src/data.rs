//! Test data: random bytes (so nothing compresses or dedups by accident), written to disk.

use std::io::Write as _;
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// Writes `size` pseudo-random bytes to `path` and returns them (for in-memory baselines).
pub fn write_random(path: &Path, size: usize) -> anyhow::Result<Vec<u8>> {
    let mut data = vec![0u8; size];
    // A hash chain is random enough for storage and cheap enough for gigabytes.
    let mut block = Sha256::digest(path.display().to_string().as_bytes());
    for chunk in data.chunks_mut(32) {
        block = Sha256::digest(block);
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
    let mut file = std::fs::File::create(path)?;
    file.write_all(&data)?;
    file.sync_all()?;
    Ok(data)
}

/// `size` bytes made on the fly: one random 16 MiB block, repeated, in 64 KiB chunks that
/// share its memory. Gigabytes to send without a file to read them from (the disk holds
/// only what the server under test writes) and without anything on the way compressing them.
#[derive(Clone)]
pub struct Pattern {
    block: bytes::Bytes,
}

impl Pattern {
    const CHUNK: usize = 64 * 1024;

    pub fn new() -> Self {
        let mut block = vec![0u8; 16 << 20];
        let mut seed = Sha256::digest(b"filegate-bench pattern");
        for chunk in block.chunks_mut(32) {
            seed = Sha256::digest(seed);
            chunk.copy_from_slice(&seed[..chunk.len()]);
        }
        Self { block: block.into() }
    }

    /// The chunks of `size` bytes.
    pub fn chunks(&self, size: u64) -> impl Iterator<Item = bytes::Bytes> + Send + 'static {
        let block = self.block.clone();
        let mut at = 0u64;
        std::iter::from_fn(move || {
            if at >= size {
                return None;
            }
            let offset = (at % block.len() as u64) as usize;
            let n = (size - at).min((block.len() - offset).min(Self::CHUNK) as u64) as usize;
            at += n as u64;
            Some(block.slice(offset..offset + n))
        })
    }

    /// A request body of `size` bytes.
    pub fn body(&self, size: u64) -> reqwest::Body {
        reqwest::Body::wrap_stream(futures::stream::iter(self.chunks(size).map(Ok::<_, std::io::Error>)))
    }

    /// Writes `size` bytes of the pattern to `to` (1 MiB at a time) and fsyncs it and its
    /// directory: the same bytes to the same disk, durably, as fast as a program can.
    /// Returns the seconds it took.
    pub fn write_fsync(&self, to: &Path, size: u64) -> anyhow::Result<f64> {
        let started = std::time::Instant::now();
        let mut output = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(to)?);
        for chunk in self.chunks(size) {
            output.write_all(&chunk)?;
        }
        let output = output.into_inner().map_err(|e| e.into_error())?;
        output.sync_all()?;
        if let Some(parent) = to.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok(started.elapsed().as_secs_f64())
    }
}
