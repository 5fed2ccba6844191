//! Listing files: every filter, every sort key in both directions, cursor pagination that
//! visits each file once in every order, and offset pagination with its total.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use filegate_client::ListFiles;
use filegate_client::api::{CreateUpload, FileView};
use futures::TryStreamExt as _;

use crate::common::TestApp;
use crate::files::upload;
use crate::support::{api_error, err};

/// The names of one page (limit 1000), in the server's order.
async fn names(app: &TestApp, query: ListFiles) -> Vec<String> {
    let query = ListFiles {
        limit: Some(1000),
        ..query
    };
    let page = app.client.list_files(&query).await.expect("list");
    assert!(page.next_cursor.is_none(), "everything fits one page");
    page.items.into_iter().map(|f| f.name).collect()
}

/// Sorted by name, for filters whose order is not the point.
fn by_name(query: ListFiles) -> ListFiles {
    ListFiles {
        sort: Some("name".into()),
        ..query
    }
}

fn midpoint(a: DateTime<Utc>, b: DateTime<Utc>) -> DateTime<Utc> {
    a + (b - a) / 2
}

#[tokio::test]
async fn listing_applies_every_filter() {
    let app = TestApp::spawn().await;
    app.bucket(&app.client, "reports").await;
    let one = upload(&app, "default", "a/one.txt", "text/plain", 10).await;
    let two = upload(&app, "default", "a/two.csv", "text/csv", 20).await;
    let three = upload(&app, "default", "b/three.png", "image/png", 30).await;
    upload(&app, "reports", "x/four.csv", "text/csv", 40).await;
    let request = CreateUpload {
        bucket: "default".into(),
        path: "a/five.bin".into(),
        size: 50,
        ..CreateUpload::default()
    };
    app.client.create_upload(&request).await.expect("a pending upload");
    let six = upload(&app, "default", "c/six.txt", "text/plain", 60).await;
    app.run_jobs().await;
    app.client.delete_file(&six.id).await.expect("delete");

    let all = ListFiles::default;
    assert_eq!(
        names(&app, by_name(all())).await,
        ["five.bin", "four.csv", "one.txt", "three.png", "two.csv"]
    );
    assert_eq!(
        names(&app, by_name(ListFiles::bucket("default"))).await,
        ["five.bin", "one.txt", "three.png", "two.csv"]
    );
    assert_eq!(names(&app, by_name(ListFiles::bucket("reports"))).await, ["four.csv"]);
    let prefix = |p: &str| ListFiles {
        prefix: Some(p.into()),
        ..ListFiles::bucket("default")
    };
    assert_eq!(
        names(&app, by_name(prefix("a/"))).await,
        ["five.bin", "one.txt", "two.csv"]
    );
    assert_eq!(names(&app, by_name(prefix("b/"))).await, ["three.png"]);
    assert!(names(&app, by_name(prefix("z/"))).await.is_empty());

    let status = |s: &str| ListFiles {
        status: Some(s.into()),
        ..all()
    };
    assert_eq!(
        names(&app, by_name(status("ready"))).await,
        ["four.csv", "one.txt", "three.png", "two.csv"]
    );
    assert_eq!(names(&app, by_name(status("pending"))).await, ["five.bin"]);
    assert_eq!(names(&app, by_name(status("deleted"))).await, ["six.txt"]);

    let content_type = |t: &str| ListFiles {
        content_type: Some(t.into()),
        ..all()
    };
    assert_eq!(
        names(&app, by_name(content_type("text/csv"))).await,
        ["four.csv", "two.csv"]
    );
    assert_eq!(
        names(&app, by_name(content_type("text/*"))).await,
        ["four.csv", "one.txt", "two.csv"]
    );
    assert_eq!(names(&app, by_name(content_type("image/png"))).await, ["three.png"]);

    let sizes = |min: Option<u64>, max: Option<u64>| ListFiles {
        min_size: min,
        max_size: max,
        ..all()
    };
    assert_eq!(
        names(&app, by_name(sizes(Some(20), None))).await,
        ["five.bin", "four.csv", "three.png", "two.csv"]
    );
    assert_eq!(
        names(&app, by_name(sizes(None, Some(30)))).await,
        ["one.txt", "three.png", "two.csv"]
    );
    assert_eq!(
        names(&app, by_name(sizes(Some(20), Some(30)))).await,
        ["three.png", "two.csv"]
    );

    // Between the second and the third upload.
    let cut = midpoint(two.created_at, three.created_at);
    assert!(one.created_at < two.created_at && two.created_at < three.created_at);
    let after = ListFiles {
        created_after: Some(cut),
        ..all()
    };
    assert_eq!(names(&app, by_name(after)).await, ["five.bin", "four.csv", "three.png"]);
    let before = ListFiles {
        created_before: Some(cut),
        ..all()
    };
    assert_eq!(names(&app, by_name(before)).await, ["one.txt", "two.csv"]);

    // Filters combine.
    let combined = ListFiles {
        content_type: Some("text/*".into()),
        min_size: Some(15),
        ..ListFiles::bucket("default")
    };
    assert_eq!(names(&app, by_name(combined)).await, ["two.csv"]);

    // Bad filters are refused, not ignored.
    let bad = [
        ListFiles {
            sort: Some("colour".into()),
            ..all()
        },
        ListFiles {
            status: Some("sleeping".into()),
            ..all()
        },
        ListFiles {
            limit: Some(0),
            ..all()
        },
        ListFiles {
            cursor: Some("not a cursor".into()),
            ..all()
        },
    ];
    for query in bad {
        assert_eq!(api_error(app.client.list_files(&query).await).0, 400, "{query:?}");
    }
}

/// Five files whose creation, name and size orders all differ.
async fn five_files(app: &TestApp) {
    for (name, size) in [
        ("c.txt", 30),
        ("a.txt", 50),
        ("e.txt", 10),
        ("b.txt", 40),
        ("d.txt", 20),
    ] {
        upload(app, "default", &format!("docs/{name}"), "text/plain", size).await;
    }
    app.run_jobs().await;
}

#[tokio::test]
async fn listing_sorts_by_each_key_in_both_directions() {
    let app = TestApp::spawn().await;
    five_files(&app).await;
    let sorted = |s: &str| ListFiles {
        sort: Some(s.into()),
        ..ListFiles::default()
    };
    let cases = [
        ("created_at", ["c.txt", "a.txt", "e.txt", "b.txt", "d.txt"]),
        ("-created_at", ["d.txt", "b.txt", "e.txt", "a.txt", "c.txt"]),
        ("name", ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]),
        ("-name", ["e.txt", "d.txt", "c.txt", "b.txt", "a.txt"]),
        ("size", ["e.txt", "d.txt", "c.txt", "b.txt", "a.txt"]),
        ("-size", ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]),
    ];
    for (sort, expected) in cases {
        assert_eq!(names(&app, sorted(sort)).await, expected, "sort={sort}");
    }
    // The default order is oldest first.
    assert_eq!(names(&app, ListFiles::default()).await, cases[0].1);
}

#[tokio::test]
async fn cursor_pagination_visits_every_file_exactly_once_in_every_order() {
    let app = TestApp::spawn().await;
    // Ties on purpose: the same name in three folders, sizes shared by several files.
    let specs = [
        ("x/same.txt", 10),
        ("y/same.txt", 10),
        ("z/same.txt", 10),
        ("alpha.txt", 20),
        ("beta.txt", 20),
        ("gamma.txt", 30),
        ("delta.txt", 30),
    ];
    let mut all = BTreeSet::new();
    for (path, size) in specs {
        all.insert(upload(&app, "default", path, "text/plain", size).await.id);
    }
    app.run_jobs().await;

    for sort in ["created_at", "-created_at", "name", "-name", "size", "-size"] {
        let whole = ListFiles {
            sort: Some(sort.into()),
            limit: Some(1000),
            ..ListFiles::default()
        };
        let whole: Vec<String> = app
            .client
            .list_files(&whole)
            .await
            .expect("list")
            .items
            .into_iter()
            .map(|f| f.id)
            .collect();

        let mut visited = Vec::new();
        let mut pages = 0;
        let mut query = ListFiles {
            sort: Some(sort.into()),
            limit: Some(2),
            ..ListFiles::default()
        };
        loop {
            let page = app.client.list_files(&query).await.expect("page");
            pages += 1;
            assert!(page.items.len() <= 2);
            assert!(page.total.is_none(), "cursor pages carry no total");
            visited.extend(page.items.into_iter().map(|f| f.id));
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
            assert!(pages < 10, "pagination does not end");
        }
        assert_eq!(pages, 4, "sort={sort}: 7 files in pages of 2");
        assert_eq!(visited, whole, "sort={sort}: the pages follow the one-page order");
        assert_eq!(
            visited.iter().cloned().collect::<BTreeSet<_>>(),
            all,
            "sort={sort}: every file, once"
        );
        assert_eq!(visited.len(), all.len(), "sort={sort}: no file twice");
    }

    // The client's stream follows the cursors the same way.
    let query = ListFiles {
        sort: Some("-size".into()),
        limit: Some(3),
        ..ListFiles::default()
    };
    let streamed: Vec<FileView> = app.client.list_all_files(query).try_collect().await.expect("stream");
    assert_eq!(streamed.iter().map(|f| f.id.clone()).collect::<BTreeSet<_>>(), all);
    assert_eq!(streamed.len(), all.len());

    // A cursor belongs to its sort order.
    let first = app
        .client
        .list_files(&ListFiles {
            sort: Some("name".into()),
            limit: Some(2),
            ..ListFiles::default()
        })
        .await
        .expect("page");
    let replayed = ListFiles {
        sort: Some("size".into()),
        cursor: first.next_cursor,
        ..ListFiles::default()
    };
    assert_eq!(
        api_error(app.client.list_files(&replayed).await),
        err(400, "invalid-cursor")
    );
}

#[tokio::test]
async fn offset_pagination_reports_the_total() {
    let app = TestApp::spawn().await;
    five_files(&app).await;
    upload(&app, "default", "docs/f.txt", "text/plain", 60).await;
    upload(&app, "default", "docs/g.txt", "text/plain", 70).await;
    app.run_jobs().await;

    let page = |offset: u64| ListFiles {
        sort: Some("name".into()),
        limit: Some(3),
        offset: Some(offset),
        ..ListFiles::default()
    };
    let mut seen = Vec::new();
    for (offset, expected) in [(0, 3), (3, 3), (6, 1), (9, 0)] {
        let answer = app.client.list_files(&page(offset)).await.expect("page");
        assert_eq!(answer.total, Some(7), "offset={offset}");
        assert_eq!(answer.items.len(), expected, "offset={offset}");
        seen.extend(answer.items.into_iter().map(|f| f.name));
    }
    assert_eq!(seen, ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt", "f.txt", "g.txt"]);

    // The total counts what the filters keep.
    let filtered = ListFiles {
        min_size: Some(50),
        offset: Some(0),
        limit: Some(1),
        ..ListFiles::default()
    };
    assert_eq!(app.client.list_files(&filtered).await.expect("page").total, Some(3));

    let both = ListFiles {
        offset: Some(0),
        cursor: Some("x".into()),
        ..ListFiles::default()
    };
    assert_eq!(api_error(app.client.list_files(&both).await), err(400, "invalid-query"));
}

/// `café.txt` typed on a Mac (NFD: `e` + combining acute) and elsewhere (NFC: `é`) is one
/// path: both uploads are stored under the NFC name, and a prefix in either form lists
/// both. An invisible character that would make a look-alike name is refused.
#[tokio::test]
async fn names_that_look_the_same_are_one_path() {
    let app = TestApp::spawn().await;
    let nfd = "notes/cafe\u{301}.txt";
    let nfc = "notes/caf\u{e9}.txt";
    let first = upload(&app, "default", nfd, "text/plain", 10).await;
    let second = upload(&app, "default", nfc, "text/plain", 20).await;
    assert_eq!(first.path, nfc, "stored in NFC");
    assert_eq!(second.path, nfc);
    assert_eq!(first.name, second.name);
    for prefix in ["notes/cafe\u{301}", "notes/caf\u{e9}"] {
        let page = app
            .client
            .list_files(&ListFiles {
                prefix: Some(prefix.into()),
                ..ListFiles::bucket("default")
            })
            .await
            .expect("list");
        let paths: Vec<&str> = page.items.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, [nfc, nfc], "prefix {prefix:?}");
    }
    let zero_width = app
        .client
        .upload_bytes("default", "notes/caf\u{e9}\u{200b}.txt", "text/plain", "x".into())
        .await;
    assert_eq!(api_error(zero_width), err(400, "invalid-path"));
}
