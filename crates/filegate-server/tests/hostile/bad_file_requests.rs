//! Bad input after an upload is created: completing with the wrong facts or for a dead
//! file, absurd part numbers, batches over the limit, absurd ranges, bad listing parameters,
//! unknown ids and routes. Every refusal is a 4xx JSON error that changes nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::support::{Snapshot, WithQuery, call, call_json, call_raw_json, pending_upload, put_bytes, send, status_of};

#[tokio::test]
async fn batch_delete_limits() {
    let app = TestApp::spawn().await;
    let file = app.ready_file(&app.client, "default", "kept.txt", b"kept").await;
    let before = Snapshot::take(&app, &app.client).await;

    let mut ids: Vec<String> = (0..1000).map(|_| uuid_like()).collect();
    ids.push(file.id.clone());
    let too_many = call(&app.client, Method::DELETE, "v1/files").with_query(&[("ids", ids.join(","))]);
    send(too_many).await.assert_error(400, "too-many-items");
    for empty in ["", ",,,", " , "] {
        send(call(&app.client, Method::DELETE, "v1/files").with_query(&[("ids", empty)]))
            .await
            .assert_error(400, "too-many-items");
    }
    send(call(&app.client, Method::DELETE, "v1/files"))
        .await
        .assert_error(400, "invalid-query");
    send(call(&app.client, Method::DELETE, "v1/files").with_query(&[("ids", file.id.as_str()), ("all", "true")]))
        .await
        .assert_error(400, "invalid-query");
    before
        .assert_unchanged(&app, &app.client, "refused batch deletes")
        .await;

    // Ids that do not exist are listed, not fatal; nothing else is touched.
    let garbage = ["not-a-uuid", "../../etc", &uuid_like()].map(str::to_owned);
    let out = app.client.delete_files(&garbage).await.expect("batch delete");
    assert!(out.deleted.is_empty(), "{out:?}");
    assert_eq!(out.not_found, garbage);
    before
        .assert_unchanged(&app, &app.client, "a batch of unknown ids")
        .await;
}

/// A well-formed id no file has.
fn uuid_like() -> String {
    format!(
        "0190c6a2-7b1e-7000-8000-{:012x}",
        rand::random::<u64>() & 0xffff_ffff_ffff
    )
}

#[tokio::test]
async fn batch_complete_limits() {
    let app = TestApp::spawn().await;
    let pending = pending_upload(&app.client, "pending.txt", 3).await;
    let pending_id = pending["file_id"].as_str().expect("id").to_owned();
    let before = Snapshot::take(&app, &app.client).await;

    let items: Vec<Value> = (0..1001).map(|_| json!({"file_id": pending_id})).collect();
    let answer = send(call_json(
        &app.client,
        Method::POST,
        "v1/uploads/complete",
        &json!({"uploads": items}),
    ))
    .await;
    answer.assert_error(400, "too-many-items");
    for body in [
        json!({}),
        json!({"uploads": "all"}),
        json!({"uploads": [{"size": 3}]}),
        json!({"uploads": [{"file_id": pending_id, "force": true}]}),
    ] {
        send(call_json(&app.client, Method::POST, "v1/uploads/complete", &body))
            .await
            .assert_error(400, "invalid-body");
    }
    // Each bad item fails alone, with its own code.
    let body = json!({"uploads": [
        {"file_id": "not-a-uuid"},
        {"file_id": uuid_like()},
        {"file_id": pending_id, "sha256": "abc"},
        {"file_id": pending_id, "etag": "\"a\"b\r\n"},
        {"file_id": pending_id},
    ]});
    let out = send(call_json(&app.client, Method::POST, "v1/uploads/complete", &body))
        .await
        .ok_json();
    assert_eq!(out["confirmed"], 0, "{out}");
    let mut codes: Vec<&str> = out["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["error"]["code"].as_str().unwrap_or("none"))
        .collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        [
            "invalid-checksum",
            "invalid-etag",
            "not-found",
            "not-found",
            "upload-missing"
        ],
        "{out}"
    );
    before
        .assert_unchanged(&app, &app.client, "refused batch completions")
        .await;
}

#[tokio::test]
async fn absurd_part_numbers_are_refused() {
    let app = TestApp::spawn().await;
    let single = pending_upload(&app.client, "single.txt", 3).await;
    let body = json!({"bucket": "default", "path": "big.bin", "size": 12 * 1024 * 1024, "multipart": true});
    let multi = send(call_json(&app.client, Method::POST, "v1/uploads", &body))
        .await
        .ok_json();
    assert_eq!(multi["upload"]["part_count"], 2, "{multi}");
    let id = multi["file_id"].as_str().expect("id").to_owned();
    let before = Snapshot::take(&app, &app.client).await;

    let parts_path = format!("v1/uploads/{id}/parts");
    let many: Vec<u32> = (1..=100_000).collect();
    for numbers in [
        json!([0]),
        json!([3]),
        json!([1, 3]),
        json!([u32::MAX]),
        json!([]),
        json!(many),
    ] {
        let answer = send(call_json(
            &app.client,
            Method::POST,
            &parts_path,
            &json!({"numbers": numbers}),
        ))
        .await;
        if answer.status == 413 {
            answer.assert_error(413, "body-too-large");
        } else {
            answer.assert_error(400, "invalid-parts");
        }
    }
    let many_small: Vec<u32> = vec![1; 1001];
    send(call_json(
        &app.client,
        Method::POST,
        &parts_path,
        &json!({"numbers": many_small}),
    ))
    .await
    .assert_error(400, "invalid-parts");
    for numbers in [json!([-1]), json!([4_294_967_296u64]), json!(["1"]), json!(1)] {
        send(call_json(
            &app.client,
            Method::POST,
            &parts_path,
            &json!({"numbers": numbers}),
        ))
        .await
        .assert_error(400, "invalid-body");
    }
    let single_id = single["file_id"].as_str().expect("id");
    let not_multipart = call_json(
        &app.client,
        Method::POST,
        &format!("v1/uploads/{single_id}/parts"),
        &json!({"numbers": [1]}),
    );
    send(not_multipart).await.assert_error(409, "not-multipart");

    let complete_path = format!("v1/uploads/{id}/complete");
    let etag = "0123456789abcdef0123456789abcdef";
    let lots: Vec<Value> = (1..=15_000).map(|n| json!({"number": n, "etag": etag})).collect();
    let bad_parts = [
        json!([]),
        json!([{"number": 0, "etag": etag}]),
        json!([{"number": 3, "etag": etag}]),
        json!([{"number": 2, "etag": etag}, {"number": 1, "etag": etag}]),
        json!([{"number": 1, "etag": etag}, {"number": 1, "etag": etag}]),
        json!(lots),
    ];
    for parts in bad_parts {
        send(call_json(
            &app.client,
            Method::POST,
            &complete_path,
            &json!({"parts": parts}),
        ))
        .await
        .assert_error(400, "invalid-parts");
    }
    let bad_etag = json!({"parts": [{"number": 1, "etag": "\"x\"\r\nInjected: 1"}]});
    send(call_json(&app.client, Method::POST, &complete_path, &bad_etag))
        .await
        .assert_error(400, "invalid-etag");
    // Parts that were never uploaded.
    let unsent = json!({"parts": [{"number": 1, "etag": etag}, {"number": 2, "etag": etag}]});
    let answer = send(call_json(&app.client, Method::POST, &complete_path, &unsent)).await;
    assert!(
        matches!(answer.status, 400 | 409),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let code = answer.error_code().unwrap_or_default();
    assert!(["upload-missing", "part-mismatch"].contains(&code.as_str()), "{code}");

    before.assert_unchanged(&app, &app.client, "absurd part numbers").await;
    assert_eq!(status_of(&app.client, &id).await, "pending");
}

/// A range that cannot be served is refused (416); a Range header that is not a byte range
/// at all is ignored, as RFC 9110 §14.2 allows: the whole file, 200, as without one.
#[tokio::test]
async fn absurd_ranges_are_refused_or_ignored() {
    let app = TestApp::spawn().await;
    let file = app.ready_file(&app.client, "default", "ten.txt", b"0123456789").await;
    let download = app.client.download_url(&file.id, None).await.expect("download url");
    let before = Snapshot::take(&app, &app.client).await;

    let cases: &[(&str, u16, &str)] = &[
        ("bytes=0-1,5-6", 416, "range-unsupported"),
        (
            "bytes=0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0",
            416,
            "range-unsupported",
        ),
        ("bytes=10-", 416, "range-not-satisfiable"),
        ("bytes=18446744073709551615-", 416, "range-not-satisfiable"),
        ("bytes=99999999999999999999999-", 416, "range-not-satisfiable"),
        ("bytes=-0", 416, "range-not-satisfiable"),
    ];
    let content = format!("v1/files/{}/content", file.id);
    for (range, status, code) in cases {
        let through_api = send(call(&app.client, Method::GET, &content).header("range", *range)).await;
        through_api.assert_error(*status, code);
        let signed = send(app.anonymous.http().get(&download.url).header("range", *range)).await;
        signed.assert_error(*status, code);
        if *status == 416 && *code == "range-not-satisfiable" {
            assert_eq!(through_api.header("content-range"), Some("bytes */10"));
            assert_eq!(signed.header("content-range"), Some("bytes */10"));
        }
    }
    for range in [
        "bytes=abc",
        "bytes=5-1",
        "bytes=a-b",
        "bytes=-",
        "bytes=1-2-3",
        "items=0-1",
    ] {
        let through_api = send(call(&app.client, Method::GET, &content).header("range", range)).await;
        let signed = send(app.anonymous.http().get(&download.url).header("range", range)).await;
        for (route, answer) in [("content", &through_api), ("signed URL", &signed)] {
            assert_eq!(answer.status, 200, "{range} on the {route}");
            assert_eq!(&answer.body[..], b"0123456789", "{range} on the {route}");
            assert_eq!(answer.header("content-range"), None, "{range} on the {route}");
        }
    }
    let huge_suffix =
        send(call(&app.client, Method::GET, &content).header("range", "bytes=-99999999999999999999999")).await;
    assert_eq!(huge_suffix.status, 206);
    assert_eq!(&huge_suffix.body[..], b"0123456789");
    assert_eq!(huge_suffix.header("content-range"), Some("bytes 0-9/10"));
    let bad_disposition = call(&app.client, Method::GET, &format!("v1/files/{}/download", file.id))
        .with_query(&[("disposition", "evil\r\nx: y")]);
    send(bad_disposition).await.assert_error(400, "invalid-query");
    let unknown =
        call(&app.client, Method::GET, &format!("v1/files/{}/download", file.id)).with_query(&[("ttl", "99999999")]);
    send(unknown).await.assert_error(400, "invalid-query");
    before.assert_unchanged(&app, &app.client, "absurd ranges").await;
}

#[tokio::test]
async fn bad_listing_parameters_are_400() {
    let app = TestApp::spawn().await;
    app.ready_file(&app.client, "default", "kept.txt", b"kept").await;
    let cursor = {
        let page = send(call(&app.client, Method::GET, "v1/files").with_query(&[("limit", "1")]))
            .await
            .ok_json();
        page["next_cursor"].as_str().map(str::to_owned)
    };
    let before = Snapshot::take(&app, &app.client).await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("limit", "0")], "invalid-query"),
        (&[("limit", "100000")], "invalid-query"),
        (&[("limit", "-1")], "invalid-query"),
        (&[("limit", "ten")], "invalid-query"),
        (&[("limit", "99999999999999999999")], "invalid-query"),
        (&[("sort", "owner")], "invalid-sort"),
        (&[("sort", "-created_at; drop table files")], "invalid-sort"),
        (&[("cursor", "garbage")], "invalid-cursor"),
        (&[("cursor", "eyJzIjoiY3JlYXRlZF9hdCJ9")], "invalid-cursor"),
        (&[("cursor", "garbage"), ("offset", "1")], "invalid-query"),
        (&[("status", "bogus")], "invalid-status"),
        (&[("status", "READY")], "invalid-status"),
        (&[("offset", "-1")], "invalid-query"),
        (&[("min_size", "-1")], "invalid-query"),
        (&[("created_after", "yesterday")], "invalid-query"),
        (&[("bucket", "../default")], "invalid-name"),
        (&[("prefix", "../")], "invalid-path"),
        (&[("prefix", "/etc")], "invalid-path"),
        (&[("content_type", "text/csv\r\nx: y")], "invalid-content-type"),
        (&[("owner", "mallory")], "invalid-query"),
        (&[("tenant", "other")], "invalid-query"),
        (&[("limit", "1"), ("limit", "2")], "invalid-query"),
    ];
    for (query, code) in cases {
        send(call(&app.client, Method::GET, "v1/files").with_query(query))
            .await
            .assert_error(400, code);
    }
    // A cursor minted for one sort order does not work for another.
    if let Some(cursor) = cursor {
        let other_sort =
            call(&app.client, Method::GET, "v1/files").with_query(&[("cursor", cursor.as_str()), ("sort", "name")]);
        send(other_sort).await.assert_error(400, "invalid-cursor");
    }
    let changes: &[(&[(&str, &str)], &str)] = &[
        (&[("since", "garbage")], "invalid-cursor"),
        (&[("since", "-1")], "invalid-cursor"),
        (&[("since", "1.2.3")], "invalid-cursor"),
        (&[("since", "1.")], "invalid-cursor"),
        (&[("since", "99999999999999999999")], "invalid-cursor"),
        (&[("limit", "0")], "invalid-query"),
        (&[("limit", "100000")], "invalid-query"),
        (&[("cursor", "1")], "invalid-query"),
    ];
    for (query, code) in changes {
        send(call(&app.client, Method::GET, "v1/files/changes").with_query(query))
            .await
            .assert_error(400, code);
    }
    before
        .assert_unchanged(&app, &app.client, "bad listing parameters")
        .await;
}

#[tokio::test]
async fn completing_with_the_wrong_facts_leaves_the_file_pending() {
    let app = TestApp::spawn().await;
    let created = pending_upload(&app.client, "facts.txt", 5).await;
    let id = created["file_id"].as_str().expect("id").to_owned();
    let complete = format!("v1/uploads/{id}/complete");

    // Nothing sent yet.
    send(call_json(&app.client, Method::POST, &complete, &json!({})))
        .await
        .assert_error(409, "upload-missing");

    let etag = put_bytes(&app.client, &created, b"hello").await;
    let before = Snapshot::take(&app, &app.client).await;
    let wrong: &[(Value, &str)] = &[
        (json!({"size": 6}), "size-mismatch"),
        (json!({"size": 4}), "size-mismatch"),
        (json!({"size": 0}), "size-mismatch"),
        (json!({"etag": "0123456789abcdef0123456789abcdef"}), "etag-mismatch"),
        (json!({"sha256": "0".repeat(64)}), "checksum-mismatch"),
        (json!({"sha256": "xyz"}), "invalid-checksum"),
        (json!({"etag": "\"a\"b"}), "invalid-etag"),
    ];
    for (body, code) in wrong {
        send(call_json(&app.client, Method::POST, &complete, body))
            .await
            .assert_error(400, code);
        assert_eq!(status_of(&app.client, &id).await, "pending", "after {body}");
    }
    for raw in ["{\"size\": \"5\"}", "{\"size\": -5}", "{\"force\": true}"] {
        send(call_raw_json(&app.client, Method::POST, &complete, raw))
            .await
            .assert_error(400, "invalid-body");
    }
    send(call_raw_json(&app.client, Method::POST, &complete, "{\"size\": "))
        .await
        .assert_error(400, "invalid-json");
    before
        .assert_unchanged(&app, &app.client, "completions with the wrong facts")
        .await;

    // Still completable with the right ones.
    let sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    let done = send(call_json(
        &app.client,
        Method::POST,
        &complete,
        &json!({"size": 5, "etag": etag, "sha256": sha}),
    ))
    .await
    .ok_json();
    assert_eq!(done["status"], "uploaded", "{done}");
}

#[tokio::test]
async fn completing_deleted_or_aborted_files_is_409() {
    let app = TestApp::spawn().await;
    let deleted = pending_upload(&app.client, "deleted.txt", 3).await;
    let deleted_id = deleted["file_id"].as_str().expect("id").to_owned();
    put_bytes(&app.client, &deleted, b"abc").await;
    app.client.delete_file(&deleted_id).await.expect("delete");
    let aborted = pending_upload(&app.client, "aborted.txt", 3).await;
    let aborted_id = aborted["file_id"].as_str().expect("id").to_owned();
    app.client.abort_upload(&aborted_id).await.expect("abort");
    let before = Snapshot::take(&app, &app.client).await;

    for id in [&deleted_id, &aborted_id] {
        send(call_json(
            &app.client,
            Method::POST,
            &format!("v1/uploads/{id}/complete"),
            &json!({}),
        ))
        .await
        .assert_error(409, "invalid-status");
        send(call(&app.client, Method::DELETE, &format!("v1/uploads/{id}")))
            .await
            .assert_error(409, "invalid-status");
        send(call(&app.client, Method::POST, &format!("v1/uploads/{id}/parts")).json(&json!({"numbers": [1]})))
            .await
            .assert_error(409, "invalid-status");
    }
    let rename = call_json(
        &app.client,
        Method::PATCH,
        &format!("v1/files/{deleted_id}"),
        &json!({"path": "back.txt"}),
    );
    send(rename).await.assert_error(409, "invalid-status");
    send(call(&app.client, Method::DELETE, &format!("v1/files/{deleted_id}")))
        .await
        .assert_error(409, "invalid-status");
    send(call(
        &app.client,
        Method::POST,
        &format!("v1/files/{aborted_id}/restore"),
    ))
    .await
    .assert_error(409, "invalid-status");
    before
        .assert_unchanged(&app, &app.client, "completing dead files")
        .await;
    assert_eq!(status_of(&app.client, &deleted_id).await, "deleted");
    assert_eq!(status_of(&app.client, &aborted_id).await, "expired");
}

#[tokio::test]
async fn unknown_ids_routes_and_methods() {
    let app = TestApp::spawn().await;
    let file = app.ready_file(&app.client, "default", "kept.txt", b"kept").await;
    let before = Snapshot::take(&app, &app.client).await;
    for id in [
        "not-a-uuid",
        "0190c6a2-7b1e-7000-8000-000000000000",
        "..%2F..%2Fsecret",
        "%00",
    ] {
        for route in [
            "v1/files/{id}",
            "v1/files/{id}/status",
            "v1/files/{id}/download",
            "v1/files/{id}/content",
        ] {
            let url = format!("{}/{}", app.base_url, route.replace("{id}", id));
            send(app.client.http().get(url).bearer_auth(app.token("default", "admin")))
                .await
                .assert_error(404, "not-found");
        }
    }
    send(call(&app.client, Method::GET, "v1/nothing-here"))
        .await
        .assert_error(404, "not-found");
    send(call(&app.client, Method::PUT, &format!("v1/files/{}", file.id)))
        .await
        .assert_error(405, "method-not-allowed");
    send(call(&app.client, Method::POST, "v1/files/changes"))
        .await
        .assert_error(405, "method-not-allowed");
    before
        .assert_unchanged(&app, &app.client, "unknown ids and routes")
        .await;
}
