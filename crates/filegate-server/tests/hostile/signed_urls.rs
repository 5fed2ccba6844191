//! The signed URLs filegate serves for the local store: a URL that is not exactly one
//! filegate signed, an expired one, or a body that breaks what it pins, is refused — and no
//! byte of it is stored, no temp file is left behind, the file stays `pending`.

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use crate::common::TestApp;
use crate::support::{Answer, Snapshot, call_json, pending_upload, put_bytes, send, status_of};

/// `url` with its query parameter `name` set to `value`, or removed when `None`.
fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = Url::parse(url).expect("a signed URL");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .into_owned()
        .filter_map(|(k, v)| {
            if k == name {
                value.map(|nv| (k, nv.to_owned()))
            } else {
                Some((k, v))
            }
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

fn param(url: &str, name: &str) -> String {
    let parsed = Url::parse(url).expect("a signed URL");
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{url} has no {name}"))
}

/// The URL with one character of its signature changed.
fn flipped_signature(url: &str) -> String {
    let sig = param(url, "sig");
    let first = if sig.starts_with('A') { 'B' } else { 'A' };
    with_param(url, "sig", Some(&format!("{first}{}", &sig[1..])))
}

/// `url`'s path with `other`'s query: another object, the same signature.
fn path_of_with_query_of(path_from: &str, query_from: &str) -> String {
    let mut target = Url::parse(path_from).expect("url");
    target.set_query(Url::parse(query_from).expect("url").query());
    target.to_string()
}

async fn put(app: &TestApp, url: &str, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> Answer {
    let mut request = app.anonymous.http().put(url).body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    send(request).await
}

fn url_of(created: &Value) -> String {
    created["upload"]["url"].as_str().expect("a signed URL").to_owned()
}

fn id_of(created: &Value) -> String {
    created["file_id"].as_str().expect("a file id").to_owned()
}

#[tokio::test]
async fn tampered_signed_put_urls_and_wrong_bodies_store_nothing() {
    let app = TestApp::spawn().await;
    let a = pending_upload(&app.client, "a.txt", 5).await;
    let b = pending_upload(&app.client, "b.txt", 5).await;
    let (url, other) = (url_of(&a), url_of(&b));
    let expires: i64 = param(&url, "expires").parse().expect("expires");
    let before = Snapshot::take(&app, &app.client).await;
    let text = Some("text/plain");

    let tampered = [
        flipped_signature(&url),
        with_param(&url, "sig", None),
        with_param(&url, "sig", Some("")),
        with_param(&url, "sig", Some("not base64!")),
        with_param(&url, "sig", Some(&param(&other, "sig"))),
        with_param(&url, "expires", Some(&(expires + 3600).to_string())),
        with_param(&url, "expires", Some("99999999999999999999")),
        with_param(&url, "expires", None),
        with_param(&url, "size", Some("4")),
        with_param(&url, "size", Some("-5")),
        with_param(&url, "size", None),
        with_param(&url, "type", Some("text/html")),
        format!("{url}&extra=1"),
        format!("{url}&size=5"),
        format!("{url}&upload_id=00000000000000000000000000000000&part=1"),
        path_of_with_query_of(&other, &url),
        url.replacen("/blob/", "/blob/t/default/..%2F..%2F", 1),
        url.replacen("/blob/t/default/", "/blob/t/other/", 1),
    ];
    for bad in &tampered {
        put(&app, bad, text, &b"hello"[..])
            .await
            .assert_error(403, "signature-invalid");
    }
    // Every parameter altered together with what it pins: still not a URL filegate signed.
    put(&app, &with_param(&url, "size", Some("6")), text, &b"hello!"[..])
        .await
        .assert_error(403, "signature-invalid");
    let html = with_param(&url, "type", Some("text/html"));
    put(&app, &html, Some("text/html"), &b"<b>hi"[..])
        .await
        .assert_error(403, "signature-invalid");

    // The URL is genuine; the request breaks what it pins.
    for content_type in [
        None,
        Some("text/html"),
        Some("application/octet-stream"),
        Some("nonsense"),
    ] {
        put(&app, &url, content_type, &b"hello"[..])
            .await
            .assert_error(403, "signature-invalid");
    }
    put(&app, &url, text, &b"hello, world"[..])
        .await
        .assert_error(413, "file-too-large");
    put(&app, &url, text, &b"hell"[..])
        .await
        .assert_error(400, "body-invalid");
    put(&app, &url, text, Vec::new())
        .await
        .assert_error(400, "body-invalid");
    let endless = futures::stream::iter((0..64).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 16 * 1024])));
    put(&app, &url, text, reqwest::Body::wrap_stream(endless))
        .await
        .assert_error(413, "file-too-large");
    // Other methods on the same URL.
    send(app.anonymous.http().get(&url))
        .await
        .assert_error(403, "signature-invalid");
    send(app.anonymous.http().post(&url).body("hello"))
        .await
        .assert_error(405, "method-not-allowed");

    before.assert_unchanged(&app, &app.client, "tampered signed PUTs").await;
    for id in [id_of(&a), id_of(&b)] {
        assert_eq!(status_of(&app.client, &id).await, "pending");
        let complete = call_json(
            &app.client,
            Method::POST,
            &format!("v1/uploads/{id}/complete"),
            &json!({}),
        );
        send(complete).await.assert_error(409, "upload-missing");
    }

    // The genuine request still works afterwards.
    put_bytes(&app.client, &a, b"hello").await;
    let done = app
        .client
        .complete_upload(&id_of(&a), &Default::default())
        .await
        .expect("complete");
    assert_eq!((done.status.as_str(), done.size), ("uploaded", 5));

    // Replaying the still unexpired URL cannot replace the completed file's bytes.
    app.run_jobs().await;
    let completed = Snapshot::take(&app, &app.client).await;
    let replay = put(&app, &url, text, &b"HELLO"[..]).await;
    assert!(
        matches!(replay.status, 403 | 404 | 409),
        "a replayed PUT answered {}",
        replay.status
    );
    replay.assert_error(replay.status, &replay.error_code().unwrap_or_default());
    completed.assert_unchanged(&app, &app.client, "a replayed PUT").await;
    let body = app
        .client
        .content(&id_of(&a), Default::default())
        .await
        .expect("content")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&body[..], b"hello");
}

/// Waits until the clock has passed `expires_at` (a condition with a deadline).
async fn until_past(expires_at: &str) {
    let expires_at: chrono::DateTime<Utc> = expires_at.parse().expect("an RFC 3339 time");
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while Utc::now() <= expires_at {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock never passed {expires_at}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn expired_upload_urls_are_signature_expired_and_store_nothing() {
    let app = TestApp::spawn_with(|c| c.uploads.url_ttl_secs = 0).await;
    let single = pending_upload(&app.client, "late.txt", 5).await;
    let body = json!({"bucket": "default", "path": "late.bin", "size": 12 * 1024 * 1024, "multipart": true});
    let multi = send(call_json(&app.client, Method::POST, "v1/uploads", &body))
        .await
        .ok_json();
    until_past(single["expires_at"].as_str().expect("expires_at")).await;
    until_past(multi["expires_at"].as_str().expect("expires_at")).await;
    let before = Snapshot::take(&app, &app.client).await;

    let url = url_of(&single);
    put(&app, &url, Some("text/plain"), &b"hello"[..])
        .await
        .assert_error(403, "signature-expired");
    // Tampered and expired: the signature is checked first, and is what fails.
    put(&app, &flipped_signature(&url), Some("text/plain"), &b"hello"[..])
        .await
        .assert_error(403, "signature-invalid");
    let later = (Utc::now().timestamp() + 3600).to_string();
    put(
        &app,
        &with_param(&url, "expires", Some(&later)),
        Some("text/plain"),
        &b"hello"[..],
    )
    .await
    .assert_error(403, "signature-invalid");
    let part = multi["upload"]["parts"][0]["url"].as_str().expect("a part URL");
    put(&app, part, None, vec![b'x'; 1024])
        .await
        .assert_error(403, "signature-expired");

    before.assert_unchanged(&app, &app.client, "expired signed URLs").await;
    assert_ne!(status_of(&app.client, &id_of(&single)).await, "uploaded");
}

#[tokio::test]
async fn expired_download_urls_are_signature_expired() {
    let app = TestApp::spawn_with(|c| c.downloads.url_ttl_secs = 0).await;
    let file = app.ready_file(&app.client, "default", "old.txt", b"old news").await;
    let download = app.client.download_url(&file.id, None).await.expect("download url");
    until_past(&download.expires_at.to_rfc3339()).await;
    let before = Snapshot::take(&app, &app.client).await;
    send(app.anonymous.http().get(&download.url))
        .await
        .assert_error(403, "signature-expired");
    let head = send(app.anonymous.http().head(&download.url)).await;
    assert_eq!(head.status, 403, "{head:?}");
    before.assert_unchanged(&app, &app.client, "an expired download").await;
}

#[tokio::test]
async fn tampered_download_urls_are_signature_invalid() {
    let app = TestApp::spawn().await;
    let file = app
        .ready_file(&app.client, "default", "report.txt", b"secret report")
        .await;
    let other = app.ready_file(&app.client, "default", "other.txt", b"other").await;
    let url = app.client.download_url(&file.id, None).await.expect("url").url;
    let other_url = app.client.download_url(&other.id, None).await.expect("url").url;
    let before = Snapshot::take(&app, &app.client).await;
    let tampered = [
        flipped_signature(&url),
        with_param(&url, "sig", None),
        with_param(&url, "filename", Some("evil.html")),
        with_param(&url, "filename", Some("a\r\nSet-Cookie: x=y")),
        with_param(&url, "type", Some("text/html")),
        with_param(&url, "disposition", Some("inline")),
        with_param(
            &url,
            "expires",
            Some(&(Utc::now().timestamp() + 86_400 * 365).to_string()),
        ),
        path_of_with_query_of(&other_url, &url),
        format!("{url}&type=text/html"),
    ];
    for bad in &tampered {
        send(app.anonymous.http().get(bad))
            .await
            .assert_error(403, "signature-invalid");
    }
    // A download URL does not upload.
    put(&app, &url, Some("text/plain"), &b"overwritten!!"[..])
        .await
        .assert_error(403, "signature-invalid");
    before.assert_unchanged(&app, &app.client, "tampered downloads").await;
    let body = app
        .client
        .content(&file.id, Default::default())
        .await
        .expect("content")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&body[..], b"secret report");
}

#[tokio::test]
async fn part_urls_refuse_oversize_parts_and_tampering() {
    let app = TestApp::spawn().await;
    let body = json!({"bucket": "default", "path": "big.bin", "size": 12 * 1024 * 1024, "multipart": true});
    let multi = send(call_json(&app.client, Method::POST, "v1/uploads", &body))
        .await
        .ok_json();
    let part_size = multi["upload"]["part_size"].as_u64().expect("part size");
    let part1 = multi["upload"]["parts"][0]["url"]
        .as_str()
        .expect("part url")
        .to_owned();
    let before = Snapshot::take(&app, &app.client).await;

    let oversize = vec![b'x'; usize::try_from(part_size).expect("fits") + 1];
    put(&app, &part1, None, oversize)
        .await
        .assert_error(413, "file-too-large");
    for bad in [
        flipped_signature(&part1),
        with_param(&part1, "part", Some("2")),
        with_param(&part1, "part", Some("0")),
        with_param(&part1, "upload_id", Some("0123456789abcdef0123456789abcdef")),
        with_param(&part1, "upload_id", Some("../../../../etc")),
        with_param(&part1, "upload_id", None),
    ] {
        put(&app, &bad, None, vec![b'x'; 16])
            .await
            .assert_error(403, "signature-invalid");
    }
    before.assert_unchanged(&app, &app.client, "bad parts").await;

    // Once aborted, the genuine part URL stores nothing more.
    let id = id_of(&multi);
    app.client.abort_upload(&id).await.expect("abort");
    app.run_jobs().await;
    let after_abort = Snapshot::take(&app, &app.client).await;
    put(&app, &part1, None, vec![b'x'; 16])
        .await
        .assert_error(404, "not-found");
    after_abort
        .assert_unchanged(&app, &app.client, "a part after abort")
        .await;
    assert_eq!(status_of(&app.client, &id).await, "expired");
}

#[tokio::test]
async fn tampered_form_uploads_store_nothing() {
    let app = TestApp::spawn().await;
    let body = json!({"bucket": "default", "path": "form.txt", "size": 5, "content_type": "text/plain", "form": true});
    let created = send(call_json(&app.client, Method::POST, "v1/uploads", &body))
        .await
        .ok_json();
    let url = created["upload"]["url"].as_str().expect("form url").to_owned();
    let fields: std::collections::BTreeMap<String, String> =
        serde_json::from_value(created["upload"]["fields"].clone()).expect("fields");
    let before = Snapshot::take(&app, &app.client).await;

    let form_with = |changes: &[(&str, Option<&str>)], file: &'static [u8]| {
        let mut form = reqwest::multipart::Form::new();
        let mut fields = fields.clone();
        for (name, value) in changes {
            match value {
                Some(v) => fields.insert((*name).to_owned(), (*v).to_owned()),
                None => fields.remove(*name),
            };
        }
        for (name, value) in fields {
            form = form.text(name, value);
        }
        let part = reqwest::multipart::Part::bytes(file)
            .file_name("form.txt")
            .mime_str("text/plain")
            .expect("mime");
        form.part("file", part)
    };
    let other_key = fields["key"].replacen("t/default/", "t/other/", 1);
    let tampered: Vec<Vec<(&str, Option<&str>)>> = vec![
        vec![("sig", Some("AAAA"))],
        vec![("sig", None)],
        vec![("size", Some("6"))],
        vec![("type", Some("text/html"))],
        vec![("expires", Some("99999999999"))],
        vec![("key", Some(other_key.as_str()))],
        vec![("key", None)],
        vec![("extra", Some("1"))],
    ];
    for changes in &tampered {
        let answer = send(app.anonymous.http().post(&url).multipart(form_with(changes, b"hello"))).await;
        answer.assert_error(403, "signature-invalid");
    }
    send(
        app.anonymous
            .http()
            .post(&url)
            .multipart(form_with(&[], b"hello, world")),
    )
    .await
    .assert_error(413, "file-too-large");
    send(app.anonymous.http().post(&url).multipart(form_with(&[], b"hel")))
        .await
        .assert_error(400, "body-invalid");
    let no_file = fields.iter().fold(reqwest::multipart::Form::new(), |f, (k, v)| {
        f.text(k.clone(), v.clone())
    });
    send(app.anonymous.http().post(&url).multipart(no_file))
        .await
        .assert_error(400, "invalid-form");
    send(
        app.anonymous
            .http()
            .post(&url)
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await
    .assert_error(400, "invalid-form");
    before.assert_unchanged(&app, &app.client, "tampered forms").await;
    assert_eq!(status_of(&app.client, &id_of(&created)).await, "pending");
}
