//! A bucket's limits on what it accepts: the largest file (checked when an upload is created
//! and again while a proxied upload streams) and the content types it allows.

use bytes::Bytes;
use filegate_client::api::CreateBucket;
use filegate_client::{FormUpload, ListFiles};

use crate::common::TestApp;
use crate::proxied_uploads::{b64, image};
use crate::support::{TINY_PNG, api_error, err, files_under, pattern};
use crate::uploads::put_request;

async fn small_bucket(app: &TestApp, name: &str, max_file_size: u64) {
    let bucket = CreateBucket {
        name: name.into(),
        max_file_size: Some(max_file_size),
        ..CreateBucket::default()
    };
    app.client.create_bucket(&bucket).await.expect("create bucket");
}

#[tokio::test]
async fn the_bucket_size_limit_is_enforced_when_an_upload_is_created() {
    let app = TestApp::spawn().await;
    small_bucket(&app, "small", 1024).await;
    let refused = app
        .client
        .create_upload(&put_request("small", "big.bin", "application/octet-stream", 1025))
        .await;
    assert_eq!(api_error(refused), err(413, "file-too-large"));
    let listed = app
        .client
        .list_files(&ListFiles {
            status: Some("pending".into()),
            ..ListFiles::bucket("small")
        })
        .await;
    assert!(listed.expect("list").items.is_empty(), "no file was recorded");

    let created = app
        .client
        .create_upload(&put_request("small", "fits.bin", "application/octet-stream", 1024))
        .await;
    assert_eq!(created.expect("a file at the limit is accepted").status, "pending");
}

#[tokio::test]
async fn the_bucket_size_limit_is_enforced_while_a_proxied_upload_streams() {
    let app = TestApp::spawn().await;
    small_bucket(&app, "small", 1024).await;
    let before = app.stored_objects();
    let temp_before = files_under(&app, "tmp");
    let form = FormUpload::new("small", "big.bin", "application/octet-stream");
    let refused = app
        .client
        .upload_form(&form, Bytes::from(pattern(256 * 1024, 10)))
        .await;
    assert_eq!(api_error(refused), err(413, "file-too-large"));
    assert_eq!(app.stored_objects(), before, "nothing was stored");
    assert_eq!(
        files_under(&app, "tmp"),
        temp_before,
        "no temporary file was left behind"
    );
    for status in ["pending", "uploaded"] {
        let query = ListFiles {
            status: Some(status.into()),
            ..ListFiles::bucket("small")
        };
        assert!(
            app.client.list_files(&query).await.expect("list").items.is_empty(),
            "no {status} file was recorded"
        );
    }

    // An image over the limit is refused the same way.
    small_bucket(&app, "tiny", 16).await;
    let refused = app
        .client
        .upload_image(&image("tiny", b64(&TINY_PNG), "image/png", None))
        .await;
    assert_eq!(api_error(refused), err(413, "file-too-large"));
    assert_eq!(app.stored_objects(), before);

    // At the limit it goes through.
    let file = app
        .client
        .upload_form(&form, Bytes::from(pattern(1024, 11)))
        .await
        .expect("at the limit");
    assert_eq!(file.size, 1024);
}

#[tokio::test]
async fn the_bucket_content_type_allow_list_is_enforced() {
    let app = TestApp::spawn().await;
    let bucket = CreateBucket {
        name: "scans".into(),
        allowed_content_types: Some(vec!["image/png".into(), "application/pdf".into()]),
        ..CreateBucket::default()
    };
    app.client.create_bucket(&bucket).await.expect("create bucket");
    let before = app.stored_objects();

    let refused = app
        .client
        .create_upload(&put_request("scans", "a.csv", "text/csv", 10))
        .await;
    assert_eq!(api_error(refused), err(415, "unsupported-content-type"));
    let refused = app
        .client
        .upload_form(
            &FormUpload::new("scans", "a.csv", "text/csv"),
            Bytes::from_static(b"a,b\n1,2\n"),
        )
        .await;
    assert_eq!(api_error(refused), err(415, "unsupported-content-type"));
    assert_eq!(app.stored_objects(), before, "nothing was stored");

    let created = app
        .client
        .create_upload(&put_request("scans", "a.pdf", "application/pdf", 10))
        .await;
    assert_eq!(created.expect("an allowed type").status, "pending");
    let file = app
        .client
        .upload_form(
            &FormUpload::new("scans", "dot.png", "image/png"),
            Bytes::from_static(&TINY_PNG),
        )
        .await
        .expect("an allowed type through the gateway");
    assert_eq!(file.content_type, "image/png");
}
