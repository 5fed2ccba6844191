//! Writing a zip as a stream: entries are copied chunk by chunk from their byte streams into
//! a zip writer, whose output goes through a small bounded channel into a `ByteStream` that
//! the blob store consumes. Memory stays flat whatever the archive's size; a slow store
//! slows the writer down.
//!
//! - Entries are *stored*, not deflated: most files a gateway bundles (PDFs, pictures,
//!   office documents, archives) are compressed already, so deflate would spend a core for
//!   a few percent; stored entries keep the job I/O-bound and the zip's size predictable
//!   (the files' bytes plus about a hundred bytes of headers per entry).
//! - The writer is always in zip64 mode: each entry carries a zip64 extra field (streamed
//!   entries must, since their size is unknown when the header is written), and the zip64
//!   end-of-directory records are always written, so archives past 4 GiB or 65,535 entries
//!   open everywhere (async_zip switches to them by itself only for large offsets).
//! - A failed build never stores anything: the producer ends the stream with an error,
//!   which makes `BlobStore::put` discard what it received.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use async_zip::tokio::write::ZipFileWriter;
use async_zip::{Compression, ZipDateTime, ZipEntryBuilder};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{AsyncWriteExt as _, TryStreamExt as _};
use tokio::io::{AsyncWrite, AsyncWriteExt as _, BufWriter};
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

use crate::ports::ByteStream;

/// Chunks in flight between the zip writer and the store.
const DEPTH: usize = 8;
/// Small header writes are gathered into chunks of about this size.
const CHUNK: usize = 256 * 1024;
/// Headers, data descriptor and central-directory record of one entry, without its name
/// (which appears up to three times: local header, unicode-path field, central directory).
const ENTRY_OVERHEAD: u64 = 256;
const END_OVERHEAD: u64 = 4096;

/// An upper bound of the size of a zip of stored entries with these names and sizes.
pub fn size_bound<'a>(entries: impl IntoIterator<Item = (&'a str, u64)>) -> u64 {
    entries.into_iter().fold(END_OVERHEAD, |total, (name, size)| {
        total
            .saturating_add(size)
            .saturating_add(ENTRY_OVERHEAD)
            .saturating_add(3 * name.len() as u64)
    })
}

/// A zip being written into `W`.
pub struct ZipSink<W: AsyncWrite + Unpin> {
    zip: ZipFileWriter<BufWriter<W>>,
}

impl<W: AsyncWrite + Unpin> ZipSink<W> {
    pub fn new(out: W) -> Self {
        Self {
            zip: async_zip::base::write::ZipFileWriter::with_tokio(BufWriter::with_capacity(CHUNK, out)).force_zip64(),
        }
    }

    /// Appends one stored entry named `name` with the bytes of `body`; returns how many
    /// bytes it held. An error reading `body` or writing the output ends the zip.
    pub async fn add(&mut self, name: &str, modified: DateTime<Utc>, mut body: ByteStream) -> io::Result<u64> {
        let entry = ZipEntryBuilder::new(name.to_owned().into(), Compression::Stored)
            .last_modification_date(ZipDateTime::from_chrono(&modified))
            .unix_permissions(0o644);
        let mut writer = self.zip.write_entry_stream(entry).await.map_err(zip_error)?;
        let mut written = 0u64;
        while let Some(chunk) = body.try_next().await? {
            writer.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        writer.close().await.map_err(zip_error)?;
        Ok(written)
    }

    /// Writes the central directory and flushes everything into the output.
    pub async fn finish(self) -> io::Result<W> {
        let mut out = self.zip.close().await.map_err(zip_error)?.into_inner();
        out.flush().await?;
        Ok(out.into_inner())
    }
}

fn zip_error(e: async_zip::error::ZipError) -> io::Error {
    io::Error::other(e)
}

/// An `AsyncWrite` whose writes become chunks of a `ByteStream`; made by [`channel`].
pub struct ChannelWriter {
    tx: PollSender<io::Result<Bytes>>,
}

/// A writer and the stream that yields what is written to it. The stream ends when the
/// writer and every `Failer` are dropped; [`Failer::fail`] ends it with an error instead.
pub fn channel() -> (ChannelWriter, Failer, ByteStream) {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(DEPTH);
    let body: ByteStream = Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    (
        ChannelWriter {
            tx: PollSender::new(tx.clone()),
        },
        Failer(tx),
        body,
    )
}

/// Ends a [`channel`]'s stream with an error, so that its consumer keeps nothing.
pub struct Failer(mpsc::Sender<io::Result<Bytes>>);

impl Failer {
    pub async fn fail(self, why: &str) {
        // The consumer may have stopped already: then it keeps nothing anyway.
        let _ = self.0.send(Err(io::Error::other(why.to_owned()))).await;
    }
}

fn consumer_gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the store stopped reading the archive")
}

impl AsyncWrite for ChannelWriter {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.tx.poll_reserve(cx)).map_err(|_| consumer_gone())?;
        self.tx
            .send_item(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| consumer_gone())?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tx.close();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_zip::base::read1::seek::ZipArchiveReader;
    use futures::AsyncReadExt as _;
    use futures::io::Cursor;

    fn body(bytes: &'static [u8]) -> ByteStream {
        Box::pin(futures::stream::iter(
            bytes.chunks(3).map(|c| Ok(Bytes::from_static(c))).collect::<Vec<_>>(),
        ))
    }

    /// Every entry, read back with async_zip's newer, independent reader (which checks
    /// each entry's CRC and size against what it reads).
    async fn read_back(zip: Vec<u8>) -> Vec<(String, Vec<u8>)> {
        let mut reader = ZipArchiveReader::open(Cursor::new(zip)).await.expect("a valid zip");
        let names: Vec<String> = reader
            .cdrs()
            .iter()
            .map(|c| c.insecure_file_name.as_str().expect("utf-8 name").to_owned())
            .collect();
        let mut out = Vec::new();
        for (i, name) in names.into_iter().enumerate() {
            let mut entry = reader.file(i).await.expect("entry");
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).await.expect("the CRC and size match");
            out.push((name, bytes));
        }
        out
    }

    #[tokio::test]
    async fn entries_read_back_byte_for_byte() {
        let mut sink = ZipSink::new(Vec::new());
        assert_eq!(
            sink.add("a/one.txt", Utc::now(), body(b"hello, zip")).await.unwrap(),
            10
        );
        assert_eq!(sink.add("dossier médical.pdf", Utc::now(), body(b"")).await.unwrap(), 0);
        let zip = sink.finish().await.unwrap();
        assert_eq!(
            read_back(zip).await,
            [
                ("a/one.txt".to_owned(), b"hello, zip".to_vec()),
                ("dossier médical.pdf".to_owned(), Vec::new())
            ]
        );
    }

    #[tokio::test]
    async fn the_writer_is_zip64_and_holds_more_than_65535_entries() {
        const ZIP64_END_OF_DIRECTORY: [u8; 4] = 0x0606_4b50u32.to_le_bytes();
        let mut sink = ZipSink::new(Vec::new());
        let count = 65_537;
        for i in 0..count {
            sink.add(&format!("f{i}"), Utc::now(), body(b"x")).await.unwrap();
        }
        let zip = sink.finish().await.unwrap();
        assert!(
            zip.windows(4).any(|w| w == ZIP64_END_OF_DIRECTORY),
            "zip64 end-of-directory record written"
        );
        let mut reader = ZipArchiveReader::open(Cursor::new(zip)).await.expect("a valid zip64");
        assert_eq!(reader.cdrs().len(), count);
        let last = &reader.cdrs()[count - 1];
        assert_eq!(last.insecure_file_name.as_str().unwrap(), format!("f{}", count - 1));
        let mut bytes = Vec::new();
        reader
            .file(count - 1)
            .await
            .unwrap()
            .read_to_end(&mut bytes)
            .await
            .unwrap();
        assert_eq!(bytes, b"x");
    }

    #[tokio::test]
    async fn a_small_archive_is_zip64_too() {
        const ZIP64_END_OF_DIRECTORY: [u8; 4] = 0x0606_4b50u32.to_le_bytes();
        let mut sink = ZipSink::new(Vec::new());
        sink.add("a", Utc::now(), body(b"1")).await.unwrap();
        let zip = sink.finish().await.unwrap();
        assert!(zip.windows(4).any(|w| w == ZIP64_END_OF_DIRECTORY));
        assert!(zip.len() as u64 <= size_bound([("a", 1)]));
    }

    /// Everything `stream` yields, or its first error.
    async fn collect(stream: ByteStream) -> io::Result<Vec<u8>> {
        stream
            .try_fold(Vec::new(), |mut v, c| async move {
                v.extend_from_slice(&c);
                Ok(v)
            })
            .await
    }

    #[tokio::test]
    async fn the_channel_carries_the_bytes_and_a_failure() {
        let (mut writer, failer, stream) = channel();
        let produce = async move {
            writer.write_all(b"abc").await.unwrap();
            writer.write_all(b"def").await.unwrap();
            drop(writer);
            failer.fail("broken").await;
        };
        let ((), result) = tokio::join!(produce, collect(stream));
        assert!(result.is_err(), "a failed producer ends the stream with an error");

        let (mut writer, failer, stream) = channel();
        let produce = async move {
            writer.write_all(b"abc").await.unwrap();
            drop(writer);
            drop(failer);
        };
        let ((), result) = tokio::join!(produce, collect(stream));
        assert_eq!(result.unwrap(), b"abc");
    }
}
