//! Story scenarios every `SearchIndex` engine must pass, written against the port alone
//! (`Arc<dyn SearchIndex>` over a fresh, empty index): the documents are built here, so an
//! engine needs no metadata store to run them. `tests/postgres.rs` runs them on PostgreSQL.

#![allow(dead_code)]

mod filters;
mod matching;
mod suggest;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use filegate_core::domain::{
    FileId, FileStatus, MAX_SEARCH_MATCHES, SearchDocument, SearchFilter, SearchHits, SearchQuery, SearchSort,
    SearchText, TenantId,
};
use filegate_core::ports::SearchIndex;

pub use filters::*;
pub use matching::*;
pub use suggest::*;

pub type Index = Arc<dyn SearchIndex>;

/// Calls `$run!(scenario, …)` with every scenario's name.
macro_rules! search_scenarios {
    ($run:ident) => {
        $run!(
            typos_match_by_the_rules_and_not_beyond,
            every_typo_within_budget_is_found,
            the_last_word_being_typed_is_a_prefix,
            phrases_match_their_words_in_order,
            every_word_must_match_somewhere,
            hostile_queries_are_answered_not_failed,
            every_filter_narrows_the_search,
            relevance_and_list_orders_page_through_every_match_once,
            facets_count_the_whole_result,
            beyond_its_bound_a_search_works_on_the_newest_matches,
            other_tenants_and_owners_are_never_found_or_counted,
            suggestions_rank_by_files_within_their_scope,
            replaced_and_removed_documents_are_forgotten,
            clear_empties_one_tenant,
            concurrent_writes_of_one_file_keep_the_counts_exact,
        );
    };
}
pub(crate) use search_scenarios;

/// Now, at microsecond precision.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).expect("now is in range")
}

pub fn tid(s: &str) -> TenantId {
    TenantId::parse(s).expect("tenant id")
}

/// A ready document of `tenant` at `path` in bucket `default`, owned by `owner-1`.
pub fn doc(tenant: &str, path: &str) -> SearchDocument {
    let (folders, name) = match path.rsplit_once('/') {
        Some((dirs, name)) => (dirs.split('/').map(str::to_owned).collect(), name.to_owned()),
        None => (Vec::new(), path.to_owned()),
    };
    let t = now();
    SearchDocument {
        id: FileId::new(),
        tenant: tid(tenant),
        bucket: "default".into(),
        path: path.into(),
        name,
        folders,
        declared_type: "application/octet-stream".into(),
        sniffed_type: None,
        metadata: Vec::new(),
        external_id: None,
        owner: "owner-1".into(),
        status: FileStatus::Ready,
        size: 100,
        created_at: t,
        updated_at: t,
        image_width: None,
        image_height: None,
    }
}

/// Indexes documents at these paths of tenant `t`; their ids, in order.
pub async fn index_paths(index: &Index, tenant: &str, paths: &[&str]) -> Vec<SearchDocument> {
    let docs: Vec<SearchDocument> = paths.iter().map(|p| doc(tenant, p)).collect();
    index.upsert(&docs).await.expect("upsert");
    docs
}

/// A query of tenant `t` for `q`, every match on one page.
pub fn query(tenant: &str, q: &str) -> SearchQuery {
    SearchQuery {
        tenant: tid(tenant),
        text: SearchText::parse(q).expect("query text"),
        filter: SearchFilter::default(),
        sort: SearchSort::Relevance,
        offset: 0,
        limit: 100,
        facets: Vec::new(),
        now: now(),
        max_matches: MAX_SEARCH_MATCHES,
    }
}

pub async fn run(index: &Index, query: &SearchQuery) -> SearchHits {
    index
        .search(query)
        .await
        .unwrap_or_else(|e| panic!("search {:?}: {e}", query.text))
}

/// The paths of `docs` that `query` finds (any order), and checks the total agrees.
pub async fn found(index: &Index, docs: &[SearchDocument], query: &SearchQuery) -> BTreeSet<String> {
    let hits = run(index, query).await;
    assert_eq!(
        hits.total,
        hits.hits.len() as u64,
        "one page holds every match of {query:?}"
    );
    hits.hits
        .iter()
        .map(|h| {
            docs.iter()
                .find(|d| d.id == h.id)
                .map_or_else(|| format!("<unknown {}>", h.id), |d| d.path.clone())
        })
        .collect()
}

/// What `q` finds among `docs` of tenant `t`.
pub async fn find(index: &Index, docs: &[SearchDocument], tenant: &str, q: &str) -> BTreeSet<String> {
    found(index, docs, &query(tenant, q)).await
}

pub fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| (*p).to_owned()).collect()
}

pub fn ago(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    now - Duration::days(days)
}
