//! Requests already under way: a browser on another origin, an upload that outlives its
//! URL's expiry, and an upload in flight when the server is told to stop.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use filegate_api::{CreateUpload, UploadInstructions};
use tokio::sync::mpsc;

use crate::common::TestApp;

/// Creates a pending PUT upload of `size` bytes; returns (file id, url, expires_at).
async fn put_upload(app: &TestApp, size: u64) -> (String, String, chrono::DateTime<Utc>) {
    let created = app
        .client
        .create_upload(&CreateUpload {
            bucket: "default".into(),
            path: "in-flight.bin".into(),
            size,
            content_type: Some("application/octet-stream".into()),
            multipart: Some(false),
            ..CreateUpload::default()
        })
        .await
        .expect("create upload");
    let Some(UploadInstructions::Put { url, .. }) = created.upload else {
        panic!("expected a PUT")
    };
    (created.file_id, url, created.expires_at)
}

/// A PUT whose body the test feeds chunk by chunk.
fn streaming_put(url: &str, size: u64) -> (mpsc::Sender<Bytes>, tokio::task::JoinHandle<reqwest::Response>) {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let body = reqwest::Body::wrap_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    }));
    let request = reqwest::Client::new()
        .put(url)
        .header("content-type", "application/octet-stream")
        .header("content-length", size)
        .body(body);
    (
        tx,
        tokio::spawn(async move { request.send().await.expect("the PUT gets an answer") }),
    )
}

#[tokio::test]
async fn a_page_on_another_origin_may_put_to_a_signed_url() {
    let app = TestApp::spawn().await;
    let (_, url, _) = put_upload(&app, 5).await;
    let http = reqwest::Client::new();

    let preflight = http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://app.example")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = |name: &str| {
        preflight
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(allowed("access-control-allow-origin"), "*");
    assert!(allowed("access-control-allow-methods").contains("PUT"));

    let put = http
        .put(&url)
        .header("origin", "https://app.example")
        .header("content-type", "application/octet-stream")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(put.headers()["access-control-allow-origin"], "*");
    let exposed = put.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        exposed.contains("etag"),
        "the page can read the ETag it must send to complete: {exposed}"
    );
}

#[tokio::test]
async fn an_upload_that_started_before_expiry_finishes_after_it() {
    let app = TestApp::spawn_with(|c| c.uploads.url_ttl_secs = 1).await;
    let (id, url, expires_at) = put_upload(&app, 8).await;
    let (tx, put) = streaming_put(&url, 8);
    tx.send(Bytes::from_static(b"half")).await.unwrap();

    // Wait (a condition with a deadline) until the URL has expired, then finish the body.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while Utc::now() <= expires_at {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock never passed the expiry"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.send(Bytes::from_static(b"done")).await.unwrap();
    drop(tx);

    assert_eq!(
        put.await.unwrap().status(),
        200,
        "an upload that started in time finishes"
    );
    let file = app
        .client
        .complete_upload(&id, &Default::default())
        .await
        .expect("complete");
    assert_eq!(file.status, "uploaded");
    app.run_jobs().await;
    assert_eq!(crate::support::content_of(&app.client, &id).await.as_ref(), b"halfdone");
}

#[tokio::test]
async fn an_upload_in_flight_when_shutdown_begins_is_stored_whole() {
    let mut app = TestApp::spawn().await;
    let size = 2 * 1024 * 1024u64;
    let (_, url, _) = put_upload(&app, size).await;
    let (tx, put) = streaming_put(&url, size);
    let chunk = Bytes::from(vec![7u8; 64 * 1024]);
    for _ in 0..8 {
        tx.send(chunk.clone()).await.unwrap();
    }

    app.begin_shutdown();
    for _ in 8..32 {
        tx.send(chunk.clone()).await.unwrap();
    }
    drop(tx);

    assert_eq!(
        put.await.unwrap().status(),
        200,
        "the in-flight upload finished during shutdown"
    );
    let stored: Vec<u64> = app
        .stored_objects()
        .iter()
        .filter(|p| !p.to_string_lossy().contains('~'))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();
    assert_eq!(stored, vec![size], "the whole object is stored, nothing partial");
}
