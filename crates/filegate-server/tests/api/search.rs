//! Search, as a clinic's staff use it: find a patient's documents by number, with typos,
//! by the word being typed, narrowed and counted by facets; the index follows renames,
//! metadata changes, deletes and restores; another tenant's files are never found.

use std::collections::BTreeMap;

use filegate_api::PatchFile;
use filegate_client::{Client, Search};

use crate::common::TestApp;

async fn ready_with(app: &TestApp, client: &Client, path: &str, metadata: &[(&str, &str)]) -> String {
    let file = app.ready_file(client, "default", path, path.as_bytes()).await;
    let metadata: BTreeMap<String, String> = metadata.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let patch = PatchFile {
        path: None,
        metadata: Some(metadata),
    };
    client.patch_file(&file.id, &patch).await.expect("patch");
    app.run_jobs().await;
    file.id
}

async fn ids(client: &Client, search: &Search) -> Vec<String> {
    let mut ids: Vec<String> = client
        .search(search)
        .await
        .expect("search")
        .items
        .into_iter()
        .map(|hit| hit.file.id)
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn a_patients_documents_are_found_by_number_typo_prefix_and_facets() {
    patients_documents(&TestApp::spawn().await).await;
}

#[tokio::test]
async fn a_patients_documents_are_found_the_same_way_on_postgresql() {
    let Some(database) = crate::engines::postgres_database().await else {
        return;
    };
    let url = database.url.clone();
    patients_documents(&TestApp::spawn_with(|c| c.database = Some(url)).await).await;
    database.drop_database().await;
}

async fn patients_documents(app: &TestApp) {
    let client = &app.client;
    let referral = ready_with(app, client, "2026/radiology/referral.pdf", &[("subject", "9434765919")]).await;
    let ward = ready_with(app, client, "2026/ward-a.csv", &[("subject", "9434765919")]).await;
    let other = ready_with(app, client, "2026/ward-b.csv", &[("subject", "1111111111")]).await;

    let by_number = client.search(&Search::words("9434765919 ")).await.expect("search");
    assert_eq!(by_number.total, 2);
    let found = sorted(by_number.items.iter().map(|h| h.file.id.clone()).collect());
    assert_eq!(found, sorted(vec![referral.clone(), ward.clone()]));
    for hit in &by_number.items {
        assert_eq!(hit.highlights["metadata.subject"], "<mark>9434765919</mark>");
    }

    assert!(
        ids(client, &Search::words("9434765918 ")).await.is_empty(),
        "a patient number one digit off finds nobody's documents"
    );
    assert_eq!(
        ids(client, &Search::words("radiolgy ")).await,
        std::slice::from_ref(&referral),
        "one typo"
    );
    assert_eq!(
        ids(client, &Search::words("refer")).await,
        std::slice::from_ref(&referral),
        "the word being typed"
    );
    let exact_metadata = Search {
        metadata: vec![("subject".into(), "1111111111".into())],
        ..Search::default()
    };
    assert_eq!(
        ids(client, &exact_metadata).await,
        std::slice::from_ref(&other),
        "metadata filter, no words"
    );

    let faceted = client
        .search(&Search {
            q: Some("ward".into()),
            facets: vec!["content_type".into(), "size".into()],
            ..Search::default()
        })
        .await
        .expect("faceted search");
    assert_eq!((faceted.total, faceted.total_is_lower_bound), (2, false));
    assert_eq!(faceted.facets["size"]["under_100kib"], 2);
    assert_eq!(faceted.facets["content_type"].values().sum::<u64>(), 2);
    let name = &faceted.items[0].highlights["name"];
    assert!(name.starts_with("<mark>ward</mark>-"), "{name}");

    let suggestions = client.suggest("war", None).await.expect("suggest").suggestions;
    assert_eq!(suggestions[0].text, "ward");
    assert_eq!(suggestions[0].count, 2);

    let stranger = app.tenant("elsewhere").await;
    assert!(ids(&stranger, &Search::words("9434765919")).await.is_empty());
    assert!(
        stranger
            .suggest("war", None)
            .await
            .expect("suggest")
            .suggestions
            .is_empty()
    );
}

#[tokio::test]
async fn the_index_follows_renames_deletes_and_restores() {
    let app = TestApp::spawn().await;
    let client = &app.client;
    let id = ready_with(&app, client, "scans/knee.png", &[]).await;
    assert_eq!(ids(client, &Search::words("knee ")).await, std::slice::from_ref(&id));

    let rename = PatchFile {
        path: Some("scans/shoulder.png".into()),
        metadata: None,
    };
    client.patch_file(&id, &rename).await.expect("rename");
    app.run_jobs().await;
    assert!(ids(client, &Search::words("knee ")).await.is_empty());
    assert_eq!(
        ids(client, &Search::words("shoulder ")).await,
        std::slice::from_ref(&id)
    );

    // Deleted: never returned, even before the index has caught up.
    client.delete_file(&id).await.expect("delete");
    assert!(ids(client, &Search::words("shoulder ")).await.is_empty());
    app.run_jobs().await;
    assert!(ids(client, &Search::words("shoulder ")).await.is_empty());

    client.restore_file(&id).await.expect("restore");
    app.run_jobs().await;
    assert_eq!(ids(client, &Search::words("shoulder ")).await, [id]);
}

#[tokio::test]
async fn pages_follow_the_cursor_to_the_end() {
    let app = TestApp::spawn().await;
    let client = &app.client;
    for i in 0..5 {
        app.ready_file(client, "default", &format!("batch/report-{i}.txt"), b"x")
            .await;
    }
    app.run_jobs().await;
    let mut search = Search {
        q: Some("report".into()),
        sort: Some("name".into()),
        limit: Some(2),
        ..Search::default()
    };
    let mut names = Vec::new();
    loop {
        let page = client.search(&search).await.expect("page");
        assert_eq!(page.total, 5);
        names.extend(page.items.into_iter().map(|h| h.file.name));
        match page.next_cursor {
            Some(cursor) => search.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(
        names,
        [
            "report-0.txt",
            "report-1.txt",
            "report-2.txt",
            "report-3.txt",
            "report-4.txt"
        ]
    );
}

#[tokio::test]
async fn bad_searches_are_refused_with_a_reason() {
    let app = TestApp::spawn().await;
    let client = &app.client;
    let refused = [
        (
            "unknown parameter",
            Search {
                sort: Some("-score".into()),
                ..Search::default()
            },
            "invalid-sort",
        ),
        ("too long", Search::words("x".repeat(300)), "invalid-query"),
        ("too many words", Search::words("a ".repeat(10_000)), "invalid-query"),
        (
            "unknown facet",
            Search {
                facets: vec!["owner".into()],
                ..Search::default()
            },
            "invalid-query",
        ),
        (
            "bad cursor",
            Search {
                cursor: Some("nope".into()),
                ..Search::default()
            },
            "invalid-cursor",
        ),
        (
            "limit 0",
            Search {
                limit: Some(0),
                ..Search::default()
            },
            "invalid-query",
        ),
        (
            "pending files",
            Search {
                status: Some("pending".into()),
                ..Search::default()
            },
            "invalid-query",
        ),
        (
            "bad type",
            Search {
                content_type: Some("image".into()),
                ..Search::default()
            },
            "invalid-query",
        ),
        (
            "empty key",
            Search {
                metadata: vec![(String::new(), "x".into())],
                ..Search::default()
            },
            "invalid-query",
        ),
    ];
    for (what, search, code) in refused {
        match client.search(&search).await {
            Err(filegate_client::Error::Api { status, code: got, .. }) => {
                assert_eq!((status, got.as_str()), (400, code), "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    let unbalanced = client.search(&Search::words(r#"ward "open quote"#)).await;
    assert!(unbalanced.is_ok(), "{unbalanced:?}");
}
