//! Seed 001's clinician lists a patient's files by their number: `metadata.KEY=VALUE` and
//! `external_id` on `GET /v1/files`, with the list's cursors and offsets, never another
//! tenant's files, and a 400 for a filter that is not one.

use std::collections::BTreeMap;

use filegate_client::api::CreateUpload;
use filegate_client::{Client, ListFiles};
use futures::TryStreamExt as _;
use reqwest::Method;

use crate::common::TestApp;
use crate::support::json_of;

const PATIENT: &str = "9434765919";

/// A pending upload at `path` with this metadata and external id.
async fn pending(client: &Client, path: &str, metadata: &[(&str, &str)], external_id: Option<&str>) {
    let request = CreateUpload {
        bucket: "default".into(),
        path: path.into(),
        size: 10,
        metadata: Some(
            metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        ),
        external_id: external_id.map(str::to_owned),
        ..CreateUpload::default()
    };
    client.create_upload(&request).await.expect("create upload");
}

/// The paths one page lists (sorted by path), and the page's total when it has one.
async fn paths(client: &Client, query: ListFiles) -> Vec<String> {
    let query = ListFiles {
        limit: Some(1000),
        sort: Some("name".into()),
        ..query
    };
    let page = client.list_files(&query).await.expect("list");
    let mut paths: Vec<String> = page.items.into_iter().map(|f| f.path).collect();
    paths.sort();
    paths
}

fn by_metadata(pairs: &[(&str, &str)]) -> ListFiles {
    ListFiles {
        metadata: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..ListFiles::default()
    }
}

#[tokio::test]
async fn a_patients_files_are_listed_by_their_number() {
    let app = TestApp::spawn().await;
    let other = app.tenant("other").await;
    pending(
        &app.client,
        "p1/scan.pdf",
        &[("subject", PATIENT), ("ward", "a")],
        Some(PATIENT),
    )
    .await;
    pending(
        &app.client,
        "p1/report.pdf",
        &[("subject", PATIENT), ("ward", "b")],
        Some(PATIENT),
    )
    .await;
    pending(
        &app.client,
        "p2/scan.pdf",
        &[("subject", "1111111111"), ("ward", "a")],
        Some("1111111111"),
    )
    .await;
    pending(
        &other,
        "theirs/scan.pdf",
        &[("subject", PATIENT), ("ward", "a")],
        Some(PATIENT),
    )
    .await;

    let mine = ["p1/report.pdf", "p1/scan.pdf"];
    assert_eq!(paths(&app.client, by_metadata(&[("subject", PATIENT)])).await, mine);
    assert_eq!(
        paths(&app.client, by_metadata(&[("subject", PATIENT), ("ward", "a")])).await,
        ["p1/scan.pdf"]
    );
    assert!(
        paths(&app.client, by_metadata(&[("ward", "a"), ("ward", "b")]))
            .await
            .is_empty()
    );
    let by_number = ListFiles {
        external_id: Some(PATIENT.into()),
        ..ListFiles::default()
    };
    assert_eq!(paths(&app.client, by_number.clone()).await, mine);
    assert_eq!(
        paths(&other, by_metadata(&[("subject", PATIENT)])).await,
        ["theirs/scan.pdf"],
        "each tenant finds its own"
    );
    assert_eq!(paths(&other, by_number.clone()).await, ["theirs/scan.pdf"]);

    // Cursors (following next_cursor with the same filters) and offsets with their total.
    let one_by_one = ListFiles {
        limit: Some(1),
        ..by_number.clone()
    };
    let walked: Vec<String> = app
        .client
        .list_all_files(one_by_one.clone())
        .map_ok(|f| f.path)
        .try_collect()
        .await
        .expect("walk");
    assert_eq!(walked.len(), 2);
    assert!(mine.iter().all(|p| walked.contains(&(*p).to_owned())));
    let counted = ListFiles {
        offset: Some(1),
        ..one_by_one
    };
    let page = app.client.list_files(&counted).await.expect("offset page");
    assert_eq!((page.items.len(), page.total), (1, Some(2)));
}

#[tokio::test]
async fn a_filter_that_is_not_one_is_refused() {
    let app = TestApp::spawn().await;
    let list = |pairs: Vec<(String, String)>| {
        let mut request = app
            .client
            .request(Method::GET, &["v1", "files"])
            .expect("route")
            .build()
            .expect("request");
        request.url_mut().query_pairs_mut().extend_pairs(&pairs);
        let http = app.client.http().clone();
        async move { json_of(http.execute(request).await.expect("sent")).await }
    };
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let too_many = (0..17).map(|i| pair(&format!("metadata.k{i}"), "v")).collect();
    for bad in [
        vec![pair("metadata.", "x")],
        vec![pair("metadata.a b", "x")],
        vec![pair("metadata.k", "a\u{0}b")],
        vec![pair("metadata.k", &"v".repeat(2049))],
        too_many,
        vec![pair("metadata.k", "v"), pair("nonsense", "1")],
        vec![pair("external_id", "")],
    ] {
        let (status, _, body) = list(bad.clone()).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        let code = body["error"]["code"].as_str().unwrap_or_default();
        assert!(
            code == "invalid-query" || code == "invalid-external-id",
            "{bad:?}: {body}"
        );
    }
    let sixteen = (0..16).map(|i| pair(&format!("metadata.k{i}"), "v")).collect();
    let (status, _, body) = list(sixteen).await;
    assert_eq!((status, body["items"].as_array().map(Vec::len)), (200, Some(0)));
}
