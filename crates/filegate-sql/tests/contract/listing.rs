//! Listing filters: each one alone, and together.

use filegate_core::ports::Effects;
use std::collections::BTreeSet;

use filegate_core::domain::{FileQuery, FileRecord, FileStatus, Metadata, TenantId};

use super::{Queue, Store, bname, bucket, ct, new_file, now, secs, tenant};

async fn paths(store: &Store, tenant: &TenantId, query: FileQuery) -> BTreeSet<String> {
    let query = FileQuery { limit: 1000, ..query };
    let (items, total) = store.list_files(tenant, &query).await.unwrap();
    assert_eq!(total, None, "no total without an offset");
    items.into_iter().map(|f| f.path.to_string()).collect()
}

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| (*p).to_owned()).collect()
}

pub async fn list_applies_every_filter(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    store.create_bucket(&bucket(&a, "other"), &Effects::NONE).await.unwrap();
    let t = now();
    let specs = [
        (
            "default",
            "docs/a.txt",
            "text/plain; charset=utf-8",
            10,
            -100,
            FileStatus::Ready,
        ),
        ("default", "docs/sub/b.csv", "text/csv", 20, -50, FileStatus::Ready),
        (
            "default",
            "docs2/c.csv",
            "text/csv; charset=utf-8",
            30,
            -10,
            FileStatus::Pending,
        ),
        ("other", "docs/d.png", "image/png", 40, 0, FileStatus::Ready),
        ("default", "img/e.jpg", "image/jpeg", 50, 10, FileStatus::Failed),
        ("default", "img/f.x", "imagery/x", 60, 20, FileStatus::Ready),
        ("default", "docs/gone.txt", "text/plain", 70, 30, FileStatus::Deleted),
        ("default", "docs/purged.txt", "text/plain", 80, 40, FileStatus::Purged),
        ("other", "q/h.raw", "image.x/raw", 45, 5, FileStatus::Quarantined),
    ];
    for (bucket, path, content_type, size, age, status) in specs {
        let mut f = new_file(&a, path);
        f.bucket = bname(bucket);
        f.content_type = ct(content_type);
        f.size = size;
        f.created_at = t + secs(age);
        f.status = status;
        store.insert_file(&f, &Effects::NONE).await.unwrap();
    }
    store
        .insert_file(&new_file(&b, "docs/a.txt"), &Effects::NONE)
        .await
        .unwrap();

    let q = FileQuery::default;
    let live = [
        "docs/a.txt",
        "docs/sub/b.csv",
        "docs2/c.csv",
        "docs/d.png",
        "img/e.jpg",
        "img/f.x",
        "q/h.raw",
    ];
    assert_eq!(
        paths(&store, &a, q()).await,
        set(&live),
        "no status: all but deleted and purged"
    );
    let cases: Vec<(FileQuery, &[&str])> = vec![
        (
            FileQuery {
                bucket: Some(bname("default")),
                ..q()
            },
            &["docs/a.txt", "docs/sub/b.csv", "docs2/c.csv", "img/e.jpg", "img/f.x"],
        ),
        (
            FileQuery {
                bucket: Some(bname("other")),
                ..q()
            },
            &["docs/d.png", "q/h.raw"],
        ),
        (
            FileQuery {
                prefix: Some("docs/".into()),
                ..q()
            },
            &["docs/a.txt", "docs/sub/b.csv", "docs/d.png"],
        ),
        (
            FileQuery {
                prefix: Some("docs".into()),
                ..q()
            },
            &["docs/a.txt", "docs/sub/b.csv", "docs2/c.csv", "docs/d.png"],
        ),
        (
            FileQuery {
                prefix: Some("docs/sub/".into()),
                ..q()
            },
            &["docs/sub/b.csv"],
        ),
        (
            FileQuery {
                prefix: Some(String::new()),
                ..q()
            },
            &live,
        ),
        (
            FileQuery {
                status: Some(FileStatus::Ready),
                ..q()
            },
            &["docs/a.txt", "docs/sub/b.csv", "docs/d.png", "img/f.x"],
        ),
        (
            FileQuery {
                status: Some(FileStatus::Deleted),
                ..q()
            },
            &["docs/gone.txt"],
        ),
        (
            FileQuery {
                status: Some(FileStatus::Purged),
                ..q()
            },
            &["docs/purged.txt"],
        ),
        (
            FileQuery {
                content_type: Some("text/csv".into()),
                ..q()
            },
            &["docs/sub/b.csv", "docs2/c.csv"],
        ),
        (
            FileQuery {
                content_type: Some("text/*".into()),
                ..q()
            },
            &["docs/a.txt", "docs/sub/b.csv", "docs2/c.csv"],
        ),
        (
            FileQuery {
                content_type: Some("image/*".into()),
                ..q()
            },
            &["docs/d.png", "img/e.jpg"],
        ),
        (
            FileQuery {
                content_type: Some("image/png".into()),
                ..q()
            },
            &["docs/d.png"],
        ),
        (
            FileQuery {
                content_type: Some("*/*".into()),
                ..q()
            },
            &live,
        ),
        (
            FileQuery {
                content_type: Some("text/plain; charset=utf-8".into()),
                ..q()
            },
            &["docs/a.txt"],
        ),
        (
            FileQuery {
                created_after: Some(t - secs(50)),
                ..q()
            },
            &["docs2/c.csv", "docs/d.png", "img/e.jpg", "img/f.x", "q/h.raw"],
        ),
        (
            FileQuery {
                created_before: Some(t),
                ..q()
            },
            &["docs/a.txt", "docs/sub/b.csv", "docs2/c.csv"],
        ),
        (
            FileQuery {
                created_after: Some(t - secs(100)),
                created_before: Some(t + secs(10)),
                ..q()
            },
            &["docs/sub/b.csv", "docs2/c.csv", "docs/d.png", "q/h.raw"],
        ),
        (
            FileQuery {
                min_size: Some(30),
                ..q()
            },
            &["docs2/c.csv", "docs/d.png", "img/e.jpg", "img/f.x", "q/h.raw"],
        ),
        (
            FileQuery {
                max_size: Some(30),
                ..q()
            },
            &["docs/a.txt", "docs/sub/b.csv", "docs2/c.csv"],
        ),
        (
            FileQuery {
                min_size: Some(20),
                max_size: Some(40),
                ..q()
            },
            &["docs/sub/b.csv", "docs2/c.csv", "docs/d.png"],
        ),
        (
            FileQuery {
                min_size: Some(u64::MAX),
                ..q()
            },
            &[],
        ),
        (
            FileQuery {
                max_size: Some(u64::MAX),
                ..q()
            },
            &live,
        ),
        (
            FileQuery {
                bucket: Some(bname("default")),
                prefix: Some("docs".into()),
                content_type: Some("text/*".into()),
                status: Some(FileStatus::Ready),
                ..q()
            },
            &["docs/a.txt", "docs/sub/b.csv"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(paths(&store, &a, query.clone()).await, set(expected), "{query:?}");
    }
}

pub async fn prefix_characters_are_literal(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    for path in [
        "100%/a", "100x/b", "1000/c", "a_b/c", "axb/d", "Docs/e", "docs/f", "été/x", "étz/y",
    ] {
        store.insert_file(&new_file(&a, path), &Effects::NONE).await.unwrap();
    }
    let by_prefix = |p: &str| FileQuery {
        prefix: Some(p.into()),
        ..FileQuery::default()
    };
    assert_eq!(paths(&store, &a, by_prefix("100%")).await, set(&["100%/a"]));
    assert_eq!(paths(&store, &a, by_prefix("a_b")).await, set(&["a_b/c"]));
    assert_eq!(paths(&store, &a, by_prefix("%")).await, set(&[]));
    assert_eq!(paths(&store, &a, by_prefix("_")).await, set(&[]));
    assert_eq!(
        paths(&store, &a, by_prefix("docs/")).await,
        set(&["docs/f"]),
        "case-sensitive"
    );
    assert_eq!(paths(&store, &a, by_prefix("été")).await, set(&["été/x"]));
}

/// A partner's machine lists only what it uploaded: the owner filter, with the total.
pub async fn a_listing_narrowed_to_an_owner(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    for (path, owner) in [("x/1", "partner"), ("x/2", "someone"), ("x/3", "partner")] {
        let mut f = new_file(&a, path);
        f.owner = owner.to_owned();
        store.insert_file(&f, &Effects::NONE).await.unwrap();
    }
    let mine = FileQuery {
        owner: Some("partner".into()),
        ..FileQuery::default()
    };
    assert_eq!(paths(&store, &a, mine.clone()).await, set(&["x/1", "x/3"]));
    let counted = FileQuery {
        start: filegate_core::domain::PageStart::Offset(0),
        limit: 10,
        ..mine
    };
    assert_eq!(store.list_files(&a, &counted).await.unwrap().1, Some(2));
    assert_eq!(
        paths(&store, &a, FileQuery::default()).await.len(),
        3,
        "no owner: everyone's"
    );
}

fn with_metadata(tenant: &TenantId, path: &str, pairs: &[(&str, &str)], external_id: Option<&str>) -> FileRecord {
    let mut f = new_file(tenant, path);
    f.metadata = Metadata::parse(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()).unwrap();
    f.external_id = external_id.map(str::to_owned);
    f
}

fn by_metadata(pairs: &[(&str, &str)]) -> FileQuery {
    FileQuery {
        metadata: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..FileQuery::default()
    }
}

/// Seed 001's clinician: a patient's files by their number, as metadata or as the external
/// id, with any other filter, never another tenant's, and kept current when the metadata
/// changes.
pub async fn list_finds_files_by_metadata_and_external_id(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let patient = "9434765919";
    for f in [
        with_metadata(&a, "p1/scan.pdf", &[("subject", patient), ("ward", "a")], Some(patient)),
        with_metadata(
            &a,
            "p1/report.pdf",
            &[("subject", patient), ("ward", "b")],
            Some(patient),
        ),
        with_metadata(
            &a,
            "p2/scan.pdf",
            &[("subject", "1111111111"), ("ward", "a")],
            Some("1111111111"),
        ),
        with_metadata(&a, "odd/x", &[("note", "it's \"x\" 100% _\\")], None),
        with_metadata(&b, "p1/scan.pdf", &[("subject", patient)], Some(patient)),
    ] {
        store.insert_file(&f, &Effects::NONE).await.unwrap();
    }
    let mut gone = with_metadata(&a, "p1/gone.pdf", &[("subject", patient)], Some(patient));
    gone.status = FileStatus::Deleted;
    store.insert_file(&gone, &Effects::NONE).await.unwrap();

    let cases: Vec<(FileQuery, &[&str])> = vec![
        (by_metadata(&[("subject", patient)]), &["p1/scan.pdf", "p1/report.pdf"]),
        (by_metadata(&[("subject", patient), ("ward", "a")]), &["p1/scan.pdf"]),
        (
            by_metadata(&[("ward", "a"), ("subject", patient), ("ward", "a")]),
            &["p1/scan.pdf"],
        ),
        (by_metadata(&[("ward", "a"), ("ward", "b")]), &[]),
        (by_metadata(&[("ward", "A")]), &[]),
        (by_metadata(&[("nothing", "a")]), &[]),
        (by_metadata(&[("subject", "943476591")]), &[]),
        (by_metadata(&[("note", "it's \"x\" 100% _\\")]), &["odd/x"]),
        (by_metadata(&[("note", "\0")]), &[]),
        (
            FileQuery {
                external_id: Some(patient.into()),
                ..FileQuery::default()
            },
            &["p1/scan.pdf", "p1/report.pdf"],
        ),
        (
            FileQuery {
                external_id: Some(patient.into()),
                ..by_metadata(&[("ward", "b")])
            },
            &["p1/report.pdf"],
        ),
        (
            FileQuery {
                external_id: Some("1111111111".into()),
                prefix: Some("p1/".into()),
                ..FileQuery::default()
            },
            &[],
        ),
        (
            FileQuery {
                status: Some(FileStatus::Deleted),
                ..by_metadata(&[("subject", patient)])
            },
            &["p1/gone.pdf"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(paths(&store, &a, query.clone()).await, set(expected), "{query:?}");
    }

    // A change of metadata moves the file from one answer to the other.
    let (found, _) = store
        .list_files(
            &a,
            &FileQuery {
                limit: 10,
                ..by_metadata(&[("subject", "1111111111")])
            },
        )
        .await
        .unwrap();
    let mut moved = found[0].clone();
    moved.metadata = Metadata::parse([("subject".to_owned(), patient.to_owned())].into()).unwrap();
    store
        .update_file(&moved, &[FileStatus::Pending], &Effects::NONE)
        .await
        .unwrap();
    assert_eq!(
        paths(&store, &a, by_metadata(&[("subject", "1111111111")])).await,
        set(&[])
    );
    assert_eq!(
        paths(&store, &a, by_metadata(&[("subject", patient)])).await,
        set(&["p1/scan.pdf", "p1/report.pdf", "p2/scan.pdf"])
    );
    assert_eq!(
        paths(&store, &a, by_metadata(&[("ward", "a")])).await,
        set(&["p1/scan.pdf"]),
        "the pairs it no longer has are gone"
    );

    // Pages of a filtered list: every file once, by cursor and by offset with the total.
    for i in 0..5 {
        store
            .insert_file(
                &with_metadata(&a, &format!("series/{i}"), &[("series", "s-1")], None),
                &Effects::NONE,
            )
            .await
            .unwrap();
    }
    let series = FileQuery {
        limit: 2,
        sort: filegate_core::domain::Sort::parse("name").unwrap(),
        ..by_metadata(&[("series", "s-1")])
    };
    let mut seen = Vec::new();
    let mut start = filegate_core::domain::PageStart::First;
    loop {
        let (rows, _) = store
            .list_files(
                &a,
                &FileQuery {
                    start,
                    ..series.clone()
                },
            )
            .await
            .unwrap();
        let page = &rows[..rows.len().min(2)];
        seen.extend(page.iter().map(|f| f.path.to_string()));
        if rows.len() <= 2 {
            break;
        }
        start = filegate_core::domain::PageStart::After(filegate_core::domain::After::of(
            page.last().unwrap(),
            filegate_core::domain::SortKey::Name,
        ));
    }
    assert_eq!(seen, ["series/0", "series/1", "series/2", "series/3", "series/4"]);
    let (rows, total) = store
        .list_files(
            &a,
            &FileQuery {
                start: filegate_core::domain::PageStart::Offset(4),
                ..series
            },
        )
        .await
        .unwrap();
    assert_eq!((rows.len(), total), (1, Some(5)));
}
