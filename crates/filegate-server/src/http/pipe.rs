//! Streaming a multipart form field into a consumer that wants an owned `ByteStream` (the
//! field borrows the form, so it cannot be handed over directly): the chunks go through a
//! small bounded channel, so memory stays flat and a slow store slows the client down.

use std::future::Future;

use axum::extract::multipart::Field;
use bytes::Bytes;
use tokio::sync::mpsc;

use filegate_core::ports::ByteStream;

/// Chunks in flight between the request body and the consumer. Two are enough to keep both
/// sides busy (the store batches 256 KiB itself), and a form parser's chunks can be hundreds
/// of KiB each: eight of them were 3 MiB of a proxied upload's peak memory.
const DEPTH: usize = 2;

pub async fn field_into<F, Fut, T>(field: &mut Field<'_>, consume: F) -> T
where
    F: FnOnce(ByteStream) -> Fut,
    Fut: Future<Output = T>,
{
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(DEPTH);
    let body: ByteStream = Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let pump = async move {
        loop {
            let item = match field.chunk().await {
                Ok(Some(chunk)) => Ok(chunk),
                Ok(None) => break,
                Err(e) => Err(std::io::Error::other(e.body_text())),
            };
            let failed = item.is_err();
            // The consumer stopped reading (a limit, a storage error): stop pumping.
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    };
    let ((), out) = tokio::join!(pump, consume(body));
    out
}
