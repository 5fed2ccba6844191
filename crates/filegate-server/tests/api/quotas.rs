//! Storage quotas per tenant: the exact boundaries (a limit reached exactly is allowed, one
//! byte or one file past it is `quota-exceeded`), at create-upload, proxied upload and
//! dedup; what counts (pending reservations, deleted files until purged); who may read and
//! set quotas; the configured default; `GET /v1/admin/usage`.

use bytes::Bytes;
use chrono::{Duration, Utc};
use filegate_client::api::{BucketPolicyChange, CompleteUpload, CreateUpload, SetQuota, UploadInstructions, UsageView};
use filegate_client::{Client, Error, FormUpload, ListFiles};

use crate::common::TestApp;
use crate::support::{MIB, api_error, err, files_under, pattern, sha256_hex};

fn upload_of(bucket: &str, path: &str, size: u64) -> CreateUpload {
    CreateUpload {
        bucket: bucket.into(),
        path: path.into(),
        size,
        content_type: Some("application/octet-stream".into()),
        ..CreateUpload::default()
    }
}

/// A tenant `id` whose quota the superadmin set; its admin client.
async fn tenant_with_quota(app: &TestApp, id: &str, max_bytes: Option<u64>, max_files: Option<u64>) -> Client {
    let admin = app.tenant(id).await;
    set_quota(app, id, max_bytes, max_files).await;
    admin
}

/// The superadmin sets tenant `id`'s quota.
async fn set_quota(app: &TestApp, id: &str, max_bytes: Option<u64>, max_files: Option<u64>) {
    app.client_as("default", "superadmin")
        .set_quota(&SetQuota {
            tenant: Some(id.into()),
            max_bytes,
            max_files,
        })
        .await
        .expect("set quota");
}

#[track_caller]
fn quota_error<T: std::fmt::Debug>(result: filegate_client::Result<T>) -> String {
    match result {
        Err(Error::Api {
            status: 413,
            code,
            message,
            ..
        }) if code == "quota-exceeded" => message,
        other => panic!("expected 413 quota-exceeded, got {other:?}"),
    }
}

async fn usage(client: &Client) -> UsageView {
    client.usage(None).await.expect("usage")
}

#[tokio::test]
async fn the_byte_quota_admits_the_last_byte_exactly_and_refuses_one_more() {
    let app = TestApp::spawn().await;
    let acme = tenant_with_quota(&app, "acme", Some(1000), None).await;

    // Pending uploads reserve their declared size.
    acme.create_upload(&upload_of("default", "a.bin", 600))
        .await
        .expect("600 of 1000");
    let last = acme
        .create_upload(&upload_of("default", "b.bin", 400))
        .await
        .expect("the last 400 bytes fit exactly");
    let message = quota_error(acme.create_upload(&upload_of("default", "c.bin", 1)).await);
    assert!(
        message.contains("max_bytes") && message.contains("1000 of 1000 bytes"),
        "{message}"
    );
    let used = usage(&acme).await;
    assert_eq!((used.bytes, used.files, used.max_bytes), (1000, 2, Some(1000)));

    // An aborted upload gives its reservation back.
    acme.abort_upload(&last.file_id).await.expect("abort");
    assert_eq!(usage(&acme).await.bytes, 600);
    acme.create_upload(&upload_of("default", "c.bin", 400))
        .await
        .expect("fits again");
    quota_error(acme.create_upload(&upload_of("default", "d.bin", 1)).await);

    // Another tenant is not limited by acme's quota.
    app.client
        .create_upload(&upload_of("default", "big.bin", 5000))
        .await
        .expect("the default tenant is unlimited");
}

#[tokio::test]
async fn a_changed_quota_applies_to_the_next_upload_at_once() {
    let app = TestApp::spawn().await;
    let acme = tenant_with_quota(&app, "acme", None, Some(1)).await;
    acme.create_upload(&upload_of("default", "one.bin", 1))
        .await
        .expect("the first of one file");
    quota_error(acme.create_upload(&upload_of("default", "two.bin", 1)).await);

    // Raised: the refusal just seen is not remembered.
    set_quota(&app, "acme", None, Some(2)).await;
    acme.create_upload(&upload_of("default", "two.bin", 1))
        .await
        .expect("admitted under the raised quota");

    // Lifted, then set again: each change is seen by the very next request.
    set_quota(&app, "acme", None, None).await;
    acme.create_upload(&upload_of("default", "three.bin", 1))
        .await
        .expect("unlimited");
    set_quota(&app, "acme", None, Some(3)).await;
    quota_error(acme.create_upload(&upload_of("default", "four.bin", 1)).await);
}

#[tokio::test]
async fn the_file_quota_counts_deleted_files_until_they_are_purged() {
    let app = TestApp::spawn().await;
    let acme = tenant_with_quota(&app, "acme", None, Some(2)).await;
    let one = app.ready_file(&acme, "default", "one.txt", b"one").await;
    app.ready_file(&acme, "default", "two.txt", b"two").await;
    let message = quota_error(acme.create_upload(&upload_of("default", "three.txt", 5)).await);
    assert!(
        message.contains("max_files") && message.contains("2 of 2 files"),
        "{message}"
    );

    // A soft-deleted file still holds its bytes (it can be restored): it still counts.
    let deleted_at = Utc::now();
    acme.delete_file(&one.id).await.expect("delete");
    quota_error(acme.create_upload(&upload_of("default", "three.txt", 5)).await);
    assert_eq!(usage(&acme).await.files, 2);

    // Purged after the retention: it no longer counts.
    filegate_core::usecases::pipeline::sweep(&app.services, deleted_at + Duration::days(31), 500)
        .await
        .expect("sweep");
    app.run_jobs().await;
    assert_eq!(acme.file_status(&one.id).await.expect("status").status, "purged");
    let used = usage(&acme).await;
    assert_eq!((used.bytes, used.files), (3, 1));
    acme.create_upload(&upload_of("default", "three.txt", 5))
        .await
        .expect("room again");
}

#[tokio::test]
async fn a_proxied_upload_may_stream_up_to_the_room_left_and_not_one_byte_more() {
    let app = TestApp::spawn().await;
    let acme = tenant_with_quota(&app, "acme", Some(3000), Some(3)).await;
    acme.create_upload(&upload_of("default", "reserved.bin", 1000))
        .await
        .expect("reserve 1000");
    let before = app.stored_objects();
    let temp_before = files_under(&app, "tmp");

    let form = FormUpload::new("default", "big.bin", "application/octet-stream");
    let message = quota_error(acme.upload_form(&form, Bytes::from(pattern(2001, 1))).await);
    assert!(message.contains("1000 of 3000 bytes"), "{message}");
    assert_eq!(app.stored_objects(), before, "nothing was stored");
    assert_eq!(files_under(&app, "tmp"), temp_before, "no temporary file was left");
    let listed = acme.list_files(&ListFiles::bucket("default")).await.expect("list");
    assert_eq!(listed.items.len(), 1, "no file was recorded: {:?}", listed.items);

    let file = acme
        .upload_form(&form, Bytes::from(pattern(2000, 2)))
        .await
        .expect("exactly the room left");
    assert_eq!(file.size, 2000);
    assert_eq!(usage(&acme).await.bytes, 3000);
    // Full to the byte: only an empty file still fits, and then the file limit is reached.
    let empty = FormUpload::new("default", "empty.bin", "application/octet-stream");
    acme.upload_form(&empty, Bytes::new())
        .await
        .expect("an empty file fits");
    let message = quota_error(acme.upload_form(&empty, Bytes::from_static(b"x")).await);
    assert!(message.contains("max_files"), "{message}");
}

#[tokio::test]
async fn a_multipart_upload_over_the_quota_leaves_nothing_in_storage() {
    let app = TestApp::spawn().await;
    let acme = tenant_with_quota(&app, "acme", Some(10 * MIB as u64), None).await;
    let request = CreateUpload {
        multipart: Some(true),
        ..upload_of("default", "huge.bin", 10 * MIB as u64 + 1)
    };
    quota_error(acme.create_upload(&request).await);
    assert!(files_under(&app, "multipart").is_empty());
    let fits = CreateUpload {
        multipart: Some(true),
        ..upload_of("default", "huge.bin", 10 * MIB as u64)
    };
    let created = acme.create_upload(&fits).await.expect("exactly the limit");
    assert!(matches!(created.upload, Some(UploadInstructions::Multipart { .. })));
}

#[tokio::test]
async fn a_deduplicated_file_counts_its_full_size() {
    let app = TestApp::spawn().await;
    let acme = tenant_with_quota(&app, "acme", Some(150), None).await;
    acme.update_bucket(
        "default",
        &BucketPolicyChange {
            dedup: Some("tenant".into()),
            ..BucketPolicyChange::default()
        },
    )
    .await
    .expect("dedup on");
    let bytes = pattern(100, 3);
    app.ready_file(&acme, "default", "first.bin", &bytes).await;
    let again = CreateUpload {
        sha256: Some(sha256_hex(&bytes)),
        ..upload_of("default", "second.bin", 100)
    };
    let message = quota_error(acme.create_upload(&again).await);
    assert!(message.contains("100 of 150 bytes"), "{message}");
    assert_eq!(usage(&acme).await.files, 1);
}

#[tokio::test]
async fn concurrent_uploads_never_pass_the_limit_together() {
    let app = TestApp::spawn().await;
    let acme = tenant_with_quota(&app, "acme", Some(500), None).await;
    let attempts = (0..12).map(|i| {
        let acme = acme.clone();
        async move {
            acme.create_upload(&upload_of("default", &format!("f{i}.bin"), 100))
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 5, "{results:?}");
    for refused in results.into_iter().filter(Result::is_err) {
        quota_error(refused);
    }
    assert_eq!(usage(&acme).await.bytes, 500);
}

#[tokio::test]
async fn a_reserved_upload_completes_even_after_the_quota_is_lowered() {
    let app = TestApp::spawn().await;
    let acme = tenant_with_quota(&app, "acme", Some(1000), None).await;
    let bytes = pattern(600, 4);
    let created = acme
        .create_upload(&upload_of("default", "kept.bin", 600))
        .await
        .expect("create");
    set_quota(&app, "acme", Some(100), None).await;
    let Some(UploadInstructions::Put { url, headers }) = created.upload else {
        panic!("expected a PUT, got {:?}", created.upload)
    };
    app.anonymous
        .put_signed(&url, &headers, Bytes::from(bytes))
        .await
        .expect("PUT");
    let done = acme
        .complete_upload(&created.file_id, &CompleteUpload::default())
        .await
        .expect("the reservation holds");
    assert_eq!(done.status, "uploaded");
    let used = usage(&acme).await;
    assert_eq!((used.bytes, used.max_bytes), (600, Some(100)));
    quota_error(acme.create_upload(&upload_of("default", "more.bin", 0)).await);
}

#[tokio::test]
async fn usage_is_broken_down_per_bucket() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    app.bucket(&acme, "photos").await;
    app.ready_file(&acme, "default", "a.txt", &pattern(10, 5)).await;
    app.ready_file(&acme, "photos", "b.jpg", &pattern(20, 6)).await;
    app.ready_file(&acme, "photos", "c.jpg", &pattern(30, 7)).await;
    acme.create_upload(&upload_of("photos", "d.jpg", 40))
        .await
        .expect("pending");

    let used = usage(&acme).await;
    assert_eq!(used.tenant, "acme");
    assert_eq!((used.bytes, used.files), (100, 4));
    assert_eq!((used.max_bytes, used.max_files), (None, None));
    let buckets: Vec<(String, u64, u64)> = used.buckets.into_iter().map(|b| (b.name, b.bytes, b.files)).collect();
    assert_eq!(buckets, [("default".to_owned(), 10, 1), ("photos".to_owned(), 90, 3)]);
    // The default tenant keeps nothing of acme's.
    assert_eq!(usage(&app.client).await.files, 0);
}

#[tokio::test]
async fn admins_read_their_quota_and_only_a_superadmin_sets_one() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let root = app.client_as("default", "superadmin");
    let unlimited = acme.quota(None).await.expect("admin reads");
    assert_eq!(
        (unlimited.tenant.as_str(), unlimited.max_bytes, unlimited.max_files),
        ("acme", None, None)
    );

    let raise = SetQuota {
        tenant: None,
        max_bytes: Some(1),
        max_files: Some(1),
    };
    assert_eq!(api_error(acme.set_quota(&raise).await), err(403, "forbidden"));
    for role in ["reader", "writer"] {
        let client = app.client_as("acme", role);
        assert_eq!(api_error(client.quota(None).await), err(403, "forbidden"), "{role}");
        assert_eq!(api_error(client.usage(None).await), err(403, "forbidden"), "{role}");
    }
    // A tenant admin cannot look at another tenant.
    assert_eq!(api_error(acme.usage(Some("default")).await), err(403, "forbidden"));

    let set = root
        .set_quota(&SetQuota {
            tenant: Some("acme".into()),
            max_bytes: Some(5 * MIB as u64),
            max_files: None,
        })
        .await
        .expect("superadmin sets");
    assert_eq!(
        (set.tenant.as_str(), set.max_bytes, set.max_files),
        ("acme", Some(5 * MIB as u64), None)
    );
    assert_eq!(acme.quota(None).await.expect("read back"), set);
    assert_eq!(root.quota(Some("acme")).await.expect("superadmin reads"), set);
    assert_eq!(
        root.usage(Some("acme")).await.expect("usage").max_bytes,
        Some(5 * MIB as u64)
    );
    assert_eq!(api_error(root.usage(Some("nobody")).await), err(404, "not-found"));
    assert_eq!(
        api_error(
            root.set_quota(&SetQuota {
                tenant: Some("nobody".into()),
                ..SetQuota::default()
            })
            .await
        ),
        err(404, "not-found")
    );
    assert_eq!(api_error(root.usage(Some("Not A Tenant!")).await).0, 400);
    let absurd = SetQuota {
        tenant: Some("acme".into()),
        max_bytes: Some(u64::MAX),
        max_files: None,
    };
    assert_eq!(api_error(root.set_quota(&absurd).await), err(400, "invalid-quota"));
    assert_eq!(acme.quota(None).await.expect("unchanged"), set);

    // The tenant's admins see who changed their limits.
    let trail = acme
        .audit(&filegate_client::api::AuditFilter {
            action: Some("quota.changed".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(trail.items.len(), 1);
    assert_eq!(trail.items[0].details["max_bytes"], 5 * MIB as u64);
}

#[tokio::test]
async fn new_tenants_start_with_the_configured_default_quota() {
    let app = TestApp::spawn_with(|config| {
        config.quotas.default_max_files = Some(1);
    })
    .await;
    // The default tenant, made at first start, too.
    assert_eq!(app.client.quota(None).await.expect("quota").max_files, Some(1));
    let acme = app.tenant("acme").await;
    let quota = acme.quota(None).await.expect("quota");
    assert_eq!((quota.max_bytes, quota.max_files), (None, Some(1)));
    acme.create_upload(&upload_of("default", "one.bin", 1))
        .await
        .expect("first file");
    quota_error(acme.create_upload(&upload_of("default", "two.bin", 1)).await);
}

#[tokio::test]
async fn malformed_quota_bodies_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let acme = tenant_with_quota(&app, "acme", Some(100), Some(10)).await;
    let root = app.client_as("default", "superadmin");
    for body in [
        serde_json::json!({"tenant": "acme", "max_bytes": -1}),
        serde_json::json!({"tenant": "acme", "max_bytes": "100"}),
        serde_json::json!({"tenant": "acme", "max_bytes": 1.5}),
        serde_json::json!({"tenant": "acme", "max_bytes": 1, "max_size": 2}),
        serde_json::json!({"tenant": 7}),
        serde_json::json!("unlimited"),
    ] {
        let response = root
            .request(reqwest::Method::PUT, &["v1", "admin", "quotas"])
            .expect("URL")
            .json(&body)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 400, "{body}");
    }
    let quota = acme.quota(None).await.expect("quota");
    assert_eq!((quota.max_bytes, quota.max_files), (Some(100), Some(10)));
}
