//! The pipe between a zip writer (the `ZipWriter` port) and the blob store: what the writer
//! writes goes through a small bounded channel into a `ByteStream` that the store consumes.
//! Memory stays flat whatever the archive's size; a slow store slows the writer down.
//!
//! A failed build never stores anything: the producer ends the stream with an error
//! ([`Failer::fail`]), which makes `BlobStore::put` discard what it received.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

use crate::ports::ByteStream;

/// Chunks in flight between the zip writer and the store.
const DEPTH: usize = 8;

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
    use futures::TryStreamExt as _;
    use tokio::io::AsyncWriteExt as _;

    use super::*;

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
