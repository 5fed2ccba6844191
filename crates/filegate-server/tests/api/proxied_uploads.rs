//! Uploads through the gateway: `POST /v1/files` (multipart form, streamed) and
//! `POST /v1/images` (base64 or a data: URL, stored under a unique name).

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use filegate_client::api::ImageUpload;
use filegate_client::{FormUpload, ListFiles};

use crate::common::TestApp;
use crate::support::{TINY_PNG, api_error, content_of, err, sha256_hex};

#[tokio::test]
async fn a_proxied_upload_keeps_bucket_path_and_metadata() {
    let app = TestApp::spawn().await;
    app.bucket(&app.client, "reports").await;
    let bytes = b"ward,patients\na,12\nb,7\n".repeat(1000);
    let mut form = FormUpload::new("reports", "2026/11/ward-a.csv", "text/csv");
    form.metadata = Some(BTreeMap::from([("patient".to_owned(), "123".to_owned())]));
    let file = app
        .client
        .upload_form(&form, Bytes::from(bytes.clone()))
        .await
        .expect("proxied upload");
    assert_eq!(file.bucket, "reports");
    assert_eq!(file.path, "2026/11/ward-a.csv");
    assert_eq!(file.name, "ward-a.csv");
    assert_eq!(file.content_type, "text/csv");
    assert_eq!(file.size, bytes.len() as u64);
    assert_eq!(
        file.metadata,
        BTreeMap::from([("patient".to_owned(), "123".to_owned())])
    );
    assert_eq!(file.status, "uploaded");

    app.run_jobs().await;
    let file = app.client.get_file(&file.id).await.expect("get");
    assert_eq!(file.status, "ready", "{file:?}");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(content_of(&app.client, &file.id).await, bytes);

    // With a prefix instead of a path, the file part's name completes the path.
    let form = FormUpload {
        bucket: "reports".into(),
        prefix: Some("inbox/".into()),
        file_name: "scan.txt".into(),
        content_type: "text/plain".into(),
        ..FormUpload::default()
    };
    let file = app
        .client
        .upload_form(&form, Bytes::from_static(b"scanned"))
        .await
        .expect("prefix upload");
    assert_eq!(file.path, "inbox/scan.txt");
    app.run_jobs().await;
    assert_eq!(content_of(&app.client, &file.id).await, &b"scanned"[..]);
}

pub(crate) fn image(bucket: &str, data: String, content_type: &str, name: Option<&str>) -> ImageUpload {
    ImageUpload {
        bucket: bucket.into(),
        data,
        content_type: content_type.into(),
        name: name.map(str::to_owned),
        ..ImageUpload::default()
    }
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `{stem}_{uuid}.{ext}` → the uuid, checked.
#[track_caller]
fn uuid_in_name(name: &str, stem: &str, ext: &str) -> uuid::Uuid {
    let middle = name
        .strip_prefix(&format!("{stem}_"))
        .and_then(|rest| rest.strip_suffix(&format!(".{ext}")))
        .unwrap_or_else(|| panic!("{name:?} is not {stem}_{{uuid}}.{ext}"));
    uuid::Uuid::parse_str(middle).unwrap_or_else(|e| panic!("{middle:?} in {name:?} is not a uuid: {e}"))
}

#[tokio::test]
async fn an_image_upload_stores_a_png_under_a_unique_name() {
    let app = TestApp::spawn().await;
    let file = app
        .client
        .upload_image(&image("default", b64(&TINY_PNG), "image/png", Some("avatar")))
        .await
        .expect("image upload");
    uuid_in_name(&file.name, "avatar", "png");
    assert_eq!(file.path, file.name);
    assert_eq!(file.content_type, "image/png");
    assert_eq!(file.size, TINY_PNG.len() as u64);

    // A data: URL works too, and a name's own extension is replaced.
    let second = app
        .client
        .upload_image(&image(
            "default",
            format!("data:image/png;base64,{}", b64(&TINY_PNG)),
            "image/png",
            Some("avatar.jpeg"),
        ))
        .await
        .expect("data URL upload");
    assert_ne!(
        uuid_in_name(&second.name, "avatar", "png"),
        uuid_in_name(&file.name, "avatar", "png")
    );
    let unnamed = app
        .client
        .upload_image(&image("default", b64(&TINY_PNG), "image/png", None))
        .await
        .expect("unnamed");
    uuid_in_name(&unnamed.name, "image", "png");

    app.run_jobs().await;
    for id in [&file.id, &second.id, &unnamed.id] {
        let f = app.client.get_file(id).await.expect("get");
        assert_eq!(f.status, "ready", "{f:?}");
        assert_eq!(f.sha256.as_deref(), Some(sha256_hex(&TINY_PNG).as_str()));
        assert_eq!(content_of(&app.client, id).await, &TINY_PNG[..]);
    }
}

#[tokio::test]
async fn an_image_upload_refuses_other_types_and_lying_bytes() {
    let app = TestApp::spawn().await;
    let before = app.stored_objects();
    for content_type in ["application/pdf", "text/plain", "image/svg+xml"] {
        let refused = app
            .client
            .upload_image(&image("default", b64(&TINY_PNG), content_type, None))
            .await;
        assert_eq!(
            api_error(refused),
            err(415, "unsupported-content-type"),
            "{content_type}"
        );
    }
    let lies: [(&str, &[u8]); 3] = [
        ("image/jpeg", &TINY_PNG),
        ("image/png", b"GIF89a\x01\x00\x01\x00"),
        ("image/gif", b"just some text"),
    ];
    for (content_type, bytes) in lies {
        let refused = app
            .client
            .upload_image(&image("default", b64(bytes), content_type, None))
            .await;
        assert_eq!(api_error(refused), err(400, "content-type-mismatch"), "{content_type}");
    }
    assert_eq!(app.stored_objects(), before, "nothing was stored");
    let listed = app.client.list_files(&ListFiles::default()).await.expect("list");
    assert!(listed.items.is_empty(), "nothing was recorded: {:?}", listed.items);
}
