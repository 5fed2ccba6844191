//! filegate's zip writer (async_zip), the `ZipWriter` port of `filegate-core`: entries are
//! copied chunk by chunk from their byte streams into the output (in the gateway, a
//! bounded pipe into the blob store), so memory stays flat whatever the archive's size.
//!
//! - Entries are *stored*, not deflated: most files a gateway bundles (PDFs, pictures,
//!   office documents, archives) are compressed already, so deflate would spend a core for
//!   a few percent; stored entries keep the job I/O-bound and the zip's size predictable
//!   (the files' bytes plus about a hundred bytes of headers per entry).
//! - The writer is always in zip64 mode: each entry carries a zip64 extra field (streamed
//!   entries must, since their size is unknown when the header is written), and the zip64
//!   end-of-directory records are always written, so archives past 4 GiB or 65,535 entries
//!   open everywhere (async_zip switches to them by itself only for large offsets).

use std::io;

use async_trait::async_trait;
use async_zip::tokio::write::ZipFileWriter;
use async_zip::{Compression, ZipDateTime, ZipEntryBuilder};
use chrono::{DateTime, Utc};
use filegate_core::ports::{ByteStream, ZipOutput, ZipSink, ZipWriter};
use futures::{AsyncWriteExt as _, TryStreamExt as _};
use tokio::io::{AsyncWrite, AsyncWriteExt as _, BufWriter};

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

/// A zip of stored entries being written into `W`.
pub struct StoredZip<W: AsyncWrite + Unpin> {
    zip: ZipFileWriter<BufWriter<W>>,
}

impl<W: AsyncWrite + Unpin> StoredZip<W> {
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

/// The `ZipWriter` port: zips of stored entries, zip64 always, into the given output.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncZipWriter;

impl ZipWriter for AsyncZipWriter {
    fn start(&self, out: ZipOutput) -> Box<dyn ZipSink> {
        Box::new(StoredZip::new(out))
    }

    fn size_bound(&self, entries: &mut dyn Iterator<Item = (&str, u64)>) -> u64 {
        size_bound(entries)
    }
}

#[async_trait]
impl<W: AsyncWrite + Send + Unpin> ZipSink for StoredZip<W> {
    async fn add(&mut self, name: &str, modified: DateTime<Utc>, body: ByteStream) -> io::Result<u64> {
        StoredZip::add(self, name, modified, body).await
    }

    async fn finish(self: Box<Self>) -> io::Result<()> {
        StoredZip::finish(*self).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_zip::base::read1::seek::ZipArchiveReader;
    use bytes::Bytes;
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
        let mut sink = StoredZip::new(Vec::new());
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
        let mut sink = StoredZip::new(Vec::new());
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
        let mut sink = StoredZip::new(Vec::new());
        sink.add("a", Utc::now(), body(b"1")).await.unwrap();
        let zip = sink.finish().await.unwrap();
        assert!(zip.windows(4).any(|w| w == ZIP64_END_OF_DIRECTORY));
        assert!(zip.len() as u64 <= size_bound([("a", 1)]));
    }
}
