//! Deduplication: an upload declaring the sha256 of a `ready` file of the same tenant (and
//! bucket, by policy) gets a new file sharing that file's bytes, without an upload; the
//! bytes are reference-counted, so removing one file never removes what another uses.

use bytes::Bytes;
use chrono::Utc;
use filegate_client::Client;
use filegate_client::api::{BucketPolicyChange, CreateBucket, CreateUpload, UploadCreated, UploadInstructions};
use filegate_core::domain::{FileId, TenantId, thumbnail_key};
use filegate_core::ports::Effects;

use crate::common::TestApp;
use crate::support::{content_of, files_under, pattern, sha256_hex};

/// `POST /v1/uploads` declaring the size and sha256 of `bytes`.
pub(crate) async fn create_declaring(client: &Client, bucket: &str, path: &str, bytes: &[u8]) -> UploadCreated {
    client
        .create_upload(&CreateUpload {
            bucket: bucket.into(),
            path: path.into(),
            size: bytes.len() as u64,
            content_type: Some("application/octet-stream".into()),
            sha256: Some(sha256_hex(bytes)),
            ..CreateUpload::default()
        })
        .await
        .expect("create upload")
}

async fn set_dedup(client: &Client, bucket: &str, scope: &str) {
    client
        .update_bucket(
            bucket,
            &BucketPolicyChange {
                dedup: Some(scope.into()),
                ..BucketPolicyChange::default()
            },
        )
        .await
        .expect("set dedup");
}

async fn bucket_with_dedup(client: &Client, name: &str, scope: &str) {
    client
        .create_bucket(&CreateBucket {
            name: name.into(),
            dedup: Some(scope.into()),
            ..CreateBucket::default()
        })
        .await
        .expect("create bucket");
}

#[track_caller]
fn assert_deduplicated(created: &UploadCreated) {
    assert!(created.deduplicated, "{created:?}");
    assert_eq!(created.upload, None, "a deduplicated file needs no upload");
    assert_eq!(created.status, "uploaded");
}

#[track_caller]
fn assert_must_upload(created: &UploadCreated) {
    assert!(!created.deduplicated, "{created:?}");
    assert!(
        matches!(created.upload, Some(UploadInstructions::Put { .. })),
        "{created:?}"
    );
    assert_eq!(created.status, "pending");
}

/// Moves `now` past every retention and every expiry the tests use, then runs what the sweep
/// enqueued (the RemoveBlob jobs).
async fn sweep_far_ahead(app: &TestApp) {
    let later = Utc::now() + chrono::Duration::days(400);
    filegate_core::usecases::pipeline::sweep(&app.services, later, 500)
        .await
        .expect("sweep");
    app.run_jobs().await;
}

/// The stored object of blob `key`, in the local store's directory.
fn object_path(app: &TestApp, key: &str) -> std::path::PathBuf {
    app.data_dir.path().join("objects").join("objects").join(key)
}

#[tokio::test]
async fn an_identical_upload_shares_the_bytes_without_an_upload() {
    let app = TestApp::spawn().await;
    set_dedup(&app.client, "default", "bucket").await;
    let bytes = pattern(300_000, 41);
    let first = app.ready_file(&app.client, "default", "reports/a.bin", &bytes).await;
    let objects = app.stored_objects();

    let created = create_declaring(&app.client, "default", "copies/b.bin", &bytes).await;
    assert_deduplicated(&created);
    assert_ne!(created.file_id, first.id, "a new file");
    assert_eq!(app.stored_objects(), objects, "no bytes were stored again");

    // Its own pipeline runs over the shared bytes, announced like any upload: the processing
    // job, and the events `file.uploaded` (committed with the new row), `processing`, `ready`,
    // and its search index entry once it is ready.
    assert_eq!(app.run_jobs().await, 1 + 3 + 1);
    let copy = app.client.get_file(&created.file_id).await.expect("get");
    assert_eq!(copy.status, "ready");
    assert_eq!(copy.path, "copies/b.bin");
    assert_eq!(copy.size, bytes.len() as u64);
    assert_eq!(copy.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert!(
        content_of(&app.client, &copy.id).await == bytes,
        "the shared bytes came back changed"
    );
    assert!(content_of(&app.client, &first.id).await == bytes);
    let audited = app
        .client
        .audit(&filegate_client::api::AuditFilter {
            file_id: Some(copy.id.clone()),
            action: Some("file.deduplicated".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audited.items.len(), 1, "{audited:?}");
    assert_eq!(audited.items[0].details["source"], serde_json::json!(first.id));

    // The client's one-call upload takes the answer as it is.
    let again = app
        .client
        .upload(
            CreateUpload {
                bucket: "default".into(),
                path: "copies/c.bin".into(),
                content_type: Some("application/octet-stream".into()),
                sha256: Some(sha256_hex(&bytes)),
                ..CreateUpload::default()
            },
            filegate_client::UploadSource::Bytes(Bytes::from(bytes.clone())),
        )
        .await
        .expect("upload");
    assert_eq!(again.status, "uploaded");
    assert_eq!(app.stored_objects(), objects);
}

#[tokio::test]
async fn another_tenants_identical_file_is_never_used() {
    let app = TestApp::spawn().await;
    set_dedup(&app.client, "default", "tenant").await;
    let bytes = pattern(10_000, 42);
    app.ready_file(&app.client, "default", "mine.bin", &bytes).await;

    let other = app.tenant("other").await;
    set_dedup(&other, "default", "tenant").await;
    let created = create_declaring(&other, "default", "theirs.bin", &bytes).await;
    assert_must_upload(&created);

    // A normal upload it is, and after it, that tenant dedups against its own file.
    let file = app.ready_file(&other, "default", "theirs-2.bin", &bytes).await;
    assert!(content_of(&other, &file.id).await == bytes);
    assert_deduplicated(&create_declaring(&other, "default", "theirs-3.bin", &bytes).await);
}

#[tokio::test]
async fn the_target_buckets_policy_sets_the_scope() {
    let app = TestApp::spawn().await;
    bucket_with_dedup(&app.client, "by-bucket", "bucket").await;
    bucket_with_dedup(&app.client, "by-tenant", "tenant").await;
    bucket_with_dedup(&app.client, "no-dedup", "off").await;
    let in_bucket = pattern(5000, 43);
    let elsewhere = pattern(6000, 44);
    app.ready_file(&app.client, "by-bucket", "a.bin", &in_bucket).await;
    app.ready_file(&app.client, "no-dedup", "b.bin", &elsewhere).await;

    // `bucket`: only files of the same bucket.
    assert_deduplicated(&create_declaring(&app.client, "by-bucket", "a2.bin", &in_bucket).await);
    assert_must_upload(&create_declaring(&app.client, "by-bucket", "b2.bin", &elsewhere).await);
    // `tenant`: any bucket of the tenant, whatever that bucket's own policy.
    assert_deduplicated(&create_declaring(&app.client, "by-tenant", "b3.bin", &elsewhere).await);
    assert_deduplicated(&create_declaring(&app.client, "by-tenant", "a3.bin", &in_bucket).await);
    // `off` (the default): never.
    assert_must_upload(&create_declaring(&app.client, "no-dedup", "a4.bin", &in_bucket).await);
    assert_must_upload(&create_declaring(&app.client, "default", "a5.bin", &in_bucket).await);

    // Without a declared sha256, or with a size that differs: an upload.
    let plain = app
        .client
        .create_upload(&CreateUpload {
            bucket: "by-tenant".into(),
            path: "plain.bin".into(),
            size: in_bucket.len() as u64,
            ..CreateUpload::default()
        })
        .await
        .expect("create");
    assert_must_upload(&plain);
    let resized = app
        .client
        .create_upload(&CreateUpload {
            bucket: "by-tenant".into(),
            path: "resized.bin".into(),
            size: in_bucket.len() as u64 + 1,
            sha256: Some(sha256_hex(&in_bucket)),
            ..CreateUpload::default()
        })
        .await
        .expect("create");
    assert_must_upload(&resized);
}

#[tokio::test]
async fn only_a_hash_the_server_computed_is_trusted() {
    let app = TestApp::spawn().await;
    set_dedup(&app.client, "default", "tenant").await;
    let bytes = pattern(20_000, 45);

    // A pending upload that merely declared the hash (its bytes sent, never completed).
    let pending = create_declaring(&app.client, "default", "declared.bin", &bytes).await;
    let Some(UploadInstructions::Put { url, headers }) = pending.upload.clone() else {
        panic!("expected a PUT, got {pending:?}")
    };
    app.anonymous
        .put_signed(&url, &headers, Bytes::from(bytes.clone()))
        .await
        .expect("PUT");
    assert_must_upload(&create_declaring(&app.client, "default", "second.bin", &bytes).await);

    // Completed (the server hashed the bytes) but not yet processed: still not a source.
    let completed = app
        .client
        .complete_upload(&pending.file_id, &Default::default())
        .await
        .expect("complete");
    assert_eq!(completed.status, "uploaded");
    assert_must_upload(&create_declaring(&app.client, "default", "third.bin", &bytes).await);

    // Ready: now it is.
    app.run_jobs().await;
    assert_deduplicated(&create_declaring(&app.client, "default", "fourth.bin", &bytes).await);
}

#[tokio::test]
async fn removing_one_sharing_file_keeps_the_bytes_the_other_uses() {
    let app = TestApp::spawn().await;
    set_dedup(&app.client, "default", "bucket").await;
    let bytes = pattern(70_000, 46);
    let first = app.ready_file(&app.client, "default", "first.bin", &bytes).await;
    let created = create_declaring(&app.client, "default", "second.bin", &bytes).await;
    assert_deduplicated(&created);
    app.run_jobs().await;
    let second = app.client.get_file(&created.file_id).await.expect("get");
    assert_eq!(second.status, "ready");

    // The blob's thumbnails, as the thumbnail stage leaves them: objects beside the blob,
    // sizes recorded under `processing.thumbnails` of the file that made them.
    let tenant = TenantId::default_tenant();
    let first_id = FileId::parse(&first.id).expect("id");
    let mut record = app
        .services
        .store
        .get_file(&tenant, first_id)
        .await
        .expect("read")
        .expect("the file");
    let blob_key = record.blob_key.clone();
    record.processing.thumbnails = vec![serde_json::json!({"size": 64}), serde_json::json!({"size": 256})];
    app.services
        .store
        .update_file(&record, &[filegate_core::domain::FileStatus::Ready], &Effects::NONE)
        .await
        .expect("record thumbnails");
    for size in [64, 256] {
        std::fs::write(object_path(&app, &thumbnail_key(&blob_key, size)), b"thumb").expect("thumbnail");
    }

    // Delete and purge the file that uploaded the bytes: the other still has them.
    app.client.delete_file(&first.id).await.expect("delete");
    sweep_far_ahead(&app).await;
    assert_eq!(app.client.get_file(&first.id).await.expect("get").status, "purged");
    assert!(object_path(&app, &blob_key).exists(), "bytes in use were removed");
    assert!(object_path(&app, &thumbnail_key(&blob_key, 64)).exists());
    assert!(
        content_of(&app.client, &second.id).await == bytes,
        "the remaining file lost its bytes"
    );

    // A third file can still share them (the remaining one is ready).
    let third = create_declaring(&app.client, "default", "third.bin", &bytes).await;
    assert_deduplicated(&third);
    app.run_jobs().await;

    // Purging every reference removes the bytes and the thumbnails, even those recorded
    // by a file purged earlier.
    app.client.delete_file(&second.id).await.expect("delete");
    sweep_far_ahead(&app).await;
    assert!(object_path(&app, &blob_key).exists(), "the third file still uses them");
    app.client.delete_file(&third.file_id).await.expect("delete");
    sweep_far_ahead(&app).await;
    assert!(
        !object_path(&app, &blob_key).exists(),
        "the last reference is gone, the bytes stay"
    );
    for size in [64, 256] {
        assert!(
            !object_path(&app, &thumbnail_key(&blob_key, size)).exists(),
            "thumbnail {size} stays"
        );
    }
    assert!(app.stored_objects().is_empty(), "{:?}", app.stored_objects());
    assert!(files_under(&app, "multipart").is_empty());
}

#[tokio::test]
async fn a_deleted_source_is_not_shared_but_can_be_restored() {
    let app = TestApp::spawn().await;
    set_dedup(&app.client, "default", "bucket").await;
    let bytes = pattern(9000, 47);
    let first = app.ready_file(&app.client, "default", "first.bin", &bytes).await;
    app.client.delete_file(&first.id).await.expect("delete");
    assert_must_upload(&create_declaring(&app.client, "default", "second.bin", &bytes).await);

    app.client.restore_file(&first.id).await.expect("restore");
    assert!(content_of(&app.client, &first.id).await == bytes);
    assert_deduplicated(&create_declaring(&app.client, "default", "third.bin", &bytes).await);
}
