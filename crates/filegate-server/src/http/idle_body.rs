//! An upload body that must keep moving: once the server waits for its next bytes longer
//! than `http.body_idle_timeout_secs`, it ends with an error, so a client that trickles or
//! stalls holds a request (its temp file, its connection) for a bounded time only. What
//! was received is dropped with the failed write, and nothing becomes visible.
//!
//! Only the time spent *waiting* counts: while the store is busy writing a batch, the body
//! is not read, and a client held back by that is not idle.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use tokio::time::{Instant, Sleep};

use filegate_core::{Error, ErrorCode};

/// Whether a body ended because it stalled; checked when its consumer fails.
#[derive(Debug, Clone, Default)]
pub struct Stalled(Arc<AtomicBool>);

impl Stalled {
    /// Whether the body ended because it stalled.
    pub fn happened(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// The error to answer with if the body stalled (the consumer's own error otherwise).
    pub fn explain(&self, idle: Duration, otherwise: Error) -> Error {
        if self.happened() {
            Error::invalid(
                ErrorCode::BodyTimeout,
                format!(
                    "no bytes of the body arrived for {} s; nothing was stored",
                    idle.as_secs_f64()
                ),
            )
        } else {
            otherwise
        }
    }
}

/// `body`, ending with an error once no bytes arrive for `idle` while the server waits.
pub fn limit(body: Body, idle: Duration) -> (Body, Stalled) {
    let stalled = Stalled::default();
    let limited = IdleLimited {
        inner: body.into_data_stream(),
        idle,
        timer: Box::pin(tokio::time::sleep(idle)),
        waiting: false,
        ended: false,
        stalled: stalled.clone(),
    };
    (Body::from_stream(limited), stalled)
}

struct IdleLimited {
    inner: BodyDataStream,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    /// The timer runs for the current wait (armed by the first poll that found no bytes).
    waiting: bool,
    ended: bool,
    stalled: Stalled,
}

impl Stream for IdleLimited {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(item) => {
                self.waiting = false;
                Poll::Ready(item.map(|r| r.map_err(std::io::Error::other)))
            }
            Poll::Pending => {
                if !self.waiting {
                    self.waiting = true;
                    let deadline = Instant::now() + self.idle;
                    self.timer.as_mut().reset(deadline);
                }
                if self.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.ended = true;
                self.stalled.0.store(true, Ordering::Release);
                Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the body stalled",
                ))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stalled_body_ends_with_an_error_a_finished_one_does_not() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let source = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|i| (i, rx)) });
        let idle = Duration::from_millis(200);
        let (body, stalled) = limit(Body::from_stream(source), idle);
        let mut stream = body.into_data_stream();
        tx.send(Ok(Bytes::from_static(b"x"))).await.unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap(), Bytes::from_static(b"x"));

        // Then nothing, the sender still open: the wait ends with an error, and the body ends.
        let next = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
        assert!(next.expect("cut within the deadline").unwrap().is_err());
        assert!(stream.next().await.is_none());
        let other = || Error::invalid(ErrorCode::BodyInvalid, "x");
        assert!(matches!(
            stalled.explain(idle, other()),
            Error::Invalid {
                code: ErrorCode::BodyTimeout,
                ..
            }
        ));

        // A body that ends in time is not taken for a stalled one.
        let (body, stalled) = limit(Body::from("whole"), idle);
        let mut stream = body.into_data_stream();
        assert_eq!(stream.next().await.unwrap().unwrap(), Bytes::from_static(b"whole"));
        assert!(stream.next().await.is_none());
        assert!(matches!(
            stalled.explain(idle, other()),
            Error::Invalid {
                code: ErrorCode::BodyInvalid,
                ..
            }
        ));
        drop(tx);
    }
}
