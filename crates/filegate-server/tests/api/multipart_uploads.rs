//! Multipart uploads: part URLs on request, parts sent out of order, a wrong part etag
//! refused, and abort freeing the parts already sent.

use std::collections::BTreeMap;

use bytes::Bytes;
use filegate_client::api::{CompleteUpload, CompletedPart, CreateUpload, PartUrl, UploadCreated, UploadInstructions};

use crate::common::TestApp;
use crate::support::{MIB, api_error, content_of, err, files_under, pattern, sha256_hex};
use crate::uploads::{put_request, status_of};

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
async fn aborting_a_multipart_upload_frees_its_parts() {
    let app = TestApp::spawn_with(|c| c.uploads.part_size = 5 * MIB as u64).await;
    let size = 6 * MIB;
    let bytes = pattern(size, 8);
    let (created, parts) = half_sent_multipart(&app, "half.bin", &bytes).await;
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

/// A multipart upload of `bytes` into `default` (the app's parts 5 MiB) with only its first
/// part sent: what an abort or the sweeper must clean up. Returns the upload and its part URLs.
pub(crate) async fn half_sent_multipart(app: &TestApp, path: &str, bytes: &[u8]) -> (UploadCreated, Vec<PartUrl>) {
    let created = app
        .client
        .create_upload(&CreateUpload {
            multipart: Some(true),
            ..put_request("default", path, "application/octet-stream", bytes.len())
        })
        .await
        .expect("create");
    let Some(UploadInstructions::Multipart { parts, .. }) = created.upload.clone() else {
        panic!("expected multipart, got {created:?}")
    };
    app.anonymous
        .put_signed(
            &parts[0].url,
            &BTreeMap::new(),
            Bytes::copy_from_slice(&bytes[..5 * MIB]),
        )
        .await
        .expect("PUT part 1");
    (created, parts)
}
