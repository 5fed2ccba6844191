//! A webhook receiver for tests: an axum server on port 0 that records every request and
//! answers with the statuses it is told to (then 200), and a real SMTP sink (aiosmtpd).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::sync::Notify;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a webhook body is JSON")
    }

    pub fn kind(&self) -> String {
        self.json()["type"].as_str().expect("type").to_owned()
    }
}

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    answers: Mutex<VecDeque<u16>>,
    arrived: Notify,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Inner>,
}

impl Receiver {
    /// Starts a receiver answering `answers` in order, then 200.
    pub async fn start(answers: &[u16]) -> Self {
        let inner = Arc::new(Inner {
            answers: Mutex::new(answers.iter().copied().collect()),
            ..Inner::default()
        });
        let app = Router::new().route("/hook", post(receive)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hook"),
            inner,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().expect("lock").clone()
    }

    /// Waits until at least `n` requests arrived (deadline 20 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let notified = self.inner.arrived.notified();
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::timeout_at(deadline, notified).await.is_ok(),
                "only {} of {n} webhook requests arrived: {:?}",
                got.len(),
                got.iter().map(Received::kind).collect::<Vec<_>>()
            );
        }
    }
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let status = inner.answers.lock().expect("lock").pop_front().unwrap_or(200);
    inner.received.lock().expect("lock").push(Received { headers, body });
    inner.arrived.notify_waiters();
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

/// Verifies a delivery with the `standardwebhooks` crate: an implementation independent of
/// ours.
pub fn verify(secret: &str, received: &Received) {
    let wh = standardwebhooks::Webhook::new(secret).expect("secret");
    wh.verify(&received.body, &received.headers)
        .unwrap_or_else(|e| panic!("signature does not verify: {e:?}"));
}

/// A real SMTP server (Python's aiosmtpd) on its own port, writing each message to a maildir.
/// `None` (the test skips) when Python or aiosmtpd is missing, except under `CI=true`.
pub struct SmtpSink {
    pub port: u16,
    maildir: tempfile::TempDir,
    child: Child,
}

impl SmtpSink {
    pub async fn start() -> Option<Self> {
        let python = std::env::var("FILEGATE_TEST_SMTP_PYTHON").unwrap_or_else(|_| "python3".into());
        let available = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !available {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "aiosmtpd is not installed: CI must run the email tests (scripts/engines.sh installs it)"
            );
            eprintln!("note: python3 -m aiosmtpd is not available; skipping this email test");
            return None;
        }
        // A free port: bind, read, release. aiosmtpd binds it right after.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let maildir = tempfile::tempdir().expect("maildir");
        let child = Command::new(&python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let sink = Self { port, maildir, child };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "the SMTP sink did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some(sink)
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn messages(&self) -> Vec<PathBuf> {
        let dir: &Path = &self.maildir.path().join("mail").join("new");
        std::fs::read_dir(dir)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    /// Waits for `n` messages (deadline 20 s) and returns their raw text.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.messages();
            if found.len() >= n {
                return found
                    .iter()
                    .map(|p| std::fs::read_to_string(p).expect("message"))
                    .collect();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {n} emails arrived",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
