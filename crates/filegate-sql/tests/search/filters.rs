//! Filters, orders, pages and facets: all applied by the engine over the whole result, and
//! never beyond the tenant (and the owner, when the caller sees only its own files).

use chrono::Duration;
use filegate_core::domain::{
    BucketName, Facet, FileStatus, MAX_FACET_VALUES, SearchDocument, SearchFilter, SearchSort, Sort, SortKey,
    TypeFilter,
};

use super::{Index, ago, doc, find, found, now, query, run, set, tid};

fn filtered(filter: SearchFilter) -> filegate_core::domain::SearchQuery {
    let mut q = query("a", "");
    q.filter = filter;
    q
}

pub async fn every_filter_narrows_the_search(index: Index) {
    let t = now();
    let mut docs = Vec::new();
    let mut add = |path: &str, edit: &dyn Fn(&mut SearchDocument)| {
        let mut d = doc("a", path);
        edit(&mut d);
        // A word every file has, for the same filters under a query with words.
        d.metadata.push(("batch".into(), "common".into()));
        docs.push(d);
    };
    add("docs/a.csv", &|d| {
        d.declared_type = "text/csv".into();
        d.size = 10;
        d.created_at = ago(t, 3);
        d.metadata = vec![("subject".into(), "12".into()), ("ward".into(), "a".into())];
        d.external_id = Some("9434765919".into());
    });
    add("docs/sub/b.bin", &|d| {
        d.sniffed_type = Some("text/csv".into());
        d.size = 20;
        d.created_at = ago(t, 2);
        d.metadata = vec![("ward".into(), "a".into())];
    });
    add("docs2/c.png", &|d| {
        d.declared_type = "image/png".into();
        d.size = 30;
        d.created_at = ago(t, 1);
        d.status = FileStatus::Failed;
        d.metadata = vec![("subject".into(), "12".into()), ("ward".into(), "b".into())];
    });
    add("other/d.bin", &|d| {
        d.bucket = "other".into();
        d.sniffed_type = Some("image/jpeg".into());
        d.size = 40;
        d.owner = "owner-2".into();
    });
    add("img/e.x", &|d| {
        d.declared_type = "imagery/x".into();
        d.size = 50;
    });
    index.upsert(&docs).await.unwrap();

    let cases: Vec<(SearchFilter, Vec<&str>)> = vec![
        (
            SearchFilter::default(),
            vec!["docs/a.csv", "docs/sub/b.bin", "docs2/c.png", "other/d.bin", "img/e.x"],
        ),
        (
            SearchFilter {
                bucket: Some(BucketName::parse("other").unwrap()),
                ..Default::default()
            },
            vec!["other/d.bin"],
        ),
        (
            SearchFilter {
                prefix: Some("docs/".into()),
                ..Default::default()
            },
            vec!["docs/a.csv", "docs/sub/b.bin"],
        ),
        (
            SearchFilter {
                prefix: Some("docs".into()),
                ..Default::default()
            },
            vec!["docs/a.csv", "docs/sub/b.bin", "docs2/c.png"],
        ),
        // A type matches the declared or the sniffed one.
        (
            SearchFilter {
                content_type: Some(TypeFilter::parse("text/csv").unwrap()),
                ..Default::default()
            },
            vec!["docs/a.csv", "docs/sub/b.bin"],
        ),
        (
            SearchFilter {
                content_type: Some(TypeFilter::parse("image/*").unwrap()),
                ..Default::default()
            },
            vec!["docs2/c.png", "other/d.bin"],
        ),
        (
            SearchFilter {
                status: Some(FileStatus::Failed),
                ..Default::default()
            },
            vec!["docs2/c.png"],
        ),
        (
            SearchFilter {
                created_after: Some(ago(t, 4)),
                created_before: Some(ago(t, 1) - Duration::seconds(1)),
                ..Default::default()
            },
            vec!["docs/a.csv", "docs/sub/b.bin"],
        ),
        (
            SearchFilter {
                size_min: Some(20),
                size_max: Some(40),
                ..Default::default()
            },
            vec!["docs/sub/b.bin", "docs2/c.png", "other/d.bin"],
        ),
        (
            SearchFilter {
                size_min: Some(u64::MAX),
                ..Default::default()
            },
            vec![],
        ),
        (
            SearchFilter {
                metadata: vec![("ward".into(), "a".into())],
                ..Default::default()
            },
            vec!["docs/a.csv", "docs/sub/b.bin"],
        ),
        (
            SearchFilter {
                metadata: vec![("ward".into(), "a".into()), ("subject".into(), "12".into())],
                ..Default::default()
            },
            vec!["docs/a.csv"],
        ),
        (
            SearchFilter {
                metadata: vec![("ward".into(), "A".into())],
                ..Default::default()
            },
            vec![],
        ),
        (
            SearchFilter {
                external_id: Some("9434765919".into()),
                ..Default::default()
            },
            vec!["docs/a.csv"],
        ),
        (
            SearchFilter {
                owner: Some("owner-2".into()),
                ..Default::default()
            },
            vec!["other/d.bin"],
        ),
        (
            SearchFilter {
                prefix: Some("docs".into()),
                status: Some(FileStatus::Ready),
                metadata: vec![("ward".into(), "a".into())],
                size_max: Some(15),
                ..Default::default()
            },
            vec!["docs/a.csv"],
        ),
    ];
    for (filter, expected) in cases {
        let q = filtered(filter.clone());
        assert_eq!(found(&index, &docs, &q).await, set(&expected), "{filter:?}");
        // And with words: the filters narrow what the words find.
        let mut worded = q.clone();
        worded.text = filegate_core::domain::SearchText::parse("common ").unwrap();
        assert_eq!(
            found(&index, &docs, &worded).await,
            set(&expected),
            "{filter:?} with words"
        );
    }
}

pub async fn relevance_and_list_orders_page_through_every_match_once(index: Index) {
    let t = now();
    let mut docs: Vec<SearchDocument> = (0..23)
        .map(|i| {
            let mut d = doc("a", &format!("scans/scan-{:02}.pdf", (i * 7) % 23));
            d.size = [5, 10, 10, 20][i % 4];
            // Some share their time, so the id decides between them.
            d.created_at = t - Duration::seconds((i / 2) as i64);
            d
        })
        .collect();
    index.upsert(&docs).await.unwrap();
    docs.sort_by_key(|d| d.id.to_string());

    let key = |d: &SearchDocument, sort: Sort| match sort.key {
        SortKey::CreatedAt => format!("{:020}", d.created_at.timestamp_micros()),
        SortKey::Name => d.name.clone(),
        SortKey::Size => format!("{:020}", d.size),
    };
    for sort in [
        "relevance",
        "created_at",
        "-created_at",
        "name",
        "-name",
        "size",
        "-size",
    ] {
        let sort = SearchSort::parse(sort).unwrap();
        let mut q = query("a", "scan");
        q.sort = sort;
        let whole = run(&index, &q).await;
        assert_eq!(whole.total, 23);
        let mut paged = Vec::new();
        for offset in (0..23).step_by(5) {
            q.offset = offset;
            q.limit = 5;
            let page = run(&index, &q).await;
            assert_eq!(page.total, 23, "the total is of every match, on every page");
            assert_eq!(page.hits.len(), 5.min(23 - offset as usize));
            paged.extend(page.hits.iter().map(|h| h.id));
        }
        let whole: Vec<_> = whole.hits.iter().map(|h| h.id).collect();
        assert_eq!(paged, whole, "{sort:?}: pages are the whole order, cut");
        if let SearchSort::By(sort) = sort {
            let mut expected = docs.clone();
            expected.sort_by(|a, b| {
                key(a, sort)
                    .cmp(&key(b, sort))
                    .then(a.id.to_string().cmp(&b.id.to_string()))
            });
            if sort.descending {
                expected.reverse();
            }
            assert_eq!(whole, expected.iter().map(|d| d.id).collect::<Vec<_>>(), "{sort:?}");
        }
    }

    // Relevance: the name before a folder, the word as typed before a typo of it, then newest.
    let ranked = [
        ("radiology/older.pdf", 0),
        ("radiology.pdf", 0),
        ("radiolgy.pdf", 0),
        ("x/radiology-copy.pdf", 10),
        ("y/radiology-copy.pdf", 20),
    ];
    let mut more = Vec::new();
    for (path, age) in ranked {
        let mut d = doc("b", path);
        d.created_at = t - Duration::seconds(age);
        more.push(d);
    }
    index.upsert(&more).await.unwrap();
    let hits = run(&index, &query("b", "radiology ")).await;
    let order: Vec<&str> = hits
        .hits
        .iter()
        .map(|h| more.iter().find(|d| d.id == h.id).map_or("?", |d| d.path.as_str()))
        .collect();
    let place = |p: &str| order.iter().position(|o| *o == p).unwrap_or(usize::MAX);
    assert!(place("radiology.pdf") < place("radiolgy.pdf"), "{order:?}");
    assert!(place("radiology.pdf") < place("radiology/older.pdf"), "{order:?}");
    assert!(
        place("y/radiology-copy.pdf") > place("x/radiology-copy.pdf"),
        "newest first: {order:?}"
    );
    assert!(hits.hits.windows(2).all(|w| w[0].score >= w[1].score), "{hits:?}");
}

pub async fn facets_count_the_whole_result(index: Index) {
    let t = now();
    let mut docs = Vec::new();
    // More content types than a facet shows: 25, on 1 to 3 files each.
    for i in 0..25 {
        for j in 0..(1 + i % 3) {
            let mut d = doc("a", &format!("t{i}/f{j}.bin"));
            d.declared_type = format!("application/x-{i:02}");
            d.size = 1;
            docs.push(d);
        }
    }
    // The sniffed type counts, not the declared one.
    for (i, age, size) in [
        (0, 0, 50 << 10),
        (1, 3, 500 << 10),
        (2, 20, 5 << 20),
        (3, 100, 50 << 20),
        (4, 400, 200 << 20),
    ] {
        let mut d = doc("a", &format!("photos/p{i}.jpg"));
        d.declared_type = "application/octet-stream".into();
        d.sniffed_type = Some("image/jpeg".into());
        d.bucket = "photos".into();
        d.created_at = ago(t, age) - Duration::hours(1);
        d.size = size;
        docs.push(d);
    }
    index.upsert(&docs).await.unwrap();
    let total = docs.len() as u64;

    let mut q = query("a", "");
    q.limit = 2;
    q.now = t;
    q.facets = Facet::parse_list("content_type,bucket,created,size").unwrap();
    let hits = run(&index, &q).await;
    assert_eq!((hits.hits.len(), hits.total), (2, total));
    let types = &hits.facets[&Facet::ContentType];
    assert_eq!(types.len(), MAX_FACET_VALUES, "the most frequent values only");
    assert_eq!(types[0], ("image/jpeg".to_owned(), 5));
    assert!(types[1..].iter().all(|(_, n)| *n <= 3));
    assert!(
        types
            .windows(2)
            .all(|w| w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0)),
        "{types:?}"
    );
    assert!(
        !types.iter().any(|(t, _)| t == "application/octet-stream"),
        "the sniffed type is counted"
    );
    assert_eq!(
        hits.facets[&Facet::Bucket],
        [("default".to_owned(), total - 5), ("photos".to_owned(), 5)]
    );
    let ranges = |f: Facet| {
        hits.facets[&f]
            .iter()
            .map(|(l, n)| (l.as_str(), *n))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ranges(Facet::Created),
        [
            ("past_day", total - 4),
            ("past_week", 1),
            ("past_month", 1),
            ("past_year", 1),
            ("older", 1)
        ]
    );
    assert_eq!(
        ranges(Facet::Size),
        [
            ("under_100kib", total - 4),
            ("100kib_to_1mib", 1),
            ("1mib_to_10mib", 1),
            ("10mib_to_100mib", 1),
            ("100mib_and_over", 1)
        ]
    );

    // Over the words' result only; empty ranges are listed.
    let mut photos = query("a", "photos ");
    photos.now = t;
    photos.limit = 1;
    photos.facets = vec![Facet::Bucket, Facet::Size];
    let hits = run(&index, &photos).await;
    assert_eq!(hits.total, 5);
    assert_eq!(hits.facets[&Facet::Bucket], [("photos".to_owned(), 5)]);
    assert_eq!(hits.facets[&Facet::Size].iter().map(|(_, n)| n).sum::<u64>(), 5);
    assert!(!hits.facets.contains_key(&Facet::Created), "only the facets asked for");
}

pub async fn beyond_its_bound_a_search_works_on_the_newest_matches(index: Index) {
    let t = now();
    // Eight reports an hour apart (report-0 the newest), in two buckets, and a newer memo.
    let mut docs = Vec::new();
    for i in 0..8 {
        let mut d = doc("a", &format!("ward/report-{i}.pdf"));
        d.created_at = t - Duration::hours(i);
        d.bucket = if i % 2 == 0 { "even" } else { "odd" }.into();
        docs.push(d);
    }
    let mut memo = doc("a", "ward/memo.pdf");
    memo.created_at = t + Duration::minutes(1);
    docs.push(memo);
    index.upsert(&docs).await.unwrap();
    let paths = |hits: &filegate_core::domain::SearchHits| -> Vec<String> {
        hits.hits
            .iter()
            .map(|h| {
                docs.iter()
                    .find(|d| d.id == h.id)
                    .map_or("?".into(), |d| d.path.clone())
            })
            .collect()
    };
    let reports = |ns: &[u32]| -> Vec<String> { ns.iter().map(|n| format!("ward/report-{n}.pdf")).collect() };

    let mut q = query("a", "report");
    q.now = t;
    q.max_matches = 5;
    q.facets = vec![Facet::Bucket, Facet::Created];
    let hits = run(&index, &q).await;
    assert_eq!((hits.total, hits.total_is_lower_bound), (5, true), "at least 5");
    let mut found = paths(&hits);
    found.sort();
    assert_eq!(found, reports(&[0, 1, 2, 3, 4]), "the newest five are ranked");
    assert_eq!(
        hits.facets[&Facet::Bucket],
        [("even".to_owned(), 3), ("odd".to_owned(), 2)],
        "facets count the five"
    );
    assert_eq!(hits.facets[&Facet::Created].iter().map(|(_, n)| n).sum::<u64>(), 5);

    // Every order and page draws from the same five.
    q.sort = SearchSort::By(Sort {
        key: SortKey::Name,
        descending: true,
    });
    q.limit = 2;
    q.offset = 3;
    let hits = run(&index, &q).await;
    assert_eq!(paths(&hits), reports(&[1, 0]));
    assert!(hits.total_is_lower_bound);

    // At the bound or under it, the count is exact.
    q.offset = 0;
    q.limit = 100;
    for max in [8, 9, 100] {
        q.max_matches = max;
        let hits = run(&index, &q).await;
        assert_eq!(
            (hits.total, hits.total_is_lower_bound, hits.hits.len()),
            (8, false, 8),
            "{max}"
        );
    }

    // Without words, the newest of every file.
    let mut all = query("a", "");
    all.max_matches = 3;
    let hits = run(&index, &all).await;
    assert_eq!((hits.total, hits.total_is_lower_bound), (3, true));
    assert_eq!(
        paths(&hits),
        [
            "ward/memo.pdf".to_owned(),
            reports(&[0])[0].clone(),
            reports(&[1])[0].clone()
        ]
    );
}

pub async fn other_tenants_and_owners_are_never_found_or_counted(index: Index) {
    let mut mine = doc("a", "ward/report.pdf");
    mine.metadata = vec![("subject".into(), "12".into())];
    let mut theirs_owner = doc("a", "ward/theirs.pdf");
    theirs_owner.owner = "owner-2".into();
    let mut other_tenant = doc("b", "ward/report.pdf");
    other_tenant.metadata = vec![("subject".into(), "12".into())];
    let mut other_tenant_typo = doc("b", "ward/reprot-radiology.pdf");
    other_tenant_typo.owner = "owner-1".into();
    let docs = vec![
        mine.clone(),
        theirs_owner.clone(),
        other_tenant.clone(),
        other_tenant_typo,
    ];
    index.upsert(&docs).await.unwrap();

    assert_eq!(
        find(&index, &docs, "a", "ward ").await,
        set(&["ward/report.pdf", "ward/theirs.pdf"])
    );
    assert!(!run(&index, &query("a", "radiology ")).await.hits.iter().any(|_| true));
    let mut q = query("a", "report");
    q.facets = vec![Facet::Bucket, Facet::ContentType];
    let hits = run(&index, &q).await;
    assert_eq!(hits.hits.iter().map(|h| h.id).collect::<Vec<_>>(), [mine.id]);
    assert_eq!(hits.facets[&Facet::Bucket], [("default".to_owned(), 1)]);
    let mut by_meta = query("a", "");
    by_meta.filter.metadata = vec![("subject".into(), "12".into())];
    assert_eq!(
        run(&index, &by_meta)
            .await
            .hits
            .iter()
            .map(|h| h.id)
            .collect::<Vec<_>>(),
        [mine.id]
    );

    let mut own = query("a", "ward ");
    own.filter.owner = Some("owner-2".into());
    let hits = run(&index, &own).await;
    assert_eq!((hits.total, hits.hits[0].id), (1, theirs_owner.id));
    assert_eq!(find(&index, &docs, "c", "ward ").await, set(&[]));

    // Suggestions count the tenant's files only.
    let ward = index.suggest(&tid("a"), "war", None, 8).await.unwrap();
    assert_eq!(ward[0].text, "ward");
    assert_eq!(ward[0].count, 2);
    let ward = index.suggest(&tid("a"), "war", Some("owner-2"), 8).await.unwrap();
    assert_eq!((ward[0].text.as_str(), ward[0].count), ("ward", 1));
    assert!(index.suggest(&tid("a"), "repr", None, 8).await.unwrap().is_empty());
    assert!(index.suggest(&tid("c"), "war", None, 8).await.unwrap().is_empty());
}
