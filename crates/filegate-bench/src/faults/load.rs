//! The load of a fault run: uploads (create → `PUT` to the signed URL → complete, each with
//! the declared sha256 of random bytes) at a fixed concurrency, as a careful client sends
//! them: each step is retried on a connection error or a 5xx/429 (after `Retry-After` when
//! the answer has one) until the client's patience runs out. Every answer is tallied, so
//! that a 5xx without `Retry-After` is counted where it happened.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use filegate_api::{CompleteUpload, CreateUpload, UploadCreated, UploadInstructions};
use futures::StreamExt as _;
use reqwest::StatusCode;
use sha2::{Digest as _, Sha256};

/// One upload's bytes and where they go.
#[derive(Clone)]
pub struct Upload {
    pub path: String,
    pub body: Bytes,
    pub sha256: String,
}

/// `count` uploads of random bytes (1 to 16 KiB), different in every run (`seed`).
pub fn uploads(count: usize, seed: &str) -> Vec<Upload> {
    (0..count)
        .map(|i| {
            let mut block = Sha256::digest(format!("{seed}/{i}").as_bytes());
            let size = 1024 + (u16::from_be_bytes([block[0], block[1]]) as usize % (15 * 1024));
            let mut body = vec![0u8; size];
            for chunk in body.chunks_mut(32) {
                block = Sha256::digest(block);
                chunk.copy_from_slice(&block[..chunk.len()]);
            }
            let sha256 = hex::encode(Sha256::digest(&body));
            Upload {
                path: format!("faults/{seed}/{i:05}.bin"),
                body: body.into(),
                sha256,
            }
        })
        .collect()
}

/// What happened to one upload.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Every file id a create answered (a retried create may make more than one).
    pub created: Vec<String>,
    /// The file whose complete answered 2xx: the client was told its bytes are safe.
    pub confirmed: Option<String>,
    /// Why the client gave up, when it did.
    pub gave_up: Option<String>,
}

/// Counts over every answer of the load.
#[derive(Default)]
pub struct Tally {
    pub gateway_answers: AtomicU64,
    pub storage_5xx: AtomicU64,
    pub connection_errors: AtomicU64,
    pub retries: AtomicU64,
    /// How many 5xx answers of each status the gateway gave.
    pub gateway_5xx_by_status: Mutex<std::collections::BTreeMap<u16, u64>>,
    /// Gateway 5xx answers without `Retry-After`: step, status and body, for the report.
    pub no_retry_after: Mutex<Vec<String>>,
    /// Uploads finished (confirmed or given up): the fault driver's clock.
    pub finished: AtomicUsize,
    /// When each confirmation arrived (for the recovery times).
    pub confirmed_at: Mutex<Vec<Instant>>,
}

impl Tally {
    /// Confirmations in `[from, to)`.
    pub fn confirmations_between(&self, from: Instant, to: Instant) -> usize {
        self.confirmed_at
            .lock()
            .map_or(0, |times| times.iter().filter(|&&c| c >= from && c < to).count())
    }

    /// The first confirmation at or after `t`.
    pub fn first_confirmation_after(&self, t: Instant) -> Option<Duration> {
        let times = self.confirmed_at.lock().ok()?;
        times.iter().filter(|&&c| c >= t).min().map(|&c| c - t)
    }
}

pub struct Load {
    pub http: reqwest::Client,
    pub base_url: String,
    pub token: String,
    pub bucket: String,
    /// How long one step is retried before the client gives up on the upload.
    pub patience: Duration,
    pub tally: Arc<Tally>,
}

/// A step's final answer (2xx or a 4xx the client does not retry).
struct Answer {
    status: StatusCode,
    body: Bytes,
}

impl Load {
    /// Runs every upload, `concurrency` at a time; the outcomes in the order of `uploads`.
    pub async fn run(self: Arc<Self>, uploads: Arc<Vec<Upload>>, concurrency: usize) -> Vec<Outcome> {
        futures::stream::iter(0..uploads.len())
            .map(|i| {
                let (load, uploads) = (self.clone(), uploads.clone());
                async move {
                    let mut outcome = Outcome::default();
                    if let Err(e) = load.one(&uploads[i], &mut outcome).await {
                        outcome.gave_up = Some(format!("{e:#}"));
                    }
                    load.tally.finished.fetch_add(1, Ordering::Relaxed);
                    outcome
                }
            })
            .buffered(concurrency.max(1))
            .collect()
            .await
    }

    async fn one(&self, upload: &Upload, outcome: &mut Outcome) -> anyhow::Result<()> {
        let create = CreateUpload {
            bucket: self.bucket.clone(),
            path: upload.path.clone(),
            size: upload.body.len() as u64,
            content_type: Some("application/octet-stream".into()),
            sha256: Some(upload.sha256.clone()),
            multipart: Some(false),
            ..CreateUpload::default()
        };
        let url = format!("{}/v1/uploads", self.base_url);
        let answer = self
            .step("create", true, || {
                self.http.post(&url).bearer_auth(&self.token).json(&create)
            })
            .await?;
        ensure_success("create", &answer)?;
        let created: UploadCreated = serde_json::from_slice(&answer.body).context("create's answer")?;
        outcome.created.push(created.file_id.clone());
        let Some(UploadInstructions::Put { url, headers }) = created.upload else {
            bail!("create did not answer a single PUT");
        };
        // The local store's signed URLs are the gateway's; an S3 server's are its own.
        let gateway = url.starts_with(&self.base_url);
        let answer = self
            .step("put", gateway, || {
                let mut put = self.http.put(&url).body(upload.body.clone());
                for (name, value) in &headers {
                    put = put.header(name, value);
                }
                put
            })
            .await?;
        // A retried PUT whose first attempt stored the bytes is told so, and they are kept:
        // 409 `upload-already-stored` from the local store, 412 from S3 (the URL signs
        // `If-None-Match: *`). `complete` then checks them against the declared sha256.
        let already = (answer.status == StatusCode::CONFLICT
            && String::from_utf8_lossy(&answer.body).contains("upload-already-stored"))
            || (!gateway && answer.status == StatusCode::PRECONDITION_FAILED);
        if !already {
            ensure_success("put", &answer)?;
        }
        let complete = CompleteUpload {
            size: Some(upload.body.len() as u64),
            sha256: Some(upload.sha256.clone()),
            ..CompleteUpload::default()
        };
        let url = format!("{}/v1/uploads/{}/complete", self.base_url, created.file_id);
        let answer = self
            .step("complete", true, || {
                self.http.post(&url).bearer_auth(&self.token).json(&complete)
            })
            .await?;
        ensure_success("complete", &answer)?;
        outcome.confirmed = Some(created.file_id);
        if let Ok(mut times) = self.tally.confirmed_at.lock() {
            times.push(Instant::now());
        }
        Ok(())
    }

    /// Sends `make()` until it is answered with something but a 5xx or 429, or the patience
    /// runs out.
    async fn step(
        &self,
        what: &str,
        gateway: bool,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> anyhow::Result<Answer> {
        let deadline = Instant::now() + self.patience;
        let mut backoff = Duration::from_millis(100);
        loop {
            let wait = match make().send().await {
                Err(e) => {
                    self.tally.connection_errors.fetch_add(1, Ordering::Relaxed);
                    if Instant::now() >= deadline {
                        bail!("{what}: no answer within {:?}: {e}", self.patience);
                    }
                    None
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let body = response.bytes().await.unwrap_or_default();
                    if gateway {
                        self.tally.gateway_answers.fetch_add(1, Ordering::Relaxed);
                    }
                    if status.is_server_error() {
                        if gateway {
                            if let Ok(mut by) = self.tally.gateway_5xx_by_status.lock() {
                                *by.entry(status.as_u16()).or_default() += 1;
                            }
                            if retry_after.is_none()
                                && let Ok(mut list) = self.tally.no_retry_after.lock()
                            {
                                list.push(format!(
                                    "{what}: {status} {}",
                                    String::from_utf8_lossy(&body[..body.len().min(300)])
                                ));
                            }
                        } else {
                            self.tally.storage_5xx.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
                        return Ok(Answer { status, body });
                    }
                    if Instant::now() >= deadline {
                        bail!("{what}: still {status} after {:?}", self.patience);
                    }
                    retry_after
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s.clamp(1, 30)))
                }
            };
            self.tally.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait.unwrap_or(backoff)).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}

fn ensure_success(what: &str, answer: &Answer) -> anyhow::Result<()> {
    if answer.status.is_success() {
        return Ok(());
    }
    bail!(
        "{what}: {} {}",
        answer.status,
        String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)])
    )
}
