//! An uploader's HTML or SVG never runs in filegate's origin: every route that
//! serves stored bytes sends `nosniff` and the sandbox CSP, and serves an active type
//! (HTML, SVG, XML, script) as an attachment even when inline is asked for, unless the
//! bucket opts in (`inline_active`; the sandbox CSP stays).

use bytes::Bytes;
use filegate_client::Disposition;
use filegate_client::api::{CreateBucket, CreateShare, FileView};
use reqwest::header::{self, HeaderMap};

use crate::common::TestApp;

const HTML: &[u8] = b"<html><script>fetch('/v1/files').then(r => r.text()).then(alert)</script></html>";
const SVG: &[u8] = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(document.domain)</script></svg>";

/// The active types tried on every route, with bytes that would run.
const ACTIVE: &[(&str, &str, &[u8])] = &[
    ("page.html", "text/html; charset=utf-8", HTML),
    ("logo.svg", "image/svg+xml", SVG),
    ("feed.xhtml", "application/xhtml+xml", HTML),
    ("data.xml", "text/xml", SVG),
];

async fn stored(app: &TestApp, bucket: &str, path: &str, content_type: &str, bytes: &[u8]) -> FileView {
    let file = app
        .client
        .upload_bytes(bucket, path, content_type, Bytes::copy_from_slice(bytes))
        .await
        .expect("upload");
    app.run_jobs().await;
    let file = app.client.get_file(&file.id).await.expect("get");
    assert_eq!(file.status, "ready", "{file:?}");
    file
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(&name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// What every answer with stored bytes carries: no sniffing, a sandbox for anything shown.
#[track_caller]
fn assert_sandboxed(what: &str, headers: &HeaderMap) {
    assert_eq!(header(headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{what}");
    let csp = header(headers, header::CONTENT_SECURITY_POLICY);
    assert!(csp.starts_with("sandbox"), "{what}: CSP {csp:?}");
}

/// An active type: sandboxed and handed over as a download, whatever was asked.
#[track_caller]
fn assert_contained(what: &str, headers: &HeaderMap) {
    assert_sandboxed(what, headers);
    let disposition = header(headers, header::CONTENT_DISPOSITION);
    assert!(disposition.starts_with("attachment"), "{what}: {disposition:?}");
}

async fn fetch(app: &TestApp, url: &str) -> reqwest::Response {
    let response = app.anonymous.http().get(url).send().await.expect("request sent");
    assert_eq!(response.status(), 200, "{url}");
    response
}

#[tokio::test]
async fn a_signed_inline_download_of_an_active_type_is_an_attachment() {
    let app = TestApp::spawn().await;
    for (path, content_type, bytes) in ACTIVE {
        let file = stored(&app, "default", path, content_type, bytes).await;
        let link = app
            .client
            .download_url(&file.id, Some(Disposition::Inline))
            .await
            .expect("a signed URL");
        let response = fetch(&app, &link.url).await;
        assert_contained(&format!("signed {content_type}"), response.headers());
        assert_eq!(response.bytes().await.unwrap(), *bytes, "the bytes are unchanged");
    }
    // A passive type is still shown inline, sandboxed.
    let text = stored(&app, "default", "notes.txt", "text/plain", b"hello").await;
    let link = app
        .client
        .download_url(&text.id, Some(Disposition::Inline))
        .await
        .unwrap();
    let response = fetch(&app, &link.url).await;
    assert_sandboxed("signed text/plain", response.headers());
    assert!(header(response.headers(), header::CONTENT_DISPOSITION).starts_with("inline"));
}

#[tokio::test]
async fn content_through_the_gateway_is_sandboxed() {
    let app = TestApp::spawn().await;
    let file = stored(&app, "default", "page.html", "text/html", HTML).await;
    let response = app
        .client
        .http()
        .get(format!("{}/v1/files/{}/content", app.base_url, file.id))
        .bearer_auth(app.token("default", "admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_contained("/content of text/html", response.headers());
}

#[tokio::test]
async fn a_public_bucket_serves_active_types_as_attachments() {
    let app = TestApp::spawn().await;
    app.client
        .create_bucket(&CreateBucket {
            name: "site".into(),
            public: Some(true),
            ..CreateBucket::default()
        })
        .await
        .expect("public bucket");
    for (path, content_type, bytes) in ACTIVE {
        stored(&app, "site", path, content_type, bytes).await;
        let response = fetch(&app, &format!("{}/p/default/site/{path}", app.base_url)).await;
        assert_contained(&format!("/p/ {content_type}"), response.headers());
    }
}

#[tokio::test]
async fn a_share_view_serves_active_types_as_attachments() {
    let app = TestApp::spawn().await;
    for (path, content_type, bytes) in ACTIVE {
        let file = stored(&app, "default", path, content_type, bytes).await;
        let created = app
            .client
            .create_share(&file.id, &CreateShare::default())
            .await
            .expect("a view share");
        let response = fetch(&app, &format!("{}/view", created.url)).await;
        assert_contained(&format!("share view of {content_type}"), response.headers());
    }
}

#[tokio::test]
async fn a_bucket_that_opts_in_shows_active_types_inline_still_sandboxed() {
    let app = TestApp::spawn().await;
    let created = app
        .client
        .create_bucket(&CreateBucket {
            name: "pages".into(),
            inline_active: Some(true),
            ..CreateBucket::default()
        })
        .await
        .expect("a bucket that shows HTML");
    assert!(created.inline_active);
    let file = stored(&app, "pages", "page.html", "text/html", HTML).await;
    let link = app
        .client
        .download_url(&file.id, Some(Disposition::Inline))
        .await
        .unwrap();
    let response = fetch(&app, &link.url).await;
    assert_sandboxed("opted-in signed text/html", response.headers());
    let disposition = header(response.headers(), header::CONTENT_DISPOSITION);
    assert!(disposition.starts_with("inline"), "{disposition:?}");
    // The default bucket did not opt in.
    let listed = app.client.get_bucket("default").await.expect("the default bucket");
    assert!(!listed.inline_active);
}
