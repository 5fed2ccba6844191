//! `ZipWriter`: writes zip bundles as a stream, entry by entry, into any `AsyncWrite`
//! (async_zip in `filegate-zip`). What goes into a bundle, in which order and under which
//! limits is the archive job's rule (`pipeline::archive`).

use std::io;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::io::AsyncWrite;

use super::ByteStream;

/// Where a zip's bytes go: the pipe into the blob store (`pipeline::zip::channel`).
pub type ZipOutput = Box<dyn AsyncWrite + Send + Unpin>;

pub trait ZipWriter: Send + Sync + 'static {
    /// A zip being written into `out`.
    fn start(&self, out: ZipOutput) -> Box<dyn ZipSink>;
    /// An upper bound of the size of a zip with these entries (name, bytes): the most the
    /// store is asked to accept.
    fn size_bound(&self, entries: &mut dyn Iterator<Item = (&str, u64)>) -> u64;
}

/// One zip being written.
#[async_trait]
pub trait ZipSink: Send {
    /// Appends one entry named `name` with the bytes of `body`; returns how many bytes it
    /// held. An error reading `body` or writing the output ends the zip.
    async fn add(&mut self, name: &str, modified: DateTime<Utc>, body: ByteStream) -> io::Result<u64>;
    /// Writes the central directory and flushes everything into the output.
    async fn finish(self: Box<Self>) -> io::Result<()>;
}
