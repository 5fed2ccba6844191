//! The bytes: `GET /v1/files/{id}/content` (Range, ETag, headers) and signed download URLs.

use bytes::Bytes;
use chrono::{Duration, Utc};
use filegate_client::api::{CreateUpload, FileView};
use filegate_client::{ContentRequest, ContentResponse, Disposition};
use percent_encoding::percent_decode_str;
use reqwest::Method;
use url::Url;

use crate::common::TestApp;
use crate::support::{api_error, content_of, err, json_of, raw};

const BYTES: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const NAME: &str = "dossier médical.txt";

/// A ready `text/plain` file named [`NAME`] holding [`BYTES`].
async fn ready_text(app: &TestApp) -> FileView {
    let file = app
        .client
        .upload_bytes(
            "default",
            &format!("patients/{NAME}"),
            "text/plain",
            Bytes::from_static(BYTES),
        )
        .await
        .expect("upload");
    app.run_jobs().await;
    let file = app.client.get_file(&file.id).await.expect("get");
    assert_eq!(file.status, "ready");
    file
}

async fn ranged(app: &TestApp, id: &str, range: &str) -> filegate_client::Result<ContentResponse> {
    app.client
        .content(
            id,
            ContentRequest {
                range: Some(range.into()),
                ..ContentRequest::default()
            },
        )
        .await
}

/// The `filename*` of a Content-Disposition, decoded.
fn extended_filename(disposition: &str) -> String {
    let encoded = disposition
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("filename*=UTF-8''"))
        .unwrap_or_else(|| panic!("no filename* in {disposition:?}"));
    percent_decode_str(encoded).decode_utf8().expect("UTF-8").into_owned()
}

#[tokio::test]
async fn content_answers_the_whole_file_with_its_headers() {
    let app = TestApp::spawn().await;
    let file = ready_text(&app).await;
    let answer = app
        .client
        .content(&file.id, ContentRequest::default())
        .await
        .expect("content");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type.as_deref(), Some("text/plain"));
    assert_eq!(answer.content_length, Some(BYTES.len() as u64));
    assert_eq!(
        answer.headers.get("accept-ranges").map(|v| v.as_bytes()),
        Some(&b"bytes"[..])
    );
    assert_eq!(answer.etag_value(), file.etag);

    let disposition = answer.content_disposition.clone().expect("Content-Disposition");
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''dossier%20m%C3%A9dical.txt"),
        "{disposition}"
    );
    assert_eq!(extended_filename(&disposition), NAME);
    assert!(disposition.is_ascii(), "header values stay ASCII: {disposition}");
    assert_eq!(answer.bytes().await.expect("body"), BYTES);
}

#[tokio::test]
async fn content_serves_single_byte_ranges() {
    let app = TestApp::spawn().await;
    let file = ready_text(&app).await;
    let size = BYTES.len();
    let cases = [
        ("bytes=0-4", 0, 4),
        ("bytes=5-", 5, size - 1),
        ("bytes=-3", size - 3, size - 1),
        ("bytes=30-1000", 30, size - 1),
        ("bytes=-1000", 0, size - 1),
    ];
    for (range, start, end) in cases {
        let answer = ranged(&app, &file.id, range).await.expect(range);
        assert_eq!(answer.status, 206, "{range}");
        assert_eq!(
            answer.content_range.as_deref(),
            Some(format!("bytes {start}-{end}/{size}").as_str()),
            "{range}"
        );
        assert_eq!(answer.content_length, Some((end - start + 1) as u64), "{range}");
        assert_eq!(answer.bytes().await.expect("body"), &BYTES[start..=end], "{range}");
    }
}

#[tokio::test]
async fn content_refuses_ranges_it_cannot_serve_with_json_errors() {
    let app = TestApp::spawn().await;
    let file = ready_text(&app).await;
    let size = BYTES.len();
    assert_eq!(
        api_error(ranged(&app, &file.id, "bytes=0-1,4-5").await),
        err(416, "range-unsupported")
    );
    let past_end = format!("bytes={size}-");
    assert_eq!(
        api_error(ranged(&app, &file.id, &past_end).await),
        err(416, "range-not-satisfiable")
    );

    // The refusal is JSON and says how large the file is.
    let resp = app
        .client
        .request(Method::GET, &["v1", "files", &file.id, "content"])
        .expect("url")
        .header("range", &past_end)
        .send()
        .await
        .expect("sent");
    let (status, headers, body) = json_of(resp).await;
    assert_eq!(status, 416);
    assert_eq!(
        headers.get("content-range").and_then(|v| v.to_str().ok()),
        Some(format!("bytes */{size}").as_str())
    );
    assert_eq!(body["error"]["code"], "range-not-satisfiable");
    assert_eq!(body["error"]["status"], 416);
}

#[tokio::test]
async fn a_matching_if_none_match_answers_304() {
    let app = TestApp::spawn().await;
    let file = ready_text(&app).await;
    let first = app
        .client
        .content(&file.id, ContentRequest::default())
        .await
        .expect("content");
    let etag = first.etag.clone().expect("an ETag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "a quoted etag: {etag}");

    let cached = ContentRequest {
        if_none_match: Some(etag.clone()),
        ..ContentRequest::default()
    };
    let answer = app.client.content(&file.id, cached).await.expect("conditional content");
    assert_eq!(answer.status, 304);
    assert_eq!(answer.etag.as_deref(), Some(etag.as_str()));
    assert!(answer.bytes().await.expect("body").is_empty());

    let stale = ContentRequest {
        if_none_match: Some("\"something-else\"".into()),
        ..ContentRequest::default()
    };
    let answer = app.client.content(&file.id, stale).await.expect("conditional content");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.bytes().await.expect("body"), BYTES);
}

#[tokio::test]
async fn content_of_a_file_that_is_not_ready_is_refused() {
    let app = TestApp::spawn().await;
    let request = CreateUpload {
        bucket: "default".into(),
        path: "later.bin".into(),
        size: 3,
        ..CreateUpload::default()
    };
    let pending = app.client.create_upload(&request).await.expect("create");
    assert_eq!(
        api_error(app.client.content(&pending.file_id, ContentRequest::default()).await),
        err(409, "file-not-ready")
    );
    assert_eq!(
        api_error(app.client.download_url(&pending.file_id, None).await),
        err(409, "file-not-ready")
    );
    let other = app.tenant("acme").await;
    let file = ready_text(&app).await;
    assert_eq!(
        api_error(other.content(&file.id, ContentRequest::default()).await),
        err(404, "not-found")
    );
    assert_eq!(
        api_error(other.download_url(&file.id, None).await),
        err(404, "not-found")
    );
}

#[tokio::test]
async fn a_signed_download_url_serves_the_bytes_without_a_token() {
    let app = TestApp::spawn().await;
    let file = ready_text(&app).await;
    let asked_at = Utc::now();
    let link = app.client.download_url(&file.id, None).await.expect("download URL");
    assert!(
        link.expires_at > asked_at + Duration::minutes(59),
        "valid for an hour: {}",
        link.expires_at
    );
    assert!(
        link.expires_at <= Utc::now() + Duration::minutes(61),
        "valid for an hour: {}",
        link.expires_at
    );

    // `anonymous` has no token: the URL alone is the permission.
    let answer = app.anonymous.get_signed(&link.url, None).await.expect("signed GET");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type.as_deref(), Some("text/plain"));
    let disposition = answer.content_disposition.clone().expect("Content-Disposition");
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert_eq!(extended_filename(&disposition), NAME);
    assert_eq!(answer.bytes().await.expect("body"), BYTES);

    let part = app
        .anonymous
        .get_signed(&link.url, Some("bytes=-6".into()))
        .await
        .expect("signed range");
    assert_eq!(part.status, 206);
    assert_eq!(part.bytes().await.expect("body"), &BYTES[BYTES.len() - 6..]);

    let inline = app
        .client
        .download_url(&file.id, Some(Disposition::Inline))
        .await
        .expect("inline URL");
    let answer = app.anonymous.get_signed(&inline.url, None).await.expect("signed GET");
    let disposition = answer.content_disposition.clone().expect("Content-Disposition");
    assert!(disposition.starts_with("inline;"), "{disposition}");
    assert_eq!(extended_filename(&disposition), NAME);
    assert_eq!(answer.bytes().await.expect("body"), BYTES);

    let mut url = app.client.url(&["v1", "files", &file.id, "download"]).expect("url");
    url.set_query(Some("disposition=sideways"));
    let bad = app
        .client
        .http()
        .get(url)
        .bearer_auth(app.token("default", "admin"))
        .send()
        .await
        .expect("sent");
    assert_eq!(json_of(bad).await.2["error"]["code"], "invalid-query");
}

/// `url` with the query parameter `name` replaced by `change(old value)`.
fn with_param(url: &str, name: &str, change: impl Fn(&str) -> String) -> String {
    let mut url = Url::parse(url).expect("an absolute URL");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name { change(&v) } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    assert!(pairs.iter().any(|(k, _)| k == name), "{url} has no {name}");
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.into()
}

#[tokio::test]
async fn a_tampered_signed_url_is_refused() {
    let app = TestApp::spawn().await;
    let file = ready_text(&app).await;
    let other = app
        .ready_file(&app.client, "default", "other.bin", b"someone else's bytes")
        .await;
    let link = app.client.download_url(&file.id, None).await.expect("download URL");
    let other_link = app.client.download_url(&other.id, None).await.expect("download URL");

    let flip_first = |sig: &str| {
        let mut chars: Vec<char> = sig.chars().collect();
        chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect()
    };
    let tampered = [
        with_param(&link.url, "sig", flip_first),
        with_param(&link.url, "disposition", |_| "inline".into()),
        with_param(&link.url, "filename", |_| "evil.html".into()),
        with_param(&link.url, "type", |_| "text/html".into()),
        with_param(&link.url, "expires", |e| {
            (e.parse::<i64>().expect("a number") + 3600).to_string()
        }),
        // This URL's signature on the other file's key.
        {
            let mut url = Url::parse(&link.url).expect("URL");
            url.set_path(Url::parse(&other_link.url).expect("URL").path());
            url.into()
        },
    ];
    for url in tampered {
        assert_eq!(
            api_error(app.anonymous.get_signed(&url, None).await),
            err(403, "signature-invalid"),
            "{url}"
        );
    }
    // The untouched URL still works.
    let answer = app.anonymous.get_signed(&link.url, None).await.expect("signed GET");
    assert_eq!(answer.bytes().await.expect("body"), BYTES);
    assert_eq!(content_of(&app.client, &other.id).await, &b"someone else's bytes"[..]);
}

#[tokio::test]
async fn content_needs_a_token() {
    let app = TestApp::spawn().await;
    let file = ready_text(&app).await;
    let resp = raw(&app.anonymous, Method::GET, &["v1", "files", &file.id, "content"]).await;
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["status"], 401);
}
