//! A file's bytes, once stored through its signed URL, are the bytes it keeps: a `PUT` that started while the file was `pending` and was held open while
//! another one finished, was completed, verified and made `ready` is refused when it ends;
//! a `complete` that refuses bytes for good removes them so the same URL can bring the right
//! ones; and a body that stops moving is cut after `http.body_idle_timeout_secs`, storing
//! nothing. Nothing here sleeps: each wait is on a condition or an answer, with a deadline.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

use crate::common::TestApp;
use crate::support::{Answer, call_json, send, status_of, store_files};

const WAIT: Duration = Duration::from_secs(20);

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn create(app: &TestApp, path: &str, size: usize, extra: Value) -> Value {
    let mut body = json!({"bucket": "default", "path": path, "size": size, "content_type": "text/plain"});
    body.as_object_mut()
        .expect("an object")
        .extend(extra.as_object().expect("an object").clone());
    send(call_json(&app.client, Method::POST, "v1/uploads", &body))
        .await
        .ok_json()
}

fn url_of(created: &Value) -> String {
    created["upload"]["url"].as_str().expect("a signed URL").to_owned()
}

fn id_of(created: &Value) -> String {
    created["file_id"].as_str().expect("a file id").to_owned()
}

/// A PUT of the whole body at once.
async fn put(app: &TestApp, url: &str, bytes: Vec<u8>) -> Answer {
    send(
        app.anonymous
            .http()
            .put(url)
            .header("content-type", "text/plain")
            .body(bytes),
    )
    .await
}

/// A PUT whose body the test sends chunk by chunk through the returned sender, running in
/// its own task; its answer comes when the body ends (the sender is dropped) or is refused.
fn streamed_put(app: &TestApp, url: &str) -> (mpsc::Sender<Bytes>, JoinHandle<Answer>) {
    let (tx, mut rx) = mpsc::channel::<Bytes>(1);
    let body = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(Ok::<_, std::io::Error>);
    let request = app
        .anonymous
        .http()
        .put(url)
        .header("content-type", "text/plain")
        .body(reqwest::Body::wrap_stream(body));
    (tx, tokio::spawn(send(request)))
}

use futures::StreamExt as _;

/// Temp files of uploads still streaming in (the store's `tmp`, lock files aside).
fn temp_files(app: &TestApp) -> Vec<PathBuf> {
    let tmp = app.data_dir.path().join("objects").join("tmp");
    store_files(app)
        .into_iter()
        .filter(|p| p.starts_with(&tmp))
        .filter(|p| !matches!(p.file_name().and_then(|n| n.to_str()), Some(".lock" | ".sweep-lock")))
        .collect()
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn answer_of(put: JoinHandle<Answer>, what: &str) -> Answer {
    timeout(WAIT, put)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
        .expect("the PUT task")
}

async fn complete(app: &TestApp, id: &str, body: &Value) -> Answer {
    send(call_json(
        &app.client,
        Method::POST,
        &format!("v1/uploads/{id}/complete"),
        body,
    ))
    .await
}

async fn content(app: &TestApp, id: &str) -> Vec<u8> {
    let answer = send(
        app.client
            .request(Method::GET, &["v1", "files", id, "content"])
            .expect("a route"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.what);
    answer.body.to_vec()
}

/// Where the local store keeps the object of a created upload (a form names its key in a
/// field, a `PUT` in its URL's path).
fn object_of(app: &TestApp, created: &Value) -> PathBuf {
    let key = match created["upload"]["fields"]["key"].as_str() {
        Some(key) => key.to_owned(),
        None => {
            let url = url_of(created);
            let path = url.split("/blob/").nth(1).expect("a blob URL");
            path.split('?').next().expect("a key").to_owned()
        }
    };
    app.data_dir.path().join("objects").join("objects").join(key)
}

#[tokio::test]
async fn a_put_held_open_while_the_file_became_ready_cannot_replace_its_bytes() {
    let app = TestApp::spawn().await;
    let size = 600 * 1024;
    let created = create(&app, "held.txt", size, json!({})).await;
    let (url, id) = (url_of(&created), id_of(&created));

    // The attacker's PUT starts while the file is pending and gets past every check at the
    // start: its first 300 KiB are already being written to a temp file.
    let (tx, held) = streamed_put(&app, &url);
    tx.send(Bytes::from(vec![b'<'; 300 * 1024]))
        .await
        .expect("the held body");
    wait_for("the held PUT writing its temp file", || !temp_files(&app).is_empty()).await;

    // Meanwhile the real upload lands, is completed, verified and made ready.
    let real = pattern(size, 7);
    let stored = put(&app, &url, real.clone()).await;
    assert_eq!(stored.status, 200, "{}", String::from_utf8_lossy(&stored.body));
    let completed = complete(&app, &id, &json!({"sha256": sha256_hex(&real)}))
        .await
        .ok_json();
    assert_eq!(completed["status"], "uploaded");
    app.run_jobs().await;
    assert_eq!(status_of(&app.client, &id).await, "ready");
    let ready = app.client.get_file(&id).await.expect("the file");

    // The held PUT ends, with the right size: refused, and nothing of it is kept.
    tx.send(Bytes::from(vec![b'>'; size - 300 * 1024]))
        .await
        .expect("the rest");
    drop(tx);
    answer_of(held, "the held PUT")
        .await
        .assert_error(409, "upload-already-stored");
    // A PUT that starts now is refused at the start: the file no longer waits for bytes.
    put(&app, &url, pattern(size, 9)).await.assert_error(404, "not-found");

    let served = content(&app, &id).await;
    assert!(served == real, "the ready file serves other bytes than those verified");
    assert_eq!(ready.sha256.as_deref(), Some(sha256_hex(&served).as_str()));
    assert_eq!(app.client.get_file(&id).await.expect("the file"), ready);
    assert!(temp_files(&app).is_empty(), "the refused PUT's temp file is gone");
}

#[tokio::test]
async fn complete_removes_bytes_that_differ_from_the_declared_sha256_and_the_same_url_takes_the_right_ones() {
    let app = TestApp::spawn().await;
    let (right, wrong) = (pattern(4096, 1), pattern(4096, 2));
    let created = create(&app, "retry.txt", 4096, json!({"sha256": sha256_hex(&right)})).await;
    let (url, id) = (url_of(&created), id_of(&created));

    assert_eq!(put(&app, &url, wrong.clone()).await.status, 200);
    // Bytes are stored once: a second PUT before `complete` changes nothing either.
    put(&app, &url, right.clone())
        .await
        .assert_error(409, "upload-already-stored");
    complete(&app, &id, &json!({}))
        .await
        .assert_error(400, "checksum-mismatch");
    assert_eq!(status_of(&app.client, &id).await, "pending");
    assert!(!object_of(&app, &created).exists(), "the refused bytes are removed");

    let again = put(&app, &url, right.clone()).await;
    assert_eq!(again.status, 200, "{}", String::from_utf8_lossy(&again.body));
    assert_eq!(complete(&app, &id, &json!({})).await.ok_json()["status"], "uploaded");
    app.run_jobs().await;
    assert_eq!(status_of(&app.client, &id).await, "ready");
    assert!(content(&app, &id).await == right);
}

/// A client-side claim that differs from the bytes (no sha256 declared at create) refuses
/// the completion but keeps the bytes: another completion may rightly accept them.
#[tokio::test]
async fn a_wrong_sha256_claimed_at_complete_keeps_the_bytes() {
    let app = TestApp::spawn().await;
    let bytes = pattern(2048, 3);
    let created = create(&app, "claimed.txt", 2048, json!({})).await;
    let (url, id) = (url_of(&created), id_of(&created));
    assert_eq!(put(&app, &url, bytes.clone()).await.status, 200);
    complete(&app, &id, &json!({"sha256": sha256_hex(b"other")}))
        .await
        .assert_error(400, "checksum-mismatch");
    assert!(object_of(&app, &created).exists());
    let done = complete(&app, &id, &json!({"sha256": sha256_hex(&bytes)}))
        .await
        .ok_json();
    assert_eq!(done["status"], "uploaded");
}

async fn assert_cut_and_nothing_stored(app: &TestApp, created: &Value, answer: Answer) {
    answer.assert_error(408, "body-timeout");
    assert!(!object_of(app, created).exists(), "no object for a stalled body");
    wait_for("the stalled body's temp file to go", || temp_files(app).is_empty()).await;
    assert_eq!(status_of(&app.client, &id_of(created)).await, "pending");
}

#[tokio::test]
async fn a_stalled_put_body_is_cut_after_the_idle_timeout_and_stores_nothing() {
    let app = TestApp::spawn_with(|c| c.http.body_idle_timeout_secs = 1).await;
    let created = create(&app, "stalled.txt", 600 * 1024, json!({})).await;
    let (tx, put) = streamed_put(&app, &url_of(&created));
    // Enough to start a temp file, then nothing (the sender stays open: no end of body).
    tx.send(Bytes::from(vec![b'x'; 300 * 1024]))
        .await
        .expect("the first bytes");
    let answer = answer_of(put, "the stalled PUT").await;
    assert_cut_and_nothing_stored(&app, &created, answer).await;
    drop(tx);
}

#[tokio::test]
async fn a_stalled_part_body_is_cut_after_the_idle_timeout() {
    let app = TestApp::spawn_with(|c| c.http.body_idle_timeout_secs = 1).await;
    let created = create(&app, "parts.txt", 6 * 1024 * 1024, json!({"multipart": true})).await;
    let url = created["upload"]["parts"][0]["url"]
        .as_str()
        .expect("a part URL")
        .to_owned();
    let (tx, put) = streamed_put(&app, &url);
    tx.send(Bytes::from(vec![b'x'; 1024])).await.expect("the first bytes");
    answer_of(put, "the stalled part")
        .await
        .assert_error(408, "body-timeout");
    wait_for("the stalled part's temp file to go", || temp_files(&app).is_empty()).await;
    drop(tx);
}

#[tokio::test]
async fn a_stalled_form_is_cut_after_the_idle_timeout_and_stores_nothing() {
    let app = TestApp::spawn_with(|c| c.http.body_idle_timeout_secs = 1).await;
    let created = create(&app, "form.txt", 600 * 1024, json!({"form": true})).await;
    let fields: BTreeMap<String, String> =
        serde_json::from_value(created["upload"]["fields"].clone()).expect("form fields");
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name, value);
    }
    let (tx, mut rx) = mpsc::channel::<Bytes>(1);
    let file = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(Ok::<_, std::io::Error>);
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(file))
        .file_name("form.txt")
        .mime_str("text/plain")
        .expect("a type");
    let request = app
        .anonymous
        .http()
        .post(url_of(&created))
        .multipart(form.part("file", part));
    let post = tokio::spawn(send(request));
    tx.send(Bytes::from(vec![b'x'; 300 * 1024]))
        .await
        .expect("the first bytes");
    let answer = answer_of(post, "the stalled form").await;
    assert_cut_and_nothing_stored(&app, &created, answer).await;
    drop(tx);
}
