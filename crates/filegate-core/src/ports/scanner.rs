//! `Scanner`: a virus scanner the pipeline streams a file's bytes through (clamd).
//!
//! Narrow on purpose: the answer is clean or infected, and every way a scan can fail to give
//! that answer is an error the pipeline must act on. Nothing here can say "assume clean".

use async_trait::async_trait;

use super::ByteStream;

/// What a completed scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanVerdict {
    Clean,
    /// The scanner's name for what it found (`Eicar-Signature`).
    Infected {
        signature: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The scan could not run now (scanner unreachable, timed out, answered an error, or
    /// the bytes could not be read): try again later.
    #[error("scanner unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// The file is larger than the scanner accepts in one stream (clamd's StreamMaxLength):
    /// retrying cannot help, and the file was not scanned.
    #[error("the file is larger than the scanner accepts{}", .limit.map(|l| format!(" ({l} bytes)")).unwrap_or_default())]
    TooLarge { limit: Option<u64> },
}

#[async_trait]
pub trait Scanner: Send + Sync + 'static {
    /// Cheap liveness check for `/readyz`.
    async fn ping(&self) -> Result<(), ScanError>;
    /// Streams `body` to the scanner and returns its verdict.
    async fn scan(&self, body: ByteStream) -> Result<ScanVerdict, ScanError>;
}
