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
