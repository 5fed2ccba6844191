//! Files: get and status, the change feed, patch, soft delete and restore, batch delete.
//! Listing is in `listing`.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use filegate_client::api::{FileView, PatchFile};
use filegate_client::{ListFiles, Result};

use crate::common::TestApp;
use crate::support::{api_error, content_of, err, pattern, sha256_hex};

/// Uploads `size` bytes with a content type, completes, and leaves processing to the caller.
pub(crate) async fn upload(app: &TestApp, bucket: &str, path: &str, content_type: &str, size: usize) -> FileView {
    let bytes = Bytes::from(pattern(size, size as u64 + path.len() as u64));
    app.client
        .upload_bytes(bucket, path, content_type, bytes)
        .await
        .expect("upload")
}

#[tokio::test]
async fn a_file_and_its_status_can_be_read() {
    let app = TestApp::spawn().await;
    let bytes = b"ward,patients\na,12\n";
    let file = app
        .ready_file(&app.client, "default", "2026/11/ward-a.csv", bytes)
        .await;
    let got = app.client.get_file(&file.id).await.expect("get");
    assert_eq!(got.id, file.id);
    assert_eq!(got.tenant, "default");
    assert_eq!(got.bucket, "default");
    assert_eq!(got.path, "2026/11/ward-a.csv");
    assert_eq!(got.name, "ward-a.csv");
    assert_eq!(got.size, bytes.len() as u64);
    assert_eq!(got.sha256.as_deref(), Some(sha256_hex(bytes).as_str()));
    assert_eq!(got.status, "ready");
    assert_eq!(got.owner, "tester");
    assert!(got.deleted_at.is_none());

    let status = app.client.file_status(&file.id).await.expect("status");
    assert_eq!(
        (status.id.as_str(), status.status.as_str()),
        (file.id.as_str(), "ready")
    );
    assert_eq!(status.status_reason, None);
    assert_eq!(status.updated_at, got.updated_at);

    // Unknown, malformed and another tenant's ids are all simply not found.
    let other = app.tenant("acme").await;
    assert_eq!(api_error(other.get_file(&file.id).await), err(404, "not-found"));
    assert_eq!(api_error(other.file_status(&file.id).await), err(404, "not-found"));
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_eq!(api_error(app.client.get_file(&unknown).await), err(404, "not-found"));
    assert_eq!(api_error(app.client.get_file("not-an-id").await), err(404, "not-found"));
}

#[tokio::test]
async fn the_change_feed_reports_changes_and_deletions_in_order() {
    let app = TestApp::spawn().await;
    let start = app.client.changes(None, None).await.expect("changes");
    assert!(start.items.is_empty());

    let a = app.ready_file(&app.client, "default", "feed/a.txt", b"a").await;
    let b = app.ready_file(&app.client, "default", "feed/b.txt", b"b").await;
    let first = app
        .client
        .changes(Some(&start.next_cursor), None)
        .await
        .expect("changes");
    assert_eq!(
        ids(&first.items),
        [a.id.as_str(), b.id.as_str()],
        "each file once, in the order they last changed"
    );
    assert!(first.items.iter().all(|f| f.status == "ready"));
    assert_ne!(first.next_cursor, start.next_cursor, "the cursor advances");

    let quiet = app
        .client
        .changes(Some(&first.next_cursor), None)
        .await
        .expect("changes");
    assert!(quiet.items.is_empty(), "nothing changed: {:?}", quiet.items);
    assert_eq!(quiet.next_cursor, first.next_cursor, "an empty page keeps the cursor");

    app.client.delete_file(&a.id).await.expect("delete");
    let deletion = app
        .client
        .changes(Some(&first.next_cursor), None)
        .await
        .expect("changes");
    assert_eq!(ids(&deletion.items), [a.id.as_str()]);
    assert_eq!(deletion.items[0].status, "deleted");
    assert!(deletion.items[0].deleted_at.is_some());
    assert_ne!(deletion.next_cursor, first.next_cursor);

    let patch = PatchFile {
        metadata: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
        ..PatchFile::default()
    };
    app.client.patch_file(&b.id, &patch).await.expect("patch");
    let patched = app
        .client
        .changes(Some(&deletion.next_cursor), None)
        .await
        .expect("changes");
    assert_eq!(ids(&patched.items), [b.id.as_str()]);
    assert_eq!(patched.items[0].metadata.get("k").map(String::as_str), Some("v"));

    // Paging through the feed one change at a time sees the same files, deletion included.
    let mut since = start.next_cursor.clone();
    let mut seen = Vec::new();
    loop {
        let page = app.client.changes(Some(&since), Some(1)).await.expect("changes");
        if page.items.is_empty() {
            break;
        }
        assert_eq!(page.items.len(), 1);
        seen.push((page.items[0].id.clone(), page.items[0].status.clone()));
        since = page.next_cursor;
        assert!(seen.len() < 10, "the feed does not end");
    }
    assert_eq!(
        seen,
        [(a.id.clone(), "deleted".to_owned()), (b.id.clone(), "ready".to_owned())]
    );

    // Another tenant's feed holds none of it.
    let other = app.tenant("acme").await;
    assert!(other.changes(None, None).await.expect("changes").items.is_empty());
    assert_eq!(
        api_error(app.client.changes(Some("yesterday"), None).await),
        err(400, "invalid-cursor")
    );
}

#[tokio::test]
async fn patch_moves_a_file_and_replaces_its_metadata() {
    let app = TestApp::spawn().await;
    let bytes = b"scanned page";
    let file = app.ready_file(&app.client, "default", "inbox/scan.txt", bytes).await;
    let metadata = BTreeMap::from([
        ("patient".to_owned(), "123".to_owned()),
        ("ward".to_owned(), "a".to_owned()),
    ]);
    let change = PatchFile {
        path: Some("archive/2026/renamed.txt".into()),
        metadata: Some(metadata.clone()),
    };
    let patched = app.client.patch_file(&file.id, &change).await.expect("patch");
    assert_eq!(patched.path, "archive/2026/renamed.txt");
    assert_eq!(patched.name, "renamed.txt");
    assert_eq!(patched.metadata, metadata);
    assert_eq!(patched.status, "ready");
    assert_eq!(app.client.get_file(&file.id).await.expect("get"), patched);

    let under = |p: &str| ListFiles {
        prefix: Some(p.into()),
        ..ListFiles::default()
    };
    let moved = app.client.list_files(&under("archive/")).await.expect("list");
    assert_eq!(ids(&moved.items), [file.id.as_str()]);
    assert!(
        app.client
            .list_files(&under("inbox/"))
            .await
            .expect("list")
            .items
            .is_empty()
    );

    // Metadata is replaced as a whole; a path-only patch keeps it.
    let only_ward = BTreeMap::from([("ward".to_owned(), "b".to_owned())]);
    let patched = app
        .client
        .patch_file(
            &file.id,
            &PatchFile {
                metadata: Some(only_ward.clone()),
                ..PatchFile::default()
            },
        )
        .await;
    let patched = patched.expect("patch metadata");
    assert_eq!(patched.metadata, only_ward);
    assert_eq!(patched.path, "archive/2026/renamed.txt");
    let patched = app
        .client
        .patch_file(
            &file.id,
            &PatchFile {
                path: Some("final.txt".into()),
                ..PatchFile::default()
            },
        )
        .await;
    let patched = patched.expect("patch path");
    assert_eq!(patched.metadata, only_ward);
    assert_eq!(patched.name, "final.txt");

    // The bytes did not move with the name.
    assert_eq!(content_of(&app.client, &file.id).await, &bytes[..]);

    let bad = PatchFile {
        path: Some("../escape.txt".into()),
        ..PatchFile::default()
    };
    assert_eq!(
        api_error(app.client.patch_file(&file.id, &bad).await),
        err(400, "invalid-path")
    );
    assert_eq!(app.client.get_file(&file.id).await.expect("get").path, "final.txt");
}

#[tokio::test]
async fn soft_delete_hides_the_bytes_and_restore_brings_them_back() {
    let app = TestApp::spawn().await;
    let bytes = b"keep me around";
    let file = app.ready_file(&app.client, "default", "keep.txt", bytes).await;

    let deleted = app.client.delete_file(&file.id).await.expect("delete");
    assert_eq!(deleted.status, "deleted");
    assert!(deleted.deleted_at.is_some());
    assert_eq!(
        app.client.file_status(&file.id).await.expect("status").status,
        "deleted"
    );
    assert_eq!(
        api_error(app.client.content(&file.id, Default::default()).await),
        err(409, "file-not-ready")
    );
    assert_eq!(
        api_error(app.client.download_url(&file.id, None).await),
        err(409, "file-not-ready")
    );
    assert!(
        app.client
            .list_files(&ListFiles::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    let listed = app
        .client
        .list_files(&ListFiles {
            status: Some("deleted".into()),
            ..ListFiles::default()
        })
        .await;
    assert_eq!(ids(&listed.expect("list").items), [file.id.as_str()]);
    assert_eq!(
        api_error(app.client.delete_file(&file.id).await),
        err(409, "invalid-status")
    );

    let restored = app.client.restore_file(&file.id).await.expect("restore");
    assert_eq!(restored.status, "ready");
    assert!(restored.deleted_at.is_none());
    assert_eq!(restored.sha256, file.sha256);
    assert_eq!(content_of(&app.client, &file.id).await, &bytes[..]);
    assert_eq!(
        api_error(app.client.restore_file(&file.id).await),
        err(409, "invalid-status")
    );

    // Another tenant can neither delete nor restore it.
    let other = app.tenant("acme").await;
    assert_eq!(api_error(other.delete_file(&file.id).await), err(404, "not-found"));
    assert_eq!(app.client.get_file(&file.id).await.expect("get").status, "ready");
}

#[tokio::test]
async fn a_file_deleted_before_processing_is_processed_once_restored() {
    let app = TestApp::spawn().await;
    let bytes = pattern(5000, 31);
    let file = app
        .client
        .upload_bytes(
            "default",
            "early.bin",
            "application/octet-stream",
            Bytes::from(bytes.clone()),
        )
        .await
        .expect("upload");
    assert_eq!(file.status, "uploaded");
    assert_eq!(
        app.client.delete_file(&file.id).await.expect("delete").status,
        "deleted"
    );
    app.run_jobs().await;
    assert_eq!(
        app.client.file_status(&file.id).await.expect("status").status,
        "deleted",
        "a deleted file is not processed"
    );

    let restored = app.client.restore_file(&file.id).await.expect("restore");
    assert_eq!(restored.status, "uploaded", "processing resumes where it stopped");
    app.run_jobs().await;
    let file = app.client.get_file(&file.id).await.expect("get");
    assert_eq!(file.status, "ready", "{file:?}");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(content_of(&app.client, &file.id).await, bytes);
}

#[tokio::test]
async fn batch_delete_deletes_what_it_can_and_lists_the_rest() {
    let app = TestApp::spawn().await;
    let other = app.tenant("acme").await;
    let theirs = app.ready_file(&other, "default", "theirs.txt", b"theirs").await;
    let a = app.ready_file(&app.client, "default", "a.txt", b"a").await;
    let b = app.ready_file(&app.client, "default", "b.txt", b"b").await;
    let kept = app.ready_file(&app.client, "default", "kept.txt", b"kept").await;
    let unknown = uuid::Uuid::now_v7().to_string();

    let asked = [
        a.id.as_str(),
        "not-an-id",
        theirs.id.as_str(),
        b.id.as_str(),
        unknown.as_str(),
    ];
    let answer = app.client.delete_files(&asked).await.expect("batch delete");
    assert_eq!(
        answer.deleted.iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([&a.id, &b.id])
    );
    assert_eq!(answer.not_found, ["not-an-id", theirs.id.as_str(), unknown.as_str()]);

    for id in [&a.id, &b.id] {
        assert_eq!(app.client.file_status(id).await.expect("status").status, "deleted");
    }
    assert_eq!(app.client.file_status(&kept.id).await.expect("status").status, "ready");
    assert_eq!(
        other.file_status(&theirs.id).await.expect("status").status,
        "ready",
        "the other tenant's file is untouched"
    );

    // Deleting again: already deleted counts as not found.
    let again = app.client.delete_files(&[a.id.as_str()]).await.expect("batch delete");
    assert!(again.deleted.is_empty());
    assert_eq!(again.not_found, [a.id.as_str()]);

    let too_many: Vec<String> = (0..1001).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let refused: Result<_> = app.client.delete_files(&too_many).await;
    assert_eq!(api_error(refused), err(400, "too-many-items"));
    assert_eq!(app.client.file_status(&kept.id).await.expect("status").status, "ready");
}

pub(crate) fn ids(files: &[FileView]) -> Vec<&str> {
    files.iter().map(|f| f.id.as_str()).collect()
}
