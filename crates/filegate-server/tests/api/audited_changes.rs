//! A change and its audit record commit together: while the trail refuses records (a
//! trigger in the database aborts every insert into it), a rename, a delete, a new upload
//! and a proxied upload — and, beyond files, creating and revoking an API key, creating a
//! webhook, changing a bucket's policy, creating and revoking a share and setting a quota —
//! each answer 500 and change nothing, and once it takes records again the same requests
//! succeed with their records in the trail. On SQLite, and on PostgreSQL when
//! `FILEGATE_TEST_POSTGRES_URL` is set (always under `CI=true`).

use filegate_sql::testing::AuditTrail;

use bytes::Bytes;
use filegate_api::{
    AuditFilter, BucketPolicyChange, CreateApiKey, CreateShare, CreateUpload, CreateWebhook, PatchFile, SetQuota,
};
use filegate_client::{Client, FormUpload, ListFiles};

use crate::common::TestApp;
use crate::support::api_error;

/// The actions of the tenant's trail, newest first: those of `file`, or all.
async fn actions(client: &Client, file: Option<&str>) -> Vec<String> {
    let filter = AuditFilter {
        file_id: file.map(str::to_owned),
        limit: Some(500),
        ..Default::default()
    };
    let trail = client.audit(&filter).await.expect("audit").items;
    trail.into_iter().map(|e| e.action).collect()
}

async fn file_ids(client: &Client) -> Vec<String> {
    let list = client.list_files(&ListFiles::default()).await.expect("list");
    list.items.into_iter().map(|f| f.id).collect()
}

async fn a_change_the_trail_refuses_is_not_made(app: &TestApp, trail: AuditTrail) {
    let admin = &app.client;
    let file = app
        .ready_file(admin, "default", "ward/a.csv", b"patient,unit\n1,icu\n")
        .await;
    let objects = app.stored_objects().len();
    let rename = PatchFile {
        path: Some("ward/b.csv".into()),
        metadata: None,
    };
    let new_upload = CreateUpload {
        bucket: "default".into(),
        path: "ward/c.csv".into(),
        size: 5,
        content_type: Some("text/csv".into()),
        ..CreateUpload::default()
    };
    let form = FormUpload::new("default", "ward/d.csv", "text/csv");

    trail.refuse(true).await;

    let refused = api_error(admin.patch_file(&file.id, &rename).await);
    assert_eq!(refused.0, 500, "{refused:?}");
    let refused = api_error(admin.delete_file(&file.id).await);
    assert_eq!(refused.0, 500, "{refused:?}");
    let refused = api_error(admin.create_upload(&new_upload).await);
    assert_eq!(refused.0, 500, "{refused:?}");
    let refused = api_error(admin.upload_form(&form, Bytes::from_static(b"2,er\n")).await);
    assert_eq!(refused.0, 500, "{refused:?}");

    let stored = admin.get_file(&file.id).await.expect("get");
    assert_eq!(
        (stored.path.as_str(), stored.status.as_str()),
        ("ward/a.csv", "ready"),
        "neither the rename nor the delete happened"
    );
    assert_eq!(file_ids(admin).await, std::slice::from_ref(&file.id), "no new file");
    assert_eq!(
        app.stored_objects().len(),
        objects,
        "the refused upload's bytes are gone"
    );
    assert_eq!(
        actions(admin, Some(&file.id)).await,
        ["file.uploaded", "file.upload_created"]
    );
    assert_eq!(app.run_jobs().await, 0, "no job of a change that was not made");

    trail.refuse(false).await;

    let renamed = admin.patch_file(&file.id, &rename).await.expect("rename");
    assert_eq!(renamed.path, "ward/b.csv");
    let deleted = admin.delete_file(&file.id).await.expect("delete");
    assert_eq!(deleted.status, "deleted");
    assert_eq!(
        actions(admin, Some(&file.id)).await,
        ["file.deleted", "file.updated", "file.uploaded", "file.upload_created"],
        "each change with its record"
    );
    let created = admin.create_upload(&new_upload).await.expect("create upload");
    assert_eq!(actions(admin, Some(&created.file_id)).await, ["file.upload_created"]);
    let proxied = admin
        .upload_form(&form, Bytes::from_static(b"2,er\n"))
        .await
        .expect("proxied upload");
    assert_eq!(actions(admin, Some(&proxied.id)).await, ["file.uploaded"]);
}

/// Changes to things other than files — API keys, webhooks, a bucket's policy, shares, a
/// quota — commit with their records too: refused by the trail, each answers 500 and
/// changes nothing; taken, each has its record.
async fn an_admin_change_the_trail_refuses_is_not_made(app: &TestApp, audit: AuditTrail) {
    let admin = &app.client;
    let root = app.client_as("default", "superadmin");
    let file = app
        .ready_file(admin, "default", "ward/a.csv", b"patient,unit\n1,icu\n")
        .await;
    let key = |name: &str| CreateApiKey {
        name: name.into(),
        roles: vec!["reader".into()],
    };
    let reader = admin.create_api_key(&key("reader")).await.expect("create key");
    let shared = admin
        .create_share(&file.id, &CreateShare::default())
        .await
        .expect("create share");
    let hook = CreateWebhook {
        url: "https://hooks.example.org/filegate".into(),
        events: vec!["file.ready".into()],
        secret: None,
    };
    let public = BucketPolicyChange {
        public: Some(true),
        ..Default::default()
    };
    let quota = SetQuota {
        tenant: None,
        max_bytes: Some(1 << 30),
        max_files: Some(1000),
    };
    let bucket = admin.get_bucket("default").await.expect("bucket");
    let limits = root.quota(None).await.expect("quota");
    let recorded = actions(admin, None).await;

    audit.refuse(true).await;

    let refused = [
        api_error(admin.create_api_key(&key("refused")).await),
        api_error(admin.revoke_api_key(&reader.id).await),
        api_error(admin.create_webhook(&hook).await),
        api_error(admin.update_bucket("default", &public).await),
        api_error(admin.create_share(&file.id, &CreateShare::default()).await),
        api_error(admin.revoke_share(&shared.share.id).await),
        api_error(root.set_quota(&quota).await),
    ];
    for (i, (status, code)) in refused.iter().enumerate() {
        assert_eq!(*status, 500, "change {i}: {code}");
    }
    let keys = admin.list_api_keys().await.expect("keys").items;
    assert_eq!(keys.len(), 1, "no new key: {keys:?}");
    assert_eq!((keys[0].id.as_str(), keys[0].revoked_at), (reader.id.as_str(), None));
    assert!(admin.list_webhooks().await.expect("webhooks").items.is_empty());
    assert_eq!(admin.get_bucket("default").await.expect("bucket"), bucket);
    let shares = admin.list_shares(&file.id).await.expect("shares").items;
    assert_eq!(
        shares,
        std::slice::from_ref(&shared.share),
        "no new share, the old one not revoked"
    );
    assert_eq!(root.quota(None).await.expect("quota"), limits);
    assert_eq!(
        actions(admin, None).await,
        recorded,
        "no record of a change that was not made"
    );

    audit.refuse(false).await;

    admin.create_api_key(&key("taken")).await.expect("create key");
    admin.revoke_api_key(&reader.id).await.expect("revoke key");
    admin.create_webhook(&hook).await.expect("create webhook");
    assert!(
        admin
            .update_bucket("default", &public)
            .await
            .expect("update bucket")
            .public
    );
    admin
        .create_share(&file.id, &CreateShare::default())
        .await
        .expect("create share");
    let revoked = admin.revoke_share(&shared.share.id).await.expect("revoke share");
    assert_eq!(revoked.status, "revoked");
    let limits = root.set_quota(&quota).await.expect("set quota");
    assert_eq!(limits.max_files, Some(1000));
    let now = actions(admin, None).await;
    let made = [
        "quota.changed",
        "share.revoked",
        "share.created",
        "bucket.updated",
        "webhook.created",
        "api_key.revoked",
        "api_key.created",
    ];
    assert_eq!(now[..made.len()], made, "each change with its record");
    assert_eq!(now[made.len()..], recorded);
}

/// Runs `scenario` on a gateway on SQLite.
async fn on_sqlite(scenario: impl AsyncFnOnce(&TestApp, AuditTrail)) {
    let app = TestApp::spawn().await;
    let path = app.data_dir.path().join(filegate_server::engines::DATABASE_FILE);
    scenario(&app, AuditTrail::Sqlite(path)).await;
}

/// Runs `scenario` on a gateway on a PostgreSQL database of its own; skipped without
/// `FILEGATE_TEST_POSTGRES_URL`.
async fn on_postgresql(scenario: impl AsyncFnOnce(&TestApp, AuditTrail)) {
    let Some(database) = crate::engines::postgres_database().await else {
        return;
    };
    let url = database.url.clone();
    let app = TestApp::spawn_with(|c| c.database = Some(url.clone())).await;
    scenario(&app, AuditTrail::Postgres(url)).await;
    drop(app);
    database.drop_database().await;
}

#[tokio::test]
async fn a_change_the_trail_refuses_is_not_made_on_sqlite() {
    on_sqlite(a_change_the_trail_refuses_is_not_made).await;
}

#[tokio::test]
async fn a_change_the_trail_refuses_is_not_made_on_postgresql() {
    on_postgresql(a_change_the_trail_refuses_is_not_made).await;
}

#[tokio::test]
async fn an_admin_change_the_trail_refuses_is_not_made_on_sqlite() {
    on_sqlite(an_admin_change_the_trail_refuses_is_not_made).await;
}

#[tokio::test]
async fn an_admin_change_the_trail_refuses_is_not_made_on_postgresql() {
    on_postgresql(an_admin_change_the_trail_refuses_is_not_made).await;
}
