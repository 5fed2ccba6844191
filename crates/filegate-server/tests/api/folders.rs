//! What the web app asks first and how it browses: `GET /v1/me` (who, what the roles
//! allow), `GET /v1/buckets` (for readers too), `GET /v1/folders` and the files directly in
//! a folder (`delimiter=/`).

use reqwest::Method;

use crate::common::TestApp;
use crate::support::{json_of, raw};

async fn get_json(app: &TestApp, token: &str, path: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .request(Method::GET, format!("{}{path}", app.base_url))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let (status, _, json) = json_of(resp).await;
    (status, json)
}

#[tokio::test]
async fn me_says_who_the_caller_is_and_what_its_roles_allow() {
    let app = TestApp::spawn().await;
    let (status, me) = get_json(&app, &app.token_for("default", "reader", "ada"), "/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["tenant"], "default");
    assert_eq!(me["subject"], "ada");
    assert_eq!(me["roles"], serde_json::json!(["reader"]));
    assert_eq!(me["permissions"], serde_json::json!(["read"]));
    // What a client must not ask beyond: the zip of a whole search stops gathering there.
    assert_eq!(me["limits"]["archive_max_files"], 10_000);
    assert_eq!(me["limits"]["archive_max_bytes"], 10_737_418_240_u64);

    let (_, admin) = get_json(&app, &app.token("default", "admin"), "/v1/me").await;
    assert_eq!(
        admin["permissions"],
        serde_json::json!(["read", "write", "upload", "administer", "exchange"])
    );
    let writer = app.client_as("default", "writer").me().await.expect("me");
    assert_eq!(writer.permissions, ["read", "write", "upload"]);
    let (status, wrong) = get_json(&app, "not-a-token", "/v1/me").await;
    assert_eq!(status, 401);
    assert_eq!(wrong["error"]["code"], "invalid-token");
    assert_eq!(raw(&app.anonymous, Method::GET, &["v1", "me"]).await.status(), 401);
}

#[tokio::test]
async fn readers_see_the_bucket_names_and_what_they_accept() {
    let app = TestApp::spawn().await;
    let request = filegate_api::CreateBucket {
        name: "scans".into(),
        public: Some(true),
        allowed_content_types: Some(vec!["image/png".into()]),
        ..Default::default()
    };
    app.client.create_bucket(&request).await.expect("bucket");
    let (status, list) = get_json(&app, &app.token("default", "reader"), "/v1/buckets").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "scans"]);
    let scans = &list["items"][1];
    assert_eq!(scans["public"], true);
    assert_eq!(scans["encrypted"], false);
    assert_eq!(scans["allowed_content_types"], serde_json::json!(["image/png"]));
    assert!(scans.get("stages").is_none(), "the full policy stays with the admins");
    let exchange = app
        .client_as("default", "exchange")
        .buckets()
        .await
        .expect("an uploader sees them too");
    assert_eq!(exchange.items.len(), 2);
    let (status, _) = get_json(&app, &app.token("default", "reader"), "/v1/admin/buckets").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_folder_lists_its_subfolders_then_its_own_files() {
    let app = TestApp::spawn().await;
    for path in [
        "top.txt",
        "reports/a.txt",
        "reports/2026/11/w.csv",
        "reports/2026/12/x.csv",
        "reports/2027/y.csv",
        "img/z.png",
    ] {
        app.ready_file(&app.client, "default", path, path.as_bytes()).await;
    }
    let token = app.token("default", "reader");
    let (status, top) = get_json(&app, &token, "/v1/folders?bucket=default").await;
    assert_eq!(status, 200);
    assert_eq!(
        top,
        serde_json::json!({"items": [{"name": "img", "prefix": "img/"}, {"name": "reports", "prefix": "reports/"}], "next_cursor": null})
    );
    let (_, page) = get_json(&app, &token, "/v1/folders?bucket=default&prefix=reports/&limit=1").await;
    assert_eq!(page["items"][0]["prefix"], "reports/2026/");
    assert_eq!(page["next_cursor"], "2026");
    let (_, rest) = get_json(
        &app,
        &token,
        "/v1/folders?bucket=default&prefix=reports/&limit=1&cursor=2026",
    )
    .await;
    assert_eq!(rest["items"][0]["name"], "2027");

    let (status, files) = get_json(&app, &token, "/v1/files?bucket=default&prefix=reports/&delimiter=/").await;
    assert_eq!(status, 200);
    let paths: Vec<&str> = files["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["reports/a.txt"]);
    let through_client = app
        .client
        .folders("default", "reports/2026/", None)
        .await
        .expect("folders");
    let names: Vec<&str> = through_client.items.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["11", "12"]);
    let (_, top_files) = get_json(&app, &token, "/v1/files?bucket=default&delimiter=/").await;
    assert_eq!(top_files["items"].as_array().unwrap().len(), 1);

    for bad in [
        "/v1/folders?bucket=default&prefix=reports",
        "/v1/folders?bucket=default&cursor=a/b",
        "/v1/folders?bucket=default&limit=0",
        "/v1/folders",
        "/v1/files?prefix=reports&delimiter=/",
        "/v1/files?delimiter=-",
    ] {
        let (status, body) = get_json(&app, &token, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}
