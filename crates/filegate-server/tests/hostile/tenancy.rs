//! Tenant isolation: another tenant's ids answer 404 on every route, exactly like ids that
//! never existed; another tenant's files never show in a list or the change feed; bucket
//! names resolve inside the caller's tenant; and none of it changes the owner's files.

use filegate_api::{CreateApiKey, CreateBucket};
use filegate_client::{Client, ListFiles};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::support::{Snapshot, WithQuery, call, call_json, pending_upload, put_bytes, send};

/// Tenant `default` ("A") with a file in every state a route cares about, and tenant
/// `beta` ("B") with one ready file of its own.
struct Tenants {
    app: TestApp,
    b: Client,
    ready: String,
    pending: String,
    multipart: String,
    deleted: String,
    b_file: String,
}

async fn two_tenants() -> Tenants {
    let app = TestApp::spawn().await;
    let b = app.tenant("beta").await;
    app.bucket(&app.client, "reports").await;
    let ready = app
        .ready_file(&app.client, "reports", "2026/ward-a.csv", b"a,b\n1,2\n")
        .await
        .id;
    // Bytes sent, not completed: completable by its owner.
    let created = pending_upload(&app.client, "pending.txt", 3).await;
    put_bytes(&app.client, &created, b"abc").await;
    let pending = created["file_id"].as_str().expect("id").to_owned();
    let body = json!({"bucket": "default", "path": "big.bin", "size": 12 * 1024 * 1024, "multipart": true});
    let multipart = send(call_json(&app.client, Method::POST, "v1/uploads", &body))
        .await
        .ok_json();
    let multipart = multipart["file_id"].as_str().expect("id").to_owned();
    let deleted = app.ready_file(&app.client, "default", "gone.txt", b"gone").await.id;
    app.client.delete_file(&deleted).await.expect("delete");
    let b_file = app.ready_file(&b, "default", "beta.txt", b"beta's").await.id;
    Tenants {
        app,
        b,
        ready,
        pending,
        multipart,
        deleted,
        b_file,
    }
}

impl Tenants {
    fn a_ids(&self) -> [&str; 4] {
        [&self.ready, &self.pending, &self.multipart, &self.deleted]
    }

    /// Every route that takes a file id, called by `intruder` on A's files: all 404.
    async fn every_id_route_is_not_found(&self, intruder: &Client) {
        for id in self.a_ids() {
            let routes = [
                call(intruder, Method::GET, &format!("v1/files/{id}")),
                call(intruder, Method::GET, &format!("v1/files/{id}/status")),
                call(intruder, Method::GET, &format!("v1/files/{id}/download")),
                call(intruder, Method::GET, &format!("v1/files/{id}/content")),
                // A conditional or partial read must not answer 304 or 416 (which would
                // confirm the file exists, and its etag or size).
                call(intruder, Method::GET, &format!("v1/files/{id}/content")).header("if-none-match", "*"),
                call(intruder, Method::GET, &format!("v1/files/{id}/content")).header("range", "bytes=999999-"),
                call_json(
                    intruder,
                    Method::PATCH,
                    &format!("v1/files/{id}"),
                    &json!({"path": "mine.txt"}),
                ),
                call_json(
                    intruder,
                    Method::PATCH,
                    &format!("v1/files/{id}"),
                    &json!({"metadata": {"owner": "b"}}),
                ),
                call(intruder, Method::DELETE, &format!("v1/files/{id}")),
                call(intruder, Method::POST, &format!("v1/files/{id}/restore")),
                call_json(intruder, Method::POST, &format!("v1/uploads/{id}/complete"), &json!({})),
                call_json(
                    intruder,
                    Method::POST,
                    &format!("v1/uploads/{id}/complete"),
                    &json!({"size": 3}),
                ),
                call_json(
                    intruder,
                    Method::POST,
                    &format!("v1/uploads/{id}/parts"),
                    &json!({"numbers": [1]}),
                ),
                call(intruder, Method::DELETE, &format!("v1/uploads/{id}")),
            ];
            for request in routes {
                send(request).await.assert_error(404, "not-found");
            }
        }

        let ids = self.a_ids().map(str::to_owned);
        let out = intruder.delete_files(&ids).await.expect("batch delete answers");
        assert!(out.deleted.is_empty(), "{out:?}");
        assert_eq!(out.not_found, ids);

        let items: Vec<Value> = self.a_ids().iter().map(|id| json!({"file_id": id})).collect();
        let out = send(call_json(
            intruder,
            Method::POST,
            "v1/uploads/complete",
            &json!({"uploads": items}),
        ))
        .await
        .ok_json();
        assert_eq!(out["confirmed"], 0, "{out}");
        for result in out["results"].as_array().expect("results") {
            assert!(result.get("file").is_none(), "{result}");
            assert_eq!(result["error"]["code"], "not-found", "{result}");
            assert_eq!(result["error"]["status"], 404, "{result}");
        }
    }

    /// `viewer`'s lists and change feed, with every filter, hold none of A's files.
    async fn lists_show_none_of_a(&self, viewer: &Client) {
        let a_ids = self.a_ids();
        let queries = [
            vec![],
            vec![("bucket", "default")],
            vec![("bucket", "reports")],
            vec![("prefix", "2026/")],
            vec![("status", "pending")],
            vec![("status", "ready")],
            vec![("status", "deleted")],
            vec![("offset", "0")],
            vec![("sort", "name"), ("limit", "1000")],
        ];
        for query in queries {
            let page = send(call(viewer, Method::GET, "v1/files").with_query(&query))
                .await
                .ok_json();
            for item in page["items"].as_array().expect("items") {
                assert_eq!(item["tenant"], "beta", "{query:?}: {item}");
                assert!(
                    !a_ids.contains(&item["id"].as_str().unwrap_or_default()),
                    "{query:?}: {item}"
                );
            }
            if let Some(total) = page.get("total") {
                assert_eq!(
                    total,
                    &json!(1),
                    "{query:?}: the total counts another tenant's files: {page}"
                );
            }
        }
        let changes = viewer.changes(None, Some(1000)).await.expect("changes");
        let ids: Vec<&str> = changes.items.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            ids,
            [self.b_file.as_str()],
            "the change feed shows other tenants' files"
        );
    }
}

#[tokio::test]
async fn another_tenants_admin_gets_404_for_every_file_route() {
    let t = two_tenants().await;
    let before = Snapshot::take(&t.app, &t.app.client).await;
    t.every_id_route_is_not_found(&t.b).await;
    t.lists_show_none_of_a(&t.b).await;
    before
        .assert_unchanged(&t.app, &t.app.client, "tenant B's requests")
        .await;
    // A still completes what B could not touch.
    let done = t
        .app
        .client
        .complete_upload(&t.pending, &Default::default())
        .await
        .expect("A completes its own upload");
    assert_eq!(done.status, "uploaded");
}

#[tokio::test]
async fn another_tenants_api_key_and_other_roles_get_404_too() {
    let t = two_tenants().await;
    let key =
        t.b.create_api_key(&CreateApiKey {
            name: "beta-ci".into(),
            roles: vec!["admin".into()],
        })
        .await
        .expect("B's key");
    let b_key = t.app.anonymous.with_token(key.key);
    let b_writer = t.app.client_as("beta", "writer");
    let b_reader = t.app.client_as("beta", "reader");
    let before = Snapshot::take(&t.app, &t.app.client).await;
    t.every_id_route_is_not_found(&b_key).await;
    t.lists_show_none_of_a(&b_key).await;
    t.lists_show_none_of_a(&b_writer).await;
    t.lists_show_none_of_a(&b_reader).await;
    for id in t.a_ids() {
        send(call(&b_reader, Method::GET, &format!("v1/files/{id}")))
            .await
            .assert_error(404, "not-found");
        send(call(&b_writer, Method::DELETE, &format!("v1/files/{id}")))
            .await
            .assert_error(404, "not-found");
    }
    before.assert_unchanged(&t.app, &t.app.client, "B's key").await;
}

#[tokio::test]
async fn bucket_names_resolve_inside_the_callers_tenant() {
    let t = two_tenants().await;
    let before = Snapshot::take(&t.app, &t.app.client).await;

    // B has no `reports`: A's is not B's to use, read or change.
    let into_reports = json!({"bucket": "reports", "path": "x.csv", "size": 3, "content_type": "text/csv"});
    send(call_json(&t.b, Method::POST, "v1/uploads", &into_reports))
        .await
        .assert_error(404, "not-found");
    send(call(&t.b, Method::GET, "v1/admin/buckets/reports"))
        .await
        .assert_error(404, "not-found");
    send(call_json(
        &t.b,
        Method::PATCH,
        "v1/admin/buckets/reports",
        &json!({"public": true}),
    ))
    .await
    .assert_error(404, "not-found");
    let form = reqwest::multipart::Form::new()
        .text("bucket", "reports")
        .text("path", "x.csv")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"abc".to_vec()).file_name("x.csv"),
        );
    send(call(&t.b, Method::POST, "v1/files").multipart(form))
        .await
        .assert_error(404, "not-found");
    let names: Vec<String> =
        t.b.list_buckets()
            .await
            .expect("B's buckets")
            .items
            .into_iter()
            .map(|b| b.name)
            .collect();
    assert_eq!(names, ["default"]);
    before
        .assert_unchanged(&t.app, &t.app.client, "B's uploads into A's bucket name")
        .await;

    // Both have `default`: B's upload lands in B's own.
    let file = t.app.ready_file(&t.b, "default", "2026/ward-a.csv", b"beta").await;
    assert_eq!((file.tenant.as_str(), file.bucket.as_str()), ("beta", "default"));
    before
        .assert_files_unchanged(&t.app, &t.app.client, "B's upload into its own default bucket")
        .await;
    // And a bucket B creates with A's bucket name is B's: A's policy stays.
    let reports = t.app.client.get_bucket("reports").await.expect("A's reports");
    t.b.create_bucket(&CreateBucket {
        name: "reports".into(),
        public: Some(true),
        max_file_size: Some(1),
        ..Default::default()
    })
    .await
    .expect("B may have a bucket of that name");
    assert_eq!(t.app.client.get_bucket("reports").await.expect("A's reports"), reports);
    let page = t
        .app
        .client
        .list_files(&ListFiles::bucket("reports"))
        .await
        .expect("A's list");
    assert_eq!(
        page.items.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        [t.ready.as_str()]
    );
}

#[tokio::test]
async fn api_keys_are_scoped_to_their_tenant() {
    let t = two_tenants().await;
    let a_key = t
        .app
        .client
        .create_api_key(&CreateApiKey {
            name: "a-ci".into(),
            roles: vec!["reader".into()],
        })
        .await
        .expect("A's key");
    send(call(&t.b, Method::DELETE, &format!("v1/admin/api-keys/{}", a_key.id)))
        .await
        .assert_error(404, "not-found");
    let listed = t.b.list_api_keys().await.expect("B's keys");
    assert!(listed.items.is_empty(), "B sees A's keys: {listed:?}");
    // A's key was not revoked by B's attempt.
    let a_machine = t.app.anonymous.with_token(a_key.key);
    assert_eq!(
        a_machine.get_file(&t.ready).await.expect("A's key still works").tenant,
        "default"
    );
    send(call(&a_machine, Method::GET, &format!("v1/files/{}", t.b_file)))
        .await
        .assert_error(404, "not-found");
}

#[tokio::test]
async fn a_superadmin_sees_only_its_own_tenants_files() {
    let t = two_tenants().await;
    let root = t.app.client_as("default", "superadmin");
    let before = Snapshot::take(&t.app, &t.b).await;
    for request in [
        call(&root, Method::GET, &format!("v1/files/{}", t.b_file)),
        call(&root, Method::GET, &format!("v1/files/{}/content", t.b_file)),
        call(&root, Method::GET, &format!("v1/files/{}/download", t.b_file)),
        call_json(
            &root,
            Method::PATCH,
            &format!("v1/files/{}", t.b_file),
            &json!({"path": "root.txt"}),
        ),
        call(&root, Method::DELETE, &format!("v1/files/{}", t.b_file)),
    ] {
        send(request).await.assert_error(404, "not-found");
    }
    let listed: Vec<String> = root
        .list_files(&ListFiles::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert!(!listed.contains(&t.b_file), "{listed:?}");
    assert!(listed.contains(&t.ready), "{listed:?}");
    let changes = root.changes(None, Some(1000)).await.expect("changes");
    assert!(changes.items.iter().all(|f| f.tenant == "default"), "{changes:?}");
    let out = root.delete_files(std::slice::from_ref(&t.b_file)).await.expect("batch");
    assert_eq!(out.not_found, [t.b_file.as_str()]);
    before
        .assert_unchanged(&t.app, &t.b, "a superadmin of another tenant")
        .await;
}
