//! Lifecycle: a pending upload expires only once its URLs have expired *and* the grace has
//! passed, and then loses its bytes and parts; a deleted file is purged after its bucket's
//! retention, with its bytes. The sweeper is driven with its own `now`: nothing sleeps.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use filegate_client::api::{CreateBucket, CreateUpload, UploadInstructions};

use crate::common::TestApp;
use crate::multipart_uploads::half_sent_multipart;
use crate::support::{MIB, api_error, content_of, err, files_under, pattern};
use crate::uploads::status_of;

const GRACE_SECS: i64 = 15 * 60;

async fn sweep_at(app: &TestApp, now: DateTime<Utc>) -> usize {
    let changed = filegate_core::usecases::pipeline::sweep(&app.services, now, 500)
        .await
        .expect("sweep");
    app.run_jobs().await;
    changed
}

/// Whether the bytes of file `id` (stored under its own id) are in the object directory.
fn has_bytes(app: &TestApp, id: &str) -> bool {
    app.stored_objects()
        .iter()
        .any(|p| p.file_name().and_then(|n| n.to_str()) == Some(id))
}

/// A signed-PUT upload whose bytes have arrived but that is not completed.
async fn put_not_completed(app: &TestApp, path: &str, bytes: &[u8]) -> (String, DateTime<Utc>) {
    let created = app
        .client
        .create_upload(&CreateUpload {
            bucket: "default".into(),
            path: path.into(),
            size: bytes.len() as u64,
            ..CreateUpload::default()
        })
        .await
        .expect("create");
    let Some(UploadInstructions::Put { url, headers }) = created.upload else {
        panic!("expected a PUT, got {created:?}")
    };
    app.anonymous
        .put_signed(&url, &headers, Bytes::copy_from_slice(bytes))
        .await
        .expect("PUT");
    (created.file_id, created.expires_at)
}

#[tokio::test]
async fn a_pending_upload_expires_after_its_expiry_plus_the_grace_and_loses_its_bytes() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.services.settings.upload_expiry_grace.as_secs(),
        GRACE_SECS as u64,
        "the default grace"
    );
    let (id, expires_at) = put_not_completed(&app, "never-completed.bin", &pattern(4096, 51)).await;
    assert!(has_bytes(&app, &id));

    // The URL has expired, but an upload that started in time may still be arriving.
    assert_eq!(sweep_at(&app, expires_at + Duration::seconds(1)).await, 0);
    assert_eq!(sweep_at(&app, expires_at + Duration::seconds(GRACE_SECS - 1)).await, 0);
    assert_eq!(status_of(&app.client, &id).await, "pending");
    assert!(has_bytes(&app, &id), "bytes removed during the grace");

    assert_eq!(sweep_at(&app, expires_at + Duration::seconds(GRACE_SECS + 1)).await, 1);
    assert_eq!(status_of(&app.client, &id).await, "expired");
    assert!(app.stored_objects().is_empty(), "{:?}", app.stored_objects());
    let audited = app
        .client
        .audit(&filegate_client::api::AuditFilter {
            file_id: Some(id.clone()),
            action: Some("file.expired".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audited.items.len(), 1, "{audited:?}");
    assert_eq!(audited.items[0].actor, "system:sweeper");
    // Expired is final: it cannot be completed any more.
    let late = app.client.complete_upload(&id, &Default::default()).await;
    assert_eq!(api_error(late), err(409, "invalid-status"));
}

#[tokio::test]
async fn an_upload_completed_during_the_grace_is_kept() {
    let app = TestApp::spawn().await;
    let bytes = pattern(3000, 52);
    let (id, expires_at) = put_not_completed(&app, "late.bin", &bytes).await;
    sweep_at(&app, expires_at + Duration::seconds(60)).await;

    let file = app
        .client
        .complete_upload(&id, &Default::default())
        .await
        .expect("complete");
    assert_eq!(file.status, "uploaded");
    app.run_jobs().await;
    sweep_at(&app, expires_at + Duration::seconds(GRACE_SECS * 10)).await;
    assert_eq!(status_of(&app.client, &id).await, "ready");
    assert!(content_of(&app.client, &id).await == bytes);
}

#[tokio::test]
async fn the_grace_is_configurable() {
    let app = TestApp::spawn_with(|c| c.uploads.expiry_grace_secs = 0).await;
    let (id, expires_at) = put_not_completed(&app, "strict.bin", &pattern(100, 53)).await;
    assert_eq!(sweep_at(&app, expires_at + Duration::seconds(1)).await, 1);
    assert_eq!(status_of(&app.client, &id).await, "expired");
    assert!(app.stored_objects().is_empty());
}

#[tokio::test]
async fn an_expired_multipart_upload_loses_its_parts() {
    let app = TestApp::spawn_with(|c| c.uploads.part_size = 5 * MIB as u64).await;
    let size = 6 * MIB;
    let (created, _) = half_sent_multipart(&app, "half.bin", &pattern(size, 54)).await;
    assert!(!files_under(&app, "multipart").is_empty());

    sweep_at(&app, created.expires_at + Duration::seconds(GRACE_SECS - 60)).await;
    assert!(
        !files_under(&app, "multipart").is_empty(),
        "parts removed during the grace"
    );
    sweep_at(&app, created.expires_at + Duration::seconds(GRACE_SECS + 60)).await;
    assert_eq!(status_of(&app.client, &created.file_id).await, "expired");
    assert_eq!(
        files_under(&app, "multipart"),
        Vec::<std::path::PathBuf>::new(),
        "the parts are gone"
    );
    assert!(app.stored_objects().is_empty());
}

#[tokio::test]
async fn a_deleted_file_is_purged_with_its_bytes_after_the_bucket_retention() {
    let app = TestApp::spawn().await;
    app.client
        .create_bucket(&CreateBucket {
            name: "short".into(),
            retention_days: Some(2),
            ..CreateBucket::default()
        })
        .await
        .expect("bucket");
    let file = app
        .ready_file(&app.client, "short", "gone-soon.bin", &pattern(500, 55))
        .await;
    let kept = app
        .ready_file(&app.client, "default", "kept.bin", &pattern(600, 56))
        .await;
    let deleted_at = Utc::now();
    app.client.delete_file(&file.id).await.expect("delete");
    app.client.delete_file(&kept.id).await.expect("delete");

    // Within the retention the file can still be restored, and its bytes are there.
    sweep_at(&app, deleted_at + Duration::days(1)).await;
    assert_eq!(status_of(&app.client, &file.id).await, "deleted");
    assert!(has_bytes(&app, &file.id) && has_bytes(&app, &kept.id));

    sweep_at(&app, deleted_at + Duration::days(2) + Duration::minutes(1)).await;
    assert_eq!(status_of(&app.client, &file.id).await, "purged");
    assert_eq!(
        status_of(&app.client, &kept.id).await,
        "deleted",
        "the default retention is 30 days"
    );
    assert!(!has_bytes(&app, &file.id), "{:?}", app.stored_objects());
    assert!(has_bytes(&app, &kept.id));
    let restore = app.client.restore_file(&file.id).await;
    assert_eq!(api_error(restore), err(409, "invalid-status"));

    sweep_at(&app, deleted_at + Duration::days(30) + Duration::minutes(1)).await;
    assert_eq!(status_of(&app.client, &kept.id).await, "purged");
    assert!(app.stored_objects().is_empty());
}

#[tokio::test]
async fn asking_for_more_part_urls_keeps_a_multipart_upload_alive() {
    let app = TestApp::spawn_with(|c| c.uploads.part_size = 5 * MIB as u64).await;
    let created = app
        .client
        .create_upload(&CreateUpload {
            bucket: "default".into(),
            path: "long.bin".into(),
            size: 11 * MIB as u64,
            multipart: Some(true),
            ..CreateUpload::default()
        })
        .await
        .expect("create");
    let tenant = filegate_core::domain::TenantId::default_tenant();
    let id = filegate_core::domain::FileId::parse(&created.file_id).expect("id");
    let expiry = |app: &TestApp| {
        let store = app.services.store.clone();
        let tenant = tenant.clone();
        async move {
            store
                .get_file(&tenant, id)
                .await
                .expect("read")
                .expect("file")
                .upload_expires_at
        }
    };
    assert_eq!(
        expiry(&app).await.timestamp_micros(),
        created.expires_at.timestamp_micros()
    );

    app.client
        .upload_parts(&created.file_id, &[3])
        .await
        .expect("more part URLs");
    let extended = expiry(&app).await;
    assert!(extended > created.expires_at, "{extended} <= {}", created.expires_at);
    // Swept as of the first expiry plus the grace, it is still pending: its newest URL works.
    sweep_at(
        &app,
        created.expires_at + Duration::seconds(GRACE_SECS) + (extended - created.expires_at) / 2,
    )
    .await;
    assert_eq!(status_of(&app.client, &created.file_id).await, "pending");
}
