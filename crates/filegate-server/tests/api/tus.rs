//! tus 1.0.0 at `/v1/tus/` (docs/tus.md), spoken by hand over HTTP so that every header is
//! checked: on the embedded engines and on PostgreSQL + S3 (s3s-fs), the same flows:
//! upload in pieces, a body cut off and resumed from the offset `HEAD` answers, a checksum
//! mismatch that keeps nothing, a deferred length, termination. Then what a hostile client
//! tries, refused with a JSON error and nothing changed.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use sha2::Digest as _;

use crate::common::TestApp;
use crate::support::{MIB, content_of, files_under, pattern, sha256_hex};

/// A tus client, by hand.
pub struct Tus {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn offset(&self) -> u64 {
        self.header("upload-offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no Upload-Offset: {:?} {:?}", self.status, self.body))
    }

    /// The error code of a JSON error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

pub fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

impl Tus {
    pub fn new(app: &TestApp, tenant: &str, role: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: app.base_url.clone(),
            token: app.token(tenant, role),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<reqwest::Body>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("tus-resumable", "1.0.0");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let resp = request.send().await.expect("request sent");
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Answer { status, headers, body }
    }

    /// `POST /v1/tus/` for `path` in `bucket`: the upload's path (`/v1/tus/{id}`).
    pub async fn create(&self, bucket: &str, path: &str, length: u64) -> String {
        let answer = self
            .create_with(&[("upload-length", length.to_string())], bucket, path, None)
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        answer.header("location").expect("Location").to_owned()
    }

    pub async fn create_with(
        &self,
        headers: &[(&str, String)],
        bucket: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Answer {
        let metadata = format!(
            "bucket {},filename {},filetype {},metadata {}",
            b64(bucket),
            b64(path),
            b64("application/octet-stream"),
            b64(r#"{"origin":"tus"}"#)
        );
        let mut all = vec![("upload-metadata", metadata)];
        all.extend(headers.iter().cloned());
        if body.is_some() {
            all.push(("content-type", "application/offset+octet-stream".into()));
        }
        self.send(Method::POST, "/v1/tus/", &all, body.map(reqwest::Body::from))
            .await
    }

    pub async fn head(&self, location: &str) -> Answer {
        self.send(Method::HEAD, location, &[], None).await
    }

    pub async fn patch(&self, location: &str, offset: u64, bytes: &[u8], extra: &[(&str, String)]) -> Answer {
        let mut headers = vec![
            ("upload-offset", offset.to_string()),
            ("content-type", "application/offset+octet-stream".to_owned()),
        ];
        headers.extend(extra.iter().cloned());
        self.send(
            Method::PATCH,
            location,
            &headers,
            Some(Bytes::copy_from_slice(bytes).into()),
        )
        .await
    }

    /// What a tus client does after losing a request: ask the offset, send the rest from
    /// there, and again while the server is still finishing the lost request (409, 423).
    async fn resume(&self, location: &str, data: &[u8]) -> Answer {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let offset = self.head(location).await.offset();
            let answer = self.patch(location, offset, &data[offset as usize..], &[]).await;
            if answer.status != StatusCode::CONFLICT && answer.status != StatusCode::LOCKED {
                return answer;
            }
            assert!(tokio::time::Instant::now() < deadline, "the upload stayed locked");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn file_id(location: &str) -> &str {
    location.rsplit('/').next().expect("an id")
}

fn checksum(algorithm: &str, bytes: &[u8]) -> (&'static str, String) {
    let digest = match algorithm {
        "sha1" => sha1::Sha1::digest(bytes).to_vec(),
        _ => sha2::Sha256::digest(bytes).to_vec(),
    };
    ("upload-checksum", format!("{algorithm} {}", STANDARD.encode(digest)))
}

/// A body that sends `first` and then breaks off, as a client that is killed.
fn broken_body(first: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Bytes, std::io::Error>> = first
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .chain([Err(std::io::Error::other("killed"))])
        .collect();
    reqwest::Body::wrap_stream(futures::stream::iter(chunks))
}

/// The flows every engine must get right. `data` crosses S3's 5 MiB part size twice.
async fn upload_resume_checksum_defer_terminate(app: &TestApp) {
    let tus = Tus::new(app, "default", "writer");
    let options = tus.send(Method::OPTIONS, "/v1/tus/", &[], None).await;
    assert_eq!(options.status, StatusCode::NO_CONTENT);
    assert_eq!(options.header("tus-version"), Some("1.0.0"));
    for extension in [
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "termination",
        "checksum",
        "expiration",
    ] {
        assert!(
            options
                .header("tus-extension")
                .unwrap_or_default()
                .split(',')
                .any(|e| e == extension)
        );
    }
    assert_eq!(options.header("tus-checksum-algorithm"), Some("sha1,sha256"));

    let data = pattern(12 * MIB + 123, 23);
    let location = tus.create("default", "tus/big.bin", data.len() as u64).await;
    assert!(location.starts_with("/v1/tus/"), "{location}");

    // The first 3 MiB, then the offset and everything else `HEAD` tells.
    let first = tus.patch(&location, 0, &data[..3 * MIB], &[]).await;
    assert_eq!((first.status, first.offset()), (StatusCode::NO_CONTENT, 3 * MIB as u64));
    assert!(first.header("upload-expires").is_some_and(|e| e.ends_with(" GMT")));
    let head = tus.head(&location).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.offset(), 3 * MIB as u64);
    assert_eq!(head.header("upload-length"), Some(data.len().to_string().as_str()));
    assert_eq!(head.header("cache-control"), Some("no-store"));
    assert_eq!(head.header("tus-resumable"), Some("1.0.0"));
    assert!(
        head.header("upload-metadata")
            .is_some_and(|m| m.contains(&b64("tus/big.bin")))
    );

    // An offset that is not the stored one is refused, whichever way it is off.
    for wrong in [0, 3 * MIB as u64 - 1, 3 * MIB as u64 + 1, data.len() as u64 + 1] {
        let answer = tus.patch(&location, wrong, b"x", &[]).await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (409, "offset-mismatch"),
            "{wrong}"
        );
    }

    // A checksum mismatch keeps nothing (over a part boundary, so S3 sent a part already).
    let piece = &data[3 * MIB..9 * MIB];
    let (name, _) = checksum("sha1", piece);
    let wrong = format!("sha1 {}", STANDARD.encode([0u8; 20]));
    let refused = tus.patch(&location, 3 * MIB as u64, piece, &[(name, wrong)]).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (460, "checksum-mismatch"));
    assert_eq!(tus.head(&location).await.offset(), 3 * MIB as u64, "nothing was kept");
    let kept = tus
        .patch(&location, 3 * MIB as u64, piece, &[checksum("sha1", piece)])
        .await;
    assert_eq!((kept.status, kept.offset()), (StatusCode::NO_CONTENT, 9 * MIB as u64));

    // A client killed half-way: what arrived is kept, and the rest is sent from the offset.
    let cut = tus
        .http
        .patch(format!("{}{location}", tus.base))
        .bearer_auth(&tus.token)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", (9 * MIB).to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(broken_body(data[9 * MIB..11 * MIB].to_vec()))
        .send()
        .await;
    assert!(cut.is_err(), "the request was cut off");
    let done = tus.resume(&location, &data).await;
    assert_eq!(
        (done.status, done.offset()),
        (StatusCode::NO_CONTENT, data.len() as u64)
    );

    // The last byte completed the file: it is processed like any other upload.
    let id = file_id(&location);
    let file = app.client.get_file(id).await.expect("the file");
    assert_eq!((file.status.as_str(), file.size), ("uploaded", data.len() as u64));
    assert_eq!(file.path, "tus/big.bin");
    assert_eq!(file.metadata.get("origin").map(String::as_str), Some("tus"));
    app.run_jobs().await;
    let file = app.client.get_file(id).await.expect("the file");
    assert_eq!(file.status, "ready");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&data).as_str()));
    assert_eq!(content_of(&app.client, id).await, data);
    let head = tus.head(&location).await;
    assert_eq!(
        (head.offset(), head.header("upload-length")),
        (data.len() as u64, Some(data.len().to_string().as_str()))
    );

    // A deferred length, declared by a later PATCH; the first bytes come with the creation.
    let small = pattern(20, 5);
    let created = tus
        .create_with(
            &[("upload-defer-length", "1".into())],
            "default",
            "tus/deferred.bin",
            Some(small[..10].to_vec()),
        )
        .await;
    assert_eq!((created.status, created.offset()), (StatusCode::CREATED, 10));
    let deferred = created.header("location").expect("Location").to_owned();
    assert_eq!(tus.head(&deferred).await.header("upload-defer-length"), Some("1"));
    let last = tus
        .patch(&deferred, 10, &small[10..], &[("upload-length", "20".into())])
        .await;
    assert_eq!((last.status, last.offset()), (StatusCode::NO_CONTENT, 20));
    app.run_jobs().await;
    assert_eq!(content_of(&app.client, file_id(&deferred)).await, small);

    // Termination: the upload is gone, and its bytes with it.
    let doomed = tus.create("default", "tus/doomed.bin", 7 * MIB as u64).await;
    assert_eq!(
        tus.patch(&doomed, 0, &data[..6 * MIB], &[]).await.offset(),
        6 * MIB as u64
    );
    let terminated = tus.send(Method::DELETE, &doomed, &[], None).await;
    assert_eq!(terminated.status, StatusCode::NO_CONTENT);
    assert_eq!(tus.head(&doomed).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        tus.patch(&doomed, 6 * MIB as u64, b"x", &[]).await.status,
        StatusCode::CONFLICT
    );
    app.run_jobs().await;
    let status = app.client.get_file(file_id(&doomed)).await.expect("the file").status;
    assert_eq!(status, "expired");
}

#[tokio::test]
async fn tus_uploads_on_the_embedded_engines() {
    let app = TestApp::spawn().await;
    upload_resume_checksum_defer_terminate(&app).await;
    assert!(
        files_under(&app, "multipart").is_empty(),
        "every upload's directory is gone"
    );
}

#[tokio::test]
async fn tus_uploads_on_postgresql_and_s3() {
    let Some(scaled) = crate::scale_out::ScaleOut::start().await else {
        return;
    };
    upload_resume_checksum_defer_terminate(&scaled.app).await;
    assert_eq!(scaled.s3.open_uploads(), 0, "no multipart upload is left open");
    let leftovers: Vec<_> = walk(&scaled.s3.data_dir())
        .into_iter()
        .filter(|p| p.contains(".tus-tail-"))
        .collect();
    assert!(leftovers.is_empty(), "tails left behind: {leftovers:?}");
    scaled.finish().await;
}

pub fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

/// What a careless or hostile client sends is refused with a JSON error, and changes nothing.
#[tokio::test]
async fn tus_refuses_bad_requests_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let tus = Tus::new(&app, "default", "writer");
    let limited = filegate_api::CreateBucket {
        name: "small".into(),
        max_file_size: Some(1000),
        ..Default::default()
    };
    app.client.create_bucket(&limited).await.expect("bucket");

    // Over the bucket's limit: 413 before a byte is sent, nothing prepared in storage.
    let big = tus
        .create_with(&[("upload-length", "1001".into())], "small", "a.bin", None)
        .await;
    assert_eq!((big.status.as_u16(), big.code()), (413, "file-too-large"));
    assert!(files_under(&app, "multipart").is_empty());

    // A huge metadata header; metadata that is not what tus sends; no length at all.
    let huge = tus
        .send(
            Method::POST,
            "/v1/tus/",
            &[
                ("upload-length", "1".into()),
                ("upload-metadata", format!("filename {}", "A".repeat(64 * 1024))),
            ],
            None,
        )
        .await;
    assert_eq!((huge.status.as_u16(), huge.code()), (400, "invalid-metadata"));
    let bad = tus
        .send(
            Method::POST,
            "/v1/tus/",
            &[
                ("upload-length", "1".into()),
                ("upload-metadata", "filename ***".into()),
            ],
            None,
        )
        .await;
    assert_eq!((bad.status.as_u16(), bad.code()), (400, "invalid-metadata"));
    let no_length = tus.create_with(&[], "default", "a.bin", None).await;
    assert_eq!(
        (no_length.status.as_u16(), no_length.code()),
        (400, "invalid-tus-header")
    );
    let negative = tus
        .create_with(&[("upload-length", "-1".into())], "default", "a.bin", None)
        .await;
    assert_eq!((negative.status.as_u16(), negative.code()), (400, "invalid-tus-header"));

    let location = tus.create("default", "a.bin", 10).await;
    // Without Tus-Resumable: 412 with the versions spoken.
    let unversioned = tus
        .http
        .head(format!("{}{location}", tus.base))
        .bearer_auth(&tus.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(unversioned.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(unversioned.headers()["tus-version"], "1.0.0");
    // The wrong content type; a body longer than the upload; offsets off either way.
    let wrong_type = tus
        .send(
            Method::PATCH,
            &location,
            &[
                ("upload-offset", "0".into()),
                ("content-type", "application/octet-stream".into()),
            ],
            Some(Bytes::from_static(b"abc").into()),
        )
        .await;
    assert_eq!(
        (wrong_type.status.as_u16(), wrong_type.code()),
        (415, "unsupported-media-type")
    );
    let too_long = tus.patch(&location, 0, &[7; 11], &[]).await;
    assert_eq!(
        (too_long.status.as_u16(), too_long.code()),
        (413, "upload-length-exceeded")
    );
    assert_eq!(tus.patch(&location, 11, b"x", &[]).await.code(), "offset-mismatch");
    assert_eq!(tus.patch(&location, 0, b"abc", &[]).await.offset(), 3);
    assert_eq!(tus.patch(&location, 1, b"x", &[]).await.code(), "offset-mismatch");
    let unknown = tus
        .patch(&location, 3, b"x", &[("upload-checksum", "md5 AAAA".into())])
        .await;
    assert_eq!((unknown.status.as_u16(), unknown.code()), (400, "invalid-checksum"));
    assert_eq!(
        tus.head(&location).await.offset(),
        3,
        "nothing of the refused requests was kept"
    );

    // Another tenant's upload does not exist for it; a reader may not create one.
    app.tenant("acme").await;
    let other = Tus::new(&app, "acme", "admin");
    assert_eq!(other.head(&location).await.status, StatusCode::NOT_FOUND);
    assert_eq!(other.patch(&location, 3, b"x", &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        other.send(Method::DELETE, &location, &[], None).await.status,
        StatusCode::NOT_FOUND
    );
    let reader = Tus::new(&app, "default", "reader");
    assert_eq!(
        reader
            .create_with(&[("upload-length", "1".into())], "default", "r.bin", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(tus.head(&location).await.offset(), 3);
    assert_eq!(tus.head("/v1/tus/not-an-id").await.status, StatusCode::NOT_FOUND);
}

/// An acknowledged offset survives a restart of the gateway (local directory, SQLite): the
/// next gateway on the same data directory answers it and takes the rest.
#[tokio::test]
async fn tus_offsets_survive_a_restart() {
    let app = TestApp::spawn().await;
    let data = pattern(3 * MIB + 5, 8);
    let tus = Tus::new(&app, "default", "writer");
    let location = tus.create("default", "restart.bin", data.len() as u64).await;
    assert_eq!(tus.patch(&location, 0, &data[..MIB], &[]).await.offset(), MIB as u64);

    let app = app.restart().await;
    let tus = Tus::new(&app, "default", "writer");
    assert_eq!(tus.head(&location).await.offset(), MIB as u64);
    let done = tus.patch(&location, MIB as u64, &data[MIB..], &[]).await;
    assert_eq!(
        (done.status, done.offset()),
        (StatusCode::NO_CONTENT, data.len() as u64)
    );
    app.run_jobs().await;
    assert_eq!(content_of(&app.client, file_id(&location)).await, data);
}
