//! Uploads: presigned PUT, form POST and multipart, the checks of `complete`, batch
//! completion, abort, proxied `POST /v1/files`, `POST /v1/images`, and bucket limits.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use filegate_client::api::{
    CompleteItem, CompleteUpload, CompleteUploads, CompletedPart, CreateBucket, CreateUpload, ImageUpload,
    UploadCreated, UploadInstructions,
};
use filegate_client::{Client, FormUpload, ListFiles};

use crate::common::TestApp;
use crate::support::{MIB, TINY_PNG, api_error, content_of, err, files_under, pattern, sha256_hex};

/// `POST /v1/uploads` for a single signed PUT.
fn put_request(bucket: &str, path: &str, content_type: &str, size: usize) -> CreateUpload {
    CreateUpload {
        bucket: bucket.into(),
        path: path.into(),
        size: size as u64,
        content_type: Some(content_type.into()),
        ..CreateUpload::default()
    }
}

/// Creates a signed-PUT upload and sends its bytes (without completing it); returns the
/// file id and the `ETag` the PUT answered.
async fn put_bytes(app: &TestApp, path: &str, bytes: &[u8]) -> (String, String) {
    let created = app
        .client
        .create_upload(&put_request("default", path, "application/octet-stream", bytes.len()))
        .await
        .expect("create upload");
    let Some(UploadInstructions::Put { url, headers }) = created.upload else {
        panic!("expected PUT instructions, got {:?}", created.upload)
    };
    let etag = app
        .anonymous
        .put_signed(&url, &headers, Bytes::copy_from_slice(bytes))
        .await
        .expect("signed PUT");
    (created.file_id, etag)
}

async fn status_of(client: &Client, id: &str) -> String {
    client.file_status(id).await.expect("status").status
}

fn completion(size: usize, etag: &str) -> CompleteUpload {
    CompleteUpload {
        size: Some(size as u64),
        etag: Some(etag.to_owned()),
        ..CompleteUpload::default()
    }
}

#[tokio::test]
async fn a_presigned_put_round_trip_gives_back_the_same_bytes() {
    let app = TestApp::spawn().await;
    let bytes = pattern(300_000, 1);
    let created: UploadCreated = app
        .client
        .create_upload(&put_request(
            "default",
            "2026/11/ward-a.bin",
            "application/octet-stream",
            bytes.len(),
        ))
        .await
        .expect("create upload");
    assert_eq!(created.status, "pending");
    assert_eq!(status_of(&app.client, &created.file_id).await, "pending");
    let Some(UploadInstructions::Put { url, headers }) = created.upload else {
        panic!("expected PUT instructions, got {:?}", created.upload)
    };
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("application/octet-stream")
    );

    // The signed URL is the permission: no bearer token is sent with it.
    let etag = app
        .anonymous
        .put_signed(&url, &headers, Bytes::from(bytes.clone()))
        .await
        .expect("signed PUT");
    let file = app
        .client
        .complete_upload(&created.file_id, &completion(bytes.len(), &etag))
        .await
        .expect("complete");
    assert_eq!(file.status, "uploaded");
    assert_eq!(file.size, bytes.len() as u64);
    assert_eq!(file.etag.as_deref(), Some(etag.as_str()));

    app.run_jobs().await;
    let file = app.client.get_file(&created.file_id).await.expect("get");
    assert_eq!(file.status, "ready", "{file:?}");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(content_of(&app.client, &file.id).await, bytes);
}

#[tokio::test]
async fn a_signed_put_url_takes_no_more_bytes_once_the_upload_is_complete() {
    let app = TestApp::spawn().await;
    let bytes = pattern(2048, 12);
    let created = app
        .client
        .create_upload(&put_request(
            "default",
            "once.bin",
            "application/octet-stream",
            bytes.len(),
        ))
        .await
        .expect("create upload");
    let Some(UploadInstructions::Put { url, headers }) = created.upload else {
        panic!("expected PUT instructions")
    };
    let etag = app
        .anonymous
        .put_signed(&url, &headers, Bytes::from(bytes.clone()))
        .await
        .expect("signed PUT");
    app.client
        .complete_upload(&created.file_id, &completion(bytes.len(), &etag))
        .await
        .expect("complete");
    app.run_jobs().await;

    // Same size, other bytes, same (still unexpired) URL: must not replace a verified file.
    let other = pattern(2048, 13);
    let late = app.anonymous.put_signed(&url, &headers, Bytes::from(other)).await;
    assert_eq!(api_error(late).0, 404, "the URL of a completed upload is spent");
    let file = app.client.get_file(&created.file_id).await.expect("get");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(
        content_of(&app.client, &file.id).await,
        bytes,
        "the ready file's bytes are unchanged"
    );
}

#[tokio::test]
async fn a_presigned_form_post_upload_round_trips() {
    let app = TestApp::spawn().await;
    let bytes = b"ward,patients\na,12\nb,7\n".repeat(50);
    let created = app
        .client
        .create_upload(&CreateUpload {
            form: Some(true),
            ..put_request("default", "forms/ward.csv", "text/csv", bytes.len())
        })
        .await
        .expect("create form upload");
    let Some(UploadInstructions::Post { url, fields }) = created.upload else {
        panic!("expected POST instructions, got {:?}", created.upload)
    };
    assert!(!fields.is_empty(), "a form upload is signed through its fields");

    let etag = app
        .anonymous
        .post_form_signed(&url, &fields, "ward.csv", "text/csv", Bytes::from(bytes.clone()))
        .await
        .expect("form POST")
        .expect("the form answer carries an ETag");
    let file = app
        .client
        .complete_upload(&created.file_id, &completion(bytes.len(), &etag))
        .await
        .expect("complete");
    assert_eq!(file.status, "uploaded");
    assert_eq!(file.content_type, "text/csv");
    // The signed form is spent once the upload is complete.
    let again = app
        .anonymous
        .post_form_signed(&url, &fields, "ward.csv", "text/csv", Bytes::from(bytes.clone()))
        .await;
    assert_eq!(api_error(again).0, 404);

    app.run_jobs().await;
    let file = app.client.get_file(&created.file_id).await.expect("get");
    assert_eq!(file.status, "ready", "{file:?}");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(content_of(&app.client, &file.id).await, bytes);
}

#[tokio::test]
async fn a_multipart_upload_in_three_parts_round_trips() {
    let part_size = 5 * MIB;
    let app = TestApp::spawn_with(|c| c.uploads.part_size = part_size as u64).await;
    let size = 11 * MIB + 4321;
    let bytes = pattern(size, 3);
    let created = app
        .client
        .create_upload(&CreateUpload {
            multipart: Some(true),
            ..put_request("default", "scans/big.bin", "application/octet-stream", size)
        })
        .await
        .expect("create multipart upload");
    let Some(UploadInstructions::Multipart {
        upload_id,
        part_size: announced,
        part_count,
        parts,
    }) = created.upload
    else {
        panic!("expected multipart instructions, got {:?}", created.upload)
    };
    let id = created.file_id;
    assert!(!upload_id.is_empty());
    assert_eq!(announced, part_size as u64);
    assert_eq!(part_count, 3);
    assert_eq!(parts.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 2, 3]);

    // More part URLs on request; parts 2 and 3 are sent to these fresh ones.
    let more = app.client.upload_parts(&id, &[2, 3]).await.expect("more part URLs");
    assert_eq!(more.parts.iter().map(|p| p.number).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(
        api_error(app.client.upload_parts(&id, &[4]).await),
        err(400, "invalid-parts")
    );
    assert_eq!(
        api_error(app.client.upload_parts(&id, &[0]).await),
        err(400, "invalid-parts")
    );

    let urls = [&parts[0].url, &more.parts[0].url, &more.parts[1].url];
    let mut sent = Vec::new();
    // Out of order on purpose: the parts' numbers, not their arrival, decide the layout.
    for number in [3u32, 1, 2] {
        let index = number as usize - 1;
        let start = index * part_size;
        let end = (start + part_size).min(size);
        let etag = app
            .anonymous
            .put_signed(
                urls[index],
                &BTreeMap::new(),
                Bytes::copy_from_slice(&bytes[start..end]),
            )
            .await
            .unwrap_or_else(|e| panic!("PUT part {number}: {e}"));
        sent.push(CompletedPart { number, etag });
    }
    sent.sort_by_key(|p| p.number);
    assert_eq!(status_of(&app.client, &id).await, "pending");

    // A wrong part etag is refused and the upload stays completable.
    let mut wrong = sent.clone();
    wrong[1].etag = "0123456789abcdef".into();
    let refused = app
        .client
        .complete_upload(
            &id,
            &CompleteUpload {
                size: Some(size as u64),
                parts: wrong,
                ..CompleteUpload::default()
            },
        )
        .await;
    assert_eq!(api_error(refused), err(400, "part-mismatch"));
    assert_eq!(status_of(&app.client, &id).await, "pending");

    let done = CompleteUpload {
        size: Some(size as u64),
        sha256: Some(sha256_hex(&bytes)),
        parts: sent,
        ..CompleteUpload::default()
    };
    let file = app.client.complete_upload(&id, &done).await.expect("complete");
    assert_eq!(file.status, "uploaded");
    assert_eq!(file.size, size as u64);

    app.run_jobs().await;
    let file = app.client.get_file(&id).await.expect("get");
    assert_eq!(file.status, "ready", "{file:?}");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert!(
        content_of(&app.client, &id).await == bytes,
        "the downloaded bytes differ from the uploaded ones"
    );
}

#[tokio::test]
async fn complete_refuses_a_wrong_size_etag_or_sha256_and_the_file_stays_pending() {
    let app = TestApp::spawn().await;
    let bytes = b"a,b\n1,2\n".repeat(100);
    let created = app
        .client
        .create_upload(&put_request("default", "checks/data.csv", "text/csv", bytes.len()))
        .await
        .expect("create");
    let id = created.file_id;
    let Some(UploadInstructions::Put { url, headers }) = created.upload else {
        panic!("expected PUT instructions")
    };

    // Nothing has arrived yet.
    assert_eq!(
        api_error(app.client.complete_upload(&id, &CompleteUpload::default()).await),
        err(409, "upload-missing")
    );
    assert_eq!(status_of(&app.client, &id).await, "pending");

    let etag = app
        .anonymous
        .put_signed(&url, &headers, Bytes::from(bytes.clone()))
        .await
        .expect("PUT");
    let len = bytes.len();

    let wrong_size = completion(len + 1, &etag);
    assert_eq!(
        api_error(app.client.complete_upload(&id, &wrong_size).await),
        err(400, "size-mismatch")
    );
    assert_eq!(status_of(&app.client, &id).await, "pending");

    let wrong_etag = completion(len, "0123456789abcdef0123456789abcdef");
    assert_eq!(
        api_error(app.client.complete_upload(&id, &wrong_etag).await),
        err(400, "etag-mismatch")
    );
    assert_eq!(status_of(&app.client, &id).await, "pending");

    let wrong_sha = CompleteUpload {
        sha256: Some(sha256_hex(b"other bytes")),
        ..completion(len, &etag)
    };
    assert_eq!(
        api_error(app.client.complete_upload(&id, &wrong_sha).await),
        err(400, "checksum-mismatch")
    );
    assert_eq!(status_of(&app.client, &id).await, "pending");

    let right = CompleteUpload {
        sha256: Some(sha256_hex(&bytes)),
        ..completion(len, &etag)
    };
    let file = app
        .client
        .complete_upload(&id, &right)
        .await
        .expect("the correct completion succeeds");
    assert_eq!(file.status, "uploaded");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));

    app.run_jobs().await;
    assert_eq!(status_of(&app.client, &id).await, "ready");
    assert_eq!(content_of(&app.client, &id).await, bytes);
}

#[tokio::test]
async fn a_sha256_declared_at_create_is_checked_at_complete() {
    let app = TestApp::spawn().await;
    let bytes = pattern(10_000, 9);
    let request = CreateUpload {
        sha256: Some(sha256_hex(b"not these bytes")),
        ..put_request("default", "declared.bin", "application/octet-stream", 10_000)
    };
    let created = app.client.create_upload(&request).await.expect("create");
    let Some(UploadInstructions::Put { url, headers }) = created.upload else {
        panic!("expected PUT instructions")
    };
    let etag = app
        .anonymous
        .put_signed(&url, &headers, Bytes::from(bytes))
        .await
        .expect("PUT");
    let refused = app
        .client
        .complete_upload(&created.file_id, &completion(10_000, &etag))
        .await;
    assert_eq!(api_error(refused), err(400, "checksum-mismatch"));
    assert_eq!(status_of(&app.client, &created.file_id).await, "pending");
}

#[tokio::test]
async fn completing_twice_answers_the_same_file_and_processes_it_once() {
    let app = TestApp::spawn().await;
    let bytes = pattern(4096, 4);
    let (id, etag) = put_bytes(&app, "twice.bin", &bytes).await;
    let first = app
        .client
        .complete_upload(&id, &completion(bytes.len(), &etag))
        .await
        .expect("first complete");
    let second = app
        .client
        .complete_upload(&id, &completion(bytes.len(), &etag))
        .await
        .expect("second complete");
    assert_eq!(first.status, "uploaded");
    assert_eq!(second, first, "a repeated complete answers the stored file unchanged");

    // One processing job, plus the events of one story: uploaded, processing, ready.
    assert_eq!(app.run_jobs().await, 1 + 3, "one processing job");
    let third = app
        .client
        .complete_upload(&id, &completion(bytes.len(), &etag))
        .await
        .expect("complete after processing");
    assert_eq!(third.id, id);
    assert_eq!(third.status, "ready");
    assert_eq!(app.run_jobs().await, 0, "completing again enqueues nothing");
    assert_eq!(content_of(&app.client, &id).await, bytes);
}

#[tokio::test]
async fn batch_complete_answers_each_item_on_its_own() {
    let app = TestApp::spawn().await;
    let good = pattern(1000, 5);
    let bad = pattern(2000, 6);
    let (good_id, good_etag) = put_bytes(&app, "batch/good.bin", &good).await;
    let (bad_id, bad_etag) = put_bytes(&app, "batch/bad.bin", &bad).await;

    let request = CompleteUploads {
        uploads: vec![
            CompleteItem {
                file_id: good_id.clone(),
                size: Some(1000),
                etag: Some(good_etag),
                ..CompleteItem::default()
            },
            CompleteItem {
                file_id: bad_id.clone(),
                size: Some(2001),
                ..CompleteItem::default()
            },
            CompleteItem {
                file_id: "not-an-id".into(),
                ..CompleteItem::default()
            },
        ],
    };
    let answer = app.client.complete_uploads(&request).await.expect("batch complete");
    assert_eq!(answer.confirmed, 1);
    assert_eq!(answer.results.len(), 3);
    let result = |id: &str| {
        answer
            .results
            .iter()
            .find(|r| r.file_id == id)
            .expect("a result per item")
    };

    let ok = result(&good_id);
    assert!(ok.error.is_none(), "{ok:?}");
    assert_eq!(ok.file.as_ref().map(|f| f.status.as_str()), Some("uploaded"));

    let refused = result(&bad_id);
    assert!(refused.file.is_none(), "{refused:?}");
    let error = refused.error.as_ref().expect("the bad item carries its error");
    assert_eq!((error.status, error.code.as_str()), (400, "size-mismatch"));
    assert_eq!(status_of(&app.client, &bad_id).await, "pending");
    let unknown = result("not-an-id")
        .error
        .as_ref()
        .expect("the malformed id carries its error");
    assert_eq!((unknown.status, unknown.code.as_str()), (404, "not-found"));

    // The refused one is still completable.
    let file = app
        .client
        .complete_upload(&bad_id, &completion(bad.len(), &bad_etag))
        .await
        .expect("complete");
    assert_eq!(file.status, "uploaded");
    app.run_jobs().await;
    assert_eq!(content_of(&app.client, &good_id).await, good);
    assert_eq!(content_of(&app.client, &bad_id).await, bad);
}

#[tokio::test]
async fn abort_expires_the_upload_and_removes_its_bytes() {
    let app = TestApp::spawn().await;
    let before = app.stored_objects();
    let bytes = pattern(5000, 7);
    let created = app
        .client
        .create_upload(&put_request(
            "default",
            "aborted.bin",
            "application/octet-stream",
            bytes.len(),
        ))
        .await
        .expect("create upload");
    let id = created.file_id;
    let Some(UploadInstructions::Put { url, headers }) = created.upload else {
        panic!("expected PUT instructions")
    };
    let etag = app
        .anonymous
        .put_signed(&url, &headers, Bytes::from(bytes.clone()))
        .await
        .expect("signed PUT");
    assert!(app.stored_objects().len() > before.len(), "the PUT stored the bytes");

    let aborted = app.client.abort_upload(&id).await.expect("abort");
    assert_eq!(aborted.status, "expired");
    assert!(aborted.status_reason.is_some());
    app.run_jobs().await;
    assert_eq!(app.stored_objects(), before, "the aborted upload's bytes are gone");

    assert_eq!(status_of(&app.client, &id).await, "expired");
    assert_eq!(
        api_error(app.client.complete_upload(&id, &completion(5000, &etag)).await),
        err(409, "invalid-status")
    );
    assert_eq!(
        api_error(app.client.content(&id, Default::default()).await),
        err(409, "file-not-ready")
    );
    assert_eq!(
        api_error(app.client.abort_upload(&id).await),
        err(409, "invalid-status")
    );

    // The signed URL of the aborted upload takes no more bytes.
    let late = app.anonymous.put_signed(&url, &headers, Bytes::from(bytes)).await;
    assert!(late.is_err(), "a PUT after abort was accepted");
    assert_eq!(app.stored_objects(), before, "a PUT after abort left bytes behind");
}

#[tokio::test]
async fn aborting_a_multipart_upload_frees_its_parts() {
    let app = TestApp::spawn_with(|c| c.uploads.part_size = 5 * MIB as u64).await;
    let size = 6 * MIB;
    let bytes = pattern(size, 8);
    let created = app
        .client
        .create_upload(&CreateUpload {
            multipart: Some(true),
            ..put_request("default", "half.bin", "application/octet-stream", size)
        })
        .await
        .expect("create");
    let Some(UploadInstructions::Multipart { parts, .. }) = created.upload else {
        panic!("expected multipart")
    };
    app.anonymous
        .put_signed(
            &parts[0].url,
            &BTreeMap::new(),
            Bytes::copy_from_slice(&bytes[..5 * MIB]),
        )
        .await
        .expect("PUT part 1");
    assert!(
        !files_under(&app, "multipart").is_empty(),
        "the part is kept until complete or abort"
    );

    let aborted = app.client.abort_upload(&created.file_id).await.expect("abort");
    assert_eq!(aborted.status, "expired");
    app.run_jobs().await;
    assert_eq!(
        files_under(&app, "multipart"),
        Vec::<std::path::PathBuf>::new(),
        "the parts are gone"
    );
    assert!(app.stored_objects().is_empty());
    // A part URL of an aborted upload takes no more bytes.
    let late = app
        .anonymous
        .put_signed(
            &parts[1].url,
            &BTreeMap::new(),
            Bytes::copy_from_slice(&bytes[5 * MIB..]),
        )
        .await;
    assert_eq!(api_error(late).0, 404);
}

#[tokio::test]
async fn a_proxied_upload_keeps_bucket_path_and_metadata() {
    let app = TestApp::spawn().await;
    app.client
        .create_bucket(&CreateBucket {
            name: "reports".into(),
            ..CreateBucket::default()
        })
        .await
        .expect("bucket");
    let bytes = b"ward,patients\na,12\nb,7\n".repeat(1000);
    let mut form = FormUpload::new("reports", "2026/11/ward-a.csv", "text/csv");
    form.metadata = Some(BTreeMap::from([("patient".to_owned(), "123".to_owned())]));
    let file = app
        .client
        .upload_form(&form, Bytes::from(bytes.clone()))
        .await
        .expect("proxied upload");
    assert_eq!(file.bucket, "reports");
    assert_eq!(file.path, "2026/11/ward-a.csv");
    assert_eq!(file.name, "ward-a.csv");
    assert_eq!(file.content_type, "text/csv");
    assert_eq!(file.size, bytes.len() as u64);
    assert_eq!(
        file.metadata,
        BTreeMap::from([("patient".to_owned(), "123".to_owned())])
    );
    assert_eq!(file.status, "uploaded");

    app.run_jobs().await;
    let file = app.client.get_file(&file.id).await.expect("get");
    assert_eq!(file.status, "ready", "{file:?}");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(content_of(&app.client, &file.id).await, bytes);

    // With a prefix instead of a path, the file part's name completes the path.
    let form = FormUpload {
        bucket: "reports".into(),
        prefix: Some("inbox/".into()),
        file_name: "scan.txt".into(),
        content_type: "text/plain".into(),
        ..FormUpload::default()
    };
    let file = app
        .client
        .upload_form(&form, Bytes::from_static(b"scanned"))
        .await
        .expect("prefix upload");
    assert_eq!(file.path, "inbox/scan.txt");
    app.run_jobs().await;
    assert_eq!(content_of(&app.client, &file.id).await, &b"scanned"[..]);
}

fn image(bucket: &str, data: String, content_type: &str, name: Option<&str>) -> ImageUpload {
    ImageUpload {
        bucket: bucket.into(),
        data,
        content_type: content_type.into(),
        name: name.map(str::to_owned),
        ..ImageUpload::default()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `{stem}_{uuid}.{ext}` → the uuid, checked.
#[track_caller]
fn uuid_in_name(name: &str, stem: &str, ext: &str) -> uuid::Uuid {
    let middle = name
        .strip_prefix(&format!("{stem}_"))
        .and_then(|rest| rest.strip_suffix(&format!(".{ext}")))
        .unwrap_or_else(|| panic!("{name:?} is not {stem}_{{uuid}}.{ext}"));
    uuid::Uuid::parse_str(middle).unwrap_or_else(|e| panic!("{middle:?} in {name:?} is not a uuid: {e}"))
}

#[tokio::test]
async fn an_image_upload_stores_a_png_under_a_unique_name() {
    let app = TestApp::spawn().await;
    let file = app
        .client
        .upload_image(&image("default", b64(&TINY_PNG), "image/png", Some("avatar")))
        .await
        .expect("image upload");
    uuid_in_name(&file.name, "avatar", "png");
    assert_eq!(file.path, file.name);
    assert_eq!(file.content_type, "image/png");
    assert_eq!(file.size, TINY_PNG.len() as u64);

    // A data: URL works too, and a name's own extension is replaced.
    let second = app
        .client
        .upload_image(&image(
            "default",
            format!("data:image/png;base64,{}", b64(&TINY_PNG)),
            "image/png",
            Some("avatar.jpeg"),
        ))
        .await
        .expect("data URL upload");
    assert_ne!(
        uuid_in_name(&second.name, "avatar", "png"),
        uuid_in_name(&file.name, "avatar", "png")
    );
    let unnamed = app
        .client
        .upload_image(&image("default", b64(&TINY_PNG), "image/png", None))
        .await
        .expect("unnamed");
    uuid_in_name(&unnamed.name, "image", "png");

    app.run_jobs().await;
    for id in [&file.id, &second.id, &unnamed.id] {
        let f = app.client.get_file(id).await.expect("get");
        assert_eq!(f.status, "ready", "{f:?}");
        assert_eq!(f.sha256.as_deref(), Some(sha256_hex(&TINY_PNG).as_str()));
        assert_eq!(content_of(&app.client, id).await, &TINY_PNG[..]);
    }
}

#[tokio::test]
async fn an_image_upload_refuses_other_types_and_lying_bytes() {
    let app = TestApp::spawn().await;
    let before = app.stored_objects();
    for content_type in ["application/pdf", "text/plain", "image/svg+xml"] {
        let refused = app
            .client
            .upload_image(&image("default", b64(&TINY_PNG), content_type, None))
            .await;
        assert_eq!(
            api_error(refused),
            err(415, "unsupported-content-type"),
            "{content_type}"
        );
    }
    let lies: [(&str, &[u8]); 3] = [
        ("image/jpeg", &TINY_PNG),
        ("image/png", b"GIF89a\x01\x00\x01\x00"),
        ("image/gif", b"just some text"),
    ];
    for (content_type, bytes) in lies {
        let refused = app
            .client
            .upload_image(&image("default", b64(bytes), content_type, None))
            .await;
        assert_eq!(api_error(refused), err(400, "content-type-mismatch"), "{content_type}");
    }
    assert_eq!(app.stored_objects(), before, "nothing was stored");
    let listed = app.client.list_files(&ListFiles::default()).await.expect("list");
    assert!(listed.items.is_empty(), "nothing was recorded: {:?}", listed.items);
}

async fn small_bucket(app: &TestApp, name: &str, max_file_size: u64) {
    let bucket = CreateBucket {
        name: name.into(),
        max_file_size: Some(max_file_size),
        ..CreateBucket::default()
    };
    app.client.create_bucket(&bucket).await.expect("create bucket");
}

#[tokio::test]
async fn the_bucket_size_limit_is_enforced_when_an_upload_is_created() {
    let app = TestApp::spawn().await;
    small_bucket(&app, "small", 1024).await;
    let refused = app
        .client
        .create_upload(&put_request("small", "big.bin", "application/octet-stream", 1025))
        .await;
    assert_eq!(api_error(refused), err(413, "file-too-large"));
    let listed = app
        .client
        .list_files(&ListFiles {
            status: Some("pending".into()),
            ..ListFiles::bucket("small")
        })
        .await;
    assert!(listed.expect("list").items.is_empty(), "no file was recorded");

    let created = app
        .client
        .create_upload(&put_request("small", "fits.bin", "application/octet-stream", 1024))
        .await;
    assert_eq!(created.expect("a file at the limit is accepted").status, "pending");
}

#[tokio::test]
async fn the_bucket_size_limit_is_enforced_while_a_proxied_upload_streams() {
    let app = TestApp::spawn().await;
    small_bucket(&app, "small", 1024).await;
    let before = app.stored_objects();
    let temp_before = files_under(&app, "tmp");
    let form = FormUpload::new("small", "big.bin", "application/octet-stream");
    let refused = app
        .client
        .upload_form(&form, Bytes::from(pattern(256 * 1024, 10)))
        .await;
    assert_eq!(api_error(refused), err(413, "file-too-large"));
    assert_eq!(app.stored_objects(), before, "nothing was stored");
    assert_eq!(
        files_under(&app, "tmp"),
        temp_before,
        "no temporary file was left behind"
    );
    for status in ["pending", "uploaded"] {
        let query = ListFiles {
            status: Some(status.into()),
            ..ListFiles::bucket("small")
        };
        assert!(
            app.client.list_files(&query).await.expect("list").items.is_empty(),
            "no {status} file was recorded"
        );
    }

    // An image over the limit is refused the same way.
    small_bucket(&app, "tiny", 16).await;
    let refused = app
        .client
        .upload_image(&image("tiny", b64(&TINY_PNG), "image/png", None))
        .await;
    assert_eq!(api_error(refused), err(413, "file-too-large"));
    assert_eq!(app.stored_objects(), before);

    // At the limit it goes through.
    let file = app
        .client
        .upload_form(&form, Bytes::from(pattern(1024, 11)))
        .await
        .expect("at the limit");
    assert_eq!(file.size, 1024);
}

#[tokio::test]
async fn the_bucket_content_type_allow_list_is_enforced() {
    let app = TestApp::spawn().await;
    let bucket = CreateBucket {
        name: "scans".into(),
        allowed_content_types: Some(vec!["image/png".into(), "application/pdf".into()]),
        ..CreateBucket::default()
    };
    app.client.create_bucket(&bucket).await.expect("create bucket");
    let before = app.stored_objects();

    let refused = app
        .client
        .create_upload(&put_request("scans", "a.csv", "text/csv", 10))
        .await;
    assert_eq!(api_error(refused), err(415, "unsupported-content-type"));
    let refused = app
        .client
        .upload_form(
            &FormUpload::new("scans", "a.csv", "text/csv"),
            Bytes::from_static(b"a,b\n1,2\n"),
        )
        .await;
    assert_eq!(api_error(refused), err(415, "unsupported-content-type"));
    assert_eq!(app.stored_objects(), before, "nothing was stored");

    let created = app
        .client
        .create_upload(&put_request("scans", "a.pdf", "application/pdf", 10))
        .await;
    assert_eq!(created.expect("an allowed type").status, "pending");
    let file = app
        .client
        .upload_form(
            &FormUpload::new("scans", "dot.png", "image/png"),
            Bytes::from_static(&TINY_PNG),
        )
        .await
        .expect("an allowed type through the gateway");
    assert_eq!(file.content_type, "image/png");
}
