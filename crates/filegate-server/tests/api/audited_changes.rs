//! A change to a file and its audit record commit together: while the trail refuses records
//! (a trigger in the database aborts every insert into it), a rename, a delete, a new
//! upload and a proxied upload each answer 500 and change nothing, and once it takes records
//! again the same requests succeed with their records in the trail. On SQLite, and on
//! PostgreSQL when `FILEGATE_TEST_POSTGRES_URL` is set (always under `CI=true`).

use filegate_sql::testing::AuditTrail;

use bytes::Bytes;
use filegate_api::{AuditFilter, CreateUpload, PatchFile};
use filegate_client::{Client, FormUpload, ListFiles};

use crate::common::TestApp;
use crate::support::api_error;

/// The actions recorded for `file`, newest first.
async fn actions(client: &Client, file: &str) -> Vec<String> {
    let filter = AuditFilter {
        file_id: Some(file.to_owned()),
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
    assert_eq!(actions(admin, &file.id).await, ["file.uploaded", "file.upload_created"]);
    assert_eq!(app.run_jobs().await, 0, "no job of a change that was not made");

    trail.refuse(false).await;

    let renamed = admin.patch_file(&file.id, &rename).await.expect("rename");
    assert_eq!(renamed.path, "ward/b.csv");
    let deleted = admin.delete_file(&file.id).await.expect("delete");
    assert_eq!(deleted.status, "deleted");
    assert_eq!(
        actions(admin, &file.id).await,
        ["file.deleted", "file.updated", "file.uploaded", "file.upload_created"],
        "each change with its record"
    );
    let created = admin.create_upload(&new_upload).await.expect("create upload");
    assert_eq!(actions(admin, &created.file_id).await, ["file.upload_created"]);
    let proxied = admin
        .upload_form(&form, Bytes::from_static(b"2,er\n"))
        .await
        .expect("proxied upload");
    assert_eq!(actions(admin, &proxied.id).await, ["file.uploaded"]);
}

#[tokio::test]
async fn a_change_the_trail_refuses_is_not_made_on_sqlite() {
    let app = TestApp::spawn().await;
    let path = app.data_dir.path().join(filegate_server::engines::DATABASE_FILE);
    a_change_the_trail_refuses_is_not_made(&app, AuditTrail::Sqlite(path)).await;
}

#[tokio::test]
async fn a_change_the_trail_refuses_is_not_made_on_postgresql() {
    let Some(database) = crate::engines::postgres_database().await else {
        return;
    };
    let url = database.url.clone();
    let app = TestApp::spawn_with(|c| c.database = Some(url.clone())).await;
    a_change_the_trail_refuses_is_not_made(&app, AuditTrail::Postgres(url)).await;
    drop(app);
    database.drop_database().await;
}
