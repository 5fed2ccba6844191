//! Paging: every sort order walked page by page with keyset cursors; offsets with totals.

use filegate_core::domain::{After, FileId, FileQuery, FileRecord, PageStart, Sort, SortKey};
use filegate_core::ports::Effects;

use super::{Queue, Store, bname, bucket, new_file, now, secs, tenant};

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
    store.create_bucket(&bucket(&a, "other"), &Effects::NONE).await.unwrap();
    let t = now();
    let mut files = Vec::new();
    for i in 0..23_i64 {
        // Names repeat across folders, sizes repeat, creation times come in groups of three:
        // only the id tells tied files apart.
        let mut f = new_file(&a, &format!("d{i}/n{}.txt", i % 5));
        f.size = [5, 5, 7, 9][(i % 4) as usize];
        f.created_at = t + secs(i / 3);
        files.push(store.insert_file(&f, &Effects::NONE).await.unwrap());
    }
    let mut elsewhere = new_file(&a, "d0/n0.txt");
    elsewhere.bucket = bname("other");
    store.insert_file(&elsewhere, &Effects::NONE).await.unwrap();

    for tag in ["created_at", "-created_at", "name", "-name", "size", "-size"] {
        let sort = Sort::parse(tag).unwrap();
        let limit = 4;
        let mut seen = Vec::new();
        let mut start = PageStart::First;
        for _ in 0..=files.len() {
            let query = FileQuery {
                bucket: Some(bname("default")),
                sort,
                limit,
                start,
                ..FileQuery::default()
            };
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
        files.push(store.insert_file(&f, &Effects::NONE).await.unwrap());
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
