//! tus concatenation (docs/tus.md, "Concatenation"): partial uploads sent in parallel, then
//! a final upload that joins them into one file, verified and processed like any other. On
//! the embedded engines and on PostgreSQL + S3 (s3s-fs), where partials of 5 MiB and more
//! are copied server-side and smaller ones streamed. A partial is no file: no listing,
//! folder or change feed shows it, and its bytes are freed once joined or expired. Then
//! what a hostile client tries, refused with a JSON error and nothing changed.

use filegate_client::ListFiles;
use reqwest::{Method, StatusCode};

use crate::common::TestApp;
use crate::support::{MIB, api_error, content_of, files_under, pattern, sha256_hex};
use crate::tus::{Answer, Tus, b64, file_id, walk};

/// `POST /v1/tus/` of a partial upload of `length` bytes: its location.
async fn partial(tus: &Tus, length: usize) -> String {
    let created = tus
        .send(
            Method::POST,
            "/v1/tus/",
            &[
                ("upload-concat", "partial".into()),
                ("upload-length", length.to_string()),
            ],
            None,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.header("location").expect("Location").to_owned()
}

/// Partial uploads of `data` cut at `sizes`, their bytes sent all at once: the locations.
async fn partials(tus: &Tus, data: &[u8], sizes: &[usize]) -> Vec<String> {
    let mut locations = Vec::new();
    for size in sizes {
        locations.push(partial(tus, *size).await);
    }
    let mut start = 0;
    let mut sends = Vec::new();
    for (location, size) in locations.iter().zip(sizes) {
        let piece = &data[start..start + size];
        start += size;
        sends.push(async move { tus.patch(location, 0, piece, &[]).await });
    }
    for (sent, size) in futures::future::join_all(sends).await.into_iter().zip(sizes) {
        assert_eq!((sent.status, sent.offset()), (StatusCode::NO_CONTENT, *size as u64));
    }
    locations
}

fn metadata_of(path: &str, bucket: &str) -> String {
    format!(
        "bucket {},filename {},filetype {},metadata {}",
        b64(bucket),
        b64(path),
        b64("application/pdf"),
        b64(r#"{"origin":"parallel"}"#)
    )
}

/// `POST /v1/tus/` of the final upload joining `parts` into `path` of `bucket`.
async fn final_upload(tus: &Tus, parts: &[String], bucket: &str, path: &str) -> Answer {
    let headers = [
        ("upload-concat", format!("final;{}", parts.join(" "))),
        ("upload-metadata", metadata_of(path, bucket)),
    ];
    tus.send(Method::POST, "/v1/tus/", &headers, None).await
}

/// The paths every listing of the tenant shows, whatever the status.
async fn listed(app: &TestApp) -> Vec<String> {
    let page = app.client.list_files(&ListFiles::default()).await.expect("a listing");
    page.items.into_iter().map(|f| f.path).collect()
}

/// Four partials joined, on any engine: the bytes, the sha256, `ready`, and the partials
/// gone. The first is named by an absolute URL, as tus-js-client names them.
async fn four_partials_joined(app: &TestApp, sizes: [usize; 4], path: &str) -> Vec<String> {
    let tus = Tus::new(app, "default", "writer");
    let options = tus.send(Method::OPTIONS, "/v1/tus/", &[], None).await;
    let extensions = options.header("tus-extension").unwrap_or_default().to_owned();
    assert!(extensions.split(',').any(|e| e == "concatenation"), "{extensions}");

    let data = pattern(sizes.iter().sum(), 61);
    let before = listed(app).await;
    let parts = partials(&tus, &data, &sizes).await;
    let head = tus.head(&parts[1]).await;
    assert_eq!(head.header("upload-concat"), Some("partial"));
    assert_eq!(head.offset(), sizes[1] as u64);
    assert_eq!(listed(app).await, before, "a partial upload is no file");
    let changes = app.client.changes(None, Some(1000)).await.expect("the change feed");
    assert!(changes.items.iter().all(|f| !f.path.starts_with("tus-partials/")));
    let mut named = parts.clone();
    named[0] = format!("{}{}", app.base_url, parts[0]);

    let created = final_upload(&tus, &named, "default", path).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let location = created.header("location").expect("Location").to_owned();
    let head = tus.head(&location).await;
    let expected: Vec<String> = parts.iter().map(|p| format!("/v1/tus/{}", file_id(p))).collect();
    assert_eq!(
        head.header("upload-concat"),
        Some(format!("final;{}", expected.join(" ")).as_str())
    );
    assert_eq!(head.header("upload-length"), Some(data.len().to_string().as_str()));
    assert_eq!(head.offset(), data.len() as u64, "finished: the whole length");
    let patched = tus.patch(&location, data.len() as u64, b"x", &[]).await;
    assert_eq!((patched.status.as_u16(), patched.code()), (403, "final-upload"));

    app.run_jobs().await;
    let id = file_id(&location);
    let file = app.client.get_file(id).await.expect("the file");
    assert_eq!((file.status.as_str(), file.size), ("ready", data.len() as u64));
    assert_eq!(
        (file.path.as_str(), file.content_type.as_str()),
        (path, "application/pdf")
    );
    assert_eq!(file.metadata.get("origin").map(String::as_str), Some("parallel"));
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&data).as_str()));
    assert_eq!(content_of(&app.client, id).await, data, "the bytes equal");
    for part in &parts {
        assert_eq!(tus.head(part).await.status, StatusCode::NOT_FOUND, "joined, then freed");
    }
    parts.iter().map(|p| file_id(p).to_owned()).collect()
}

#[tokio::test]
async fn four_partial_uploads_join_on_the_embedded_engines() {
    let app = TestApp::spawn().await;
    four_partials_joined(&app, [100 * 1024, MIB + 3, 7, 2 * MIB], "parallel/scan.pdf").await;
    assert!(
        files_under(&app, "multipart").is_empty(),
        "no upload's directory is left"
    );
}

#[tokio::test]
async fn four_partial_uploads_join_on_postgresql_and_s3() {
    let Some(scaled) = crate::scale_out::ScaleOut::start().await else {
        return;
    };
    // Parts of 5 MiB and more are copied inside S3; smaller ones go through the gateway.
    let copied = four_partials_joined(&scaled.app, [5 * MIB, 5 * MIB + 1, 5 * MIB, 1000], "copied.pdf").await;
    let streamed = four_partials_joined(&scaled.app, [MIB, 3, 2 * MIB + 5, MIB], "streamed.pdf").await;
    assert_eq!(scaled.s3.open_uploads(), 0, "no multipart upload is left open");
    let objects = walk(&scaled.s3.data_dir());
    for id in copied.iter().chain(&streamed) {
        assert!(
            objects.iter().all(|o| !o.contains(id.as_str())),
            "the partial {id} was freed: {objects:?}"
        );
    }
    scaled.finish().await;
}

/// What a careless or hostile client sends is refused with a JSON error, and changes
/// nothing: the partials stay as they were, and a right final upload joins them after.
#[tokio::test]
async fn tus_concatenation_refuses_bad_finals_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let tus = Tus::new(&app, "default", "writer");
    let small = filegate_api::CreateBucket {
        name: "small".into(),
        max_file_size: Some(1000),
        ..Default::default()
    };
    app.client.create_bucket(&small).await.expect("bucket");
    let data = pattern(1500, 9);
    let parts = partials(&tus, &data, &[600, 900]).await;
    let before = listed(&app).await;

    // Over the bucket's limit: 413, before anything is joined.
    let big = final_upload(&tus, &parts, "small", "big.pdf").await;
    assert_eq!((big.status.as_u16(), big.code()), (413, "file-too-large"));

    // Another tenant's partial does not exist for this one.
    app.tenant("acme").await;
    let acme = Tus::new(&app, "acme", "writer");
    let theirs = partial(&acme, 5).await;
    assert_eq!(acme.patch(&theirs, 0, b"abcde", &[]).await.offset(), 5);
    let stolen = final_upload(&tus, &[parts[0].clone(), theirs.clone()], "default", "stolen.pdf").await;
    assert_eq!((stolen.status.as_u16(), stolen.code()), (404, "not-found"));
    assert_eq!(acme.head(&theirs).await.offset(), 5, "theirs is untouched");

    // A partial whose bytes have not all arrived; an upload that is not a partial one; a
    // file that is no tus upload at all.
    let unfinished = partial(&tus, 10).await;
    assert_eq!(tus.patch(&unfinished, 0, b"abc", &[]).await.offset(), 3);
    let answer = final_upload(&tus, &[parts[0].clone(), unfinished.clone()], "default", "u.pdf").await;
    assert_eq!(
        (answer.status.as_u16(), answer.code()),
        (409, "partial-upload-unfinished")
    );
    let plain = tus.create("default", "plain.bin", 10).await;
    let answer = final_upload(&tus, &[parts[0].clone(), plain], "default", "p.pdf").await;
    assert_eq!((answer.status.as_u16(), answer.code()), (409, "not-a-partial-upload"));
    let ready = app.ready_file(&app.client, "default", "ready.bin", b"ready").await;
    let answer = final_upload(&tus, &[format!("/v1/tus/{}", ready.id)], "default", "r.pdf").await;
    assert_eq!((answer.status.as_u16(), answer.code()), (404, "not-found"));

    // Headers a final upload must not have, or that do not parse.
    let with_length = tus
        .send(
            Method::POST,
            "/v1/tus/",
            &[
                ("upload-concat", format!("final;{}", parts.join(" "))),
                ("upload-length", "1500".into()),
                ("upload-metadata", metadata_of("l.pdf", "default")),
            ],
            None,
        )
        .await;
    assert_eq!(
        (with_length.status.as_u16(), with_length.code()),
        (400, "invalid-tus-header")
    );
    for concat in [
        "final;",
        "final;/v1/files/x",
        "whole",
        &format!("final;{0} {0}", parts[0]),
    ] {
        let answer = tus
            .send(
                Method::POST,
                "/v1/tus/",
                &[
                    ("upload-concat", concat.to_owned()),
                    ("upload-metadata", metadata_of("c.pdf", "default")),
                ],
                None,
            )
            .await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (400, "invalid-tus-header"),
            "{concat}"
        );
    }
    // A partial is never completed on its own.
    let completed = app
        .client
        .complete_upload(file_id(&parts[0]), &filegate_api::CompleteUpload::default())
        .await;
    assert_eq!(api_error(completed), (409, "invalid-status".into()));

    // Nothing changed: no file appeared, the partials hold their bytes, and join now.
    assert!(
        listed(&app)
            .await
            .iter()
            .all(|p| before.contains(p) || p == "plain.bin" || p == "ready.bin")
    );
    assert_eq!(tus.head(&parts[1]).await.offset(), 900);
    let joined = final_upload(&tus, &parts, "default", "joined.pdf").await;
    assert_eq!(joined.status, StatusCode::CREATED, "{:?}", joined.body);
    app.run_jobs().await;
    let id = file_id(joined.header("location").expect("Location"));
    assert_eq!(content_of(&app.client, id).await, data);
    // Used once: a second final upload finds them gone.
    let again = final_upload(&tus, &parts, "default", "again.pdf").await;
    assert_eq!((again.status.as_u16(), again.code()), (404, "not-found"));
}

/// A partial upload never joined expires like any pending upload, and its bytes are freed.
#[tokio::test]
async fn unused_partial_uploads_expire_and_free_their_bytes() {
    let app = TestApp::spawn().await;
    let tus = Tus::new(&app, "default", "writer");
    let left = partial(&tus, 2000).await;
    assert_eq!(tus.patch(&left, 0, &pattern(2000, 1), &[]).await.offset(), 2000);
    assert!(!files_under(&app, "multipart").is_empty());
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    filegate_core::usecases::pipeline::sweep(&app.services, later, 100)
        .await
        .expect("a sweep");
    app.run_jobs().await;
    assert_eq!(tus.head(&left).await.status, StatusCode::NOT_FOUND);
    assert!(files_under(&app, "multipart").is_empty(), "its bytes are freed");
}
