//! age encryption while uploading (`"encryption": "age"`): a local file is encrypted with
//! the exchange passphrase (age passphrase mode, what `age -p` writes, binary) on a
//! blocking thread, and the ciphertext flows to the upload through a bounded channel.
//!
//! The upload must declare its size before the first byte is sent. age's size is exact:
//! the header (written before any plaintext is read), a 16-byte nonce, then the plaintext
//! in 64 KiB chunks with a 16-byte tag each (one empty chunk for an empty file), so the
//! size is known as soon as the header is. The ciphertext differs on every run (fresh
//! file key and salt), so an interrupted encrypted upload cannot resume: it starts over.

use std::{
    io::{self, Read, Write},
    iter,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use age::secrecy::SecretString;
use bytes::{Bytes, BytesMut};
use futures::stream;
use reqwest::Body;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::{Error, Payload, Result, taps::Taps};

/// The scrypt work factor (log2 N) `age -p` writes, and the most the server accepts by
/// default (`exchange.max_scrypt_work_factor`).
pub const DEFAULT_WORK_FACTOR: u8 = 18;

/// age STREAM: plaintext chunk size and per-chunk tag.
const STREAM_CHUNK: u64 = 64 * 1024;
const STREAM_TAG: u64 = 16;

/// Ciphertext chunks waiting for the upload (each about 64 KiB).
const CHANNEL_CHUNKS: usize = 8;

/// How to encrypt: the exchange passphrase (`GET /v1/exchange/passphrase`) and scrypt's
/// work factor.
#[derive(Clone)]
pub struct AgeEncryption {
    passphrase: SecretString,
    work_factor: u8,
}

impl std::fmt::Debug for AgeEncryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgeEncryption")
            .field("passphrase", &"[redacted]")
            .field("work_factor", &self.work_factor)
            .finish()
    }
}

impl AgeEncryption {
    pub fn new(passphrase: impl Into<String>) -> AgeEncryption {
        AgeEncryption {
            passphrase: SecretString::from(passphrase.into()),
            work_factor: DEFAULT_WORK_FACTOR,
        }
    }

    /// scrypt's work factor, 1 to 30 (the server refuses more than its
    /// `exchange.max_scrypt_work_factor`, 18 by default).
    pub fn with_work_factor(mut self, log_n: u8) -> Result<AgeEncryption> {
        if !(1..=30).contains(&log_n) {
            return Err(Error::Invalid(format!(
                "scrypt work factor {log_n} is not within 1..=30"
            )));
        }
        self.work_factor = log_n;
        Ok(self)
    }
}

/// The size of an age file whose header and nonce take `prefix` bytes.
pub(crate) fn ciphertext_len(prefix: u64, plain: u64) -> u64 {
    let chunks = plain.div_ceil(STREAM_CHUNK).max(1);
    prefix + plain + chunks * STREAM_TAG
}

/// What the encrypting thread reports at the end: both digests (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Digests {
    pub plaintext: String,
    pub ciphertext: String,
}

/// A file being encrypted: its ciphertext's size, and the ciphertext itself, read in
/// order by [`Encrypting::next_part`].
pub(crate) struct Encrypting {
    pub size: u64,
    chunks: Arc<Mutex<Chunks>>,
    done: tokio::task::JoinHandle<io::Result<Digests>>,
}

struct Chunks {
    rx: mpsc::Receiver<Bytes>,
    leftover: Bytes,
}

impl Encrypting {
    /// Starts encrypting `path` (expected to hold `plain_len` bytes): returns once the
    /// header is written (scrypt has run) and the size is known.
    pub(crate) async fn start(path: &Path, plain_len: u64, encryption: &AgeEncryption) -> Result<Encrypting> {
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let (prefix_tx, prefix_rx) = oneshot::channel();
        let path = path.to_owned();
        let encryption = encryption.clone();
        let done = tokio::task::spawn_blocking(move || encrypt_file(&path, plain_len, &encryption, tx, prefix_tx));
        match prefix_rx.await {
            Ok(prefix) => Ok(Encrypting {
                size: ciphertext_len(prefix, plain_len),
                chunks: Arc::new(Mutex::new(Chunks {
                    rx,
                    leftover: Bytes::new(),
                })),
                done,
            }),
            // The thread failed before the header: its error says why.
            Err(_) => Err(match done.await {
                Ok(Err(e)) => Error::Io(e),
                Ok(Ok(_)) => Error::Io(io::Error::other("encryption ended before its header")),
                Err(e) => Error::Io(io::Error::other(format!("encryption thread: {e}"))),
            }),
        }
    }

    /// The next `len` bytes of ciphertext as a request body, passed through `taps`.
    /// Parts must be sent one after the other, in order.
    pub(crate) fn next_part(&self, len: u64, taps: Taps) -> Payload {
        let chunks = self.chunks.clone();
        let body = stream::try_unfold((chunks, len), |(chunks, remaining)| async move {
            if remaining == 0 {
                return Ok(None);
            }
            let mut guard = chunks.lock().await;
            if guard.leftover.is_empty() {
                match guard.rx.recv().await {
                    Some(chunk) => guard.leftover = chunk,
                    None => return Err(io::Error::other("encryption stopped before the end of the file")),
                }
            }
            let take = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(guard.leftover.len());
            let chunk = guard.leftover.split_to(take);
            drop(guard);
            Ok(Some((chunk, (chunks, remaining - take as u64))))
        });
        Payload::sized(Body::wrap_stream(taps.tap(body)), len)
    }

    /// Waits for the thread to finish: the digests of plaintext and ciphertext.
    pub(crate) async fn finish(self) -> Result<Digests> {
        // Unblock the thread if the upload stopped reading early.
        drop(self.chunks);
        match self.done.await {
            Ok(result) => result.map_err(Error::Io),
            Err(e) => Err(Error::Io(io::Error::other(format!("encryption thread: {e}")))),
        }
    }
}

/// Runs on a blocking thread: plaintext file → age → ciphertext chunks.
fn encrypt_file(
    path: &Path,
    plain_len: u64,
    encryption: &AgeEncryption,
    tx: mpsc::Sender<Bytes>,
    prefix_tx: oneshot::Sender<u64>,
) -> io::Result<Digests> {
    let mut recipient = age::scrypt::Recipient::new(encryption.passphrase.clone());
    recipient.set_work_factor(encryption.work_factor);
    let encryptor = age::Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient))
        .map_err(|e| io::Error::other(format!("age: {e}")))?;
    let file = std::fs::File::open(path)?;
    let written = Arc::new(AtomicU64::new(0));
    let sink = ChannelSink {
        tx,
        buffer: BytesMut::with_capacity(STREAM_CHUNK as usize),
        sha: Sha256::new(),
        written: written.clone(),
    };
    let mut writer = encryptor.wrap_output(sink)?;
    // `wrap_output` wrote the header and nonce into the sink (nothing is encrypted before
    // the first write): what the sink has received is the prefix.
    let _ = prefix_tx.send(written.load(Ordering::Relaxed));
    let mut reader = HashingReader {
        inner: file.take(plain_len.saturating_add(1)),
        sha: Sha256::new(),
        read: 0,
    };
    io::copy(&mut reader, &mut writer)?;
    if reader.read != plain_len {
        return Err(io::Error::other(format!(
            "{} changed while it was read ({} bytes, {plain_len} expected)",
            path.display(),
            reader.read
        )));
    }
    let mut sink = writer.finish()?;
    sink.flush()?;
    Ok(Digests {
        plaintext: hex::encode(reader.sha.finalize()),
        ciphertext: hex::encode(sink.sha.finalize()),
    })
}

/// Hashes what it reads.
struct HashingReader<R> {
    inner: R,
    sha: Sha256,
    read: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Hashes the ciphertext and hands it to the upload in chunks of about 64 KiB.
struct ChannelSink {
    tx: mpsc::Sender<Bytes>,
    buffer: BytesMut,
    sha: Sha256,
    /// Bytes received, shared with the thread that started the encryption.
    written: Arc<AtomicU64>,
}

impl Write for ChannelSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sha.update(buf);
        self.buffer.extend_from_slice(buf);
        self.written.fetch_add(buf.len() as u64, Ordering::Relaxed);
        if self.buffer.len() >= STREAM_CHUNK as usize {
            self.flush()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = self.buffer.split().freeze();
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped reading"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;

    async fn collect(payload: Payload) -> Vec<u8> {
        let resp = reqwest::Response::from(http::Response::new(payload.into_body()));
        let mut out = Vec::new();
        let mut s = resp.bytes_stream();
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    fn decrypt(ciphertext: &[u8], passphrase: &str) -> Vec<u8> {
        let decryptor = age::Decryptor::new(ciphertext).unwrap();
        let identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
        let mut reader = decryptor.decrypt(iter::once(&identity as &dyn age::Identity)).unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        out
    }

    #[tokio::test]
    async fn the_announced_size_is_the_ciphertext_size_and_it_decrypts() {
        let dir = tempfile::tempdir().unwrap();
        let encryption = AgeEncryption::new("correct horse").with_work_factor(2).unwrap();
        for len in [0usize, 1, 65_535, 65_536, 65_537, 200_000] {
            let path = dir.path().join(format!("p{len}"));
            let plain: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            std::fs::write(&path, &plain).unwrap();
            let enc = Encrypting::start(&path, len as u64, &encryption).await.unwrap();
            let size = enc.size;
            // In two parts, as a multipart upload would take them.
            let first = size / 3;
            let mut cipher = collect(enc.next_part(first, Taps::default())).await;
            cipher.extend(collect(enc.next_part(size - first, Taps::default())).await);
            let digests = enc.finish().await.unwrap();
            assert_eq!(cipher.len() as u64, size, "length {len}");
            assert_eq!(decrypt(&cipher, "correct horse"), plain, "length {len}");
            assert_eq!(digests.plaintext, hex::encode(Sha256::digest(&plain)));
            assert_eq!(digests.ciphertext, hex::encode(Sha256::digest(&cipher)));
        }
    }

    #[tokio::test]
    async fn a_file_that_grows_while_encrypted_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        std::fs::write(&path, vec![1u8; 1000]).unwrap();
        let encryption = AgeEncryption::new("x").with_work_factor(1).unwrap();
        let enc = Encrypting::start(&path, 10, &encryption).await.unwrap();
        let size = enc.size;
        let body = reqwest::Response::from(http::Response::new(enc.next_part(size, Taps::default()).into_body()));
        assert!(body.bytes().await.is_err(), "the body ends in an error");
        assert!(matches!(enc.finish().await, Err(Error::Io(_))));
    }

    #[test]
    fn work_factors_outside_the_range_are_refused() {
        assert!(AgeEncryption::new("x").with_work_factor(0).is_err());
        assert!(AgeEncryption::new("x").with_work_factor(31).is_err());
        let shown = format!("{:?}", AgeEncryption::new("hunter2"));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
