//! A webhook receiver subscribed to `file.ready`: filegate promises every event at least
//! once (the outbox commits it with the change), so every confirmed file that became
//! `ready` must arrive here however often processes were killed or engines stopped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;

#[derive(Clone, Default)]
pub struct Received {
    ready: Arc<Mutex<HashSet<String>>>,
}

impl Received {
    /// The file ids whose `file.ready` arrived.
    pub fn ready(&self) -> HashSet<String> {
        self.ready.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Serves on a fresh port until the process ends; returns its URL and what it received.
pub async fn start() -> anyhow::Result<(String, Received)> {
    let received = Received::default();
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, received))
}

async fn hook(State(received): State<Received>, body: axum::body::Bytes) -> StatusCode {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if event["type"] == "file.ready"
        && let Some(id) = event["data"]["file_id"].as_str()
        && let Ok(mut ready) = received.ready.lock()
    {
        ready.insert(id.to_owned());
    }
    StatusCode::NO_CONTENT
}
