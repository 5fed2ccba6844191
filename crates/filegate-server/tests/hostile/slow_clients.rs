//! Slow and greedy clients (slowloris): a request head that never finishes is cut
//! after `http.header_timeout_secs`; at `http.max_connections` the health routes still
//! answer on the reserve (`http.health_reserve`) while an API request there is refused with
//! 503 `unavailable` (it does not wait); and the slots come back when clients leave.
//! Raw sockets, read with a deadline: nothing here sleeps.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::TestApp;

/// Far longer than any timeout a test sets: reaching it means the server never acted.
const DEADLINE: Duration = Duration::from_secs(15);

/// A connection that sent the start of a request and stops there.
async fn half_sent_head(app: &TestApp, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(app.address).await.expect("connect");
    let head = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nX-Slow: ", app.address);
    stream.write_all(head.as_bytes()).await.expect("send a partial head");
    stream
}

/// Reads until the server closes the connection; panics at the deadline. Returns what came.
async fn read_until_closed(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "{what}: the server kept the connection open past {DEADLINE:?}"
    );
    received
}

/// One request on its own connection (the reserve closes after each answer); the raw answer.
async fn raw_request(app: &TestApp, path: &str) -> String {
    let mut stream = TcpStream::connect(app.address).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        app.address
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    String::from_utf8_lossy(&read_until_closed(&mut stream, path).await).into_owned()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

#[tokio::test]
async fn a_request_head_that_never_finishes_is_closed_after_the_header_timeout() {
    let app = TestApp::spawn_with(|c| c.http.header_timeout_secs = 1).await;
    let mut slow = half_sent_head(&app, "/healthz").await;
    let started = std::time::Instant::now();
    let answer = read_until_closed(&mut slow, "a half-sent head").await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "an unfinished head was answered: {answer:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the timeout: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_kept_alive_connection_waits_for_its_next_request_at_most_the_header_timeout() {
    let app = TestApp::spawn_with(|c| c.http.header_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(app.address).await.expect("connect");
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", app.address);
    stream.write_all(request.as_bytes()).await.expect("send");
    let answer = read_until_closed(&mut stream, "an idle kept-alive connection").await;
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), 200, "{answer}");
}

#[tokio::test]
async fn a_full_server_answers_health_checks_and_refuses_api_requests_on_its_reserve() {
    let app = TestApp::spawn_with(|c| {
        c.http.max_connections = 8;
        c.http.health_reserve = 2;
        // The greedy connections stay for the whole test.
        c.http.header_timeout_secs = 60;
    })
    .await;
    // The kernel queues connections in order and the server accepts them in that order:
    // these eight take every ordinary slot.
    let mut greedy = Vec::new();
    for _ in 0..8 {
        greedy.push(half_sent_head(&app, "/v1/files").await);
    }

    for path in ["/healthz", "/readyz", "/heartbeat"] {
        let answer = raw_request(&app, path).await;
        assert_eq!(status_of(&answer), 200, "{path} on a full server: {answer}");
    }
    // An API request beyond the limit is refused at once, not queued.
    let answer = raw_request(&app, "/v1/files").await;
    assert_eq!(status_of(&answer), 503, "an API request on the reserve: {answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("\"code\":\"unavailable\""), "{answer}");
    assert!(lower.contains("retry-after: "), "{answer}");

    // The greedy clients leave: ordinary requests are served again.
    drop(greedy);
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let answer = raw_request(&app, "/v1/files").await;
        // Unauthenticated: 401 means the request reached the API.
        if status_of(&answer) == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slots never came back: {answer}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn the_reserve_gives_a_silent_connection_little_time() {
    let app = TestApp::spawn_with(|c| {
        c.http.max_connections = 2;
        c.http.health_reserve = 1;
        c.http.header_timeout_secs = 60;
    })
    .await;
    let _greedy = [
        half_sent_head(&app, "/v1/files").await,
        half_sent_head(&app, "/v1/files").await,
    ];
    // On the reserve, a head that does not come at once is cut well before the ordinary
    // header timeout, so trickling clients cannot hold the reserve either.
    let mut on_reserve = half_sent_head(&app, "/healthz").await;
    let started = std::time::Instant::now();
    read_until_closed(&mut on_reserve, "a silent connection on the reserve").await;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let answer = raw_request(&app, "/healthz").await;
    assert_eq!(status_of(&answer), 200, "{answer}");
}
