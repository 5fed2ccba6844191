//! The head of a multipart form: what its parser reads before the `file` field (the
//! preamble, each part's headers, the small fields). `multer`, under axum's `Multipart`,
//! keeps all of it in memory while it looks for the first boundary or for the end of a
//! part's headers, and the form routes take bodies of any length (`file` streams to
//! storage), so a client that never sends the boundary filled the gateway's memory, and
//! rescanned the whole buffer on every read. [`limit`] cuts such a body off once the head
//! passes [`MAX_FORM_HEAD`] bytes; [`Head::lift`], called when `file` is reached, lets the
//! file's bytes through without a limit. Until then the body reaches the parser in pieces
//! of at most [`PIECE`] bytes with a `Pending` between them: the parser pulls a chunk at
//! every step whether it needs one or not, and a fast client's file must not count as head.
//! The parser also rescans what it holds at each wake (a client trickling its head a byte
//! at a time made that quadratic; found by the `multipart_form` fuzz target): the limit
//! bounds each rescan.
//!
//! Standalone (no `crate::` paths): the fuzz target `multipart_form` compiles this file to
//! run the parser behind the same guard.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

/// Room for the signed form's fields (a handful, of at most 8 KiB) or the proxied
/// upload's six (of at most 64 KiB), their headers, and the pieces the parser pulls ahead.
pub const MAX_FORM_HEAD: u64 = 512 * 1024;

/// The most the head hands the parser at once.
pub const PIECE: usize = 4 * 1024;

type BoxError = Box<dyn StdError + Send + Sync>;

/// The switch shared by the limited body and the form reader.
#[derive(Debug, Clone, Default)]
pub struct Head(Arc<State>);

#[derive(Debug, Default)]
struct State {
    lifted: AtomicBool,
    exceeded: AtomicBool,
}

impl Head {
    /// The `file` field is reached: its bytes are not part of the head.
    pub fn lift(&self) {
        self.0.lifted.store(true, Ordering::Release);
    }

    /// Whether the body was cut off for a head over the limit.
    pub fn exceeded(&self) -> bool {
        self.0.exceeded.load(Ordering::Acquire)
    }
}

/// The error the parser sees when the head is over the limit.
#[derive(Debug)]
pub struct HeadTooLarge(pub u64);

impl fmt::Display for HeadTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the form sends more than {} bytes before its `file` field (a boundary or the end of a part's headers is missing, or the fields are too long)",
            self.0
        )
    }
}

impl StdError for HeadTooLarge {}

/// `body`, failing the first read after more than `max` bytes have passed while the head
/// was not lifted (a piece is judged by what came before it).
pub fn limit<S>(body: S, max: u64) -> (Limited<S>, Head) {
    let head = Head::default();
    let limited = Limited {
        body,
        read: 0,
        max,
        head: head.clone(),
        yield_next: false,
        held: Bytes::new(),
        ended: false,
    };
    (limited, head)
}

pub struct Limited<S> {
    body: S,
    read: u64,
    max: u64,
    head: Head,
    /// A chunk went out while the head was not lifted: yield before the next.
    yield_next: bool,
    /// The rest of the body's last chunk, handed out piece by piece.
    held: Bytes,
    /// The body has ended (it is not polled again).
    ended: bool,
}

impl<S, E> Stream for Limited<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<BoxError>,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.head.exceeded() {
            return Poll::Ready(None);
        }
        let lifted = this.head.0.lifted.load(Ordering::Acquire);
        if lifted {
            if !this.held.is_empty() {
                return Poll::Ready(Some(Ok(std::mem::take(&mut this.held))));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            return Pin::new(&mut this.body).poll_next(cx).map_err(Into::into);
        }
        if std::mem::take(&mut this.yield_next) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // An empty chunk is not the end: read on.
        while this.held.is_empty() && !this.ended {
            match Pin::new(&mut this.body).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.held = chunk,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(None) => this.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        if this.held.is_empty() {
            return Poll::Ready(None);
        }
        let item = this.held.split_to(this.held.len().min(PIECE));
        this.yield_next = true;
        let before = this.read;
        this.read = before.saturating_add(item.len() as u64);
        if before > this.max {
            this.head.0.exceeded.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(Box::new(HeadTooLarge(this.max)))));
        }
        Poll::Ready(Some(Ok(item)))
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;

    use super::*;

    fn chunks(n: usize, size: usize) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures::stream::iter((0..n).map(move |_| Ok(Bytes::from(vec![b'a'; size]))))
    }

    #[tokio::test]
    async fn the_head_is_cut_off_past_the_limit_and_the_file_is_not() {
        let (mut body, _head) = limit(chunks(10, PIECE), 2 * PIECE as u64 + 1);
        for _ in 0..3 {
            assert!(body.next().await.unwrap().is_ok());
        }
        let err = body.next().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("more than 8193 bytes"), "{err}");
        assert!(body.next().await.is_none(), "nothing after the cut");

        let (mut body, head) = limit(chunks(10, PIECE), 2 * PIECE as u64 + 1);
        body.next().await.unwrap().unwrap();
        head.lift();
        let rest: Vec<_> = body.collect().await;
        assert_eq!(rest.len(), 9);
        assert!(rest.iter().all(Result::is_ok));
    }

    #[tokio::test]
    async fn the_head_reaches_the_parser_in_pieces() {
        let (body, _head) = limit(chunks(1, 3 * PIECE + 5), u64::MAX);
        let sizes: Vec<usize> = body.map(|c| c.unwrap().len()).collect().await;
        assert_eq!(sizes, [PIECE, PIECE, PIECE, 5]);
    }
}
