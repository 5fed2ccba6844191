//! Signed tus URLs (docs/tus.md, "Signed tus URLs"): `POST /v1/uploads` with
//! `"protocol": "tus"` answers a URL that a tus client holding no credential resumes. The
//! upload is verified (its declared sha256) and processed like any other; the URL opens that
//! one upload only, and nothing else of the tenant. On the embedded engines and on
//! PostgreSQL + S3 (s3s-fs).

use std::time::Duration;

use filegate_api::{CreateUpload, UploadInstructions};
use filegate_client::{Client, ListFiles};
use reqwest::{Method, StatusCode};

use crate::common::TestApp;
use crate::support::{MIB, api_error, content_of, pattern, sha256_hex};

/// `POST /v1/uploads` for a tus upload: the file id and its signed URL.
pub async fn signed_tus_upload(client: &Client, path: &str, data: &[u8]) -> (String, String) {
    let created = client
        .create_upload(&CreateUpload {
            bucket: "default".into(),
            path: path.into(),
            size: data.len() as u64,
            content_type: Some("application/octet-stream".into()),
            sha256: Some(sha256_hex(data)),
            protocol: Some("tus".into()),
            ..CreateUpload::default()
        })
        .await
        .expect("a tus upload");
    let Some(UploadInstructions::Tus { url }) = created.upload else {
        panic!("not a tus upload: {created:?}");
    };
    (created.file_id, url)
}

/// A tus request as a client without credentials sends it.
async fn tus(method: Method, url: &str, headers: &[(&str, String)], body: Option<Vec<u8>>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .header("tus-resumable", "1.0.0");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/offset+octet-stream")
            .body(body);
    }
    request.send().await.expect("request sent")
}

fn offset_of(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or_else(|| panic!("no Upload-Offset: {}", response.status()))
}

async fn code_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

async fn patch(url: &str, offset: u64, bytes: &[u8]) -> reqwest::Response {
    tus(
        Method::PATCH,
        url,
        &[("upload-offset", offset.to_string())],
        Some(bytes.to_vec()),
    )
    .await
}

/// What every engine must get right. The data crosses S3's 5 MiB part size.
async fn a_signed_url_uploads_without_a_token(app: &TestApp) {
    let writer = app.client_as("default", "writer");
    let data = pattern(6 * MIB + 11, 41);
    let (id, url) = signed_tus_upload(&writer, "tus/signed.bin", &data).await;
    assert!(
        url.starts_with(&format!("{}/v1/tus/{id}?token=", app.base_url)),
        "{url}"
    );

    let head = tus(Method::HEAD, &url, &[], None).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(offset_of(&head), 0);
    assert_eq!(
        head.headers().get("upload-length").and_then(|v| v.to_str().ok()),
        Some(data.len().to_string().as_str())
    );
    let first = patch(&url, 0, &data[..4 * MIB]).await;
    assert_eq!(
        (first.status(), offset_of(&first)),
        (StatusCode::NO_CONTENT, 4 * MIB as u64)
    );
    assert_eq!(offset_of(&tus(Method::HEAD, &url, &[], None).await), 4 * MIB as u64);
    let last = patch(&url, 4 * MIB as u64, &data[4 * MIB..]).await;
    assert_eq!(last.status(), StatusCode::NO_CONTENT);

    app.run_jobs().await;
    let file = writer
        .wait_for_status(&id, &["ready"], Duration::from_secs(30))
        .await
        .expect("ready");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&data).as_str()));
    assert_eq!(
        content_of(&writer, &id).await.as_ref(),
        data.as_slice(),
        "the bytes equal"
    );
    // A finished upload answers its whole length, as tus clients expect when they resume.
    let done = tus(Method::HEAD, &url, &[], None).await;
    assert_eq!((done.status(), offset_of(&done)), (StatusCode::OK, data.len() as u64));

    // Termination through the URL: the upload ends `expired` and its bytes are freed.
    let doomed_data = pattern(1000, 3);
    let (doomed, doomed_url) = signed_tus_upload(&writer, "tus/doomed.bin", &doomed_data).await;
    assert_eq!(
        patch(&doomed_url, 0, &doomed_data[..10]).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        tus(Method::DELETE, &doomed_url, &[], None).await.status(),
        StatusCode::NO_CONTENT
    );
    app.run_jobs().await;
    assert_eq!(writer.get_file(&doomed).await.expect("the file").status, "expired");
    assert_eq!(code_of(tus(Method::HEAD, &doomed_url, &[], None).await).await.0, 404);
}

#[tokio::test]
async fn signed_tus_urls_on_the_embedded_engines() {
    let app = TestApp::spawn().await;
    a_signed_url_uploads_without_a_token(&app).await;
}

#[tokio::test]
async fn signed_tus_urls_on_postgresql_and_s3() {
    let Some(scaled) = crate::scale_out::ScaleOut::start().await else {
        return;
    };
    a_signed_url_uploads_without_a_token(&scaled.app).await;
    assert_eq!(scaled.s3.open_uploads(), 0, "no multipart upload is left open");
    scaled.finish().await;
}

/// A signed URL opens its own upload and nothing else; what it cannot do is refused with a
/// JSON error and changes nothing.
#[tokio::test]
async fn a_signed_tus_url_opens_nothing_else() {
    let app = TestApp::spawn().await;
    let writer = app.client_as("default", "writer");
    let data = pattern(100, 9);
    let (id, url) = signed_tus_upload(&writer, "tus/one.bin", &data).await;
    let (other, _) = signed_tus_upload(&writer, "tus/two.bin", &data).await;
    let (_, token) = url.split_once("?token=").expect("a token");

    // The token on another upload's URL, tampered with, or missing.
    let elsewhere = format!("{}/v1/tus/{other}?token={token}", app.base_url);
    assert_eq!(
        code_of(patch(&elsewhere, 0, &data).await).await,
        (401, "invalid-token".to_owned())
    );
    let tampered = format!("{url}x");
    assert_eq!(
        code_of(patch(&tampered, 0, &data).await).await,
        (401, "invalid-token".to_owned())
    );
    let bare = format!("{}/v1/tus/{id}", app.base_url);
    assert_eq!(code_of(patch(&bare, 0, &data).await).await.0, 401);
    // It is no bearer token: not for the file's record, not to create a tus upload.
    let http = reqwest::Client::new();
    let record = http
        .get(format!("{}/v1/files/{id}", app.base_url))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    assert_eq!(code_of(record).await.0, 401);
    let create = tus(
        Method::POST,
        &format!("{}/v1/tus/?token={token}", app.base_url),
        &[
            ("upload-length", "5".into()),
            ("upload-metadata", "filename eC5iaW4=".into()),
        ],
        None,
    )
    .await;
    assert_eq!(code_of(create).await.0, 401);
    // Nothing moved.
    assert_eq!(offset_of(&tus(Method::HEAD, &url, &[], None).await), 0);
    let bearer = [("authorization", format!("Bearer {}", app.token("default", "writer")))];
    let other_head = tus(Method::HEAD, &format!("{}/v1/tus/{other}", app.base_url), &bearer, None).await;
    assert_eq!(offset_of(&other_head), 0);

    // The request itself: an unknown protocol, or tus with form or multipart, creates nothing.
    let pending = ListFiles {
        status: Some("pending".into()),
        ..ListFiles::default()
    };
    let before = writer.list_files(&pending).await.expect("list").items.len();
    assert_eq!(before, 2);
    for (protocol, multipart, form) in [
        ("ftp", None, None),
        ("tus", Some(true), None),
        ("tus", None, Some(true)),
    ] {
        let refused = api_error(
            writer
                .create_upload(&CreateUpload {
                    bucket: "default".into(),
                    path: "tus/refused.bin".into(),
                    size: 5,
                    protocol: Some(protocol.into()),
                    multipart,
                    form,
                    ..CreateUpload::default()
                })
                .await,
        );
        assert_eq!(
            refused,
            (400, "invalid-body".to_owned()),
            "{protocol} {multipart:?} {form:?}"
        );
    }
    let after = writer.list_files(&pending).await.expect("list").items.len();
    assert_eq!(before, after, "nothing was created");
}
