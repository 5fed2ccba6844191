//! Bad input when creating files (uploads, proxied forms, images) and bad requests at the
//! HTTP level: every one is a 4xx JSON error with its stable code, and changes nothing — no
//! file, no object, no job.

use filegate_api::CreateBucket;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::support::{Snapshot, call, call_json, call_raw_json, pending_upload, send, status_of, upload_body};

/// `upload_body()` with `field` set to `value` (or removed when `value` is `None`).
fn upload_with(field: &str, value: Option<Value>) -> Value {
    let mut body = upload_body();
    let object = body.as_object_mut().expect("an object");
    match value {
        Some(v) => object.insert(field.to_owned(), v),
        None => object.remove(field),
    };
    body
}

async fn refused_upload(app: &TestApp, body: &Value, status: u16, code: &str) {
    send(call_json(&app.client, Method::POST, "v1/uploads", body))
        .await
        .assert_error(status, code);
}

#[tokio::test]
async fn malformed_upload_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let before = Snapshot::take(&app, &app.client).await;

    let syntax = [
        r#"{"bucket":"#,
        "not json",
        "",
        "{\"bucket\": \"default\",}",
        "\u{feff}{}",
    ];
    for raw in syntax {
        send(call_raw_json(&app.client, Method::POST, "v1/uploads", raw))
            .await
            .assert_error(400, "invalid-json");
    }
    let data = [
        json!([]),
        json!("upload"),
        json!(null),
        upload_with("size", Some(json!("5"))),
        upload_with("size", Some(json!(-1))),
        upload_with("size", Some(json!(1.5))),
        upload_with("size", Some(json!(1e30))),
        upload_with("size", Some(json!(null))),
        upload_with("bucket", Some(json!(7))),
        upload_with("path", Some(json!(["a", "b"]))),
        upload_with("metadata", Some(json!({"a": 1}))),
        upload_with("metadata", Some(json!(["a"]))),
        upload_with("multipart", Some(json!("yes"))),
        upload_with("owner", Some(json!("mallory"))),
        upload_with("tenant", Some(json!("other"))),
        upload_with("path", None),
        upload_with("size", None),
        upload_with("bucket", None),
    ];
    for body in &data {
        refused_upload(&app, body, 400, "invalid-body").await;
    }
    // A key given twice is not "the last one wins".
    let twice = r#"{"bucket":"default","path":"a.txt","path":"b.txt","size":1}"#;
    send(call_raw_json(&app.client, Method::POST, "v1/uploads", twice))
        .await
        .assert_error(400, "invalid-body");
    // Form and multipart at once is a contradiction.
    let both = json!({"bucket": "default", "path": "a.txt", "size": 1, "form": true, "multipart": true});
    refused_upload(&app, &both, 400, "invalid-body").await;

    // JSON that is not labelled as JSON.
    let valid = upload_body().to_string();
    let unlabelled = call(&app.client, Method::POST, "v1/uploads").body(valid.clone());
    send(unlabelled).await.assert_error(415, "unsupported-media-type");
    let as_text = call(&app.client, Method::POST, "v1/uploads")
        .header("content-type", "text/plain")
        .body(valid);
    send(as_text).await.assert_error(415, "unsupported-media-type");

    // The proxied upload takes a multipart form and nothing else.
    send(call_raw_json(&app.client, Method::POST, "v1/files", "{}"))
        .await
        .assert_error(400, "invalid-form");
    let no_boundary = call(&app.client, Method::POST, "v1/files")
        .header("content-type", "multipart/form-data")
        .body("x");
    send(no_boundary).await.assert_error(400, "invalid-form");

    before
        .assert_unchanged(&app, &app.client, "malformed upload bodies")
        .await;
}

#[tokio::test]
async fn json_bodies_over_the_limit_are_413() {
    let app = TestApp::spawn_with(|c| c.http.max_json_body = 1024).await;
    let file = app.ready_file(&app.client, "default", "kept.txt", b"kept").await;
    let pending = pending_upload(&app.client, "pending.txt", 3).await;
    let pending_id = pending["file_id"].as_str().expect("id");
    let before = Snapshot::take(&app, &app.client).await;

    let big = "x".repeat(2000);
    let oversize = [
        (
            "v1/uploads".to_owned(),
            Method::POST,
            upload_with("external_id", Some(json!(big))),
        ),
        (
            format!("v1/files/{}", file.id),
            Method::PATCH,
            json!({"metadata": {"note": big}}),
        ),
        (
            format!("v1/uploads/{pending_id}/complete"),
            Method::POST,
            json!({"sha256": big}),
        ),
        (
            "v1/uploads/complete".to_owned(),
            Method::POST,
            json!({"uploads": [{"file_id": big}]}),
        ),
        (
            format!("v1/uploads/{pending_id}/parts"),
            Method::POST,
            json!({"numbers": vec![1; 600]}),
        ),
        (
            "v1/admin/buckets".to_owned(),
            Method::POST,
            json!({"name": "big", "allowed_content_types": [big]}),
        ),
    ];
    for (path, method, body) in &oversize {
        send(call_json(&app.client, method.clone(), path, body))
            .await
            .assert_error(413, "body-too-large");
    }
    // Without a Content-Length the limit holds too, while the body streams in.
    let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![
        Ok(b"{\"bucket\":\"default\",\"path\":\""),
        Ok(&[b'a'; 1500]),
        Ok(b"\",\"size\":1}"),
    ];
    let streamed = call(&app.client, Method::POST, "v1/uploads")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
    send(streamed).await.assert_error(413, "body-too-large");

    before.assert_unchanged(&app, &app.client, "oversize JSON bodies").await;
    assert_eq!(status_of(&app.client, pending_id).await, "pending");
}

const HOSTILE_PATHS: &[&str] = &[
    "../etc/passwd",
    "a/../../b",
    "..",
    ".",
    "a/./b",
    "/etc/passwd",
    "a//b",
    "a/",
    "",
    "a\0b",
    "a\nb",
    "a\rb",
    "a\tb",
    "a\u{1b}[31mb",
    "a\u{7f}b",
    "a\u{85}b",
    "a\\b",
    "..\\..\\windows",
];

#[tokio::test]
async fn hostile_paths_are_invalid_path_on_create_and_rename() {
    let app = TestApp::spawn().await;
    let file = app.ready_file(&app.client, "default", "kept.txt", b"kept").await;
    let before = Snapshot::take(&app, &app.client).await;
    let long_segment = "s".repeat(256);
    let long_path = ["a"; 600].join("/");
    let paths = HOSTILE_PATHS
        .iter()
        .copied()
        .chain([long_segment.as_str(), long_path.as_str()]);
    for path in paths {
        refused_upload(&app, &upload_with("path", Some(json!(path))), 400, "invalid-path").await;
        let rename = call_json(
            &app.client,
            Method::PATCH,
            &format!("v1/files/{}", file.id),
            &json!({"path": path}),
        );
        send(rename).await.assert_error(400, "invalid-path");
    }
    before.assert_unchanged(&app, &app.client, "hostile paths").await;
    assert_eq!(app.client.get_file(&file.id).await.expect("file").path, "kept.txt");
}

#[tokio::test]
async fn hostile_paths_are_refused_by_the_proxied_upload() {
    let app = TestApp::spawn().await;
    let before = Snapshot::take(&app, &app.client).await;
    for path in HOSTILE_PATHS {
        let form = reqwest::multipart::Form::new()
            .text("bucket", "default")
            .text("path", path.to_string())
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"abc".to_vec()).file_name("x.txt"),
            );
        send(call(&app.client, Method::POST, "v1/files").multipart(form))
            .await
            .assert_error(400, "invalid-path");
        // A file name that climbs out of its prefix.
        let form = reqwest::multipart::Form::new()
            .text("bucket", "default")
            .text("prefix", "inbox/")
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"abc".to_vec()).file_name(path.to_string()),
            );
        // Control characters other than a tab cannot even travel in a part's header: the
        // form itself is malformed. Every other name reaches the path parser.
        let breaks_the_form = path.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f);
        let code = if breaks_the_form {
            "invalid-form"
        } else {
            "invalid-path"
        };
        send(call(&app.client, Method::POST, "v1/files").multipart(form))
            .await
            .assert_error(400, code);
    }
    before
        .assert_unchanged(&app, &app.client, "hostile proxied paths")
        .await;
}

#[tokio::test]
async fn bad_and_unknown_buckets() {
    let app = TestApp::spawn().await;
    let before = Snapshot::take(&app, &app.client).await;
    let too_long = "b".repeat(64);
    for bucket in [
        "../default",
        "Default",
        "a/b",
        "",
        "default\0",
        "-x",
        "a..b",
        "défault",
        too_long.as_str(),
    ] {
        refused_upload(&app, &upload_with("bucket", Some(json!(bucket))), 400, "invalid-name").await;
    }
    refused_upload(&app, &upload_with("bucket", Some(json!("nope"))), 404, "not-found").await;
    before.assert_unchanged(&app, &app.client, "bad buckets").await;
}

#[tokio::test]
async fn bad_content_types_checksums_metadata_and_external_ids() {
    let app = TestApp::spawn().await;
    let before = Snapshot::take(&app, &app.client).await;
    let long_type = format!("text/{}", "x".repeat(300));
    for ct in [
        "text/csv\r\nx: y",
        "text/csv\nx: y",
        "text",
        "/csv",
        "text/",
        "a b/c",
        "tëxt/csv",
        "",
        long_type.as_str(),
    ] {
        refused_upload(
            &app,
            &upload_with("content_type", Some(json!(ct))),
            400,
            "invalid-content-type",
        )
        .await;
    }
    let upper_hex = "G".repeat(64);
    for sha in [
        "abc",
        "",
        upper_hex.as_str(),
        &"a".repeat(63),
        &"a".repeat(65),
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
    ] {
        refused_upload(&app, &upload_with("sha256", Some(json!(sha))), 400, "invalid-checksum").await;
    }
    let many: serde_json::Map<String, Value> = (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    let metadata = [
        Value::Object(many),
        json!({"": "v"}),
        json!({"bad key": "v"}),
        json!({"k/../x": "v"}),
        json!({("k".repeat(129)): "v"}),
        json!({"k": "v".repeat(2049)}),
        json!({"k": "line\r\nInjected: yes"}),
    ];
    for m in metadata {
        refused_upload(&app, &upload_with("metadata", Some(m)), 400, "invalid-metadata").await;
    }
    for external in [json!(""), json!("x".repeat(256)), json!("a\nb")] {
        refused_upload(
            &app,
            &upload_with("external_id", Some(external)),
            400,
            "invalid-external-id",
        )
        .await;
    }
    before.assert_unchanged(&app, &app.client, "bad declarations").await;
}

#[tokio::test]
async fn sizes_and_types_outside_the_bucket_policy() {
    let app = TestApp::spawn().await;
    let small = CreateBucket {
        name: "small".into(),
        max_file_size: Some(10),
        allowed_content_types: Some(vec!["image/*".into(), "text/csv".into()]),
        ..Default::default()
    };
    app.client.create_bucket(&small).await.expect("bucket");
    // A bucket may not promise more than any store can hold.
    for max in [u64::MAX, 1 << 63, 5 * (1 << 40) + 1] {
        let body = json!({"name": "huge", "max_file_size": max});
        send(call_json(&app.client, Method::POST, "v1/admin/buckets", &body))
            .await
            .assert_error(400, "invalid-policy");
        let patch = call_json(
            &app.client,
            Method::PATCH,
            "v1/admin/buckets/small",
            &json!({"max_file_size": max}),
        );
        send(patch).await.assert_error(400, "invalid-policy");
    }
    let largest = CreateBucket {
        name: "largest".into(),
        max_file_size: Some(5 << 40),
        ..Default::default()
    };
    app.client
        .create_bucket(&largest)
        .await
        .expect("a bucket at the ceiling");
    let before = Snapshot::take(&app, &app.client).await;

    let in_small =
        |size: Value, ct: &str| json!({"bucket": "small", "path": "a.csv", "size": size, "content_type": ct});
    refused_upload(&app, &in_small(json!(11), "text/csv"), 413, "file-too-large").await;
    refused_upload(&app, &in_small(json!(u64::MAX), "text/csv"), 413, "file-too-large").await;
    refused_upload(
        &app,
        &in_small(json!(1), "application/pdf"),
        415,
        "unsupported-content-type",
    )
    .await;
    refused_upload(&app, &in_small(json!(1), "text/html"), 415, "unsupported-content-type").await;
    // The default bucket's own ceiling, whatever the transfer.
    for transfer in [
        json!({}),
        json!({"multipart": false}),
        json!({"multipart": true}),
        json!({"form": true}),
    ] {
        let mut body = upload_with("size", Some(json!(u64::MAX)));
        body.as_object_mut()
            .expect("object")
            .extend(transfer.as_object().expect("object").clone());
        refused_upload(&app, &body, 413, "file-too-large").await;
    }
    // The largest bucket still refuses sizes past its limit, up to ones no engine can count.
    for (size, multipart) in [
        (u64::MAX, false),
        (1u64 << 63, false),
        ((5 << 40) + 1, false),
        (u64::MAX, true),
        (1u64 << 63, true),
    ] {
        let body = json!({"bucket": "largest", "path": "a.bin", "size": size, "multipart": multipart});
        refused_upload(&app, &body, 413, "file-too-large").await;
    }
    before
        .assert_unchanged(&app, &app.client, "sizes over the limits")
        .await;
}

#[tokio::test]
async fn oversize_headers_are_refused() {
    let app = TestApp::spawn().await;
    let before = Snapshot::take(&app, &app.client).await;
    let mut many = call_json(&app.client, Method::POST, "v1/uploads", &upload_body());
    for i in 0..150 {
        many = many.header(format!("x-filler-{i}"), "v");
    }
    // hyper refuses these while parsing, before any handler runs: the status is all there is.
    assert_eq!(send(many).await.status, 431);
    let huge =
        call_json(&app.client, Method::POST, "v1/uploads", &upload_body()).header("x-filler", "v".repeat(1 << 20));
    assert_eq!(send(huge).await.status, 431);
    before.assert_unchanged(&app, &app.client, "oversize headers").await;
}

#[tokio::test]
async fn error_bodies_carry_the_callers_request_id_or_a_fresh_one() {
    let app = TestApp::spawn().await;
    let answer = send(call(&app.client, Method::GET, "v1/files/nope").header("x-request-id", "hostile-test-1")).await;
    answer.assert_error(404, "not-found");
    assert_eq!(answer.json()["error"]["request_id"], "hostile-test-1");
    for unsafe_id in ["has space", &"x".repeat(200)] {
        let answer = send(call(&app.client, Method::GET, "v1/files/nope").header("x-request-id", unsafe_id)).await;
        answer.assert_error(404, "not-found");
        assert_ne!(
            answer.json()["error"]["request_id"],
            unsafe_id,
            "an unsafe request id was echoed"
        );
    }
}

#[tokio::test]
async fn bad_base64_images_are_refused() {
    use base64::Engine as _;
    let app = TestApp::spawn_with(|c| c.uploads.max_image_bytes = 1024).await;
    let before = Snapshot::take(&app, &app.client).await;
    let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    let image = |changes: Value| {
        let mut body = json!({"bucket": "default", "data": png, "content_type": "image/png"});
        body.as_object_mut()
            .expect("object")
            .extend(changes.as_object().expect("object").clone());
        body
    };
    let cases: &[(Value, u16, &str)] = &[
        (json!({"data": "!!! not base64 !!!"}), 400, "invalid-base64"),
        (json!({"data": ""}), 400, "invalid-image"),
        (json!({"data": "data:image/png;base64"}), 400, "invalid-image"),
        (json!({"content_type": "image/jpeg"}), 400, "content-type-mismatch"),
        (json!({"content_type": "image/gif"}), 400, "content-type-mismatch"),
        (json!({"content_type": "text/html"}), 415, "unsupported-content-type"),
        (
            json!({"content_type": "image/svg+xml"}),
            415,
            "unsupported-content-type",
        ),
        (
            json!({"content_type": "image/png\r\nx: y"}),
            400,
            "invalid-content-type",
        ),
        (json!({"name": "../../etc/passwd"}), 400, "invalid-path"),
        (json!({"name": "a/b.png"}), 400, "invalid-path"),
        (json!({"name": "n".repeat(300)}), 400, "invalid-path"),
        (json!({"prefix": "../"}), 400, "invalid-path"),
        (json!({"prefix": "/abs"}), 400, "invalid-path"),
        (json!({"bucket": "nope"}), 404, "not-found"),
        (json!({"bucket": "../default"}), 400, "invalid-name"),
        (json!({"metadata": {"bad key": "v"}}), 400, "invalid-metadata"),
        (json!({"width": 100_000}), 400, "invalid-body"),
        (json!({"data": "A".repeat(200 * 1024)}), 413, "body-too-large"),
    ];
    for (changes, status, code) in cases {
        send(call_json(
            &app.client,
            Method::POST,
            "v1/images",
            &image(changes.clone()),
        ))
        .await
        .assert_error(*status, code);
    }
    let reader = app.client_as("default", "reader");
    send(call_json(&reader, Method::POST, "v1/images", &image(json!({}))))
        .await
        .assert_error(403, "forbidden");
    before.assert_unchanged(&app, &app.client, "bad images").await;
}
