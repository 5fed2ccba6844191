//! Listing: every filter, every sort order with keyset pagination, offsets with totals.

use std::collections::BTreeSet;

use filegate_core::domain::{
    After, FileId, FileQuery, FileRecord, FileStatus, PageStart, Sort, SortKey, TenantId,
};

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
    store.create_bucket(&bucket(&a, "other")).await.unwrap();
    let t = now();
    let specs = [
        ("default", "docs/a.txt", "text/plain; charset=utf-8", 10, -100, FileStatus::Ready),
        ("default", "docs/sub/b.csv", "text/csv", 20, -50, FileStatus::Ready),
        ("default", "docs2/c.csv", "text/csv; charset=utf-8", 30, -10, FileStatus::Pending),
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
        store.insert_file(&f).await.unwrap();
    }
    store.insert_file(&new_file(&b, "docs/a.txt")).await.unwrap();

    let q = FileQuery::default;
    let live = ["docs/a.txt", "docs/sub/b.csv", "docs2/c.csv", "docs/d.png", "img/e.jpg", "img/f.x", "q/h.raw"];
    assert_eq!(paths(&store, &a, q()).await, set(&live), "no status: all but deleted and purged");
    let cases: Vec<(FileQuery, &[&str])> = vec![
        (FileQuery { bucket: Some(bname("default")), ..q() }, &["docs/a.txt", "docs/sub/b.csv", "docs2/c.csv", "img/e.jpg", "img/f.x"]),
        (FileQuery { bucket: Some(bname("other")), ..q() }, &["docs/d.png", "q/h.raw"]),
        (FileQuery { prefix: Some("docs/".into()), ..q() }, &["docs/a.txt", "docs/sub/b.csv", "docs/d.png"]),
        (FileQuery { prefix: Some("docs".into()), ..q() }, &["docs/a.txt", "docs/sub/b.csv", "docs2/c.csv", "docs/d.png"]),
        (FileQuery { prefix: Some("docs/sub/".into()), ..q() }, &["docs/sub/b.csv"]),
        (FileQuery { prefix: Some(String::new()), ..q() }, &live),
        (FileQuery { status: Some(FileStatus::Ready), ..q() }, &["docs/a.txt", "docs/sub/b.csv", "docs/d.png", "img/f.x"]),
        (FileQuery { status: Some(FileStatus::Deleted), ..q() }, &["docs/gone.txt"]),
        (FileQuery { status: Some(FileStatus::Purged), ..q() }, &["docs/purged.txt"]),
        (FileQuery { content_type: Some("text/csv".into()), ..q() }, &["docs/sub/b.csv", "docs2/c.csv"]),
        (FileQuery { content_type: Some("text/*".into()), ..q() }, &["docs/a.txt", "docs/sub/b.csv", "docs2/c.csv"]),
        (FileQuery { content_type: Some("image/*".into()), ..q() }, &["docs/d.png", "img/e.jpg"]),
        (FileQuery { content_type: Some("image/png".into()), ..q() }, &["docs/d.png"]),
        (FileQuery { content_type: Some("*/*".into()), ..q() }, &live),
        (FileQuery { content_type: Some("text/plain; charset=utf-8".into()), ..q() }, &["docs/a.txt"]),
        (FileQuery { created_after: Some(t - secs(50)), ..q() }, &["docs2/c.csv", "docs/d.png", "img/e.jpg", "img/f.x", "q/h.raw"]),
        (FileQuery { created_before: Some(t), ..q() }, &["docs/a.txt", "docs/sub/b.csv", "docs2/c.csv"]),
        (
            FileQuery { created_after: Some(t - secs(100)), created_before: Some(t + secs(10)), ..q() },
            &["docs/sub/b.csv", "docs2/c.csv", "docs/d.png", "q/h.raw"],
        ),
        (FileQuery { min_size: Some(30), ..q() }, &["docs2/c.csv", "docs/d.png", "img/e.jpg", "img/f.x", "q/h.raw"]),
        (FileQuery { max_size: Some(30), ..q() }, &["docs/a.txt", "docs/sub/b.csv", "docs2/c.csv"]),
        (FileQuery { min_size: Some(20), max_size: Some(40), ..q() }, &["docs/sub/b.csv", "docs2/c.csv", "docs/d.png"]),
        (FileQuery { min_size: Some(u64::MAX), ..q() }, &[]),
        (FileQuery { max_size: Some(u64::MAX), ..q() }, &live),
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
    for path in ["100%/a", "100x/b", "1000/c", "a_b/c", "axb/d", "Docs/e", "docs/f", "été/x", "étz/y"] {
        store.insert_file(&new_file(&a, path)).await.unwrap();
    }
    let by_prefix = |p: &str| FileQuery { prefix: Some(p.into()), ..FileQuery::default() };
    assert_eq!(paths(&store, &a, by_prefix("100%")).await, set(&["100%/a"]));
    assert_eq!(paths(&store, &a, by_prefix("a_b")).await, set(&["a_b/c"]));
    assert_eq!(paths(&store, &a, by_prefix("%")).await, set(&[]));
    assert_eq!(paths(&store, &a, by_prefix("_")).await, set(&[]));
    assert_eq!(paths(&store, &a, by_prefix("docs/")).await, set(&["docs/f"]), "case-sensitive");
    assert_eq!(paths(&store, &a, by_prefix("été")).await, set(&["été/x"]));
}

fn expected_order(files: &[FileRecord], sort: Sort) -> Vec<FileId> {
    let mut sorted = files.to_vec();
    sorted.sort_by(|x, y| {
        let by_key = match sort.key {
            SortKey::CreatedAt => x.created_at.cmp(&y.created_at),
            SortKey::Name => x.name().cmp(y.name()),
            SortKey::Size => x.size.cmp(&y.size),
        };
        by_key.then(x.id.cmp(&y.id))
    });
    if sort.descending {
        sorted.reverse();
    }
    sorted.into_iter().map(|f| f.id).collect()
}

pub async fn every_sort_order_pages_through_every_file_once(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    store.create_bucket(&bucket(&a, "other")).await.unwrap();
    let t = now();
    let mut files = Vec::new();
    for i in 0..23_i64 {
        // Names repeat across folders, sizes repeat, creation times come in groups of three:
        // only the id tells tied files apart.
        let mut f = new_file(&a, &format!("d{i}/n{}.txt", i % 5));
        f.size = [5, 5, 7, 9][(i % 4) as usize];
        f.created_at = t + secs(i / 3);
        files.push(store.insert_file(&f).await.unwrap());
    }
    let mut elsewhere = new_file(&a, "d0/n0.txt");
    elsewhere.bucket = bname("other");
    store.insert_file(&elsewhere).await.unwrap();

    for tag in ["created_at", "-created_at", "name", "-name", "size", "-size"] {
        let sort = Sort::parse(tag).unwrap();
        let limit = 4;
        let mut seen = Vec::new();
        let mut start = PageStart::First;
        for _ in 0..=files.len() {
            let query = FileQuery { bucket: Some(bname("default")), sort, limit, start, ..FileQuery::default() };
            let (rows, total) = store.list_files(&a, &query).await.unwrap();
            assert_eq!(total, None);
            assert!(rows.len() <= limit as usize + 1, "{tag}: at most limit + 1 rows");
            let more = rows.len() > limit as usize;
            let page = &rows[..rows.len().min(limit as usize)];
            seen.extend(page.iter().map(|f| f.id));
            if !more {
                break;
            }
            start = PageStart::After(After::of(page.last().unwrap(), sort.key));
        }
        assert_eq!(seen, expected_order(&files, sort), "{tag}: every file once, in order");
    }
}

pub async fn offset_pages_report_the_total(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let mut files = Vec::new();
    for i in 0..12_u64 {
        let mut f = new_file(&a, &format!("f{i:02}"));
        f.size = i;
        files.push(store.insert_file(&f).await.unwrap());
    }
    let sort = Sort::parse("-size").unwrap();
    let order = expected_order(&files, sort);
    let page = |offset: u64, min_size: Option<u64>| FileQuery {
        sort,
        limit: 5,
        start: PageStart::Offset(offset),
        min_size,
        ..FileQuery::default()
    };
    let ids = |rows: Vec<FileRecord>| rows.into_iter().map(|f| f.id).collect::<Vec<_>>();

    let (rows, total) = store.list_files(&a, &page(0, None)).await.unwrap();
    assert_eq!((ids(rows), total), (order[..6].to_vec(), Some(12)));
    let (rows, total) = store.list_files(&a, &page(5, None)).await.unwrap();
    assert_eq!((ids(rows), total), (order[5..11].to_vec(), Some(12)));
    let (rows, total) = store.list_files(&a, &page(10, None)).await.unwrap();
    assert_eq!((ids(rows), total), (order[10..].to_vec(), Some(12)));
    let (rows, total) = store.list_files(&a, &page(50, None)).await.unwrap();
    assert_eq!((ids(rows), total), (vec![], Some(12)));
    // The total counts what the filters keep.
    let (rows, total) = store.list_files(&a, &page(0, Some(6))).await.unwrap();
    assert_eq!((ids(rows), total), (order[..6].to_vec(), Some(6)));
}
