//! Serving HTTP/1.1 connections with the limits a public server needs, in place of
//! `axum::serve` (which runs hyper without a timer, so nothing times out: 500 trickling
//! connections held open were enough to run the process out of descriptors and silence
//! `/healthz`).
//!
//! - A request's line and headers must arrive within `header_timeout` (hyper's timer, which
//!   also bounds how long a kept-alive connection waits for its next request).
//! - A connection on which no byte moves for `idle_timeout` while no handler works on it (a
//!   client that stopped reading an answer) is dropped.
//! - At most `max_connections` are served. Past them, up to `health_reserve` more only
//!   answer the health routes (503 `unavailable` to anything else, then close) and must send
//!   their request at once ([`RESERVE_HEADER_TIMEOUT`]), so a slow client holds no reserve
//!   slot long; past both, a new connection is closed at once. A full server still answers
//!   its health checks.
//! - On shutdown, new connections stop, each open one finishes its request in flight.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::any;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use filegate_core::Error;

use crate::config::HttpConfig;
use crate::http;
use crate::http::error::ApiError;

/// The routes a reserved connection still answers: liveness, readiness, metrics.
const HEALTH_ROUTES: &[&str] = &["/healthz", "/heartbeat", "/readyz", "/metrics"];

/// How long a connection on the reserve may take to send its request: a health check
/// sends it in its first packet.
pub const RESERVE_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// Descriptors kept for everything that is not a client connection (database, objects,
/// broker, clamd, logs) when the connection limit is fitted under the process's limit.
const DESCRIPTORS_FOR_THE_REST: u64 = 256;

/// The limits [`serve`] applies, from `http.*` in the config.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub health_reserve: usize,
}

impl Limits {
    /// From a config `Config::validate` passed (each of these is at least 1).
    pub fn from_config(http: &HttpConfig) -> Self {
        Self {
            header_timeout: Duration::from_secs(http.header_timeout_secs),
            idle_timeout: Duration::from_secs(http.idle_timeout_secs),
            max_connections: http.max_connections,
            health_reserve: http.health_reserve,
        }
    }

    /// Lowers `max_connections` to what `descriptors` (the process's limit) can hold beside
    /// the reserve and the engines' files: accepting until `EMFILE` would leave no
    /// descriptor for the health check either.
    pub fn fitted_to(mut self, descriptors: Option<u64>) -> Self {
        let Some(descriptors) = descriptors else { return self };
        let room = usize::try_from(descriptors.saturating_sub(DESCRIPTORS_FOR_THE_REST))
            .unwrap_or(usize::MAX)
            .saturating_sub(self.health_reserve);
        if room < self.max_connections {
            let fitted = room.max(1);
            tracing::warn!(
                configured = self.max_connections,
                fitted,
                descriptors,
                "http.max_connections lowered to fit the process's descriptor limit (raise `ulimit -n`)"
            );
            self.max_connections = fitted;
        }
        self
    }
}

/// Raises the soft limit on open descriptors to the hard limit (many systems start
/// processes at a soft 1024); returns the limit now in force, if known.
pub fn raise_descriptor_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // An unlimited hard limit cannot be the soft one (Linux caps it at fs.nr_open).
    let target = limit.maximum.unwrap_or(1 << 20);
    if limit.current.is_some_and(|soft| soft >= target) {
        return limit.current;
    }
    let raised = Rlimit {
        current: Some(target),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            tracing::debug!(from = ?limit.current, to = target, "descriptor limit raised");
            Some(target)
        }
        Err(e) => {
            tracing::warn!(error = %e, soft = ?limit.current, "could not raise the descriptor limit");
            limit.current
        }
    }
}

/// The answer on a reserved connection to anything but a health route.
pub fn overloaded_router(config: &HttpConfig) -> Router {
    async fn overloaded() -> ApiError {
        ApiError(Error::Unavailable {
            what: "the server (at its connection limit)",
            retry_after: Duration::from_secs(1),
            source: anyhow::anyhow!("http.max_connections reached"),
        })
    }
    http::with_middleware(
        Router::new()
            .route("/", any(overloaded))
            .route("/{*rest}", any(overloaded)),
        config,
    )
}

/// What a new connection may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Full,
    HealthOnly,
}

/// The connections open, ordinary and on the reserve.
#[derive(Default)]
struct Open {
    full: Arc<AtomicUsize>,
    reserve: Arc<AtomicUsize>,
}

impl Open {
    /// A slot for a new connection, if there is one. Only the accept loop takes slots, so
    /// a count read here cannot grow before the slot is taken.
    fn admit(&self, limits: &Limits) -> Option<(Admission, Slot)> {
        if self.full.load(Ordering::SeqCst) < limits.max_connections {
            Some((Admission::Full, Slot::take(&self.full)))
        } else if self.reserve.load(Ordering::SeqCst) < limits.health_reserve {
            Some((Admission::HealthOnly, Slot::take(&self.reserve)))
        } else {
            None
        }
    }
}

/// Serves `app` on `listener` until `stop` is cancelled, then waits for every open
/// connection to finish the request it is serving (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    overloaded: Router,
    limits: Limits,
    stop: CancellationToken,
) -> io::Result<()> {
    let limits = Arc::new(limits);
    let open = Open::default();
    // Every connection task holds a receiver; when all are dropped, the server has drained.
    let (drained_tx, drained_rx) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let Some((admission, slot)) = open.admit(&limits) else {
            metrics::counter!("filegate_http_connections_refused_total").increment(1);
            tracing::debug!(%peer, "connection limit and reserve full; connection closed");
            continue;
        };
        let connection = Connection {
            app: if admission == Admission::HealthOnly {
                Served::Reserved {
                    app: app.clone(),
                    overloaded: overloaded.clone(),
                }
            } else {
                Served::Full(app.clone())
            },
            peer,
            limits: limits.clone(),
            stop: stop.clone(),
        };
        let drained = drained_rx.clone();
        tokio::spawn(async move {
            connection.run(stream).await;
            drop(slot);
            drop(drained);
        });
    }
    drop(listener);
    drop(drained_rx);
    drained_tx.closed().await;
    Ok(())
}

/// From `axum::serve`: a failed accept other than the peer's reset is most likely `EMFILE`;
/// waiting a moment lets connections close instead of spinning.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One place in a count of open connections, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The application a connection's requests go to.
enum Served {
    Full(Router),
    /// Health routes to the app, the rest to the overloaded answer.
    Reserved {
        app: Router,
        overloaded: Router,
    },
}

impl Served {
    fn router_for(&self, path: &str) -> Router {
        match self {
            Self::Full(app) => app.clone(),
            Self::Reserved { app, .. } if HEALTH_ROUTES.contains(&path) => app.clone(),
            Self::Reserved { overloaded, .. } => overloaded.clone(),
        }
    }

    /// An ordinary connection is kept alive; one on the reserve answers once, quickly.
    fn header_timeout(&self, limits: &Limits) -> (Duration, bool) {
        match self {
            Self::Full(_) => (limits.header_timeout, true),
            Self::Reserved { .. } => (limits.header_timeout.min(RESERVE_HEADER_TIMEOUT), false),
        }
    }
}

struct Connection {
    app: Served,
    peer: SocketAddr,
    limits: Arc<Limits>,
    stop: CancellationToken,
}

impl Connection {
    async fn run(self, stream: TcpStream) {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Tracked {
            inner: stream,
            activity: activity.clone(),
        });
        let (header_timeout, keep_alive) = self.app.header_timeout(&self.limits);
        let app = Arc::new(self.app);
        let peer = self.peer;
        let working = activity.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // What `into_make_service_with_connect_info` gave the handlers before.
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = app.router_for(request.uri().path());
            let handler = working.handler_started();
            async move {
                let response = router.oneshot(request).await;
                drop(handler);
                response
            }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(keep_alive);
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        let mut stopping = false;
        loop {
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = activity.idle_for(self.limits.idle_timeout) => {
                    tracing::debug!(%peer, "idle connection dropped");
                    return;
                }
                () = self.stop.cancelled(), if !stopping => {
                    // Finish the request in flight, then close (at once when there is none).
                    connection.as_mut().graceful_shutdown();
                    stopping = true;
                }
            }
        }
    }
}

/// When a connection last moved a byte, and whether a handler is working for it.
struct Activity {
    start: Instant,
    /// Milliseconds after `start`.
    last_io: AtomicU64,
    handlers: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_io: AtomicU64::new(0),
            handlers: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_io.store(elapsed, Ordering::Relaxed);
    }

    fn handler_started(self: &Arc<Self>) -> HandlerRunning {
        self.handlers.fetch_add(1, Ordering::SeqCst);
        HandlerRunning(self.clone())
    }

    /// Resolves once no byte has moved for `timeout` while no handler was working.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last_io.load(Ordering::Relaxed));
            let deadline = last + timeout;
            if Instant::now() >= deadline && self.handlers.load(Ordering::SeqCst) == 0 {
                return;
            }
            // A handler at work (reading an upload, waiting on storage) is not idleness;
            // look again a period later.
            tokio::time::sleep_until(deadline.max(Instant::now() + timeout.min(Duration::from_secs(1)))).await;
        }
    }
}

struct HandlerRunning(Arc<Activity>);

impl Drop for HandlerRunning {
    fn drop(&mut self) {
        self.0.handlers.fetch_sub(1, Ordering::SeqCst);
        // The idle clock starts when the answer is handed over, not at the last byte read.
        self.0.touch();
    }
}

/// The connection's socket, noting each byte that moves.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, reserve: usize) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            max_connections: max,
            health_reserve: reserve,
        }
    }

    #[test]
    fn past_the_limit_the_reserve_then_nothing_and_slots_come_back() {
        let (l, open) = (limits(3, 2), Open::default());
        let mut held: Vec<_> = (0..5).map(|_| open.admit(&l).expect("a slot")).collect();
        let kinds: Vec<_> = held.iter().map(|(a, _)| *a).collect();
        use Admission::*;
        assert_eq!(kinds, [Full, Full, Full, HealthOnly, HealthOnly]);
        assert!(open.admit(&l).is_none());
        held.remove(0);
        assert_eq!(open.admit(&l).map(|(a, _)| a), Some(Full));
    }

    #[tokio::test]
    async fn idleness_counts_only_while_no_handler_works() {
        let activity = Arc::new(Activity::new());
        let short = Duration::from_millis(50);
        let working = activity.handler_started();
        let waited = tokio::time::timeout(Duration::from_millis(300), activity.idle_for(short)).await;
        assert!(waited.is_err(), "a handler at work is not idleness");
        drop(working);
        tokio::time::timeout(Duration::from_secs(5), activity.idle_for(short))
            .await
            .expect("idle once the handler is done and nothing moves");
    }

    #[test]
    fn the_limit_fits_under_the_descriptor_limit() {
        assert_eq!(limits(10_000, 64).fitted_to(Some(1024)).max_connections, 704);
        assert_eq!(limits(10_000, 64).fitted_to(Some(100)).max_connections, 1);
        assert_eq!(limits(10_000, 64).fitted_to(Some(1 << 20)).max_connections, 10_000);
        assert_eq!(limits(10_000, 64).fitted_to(None).max_connections, 10_000);
    }
}
