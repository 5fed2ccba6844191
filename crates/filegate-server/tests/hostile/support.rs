//! What every hostile test needs: raw requests whose answers are kept whole, the check that
//! an answer is the JSON error body (docs/errors.md), and snapshots proving a refused request changed nothing.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use filegate_api::FileView;
use filegate_client::Client;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use crate::common::TestApp;

/// A whole answer, with what was asked, for assertion messages.
#[derive(Debug)]
pub struct Answer {
    pub what: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: body is not JSON ({e}): {:?}",
                self.what,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a 2xx answer and returns its JSON body.
    #[track_caller]
    pub fn ok_json(&self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "{}: expected success, got {} {:?}",
            self.what,
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// Asserts that this is the JSON error body: the status, the code, a message for people and
    /// a request id that matches the `X-Request-Id` header.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        let body = String::from_utf8_lossy(&self.body);
        assert_eq!(
            (self.status, self.error_code().as_deref()),
            (status, Some(code)),
            "{}: {body}",
            self.what
        );
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{}: content type {content_type:?}",
            self.what
        );
        let json = self.json();
        let error = json
            .get("error")
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("{}: no error object: {body}", self.what));
        assert_eq!(
            error.get("status").and_then(Value::as_u64),
            Some(u64::from(status)),
            "{}: {body}",
            self.what
        );
        let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
        assert!(!message.is_empty(), "{}: empty message: {body}", self.what);
        let request_id = error.get("request_id").and_then(Value::as_str).unwrap_or_default();
        assert!(!request_id.is_empty(), "{}: no request id: {body}", self.what);
        assert_eq!(
            self.header("x-request-id"),
            Some(request_id),
            "{}: the body's request id is not the header's",
            self.what
        );
        assert_eq!(
            json.as_object().map(|o| o.len()),
            Some(1),
            "{}: extra top-level fields: {body}",
            self.what
        );
    }

    pub fn error_code(&self) -> Option<String> {
        let json: Value = serde_json::from_slice(&self.body).ok()?;
        json.pointer("/error/code").and_then(Value::as_str).map(str::to_owned)
    }
}

/// Sends a request and reads the whole answer. Transport failures fail the test.
pub async fn send(request: RequestBuilder) -> Answer {
    let (http, request) = request.build_split();
    let request = request.expect("a request the test can build");
    let what = format!("{} {}", request.method(), request.url());
    let response = http.execute(request).await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"));
    Answer {
        what,
        status,
        headers,
        body,
    }
}

/// A request with `client`'s credentials to `path` (a `/`-separated route, with no query).
pub fn call(client: &Client, method: Method, path: &str) -> RequestBuilder {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    client
        .request(method, &segments)
        .expect("a route the client can address")
}

/// A JSON request with `client`'s credentials.
pub fn call_json(client: &Client, method: Method, path: &str, body: &Value) -> RequestBuilder {
    call(client, method, path).json(body)
}

/// A raw body sent as `application/json`, for bodies serde would never produce.
pub fn call_raw_json(client: &Client, method: Method, path: &str, body: impl Into<reqwest::Body>) -> RequestBuilder {
    call(client, method, path)
        .header("content-type", "application/json")
        .body(body)
}

/// Everything a refused request must leave alone: the tenant's files (every field, any
/// status, deleted ones too, through the change feed), every file under the object store
/// (objects, etag sidecars, multipart parts, temp files), and the job queue.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    files: Vec<FileView>,
    stored: Vec<PathBuf>,
}

impl Snapshot {
    /// Drains the due jobs first, so a later `assert_unchanged` can tell that none was added.
    pub async fn take(app: &TestApp, client: &Client) -> Self {
        app.run_jobs().await;
        Self::capture(app, client).await
    }

    async fn capture(app: &TestApp, client: &Client) -> Self {
        let mut files = Vec::new();
        let mut since: Option<String> = None;
        loop {
            let page = client.changes(since.as_deref(), Some(1000)).await.expect("change feed");
            if page.items.is_empty() {
                break;
            }
            files.extend(page.items);
            since = Some(page.next_cursor);
        }
        files.sort_by(|a, b| a.id.cmp(&b.id));
        Self {
            files,
            stored: store_files(app),
        }
    }

    /// Asserts that nothing changed since this snapshot and that no job was enqueued.
    /// Asserts that the files this snapshot saw did not change (objects elsewhere may have).
    pub async fn assert_files_unchanged(&self, app: &TestApp, client: &Client, after_what: &str) {
        let now = Self::capture(app, client).await;
        assert_eq!(now.files, self.files, "{after_what} changed a file");
    }

    pub async fn assert_unchanged(&self, app: &TestApp, client: &Client, after_what: &str) {
        let jobs = app.run_jobs().await;
        let now = Self::capture(app, client).await;
        assert_eq!(&now, self, "{after_what} changed something");
        assert_eq!(jobs, 0, "{after_what} enqueued a job");
    }
}

/// Every file under the object store's root, sorted.
pub fn store_files(app: &TestApp) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out)
                } else {
                    out.push(path)
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&app.data_dir.path().join("objects"), &mut out);
    out.sort();
    out
}

/// A pending upload of `size` bytes in the `default` bucket, created through the API; the
/// answer is `POST /v1/uploads`'s JSON.
pub async fn pending_upload(client: &Client, path: &str, size: u64) -> Value {
    let body = serde_json::json!({"bucket": "default", "path": path, "size": size, "content_type": "text/plain"});
    send(call_json(client, Method::POST, "v1/uploads", &body))
        .await
        .ok_json()
}

/// A valid `POST /v1/uploads` body that tests spoil one field at a time.
pub fn upload_body() -> Value {
    serde_json::json!({"bucket": "default", "path": "reports/ward-a.csv", "size": 5, "content_type": "text/csv"})
}

/// The file's status as its owner sees it.
pub async fn status_of(client: &Client, id: &str) -> String {
    client.file_status(id).await.expect("status").status
}

/// PUTs `bytes` to the signed URL of a created upload (`POST /v1/uploads`'s JSON), with the
/// headers it asked for; returns the ETag.
pub async fn put_bytes(client: &Client, created: &Value, bytes: &'static [u8]) -> String {
    let url = created["upload"]["url"].as_str().expect("a signed PUT url");
    let headers: std::collections::BTreeMap<String, String> =
        serde_json::from_value(created["upload"]["headers"].clone()).expect("upload headers");
    client
        .put_signed(url, &headers, bytes)
        .await
        .expect("PUT to the signed URL")
}

/// Query pairs on a request (this reqwest is built without its `query` feature).
pub trait WithQuery {
    fn with_query<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self;
}

impl WithQuery for RequestBuilder {
    fn with_query<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self {
        let (http, request) = self.build_split();
        let mut request = request.expect("a request the test can build");
        request
            .url_mut()
            .query_pairs_mut()
            .extend_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
        RequestBuilder::from_parts(http, request)
    }
}
