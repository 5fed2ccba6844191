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

/// Writes `size` bytes to `path` (reusing it when it is already that size): one random
/// 16 MiB block, repeated. Quick for gigabytes, and nothing on the way compresses it.
pub fn write_pattern(path: &Path, size: u64) -> anyhow::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    let block_len = (16u64 << 20).min(size.max(1)) as usize;
    let mut block = vec![0u8; block_len];
    let mut seed = Sha256::digest(b"filegate-bench pattern");
    for chunk in block.chunks_mut(32) {
        seed = Sha256::digest(seed);
        chunk.copy_from_slice(&seed[..chunk.len()]);
    }
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

/// Copies `from` to `to` (1 MiB at a time) and fsyncs it: writing the same bytes to the
/// same disk, durably, as fast as a program can. Returns the seconds it took.
pub fn copy_fsync(from: &Path, to: &Path) -> anyhow::Result<f64> {
    let started = std::time::Instant::now();
    let mut input = std::fs::File::open(from)?;
    let mut output = std::fs::File::create(to)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut input, &mut buf)?;
        if n == 0 {
            break;
        }
        output.write_all(&buf[..n])?;
    }
    output.sync_all()?;
    // The directory entry too, as filegate's commit does.
    if let Some(parent) = to.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(started.elapsed().as_secs_f64())
}
