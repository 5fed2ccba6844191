//! The embedded index against the search rules: what is found (typos, prefixes, phrases),
//! what narrows it (every filter, tenant and owner), in which order and pages, what is
//! counted, what is completed, and what survives a restart.

use chrono::{Duration, TimeZone, Utc};
use filegate_core::domain::{
    BucketName, Facet, FileId, FileStatus, MAX_SEARCH_MATCHES, SearchDocument, SearchFilter, SearchQuery, SearchSort,
    SearchText, Sort, TenantId, TypeFilter,
};
use filegate_core::ports::SearchIndex;
use filegate_tantivy::TantivyIndex;

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

fn doc(tenant_name: &str, path: &str, size: u64, days_old: i64) -> SearchDocument {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    let (folders, name) = match path.rsplit_once('/') {
        Some((dirs, name)) => (dirs.split('/').map(str::to_owned).collect(), name.to_owned()),
        None => (Vec::new(), path.to_owned()),
    };
    SearchDocument {
        id: FileId::new(),
        tenant: tenant(tenant_name),
        bucket: "default".into(),
        path: path.into(),
        name,
        folders,
        declared_type: "application/octet-stream".into(),
        sniffed_type: None,
        metadata: Vec::new(),
        external_id: None,
        owner: "alice".into(),
        status: FileStatus::Ready,
        size,
        created_at: now - Duration::days(days_old),
        updated_at: now,
        image_width: None,
        image_height: None,
    }
}

fn query(tenant_name: &str, q: &str) -> SearchQuery {
    SearchQuery {
        tenant: tenant(tenant_name),
        text: SearchText::parse(q).unwrap(),
        filter: SearchFilter::default(),
        sort: SearchSort::Relevance,
        offset: 0,
        limit: 20,
        facets: Vec::new(),
        now: Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
        max_matches: MAX_SEARCH_MATCHES,
    }
}

async fn found(index: &TantivyIndex, q: &SearchQuery) -> Vec<FileId> {
    index.search(q).await.unwrap().hits.into_iter().map(|h| h.id).collect()
}

fn open() -> (tempfile::TempDir, TantivyIndex) {
    let dir = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(&dir.path().join("search")).unwrap();
    (dir, index)
}

#[tokio::test]
async fn words_match_exactly_with_typos_by_length_and_as_the_prefix_being_typed() {
    let (_dir, index) = open();
    let report = doc("acme", "2026/radiology/ward-report.pdf", 10, 1);
    let ward = doc("acme", "notes/word.txt", 10, 1);
    index.upsert(&[report.clone(), ward.clone()]).await.unwrap();

    assert_eq!(found(&index, &query("acme", "radiology ")).await, [report.id]);
    assert_eq!(
        found(&index, &query("acme", "radiolgy ")).await,
        [report.id],
        "1 edit in a 9-letter word"
    );
    assert_eq!(
        found(&index, &query("acme", "rdaiolozy ")).await,
        [report.id],
        "2 edits from 9 letters"
    );
    assert!(
        found(&index, &query("acme", "rdaiolozz ")).await.is_empty(),
        "3 edits is too many"
    );
    assert!(
        found(&index, &query("acme", "rdaiolgy ")).await.is_empty(),
        "8 letters tolerate 1 edit"
    );
    assert_eq!(
        found(&index, &query("acme", "reprot ")).await,
        [report.id],
        "a swap is one edit"
    );
    assert_eq!(
        found(&index, &query("acme", "ward ")).await,
        [report.id],
        "4 letters match exactly only"
    );
    assert_eq!(
        found(&index, &query("acme", "radio")).await,
        [report.id],
        "the word being typed is a prefix"
    );
    assert_eq!(
        found(&index, &query("acme", "ward rep")).await,
        [report.id],
        "every word must match"
    );
    assert!(found(&index, &query("acme", "ward notes ")).await.is_empty());
}

#[tokio::test]
async fn phrases_match_words_in_order_and_metadata_is_searched() {
    let (_dir, index) = open();
    let mut a = doc("acme", "a.csv", 1, 1);
    a.metadata = vec![("subject".into(), "patient 9434765919".into())];
    let mut b = doc("acme", "b.csv", 1, 1);
    b.metadata = vec![("subject".into(), "9434765919 patient".into())];
    index.upsert(&[a.clone(), b.clone()]).await.unwrap();

    assert_eq!(found(&index, &query("acme", r#""patient 9434765919""#)).await, [a.id]);
    let mut both = found(&index, &query("acme", "9434765919 ")).await;
    both.sort();
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(both, expected);
}

#[tokio::test]
async fn filters_tenants_and_owners_narrow_inside_the_query() {
    let (_dir, index) = open();
    let mut img = doc("acme", "photos/cat.png", 5_000, 2);
    img.declared_type = "image/png".into();
    img.bucket = "media".into();
    img.metadata = vec![("subject".into(), "42".into())];
    img.external_id = Some("ext-1".into());
    let mut csv = doc("acme", "photos/cat.csv", 500, 40);
    csv.declared_type = "text/csv".into();
    csv.owner = "bob".into();
    csv.status = FileStatus::Failed;
    let other_tenant = doc("globex", "photos/cat.png", 5_000, 2);
    index
        .upsert(&[img.clone(), csv.clone(), other_tenant.clone()])
        .await
        .unwrap();

    let with = |f: SearchFilter| {
        let mut q = query("acme", "cat ");
        q.filter = f;
        q
    };
    let mut all = found(&index, &query("acme", "cat ")).await;
    all.sort();
    let mut expected = vec![img.id, csv.id];
    expected.sort();
    assert_eq!(all, expected, "another tenant's file is never found");

    let cases = [
        SearchFilter {
            content_type: Some(TypeFilter::parse("image/*").unwrap()),
            ..Default::default()
        },
        SearchFilter {
            content_type: Some(TypeFilter::parse("image/png").unwrap()),
            ..Default::default()
        },
        SearchFilter {
            bucket: Some(BucketName::parse("media").unwrap()),
            ..Default::default()
        },
        SearchFilter {
            prefix: Some("photos/cat.p".into()),
            ..Default::default()
        },
        SearchFilter {
            status: Some(FileStatus::Ready),
            ..Default::default()
        },
        SearchFilter {
            size_min: Some(1_000),
            ..Default::default()
        },
        SearchFilter {
            created_after: Some(Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap()),
            ..Default::default()
        },
        SearchFilter {
            metadata: vec![("subject".into(), "42".into())],
            ..Default::default()
        },
        SearchFilter {
            external_id: Some("ext-1".into()),
            ..Default::default()
        },
        SearchFilter {
            owner: Some("alice".into()),
            ..Default::default()
        },
    ];
    for filter in cases {
        assert_eq!(found(&index, &with(filter.clone())).await, [img.id], "{filter:?}");
    }
    let none = SearchFilter {
        metadata: vec![("subject".into(), "4".into())],
        ..Default::default()
    };
    assert!(
        found(&index, &with(none)).await.is_empty(),
        "metadata values match whole"
    );
    let failed = SearchFilter {
        size_max: Some(500),
        owner: Some("bob".into()),
        ..Default::default()
    };
    assert_eq!(found(&index, &with(failed)).await, [csv.id]);
}

#[tokio::test]
async fn orders_pages_totals_and_facets_cover_the_whole_result() {
    let (_dir, index) = open();
    let docs: Vec<SearchDocument> = (0..25)
        .map(|i| {
            let mut d = doc("acme", &format!("ward/file-{i:02}.csv"), 1_000 * (i + 1), i as i64 * 20);
            if i % 5 == 0 {
                d.sniffed_type = Some("text/csv".into());
            }
            d
        })
        .collect();
    index.upsert(&docs).await.unwrap();

    let mut q = query("acme", "ward ");
    q.sort = SearchSort::By(Sort::parse("-size").unwrap());
    q.limit = 10;
    q.facets = vec![Facet::ContentType, Facet::Size, Facet::Created, Facet::Bucket];
    let first = index.search(&q).await.unwrap();
    assert_eq!(first.total, 25);
    let ids: Vec<FileId> = first.hits.iter().map(|h| h.id).collect();
    let biggest: Vec<FileId> = docs.iter().rev().take(10).map(|d| d.id).collect();
    assert_eq!(ids, biggest);
    q.offset = 20;
    let last = index.search(&q).await.unwrap();
    assert_eq!(last.hits.len(), 5);
    assert_eq!(last.hits.last().unwrap().id, docs[0].id);

    let types = &first.facets[&Facet::ContentType];
    assert_eq!(types[0], ("application/octet-stream".to_owned(), 20));
    assert_eq!(types[1], ("text/csv".to_owned(), 5));
    assert_eq!(first.facets[&Facet::Bucket], [("default".to_owned(), 25)]);
    let sizes = &first.facets[&Facet::Size];
    assert_eq!(sizes.iter().map(|(_, n)| n).sum::<u64>(), 25);
    assert_eq!(sizes[0], ("under_100kib".to_owned(), 25));
    let created = &first.facets[&Facet::Created];
    assert_eq!(created.iter().map(|(_, n)| n).sum::<u64>(), 25, "{created:?}");
    assert_eq!(created[0], ("past_day".to_owned(), 1));
}

#[tokio::test]
async fn suggestions_complete_names_folders_and_values_by_how_many_files_match() {
    let (_dir, index) = open();
    let mut docs = vec![
        doc("acme", "ward-a/one.csv", 1, 1),
        doc("acme", "ward-a/two.csv", 1, 1),
        doc("acme", "wardrobe.txt", 1, 1),
        doc("globex", "ward-z.txt", 1, 1),
    ];
    docs[2].owner = "bob".into();
    index.upsert(&docs).await.unwrap();

    let all = index.suggest(&tenant("acme"), "ward", None, 5).await.unwrap();
    let texts: Vec<(&str, u64)> = all.iter().map(|s| (s.text.as_str(), s.count)).collect();
    assert_eq!(texts[0], ("ward", 2));
    assert_eq!(texts[1], ("ward-a", 2));
    assert!(texts.contains(&("wardrobe.txt", 1)));
    assert!(
        !texts.iter().any(|(t, _)| t.contains('z')),
        "another tenant's words are never suggested"
    );

    let bobs = index.suggest(&tenant("acme"), "ward", Some("bob"), 5).await.unwrap();
    assert!(bobs.iter().all(|s| s.text.starts_with("wardrobe")), "{bobs:?}");

    index.remove(&tenant("acme"), &[docs[2].id]).await.unwrap();
    let after = index.suggest(&tenant("acme"), "wardr", None, 5).await.unwrap();
    assert!(after.is_empty(), "a removed file's words are not suggested: {after:?}");
}

#[tokio::test]
async fn changes_replace_entries_survive_a_restart_and_clear_empties_one_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search");
    let mut file = doc("acme", "old-name.txt", 1, 1);
    let other = doc("globex", "kept.txt", 1, 1);
    {
        let index = TantivyIndex::open(&path).unwrap();
        index.upsert(&[file.clone(), other.clone()]).await.unwrap();
        file.path = "new-name.txt".into();
        file.name = "new-name.txt".into();
        index.upsert(&[file.clone()]).await.unwrap();
    }
    let index = TantivyIndex::open(&path).unwrap();
    assert!(found(&index, &query("acme", "old ")).await.is_empty());
    assert_eq!(found(&index, &query("acme", "new ")).await, [file.id]);
    index.clear(&tenant("acme")).await.unwrap();
    assert!(found(&index, &query("acme", "")).await.is_empty());
    assert_eq!(found(&index, &query("globex", "")).await, [other.id]);
}

#[tokio::test]
async fn hostile_queries_are_answered_not_failed() {
    let (_dir, index) = open();
    index.upsert(&[doc("acme", "a.txt", 1, 1)]).await.unwrap();
    for q in [
        r#"" "#,
        r#"a" "b"#,
        "%_\\*?",
        "'; DROP TABLE files; --",
        "ẞ Ω ﷽",
        "a b c d e f g h i j k l m n o p",
    ] {
        let hits = index.search(&query("acme", q)).await;
        assert!(hits.is_ok(), "{q}: {hits:?}");
    }
    assert!(
        index
            .suggest(&tenant("acme"), "\u{10FFFF}", None, 5)
            .await
            .unwrap()
            .is_empty()
    );
}
