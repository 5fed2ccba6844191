//! The audit trail: every audited action leaves one record with who, what, which file and
//! from where; admins read it with filters and a cursor; nobody else reads it.

use std::collections::BTreeMap;

use filegate_api::{AuditEntry, AuditFilter, BucketPolicyChange, CreateApiKey, PatchFile};
use filegate_client::{Client, ContentRequest};
use reqwest::Method;

use crate::common::TestApp;
use crate::support::{api_error, err, json_of};

async fn trail(client: &Client, filter: AuditFilter) -> Vec<AuditEntry> {
    client.audit(&filter).await.expect("audit").items
}

fn actions(entries: &[AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.action.as_str()).collect()
}

#[tokio::test]
async fn every_audited_file_action_leaves_one_record() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    let file = app
        .ready_file(admin, "default", "ward/a.csv", b"patient,unit\n1,icu\n")
        .await;
    admin.download_url(&file.id, None).await.unwrap();
    admin.content(&file.id, ContentRequest::default()).await.unwrap();
    let rename = PatchFile {
        path: Some("ward/b.csv".into()),
        metadata: Some(BTreeMap::from([("patient".into(), "1".into())])),
    };
    admin.patch_file(&file.id, &rename).await.unwrap();
    admin.delete_file(&file.id).await.unwrap();
    admin.restore_file(&file.id).await.unwrap();

    let of_file = trail(
        admin,
        AuditFilter {
            file_id: Some(file.id.clone()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        actions(&of_file),
        [
            "file.restored",
            "file.deleted",
            "file.updated",
            "file.downloaded",
            "file.download_url_issued",
            "file.uploaded",
            "file.upload_created",
        ],
        "one record per action, newest first"
    );
    for entry in &of_file {
        assert_eq!(entry.actor, "tester");
        assert_eq!(entry.tenant, "default");
        assert_eq!(entry.client_ip.as_deref(), Some("127.0.0.1"));
        assert!(entry.request_id.is_some(), "{entry:?}");
    }
    let renamed = &of_file[2];
    assert_eq!(renamed.details["path"]["from"], "ward/a.csv");
    assert_eq!(renamed.details["path"]["to"], "ward/b.csv");
    assert_eq!(of_file[5].details["size"], 19, "the verified size");
}

#[tokio::test]
async fn a_record_carries_the_request_id_and_user_agent_of_its_request() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    let file = app.ready_file(admin, "default", "scan.pdf", b"%PDF-1.4").await;
    let resp = admin
        .request(Method::GET, &["v1", "files", &file.id, "content"])
        .unwrap()
        .header("x-request-id", "trace-4711")
        .header("user-agent", "hospital-exchange/2.1")
        .header("range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 206);
    let downloads = trail(
        admin,
        AuditFilter {
            action: Some("file.downloaded".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(downloads.len(), 1);
    let d = &downloads[0];
    assert_eq!(d.request_id.as_deref(), Some("trace-4711"));
    assert_eq!(d.user_agent.as_deref(), Some("hospital-exchange/2.1"));
    assert_eq!(d.details["range"], serde_json::json!([0, 3]));
    // A 304 hands out no bytes and is not a download.
    let etag = admin
        .content(&file.id, ContentRequest::default())
        .await
        .unwrap()
        .etag
        .clone();
    let not_modified = admin
        .content(
            &file.id,
            ContentRequest {
                if_none_match: etag,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(not_modified.status, 304);
    let downloads = trail(
        admin,
        AuditFilter {
            action: Some("file.downloaded".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(downloads.len(), 2, "the 200 is audited, the 304 is not");
}

#[tokio::test]
async fn admin_changes_are_audited() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    app.bucket(admin, "scans").await;
    admin
        .update_bucket(
            "scans",
            &BucketPolicyChange {
                retention_days: Some(7),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let key = admin
        .create_api_key(&CreateApiKey {
            name: "exchange client".into(),
            roles: vec!["exchange".into()],
        })
        .await
        .unwrap();
    admin.revoke_api_key(&key.id).await.unwrap();
    app.tenant("clinic").await;

    let all = trail(admin, AuditFilter::default()).await;
    assert_eq!(
        actions(&all),
        [
            "tenant.created",
            "api_key.revoked",
            "api_key.created",
            "bucket.updated",
            "bucket.created"
        ]
    );
    assert_eq!(all[3].details["policy"]["retention_days"], 7);
    assert_eq!(all[2].details["key_id"], key.id);
    assert!(
        !all[2].details.to_string().contains(&key.key),
        "the key's secret is never in the trail"
    );
    assert_eq!(all[0].details["tenant"], "clinic");
}

#[tokio::test]
async fn only_admins_read_the_trail_and_only_their_tenants() {
    let app = TestApp::spawn().await;
    app.ready_file(&app.client, "default", "a.txt", b"a").await;
    let clinic = app.tenant("clinic").await;

    for role in ["reader", "writer", "exchange"] {
        let result = app.client_as("default", role).audit(&AuditFilter::default()).await;
        assert_eq!(api_error(result), err(403, "forbidden"), "{role}");
    }
    let theirs = trail(&clinic, AuditFilter::default()).await;
    assert!(
        theirs.iter().all(|e| e.tenant == "clinic"),
        "another tenant's records never show: {theirs:?}"
    );
    assert!(!actions(&theirs).contains(&"file.uploaded"));
}

#[tokio::test]
async fn the_trail_pages_with_a_cursor_and_refuses_bad_filters() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    let file = app.ready_file(admin, "default", "a.txt", b"a").await;
    for _ in 0..4 {
        admin.download_url(&file.id, None).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = admin
            .audit(&AuditFilter {
                limit: Some(2),
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|e| e.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let all = trail(admin, AuditFilter::default()).await;
    assert_eq!(seen, all.iter().map(|e| e.id.clone()).collect::<Vec<_>>());
    assert_eq!(all.len(), 6);
    let family = trail(
        admin,
        AuditFilter {
            action: Some("file.*".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(family.len(), 6);

    for query in [
        "action=FILE",
        "limit=0",
        "limit=501",
        "cursor=abc",
        "file_id=nope",
        "since=yesterday",
        "x=1",
    ] {
        let url = format!("{}/v1/audit?{query}", app.base_url);
        let resp = admin
            .http()
            .get(&url)
            .bearer_auth(app.token("default", "admin"))
            .send()
            .await
            .unwrap();
        let (status, _, body) = json_of(resp).await;
        assert_eq!(status, 400, "{query}: {body}");
    }
}
