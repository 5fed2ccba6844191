//! Roles: a role that does not allow an action is 403 and changes nothing; tenants are
//! created by superadmins only, buckets by tenant admins only, with policies that are
//! checked before anything is stored.

use filegate_api::{BucketPolicyChange, CreateBucket, CreateTenant};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::support::{Snapshot, WithQuery, call, call_json, send, upload_body};

#[tokio::test]
async fn readers_cannot_change_files() {
    let app = TestApp::spawn().await;
    let file = app.ready_file(&app.client, "default", "kept.txt", b"hello").await;
    let pending = crate::support::pending_upload(&app.client, "pending.txt", 3).await;
    let pending_id = pending["file_id"].as_str().expect("file id");
    let reader = app.client_as("default", "reader");
    let before = Snapshot::take(&app, &app.client).await;

    let id = &file.id;
    let refused = [
        call_json(&reader, Method::POST, "v1/uploads", &upload_body()),
        call_json(
            &reader,
            Method::PATCH,
            &format!("v1/files/{id}"),
            &json!({"path": "stolen.txt"}),
        ),
        call_json(
            &reader,
            Method::PATCH,
            &format!("v1/files/{id}"),
            &json!({"metadata": {"a": "b"}}),
        ),
        call(&reader, Method::DELETE, &format!("v1/files/{id}")),
        call(&reader, Method::DELETE, "v1/files").with_query(&[("ids", id.as_str())]),
        call(&reader, Method::POST, &format!("v1/files/{id}/restore")),
        call_json(
            &reader,
            Method::POST,
            &format!("v1/uploads/{pending_id}/complete"),
            &json!({}),
        ),
        call_json(
            &reader,
            Method::POST,
            "v1/uploads/complete",
            &json!({"uploads": [{"file_id": pending_id}]}),
        ),
        call(&reader, Method::DELETE, &format!("v1/uploads/{pending_id}")),
        call_json(&reader, Method::POST, "v1/admin/buckets", &json!({"name": "mine"})),
        call_json(
            &reader,
            Method::POST,
            "v1/admin/api-keys",
            &json!({"name": "mine", "roles": ["reader"]}),
        ),
    ];
    for request in refused {
        send(request).await.assert_error(403, "forbidden");
    }
    let form = reqwest::multipart::Form::new()
        .text("bucket", "default")
        .text("path", "proxied.txt")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"abc".to_vec()).file_name("proxied.txt"),
        );
    send(call(&reader, Method::POST, "v1/files").multipart(form))
        .await
        .assert_error(403, "forbidden");
    before.assert_unchanged(&app, &app.client, "a reader's writes").await;

    // What a reader may do, it can.
    assert_eq!(reader.get_file(id).await.expect("reader reads").status, "ready");
    let bytes = reader
        .content(id, Default::default())
        .await
        .expect("content")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&bytes[..], b"hello");
}

#[tokio::test]
async fn writers_cannot_administer() {
    let app = TestApp::spawn().await;
    let writer = app.client_as("default", "writer");
    let buckets = app.client.list_buckets().await.expect("buckets");
    let refused = [
        call_json(&writer, Method::POST, "v1/admin/buckets", &json!({"name": "mine"})),
        call_json(
            &writer,
            Method::PATCH,
            "v1/admin/buckets/default",
            &json!({"public": true}),
        ),
        call_json(
            &writer,
            Method::POST,
            "v1/admin/api-keys",
            &json!({"name": "mine", "roles": ["writer"]}),
        ),
        call(&writer, Method::GET, "v1/admin/api-keys"),
        call(
            &writer,
            Method::DELETE,
            "v1/admin/api-keys/0190c6a2-7b1e-7000-8000-000000000000",
        ),
        call_json(&writer, Method::POST, "v1/admin/tenants", &json!({"id": "mine"})),
    ];
    for request in refused {
        send(request).await.assert_error(403, "forbidden");
    }
    assert_eq!(app.client.list_buckets().await.expect("buckets"), buckets);
    assert!(app.client.list_api_keys().await.expect("keys").items.is_empty());
    // And a writer does write.
    app.ready_file(&writer, "default", "w.txt", b"w").await;
}

#[tokio::test]
async fn admins_cannot_create_tenants_or_mint_superadmin_keys() {
    let app = TestApp::spawn().await;
    send(call_json(
        &app.client,
        Method::POST,
        "v1/admin/tenants",
        &json!({"id": "acme"}),
    ))
    .await
    .assert_error(403, "forbidden");
    for roles in [json!(["superadmin"]), json!(["reader", "superadmin"])] {
        let body = json!({"name": "escalate", "roles": roles});
        send(call_json(&app.client, Method::POST, "v1/admin/api-keys", &body))
            .await
            .assert_error(403, "forbidden");
    }
    assert!(app.client.list_api_keys().await.expect("keys").items.is_empty());
    // The tenant was not created: a superadmin can still create it.
    let root = app.client_as("default", "superadmin");
    root.create_tenant(&CreateTenant { id: "acme".into() })
        .await
        .expect("acme did not exist");
}

#[tokio::test]
async fn superadmins_create_tenants_once_each_with_a_default_bucket() {
    let app = TestApp::spawn().await;
    let root = app.client_as("default", "superadmin");
    let tenant = root
        .create_tenant(&CreateTenant { id: "acme".into() })
        .await
        .expect("create");
    assert_eq!(tenant.id, "acme");
    let acme = app.client_as("acme", "admin");
    let buckets = acme.list_buckets().await.expect("acme's buckets");
    assert_eq!(
        buckets.items.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["default"]
    );
    assert!(!buckets.items[0].public, "the default bucket is private");
    app.ready_file(&acme, "default", "first.txt", b"acme").await;

    let duplicate = send(call_json(
        &root,
        Method::POST,
        "v1/admin/tenants",
        &json!({"id": "acme"}),
    ))
    .await;
    duplicate.assert_error(409, "tenant-exists");
    send(call_json(
        &root,
        Method::POST,
        "v1/admin/tenants",
        &json!({"id": "default"}),
    ))
    .await
    .assert_error(409, "tenant-exists");
    for bad in ["Acme", "../acme", "", "a b", "acme/x", "é"] {
        send(call_json(&root, Method::POST, "v1/admin/tenants", &json!({"id": bad})))
            .await
            .assert_error(400, "invalid-name");
    }
    send(call_json(
        &root,
        Method::POST,
        "v1/admin/tenants",
        &json!({"name": "x"}),
    ))
    .await
    .assert_error(400, "invalid-body");
    // The duplicate did not reset acme: its file and its bucket are still there.
    assert_eq!(acme.list_files(&Default::default()).await.expect("list").items.len(), 1);
    assert_eq!(acme.list_buckets().await.expect("buckets"), buckets);
}

#[tokio::test]
async fn bucket_policies_are_validated_and_bad_ones_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    let created = admin
        .create_bucket(&CreateBucket {
            name: "scans".into(),
            max_file_size: Some(1024),
            allowed_content_types: Some(vec!["image/*".into(), "application/pdf".into()]),
            retention_days: Some(7),
            ..Default::default()
        })
        .await
        .expect("admin creates a bucket");
    assert_eq!((created.max_file_size, created.retention_days), (1024, 7));
    let patched = admin
        .update_bucket(
            "scans",
            &BucketPolicyChange {
                public: Some(true),
                max_file_size: Some(2048),
                ..Default::default()
            },
        )
        .await
        .expect("admin patches it");
    assert!(patched.public);
    assert_eq!((patched.max_file_size, patched.retention_days), (2048, 7));
    let buckets = admin.list_buckets().await.expect("buckets");

    send(call_json(
        admin,
        Method::POST,
        "v1/admin/buckets",
        &json!({"name": "scans"}),
    ))
    .await
    .assert_error(409, "bucket-exists");
    send(call_json(
        admin,
        Method::POST,
        "v1/admin/buckets",
        &json!({"name": "default"}),
    ))
    .await
    .assert_error(409, "bucket-exists");
    for bad in ["Scans", "../scans", "", "a/b", "x".repeat(64).as_str()] {
        send(call_json(
            admin,
            Method::POST,
            "v1/admin/buckets",
            &json!({"name": bad}),
        ))
        .await
        .assert_error(400, "invalid-name");
    }
    let bad_policies: &[(Value, &str)] = &[
        (json!({"stages": ["verify", "teleport"]}), "invalid-policy"),
        (json!({"max_file_size": 0}), "invalid-policy"),
        (json!({"allowed_content_types": ["nonsense"]}), "invalid-policy"),
        (json!({"allowed_content_types": ["text/csv\r\nx: y"]}), "invalid-policy"),
        (
            json!({"allowed_content_types": ["text/csv; charset=utf-8"]}),
            "invalid-policy",
        ),
        (json!({"retention_days": 1_000_000}), "invalid-policy"),
        (json!({"dedup": "sometimes"}), "invalid-policy"),
        (json!({"stages": ["verify", "hash", "scan"]}), "stage-unavailable"),
        (json!({"max_file_size": -1}), "invalid-body"),
        (json!({"max_file_size": "big"}), "invalid-body"),
        (json!({"owner": "mallory"}), "invalid-body"),
    ];
    for (policy, code) in bad_policies {
        let mut create = policy.clone();
        create["name"] = json!("fresh");
        send(call_json(admin, Method::POST, "v1/admin/buckets", &create))
            .await
            .assert_error(400, code);
        send(call_json(admin, Method::PATCH, "v1/admin/buckets/scans", policy))
            .await
            .assert_error(400, code);
    }
    send(call_json(
        admin,
        Method::PATCH,
        "v1/admin/buckets/nope",
        &json!({"public": true}),
    ))
    .await
    .assert_error(404, "not-found");
    send(call_json(
        admin,
        Method::PATCH,
        "v1/admin/buckets/..%2Fdefault",
        &json!({"public": true}),
    ))
    .await
    .assert_error(404, "not-found");
    assert_eq!(
        admin.list_buckets().await.expect("buckets"),
        buckets,
        "a refused policy changed a bucket"
    );
}
