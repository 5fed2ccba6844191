//! What watches bytes as they flow through a transfer: progress reports, a bandwidth
//! limit, and a running SHA-256. Each is optional; a [`Taps`] carries the ones in use.

use std::{
    io,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::{io::AsyncReadExt, time::Instant};

/// Told about bytes as they are sent or received, e.g. to draw a progress bar.
pub trait Progress: Send + Sync {
    /// How many bytes the transfer will move in all, once that is known (an encrypted
    /// upload sends more than the file's size).
    fn total(&self, _bytes: u64) {}
    /// `bytes` more were transferred (or found already transferred, when resuming).
    fn advance(&self, bytes: u64);
}

/// A shared bandwidth limit (`--bwlimit`): every transfer that holds it together stays
/// under `bytes_per_sec`.
#[derive(Debug)]
pub struct RateLimit {
    bytes_per_sec: u64,
    /// When counting started, and the bytes let through since.
    window: Mutex<(Instant, u64)>,
}

/// How far behind schedule a limit may fall before it stops granting a catch-up burst.
const MAX_CREDIT: Duration = Duration::from_secs(1);

impl RateLimit {
    /// A limit of `bytes_per_sec` (at least 1).
    pub fn new(bytes_per_sec: u64) -> RateLimit {
        RateLimit {
            bytes_per_sec: bytes_per_sec.max(1),
            window: Mutex::new((Instant::now(), 0)),
        }
    }

    pub fn bytes_per_sec(&self) -> u64 {
        self.bytes_per_sec
    }

    /// Waits until `bytes` more may pass.
    pub async fn take(&self, bytes: u64) {
        let due = {
            let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let (start, sent) = *window;
            let due = start + Duration::from_secs_f64(sent as f64 / self.bytes_per_sec as f64);
            // After an idle spell, start a new window rather than allowing a long burst.
            if due + MAX_CREDIT < now {
                *window = (now, 0);
            }
            window.1 += bytes;
            window.0 + Duration::from_secs_f64(window.1 as f64 / self.bytes_per_sec as f64)
        };
        tokio::time::sleep_until(due).await;
    }
}

/// A running SHA-256 shared between the stream that feeds it and the code that reads it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedSha256(Arc<Mutex<Sha256>>);

impl SharedSha256 {
    pub(crate) fn update(&self, bytes: &[u8]) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).update(bytes);
    }

    /// The hex digest of everything fed so far.
    pub(crate) fn hex(&self) -> String {
        hex::encode(self.0.lock().unwrap_or_else(|e| e.into_inner()).clone().finalize())
    }
}

/// The taps of one transfer. Cheap to clone: clones share the same progress, limit and hash.
#[derive(Clone, Default)]
pub struct Taps {
    pub(crate) progress: Option<Arc<dyn Progress>>,
    pub(crate) limit: Option<Arc<RateLimit>>,
    pub(crate) sha256: Option<SharedSha256>,
}

impl std::fmt::Debug for Taps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Taps")
            .field("progress", &self.progress.is_some())
            .field("limit", &self.limit)
            .field("sha256", &self.sha256.is_some())
            .finish()
    }
}

impl Taps {
    /// These taps, reporting to `progress`.
    pub fn with_progress(self, progress: Arc<dyn Progress>) -> Taps {
        Taps {
            progress: Some(progress),
            ..self
        }
    }

    /// These taps, under `limit` (shared with whatever else holds it).
    pub fn with_limit(self, limit: Arc<RateLimit>) -> Taps {
        Taps {
            limit: Some(limit),
            ..self
        }
    }

    pub(crate) fn with_sha256(&self, sha256: SharedSha256) -> Taps {
        Taps {
            sha256: Some(sha256),
            ..self.clone()
        }
    }

    pub(crate) fn without_sha256(&self) -> Taps {
        Taps {
            sha256: None,
            ..self.clone()
        }
    }

    /// Lets a chunk through: waits for the limit, then hashes and reports it.
    pub(crate) async fn pass(&self, chunk: &[u8]) {
        if let Some(limit) = &self.limit {
            limit.take(chunk.len() as u64).await;
        }
        if let Some(sha) = &self.sha256 {
            sha.update(chunk);
        }
        if let Some(progress) = &self.progress {
            progress.advance(chunk.len() as u64);
        }
    }

    /// `stream` with every chunk passed through these taps, in order.
    pub(crate) fn tap<S>(self, stream: S) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        stream.then(move |chunk| {
            let taps = self.clone();
            async move {
                if let Ok(bytes) = &chunk {
                    taps.pass(bytes).await;
                }
                chunk
            }
        })
    }
}

/// The buffer of file reads.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// The SHA-256 of a file (hex), read front to back in bounded chunks.
pub(crate) async fn sha256_of_file(path: &Path) -> io::Result<String> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; READ_CHUNK * 4];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
    }
    Ok(hex::encode(sha.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Count(AtomicU64);
    impl Progress for Count {
        fn advance(&self, bytes: u64) {
            self.0.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    #[tokio::test]
    async fn a_tapped_stream_is_hashed_and_counted_in_order() {
        let sha = SharedSha256::default();
        let count = Arc::new(Count(AtomicU64::new(0)));
        let taps = Taps::default().with_progress(count.clone()).with_sha256(sha.clone());
        let chunks = ["hello ", "world"].map(|s| Ok(Bytes::from_static(s.as_bytes())));
        let out: Vec<_> = taps.tap(futures::stream::iter(chunks)).collect().await;
        assert_eq!(out.len(), 2);
        assert_eq!(count.0.load(Ordering::Relaxed), 11);
        assert_eq!(sha.hex(), hex::encode(Sha256::digest(b"hello world")));
    }

    #[tokio::test]
    async fn a_rate_limit_spaces_out_the_bytes() {
        let limit = RateLimit::new(100_000);
        let start = Instant::now();
        limit.take(5_000).await;
        limit.take(15_000).await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(199), "{waited:?}");
    }

    #[tokio::test]
    async fn a_file_hash_matches_the_digest_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        assert_eq!(sha256_of_file(&path).await.unwrap(), hex::encode(Sha256::digest(&data)));
    }
}
