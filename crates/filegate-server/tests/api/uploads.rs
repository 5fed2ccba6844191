//! Uploads straight to storage: presigned PUT and form POST, the checks of `complete`,
//! batch completion and abort. Multipart uploads are in `multipart_uploads`, uploads
//! through the gateway in `proxied_uploads`, a bucket's limits in `bucket_limits`.

use bytes::Bytes;
use filegate_client::Client;
use filegate_client::api::{
    CompleteItem, CompleteUpload, CompleteUploads, CreateUpload, UploadCreated, UploadInstructions,
};

use crate::common::TestApp;
use crate::support::{api_error, content_of, err, pattern, sha256_hex};

/// `POST /v1/uploads` for a single signed PUT.
pub(crate) fn put_request(bucket: &str, path: &str, content_type: &str, size: usize) -> CreateUpload {
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

pub(crate) async fn status_of(client: &Client, id: &str) -> String {
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

    // One processing job, plus the events of one story (uploaded, processing, ready) and
    // one search index update.
    assert_eq!(app.run_jobs().await, 1 + 3 + 1, "one processing job");
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
