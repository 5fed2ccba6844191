//! A signed download URL is checked when it is used, not only when it is issued: once its
//! file is deleted it stops serving (409 `file-not-ready`, as for quarantine), and it works
//! again when the file is restored. Dedup copies share the blob: a copy that is still ready
//! keeps its own URLs working.

use filegate_client::Client;
use filegate_client::api::{BucketPolicyChange, CreateUpload};
use reqwest::Method;

use crate::common::TestApp;
use crate::support::{Answer, send};

async fn fetch(app: &TestApp, url: &str) -> Answer {
    let url = if url.starts_with("http") {
        url.to_owned()
    } else {
        format!("{}{url}", app.base_url)
    };
    send(app.anonymous.http().request(Method::GET, url)).await
}

async fn signed_url(client: &Client, id: &str) -> String {
    client.download_url(id, None).await.expect("a signed URL").url
}

#[tokio::test]
async fn a_signed_url_stops_serving_a_deleted_file_and_serves_it_again_once_restored() {
    let app = TestApp::spawn().await;
    let file = app
        .ready_file(&app.client, "default", "report.pdf", b"the report")
        .await;
    let url = signed_url(&app.client, &file.id).await;
    let served = fetch(&app, &url).await;
    assert_eq!((served.status, &served.body[..]), (200, &b"the report"[..]));

    app.client.delete_file(&file.id).await.expect("delete");
    fetch(&app, &url).await.assert_error(409, "file-not-ready");

    app.client.restore_file(&file.id).await.expect("restore");
    let served = fetch(&app, &url).await;
    assert_eq!((served.status, &served.body[..]), (200, &b"the report"[..]));
}

#[tokio::test]
async fn a_ready_dedup_copy_keeps_serving_when_the_original_is_deleted() {
    let app = TestApp::spawn().await;
    app.client
        .update_bucket(
            "default",
            &BucketPolicyChange {
                dedup: Some("bucket".into()),
                ..BucketPolicyChange::default()
            },
        )
        .await
        .expect("dedup on");
    let bytes = b"shared bytes";
    let original = app.ready_file(&app.client, "default", "a.bin", bytes).await;
    let created = app
        .client
        .create_upload(&CreateUpload {
            bucket: "default".into(),
            path: "copy.bin".into(),
            size: bytes.len() as u64,
            content_type: Some("application/octet-stream".into()),
            sha256: Some(original.sha256.clone().expect("a ready file's sha256")),
            ..CreateUpload::default()
        })
        .await
        .expect("a dedup copy");
    assert!(created.deduplicated, "{created:?}");
    app.run_jobs().await;
    let copy_url = signed_url(&app.client, &created.file_id).await;
    let original_url = signed_url(&app.client, &original.id).await;

    app.client.delete_file(&original.id).await.expect("delete the original");
    let served = fetch(&app, &copy_url).await;
    assert_eq!(
        (served.status, &served.body[..]),
        (200, &bytes[..]),
        "the copy is ready"
    );

    app.client.delete_file(&created.file_id).await.expect("delete the copy");
    for url in [&copy_url, &original_url] {
        fetch(&app, url).await.assert_error(409, "file-not-ready");
    }
}
