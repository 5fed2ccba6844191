//! One search as one statement: the newest matches (words and every filter in the `WHERE`
//! clause, so a page is never short), at most the query's `max_matches`, are gathered and
//! ranked once, then the page, the total and each facet are read from them, each as rows of
//! `(part, label, n, score)`.

use std::collections::BTreeSet;

use filegate_core::StoreError;
use filegate_core::domain::{
    Facet, FacetCounts, FacetRange, FileId, MAX_FACET_VALUES, SearchFilter, SearchHit, SearchHits, SearchQuery,
    SearchSort, SortKey, TypeFilter, created_ranges, size_ranges,
};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::text::TsQueries;
use crate::convert::{count, micros, to_i64};
use crate::dialect::Dialect as _;
use crate::errors::{bad_row, store_err};
use crate::listing::{metadata_pairs, prefix_end};

/// The `part` of a row: a hit of the page (`label` its id, `n` its place), the total, or the
/// count of one facet value.
const PAGE: i32 = 0;
const TOTAL: i32 = 1;

fn facet_part(facet: Facet) -> i32 {
    match facet {
        Facet::ContentType => 2,
        Facet::Bucket => 3,
        Facet::Created => 4,
        Facet::Size => 5,
    }
}

/// The column a facet counts by.
fn facet_column(facet: Facet) -> &'static str {
    match facet {
        Facet::ContentType => "content_type",
        Facet::Bucket => "bucket",
        Facet::Created => "created_at",
        Facet::Size => "size",
    }
}

type Row = (i32, String, i64, f32);

pub(super) async fn run(
    conn: &mut PgConnection,
    query: &SearchQuery,
    text: Option<&TsQueries>,
) -> Result<SearchHits, StoreError> {
    let rows: Vec<Row> = statement(query, text)
        .build_query_as()
        .fetch_all(conn)
        .await
        .map_err(store_err)?;
    decode(query, rows)
}

fn statement(query: &SearchQuery, text: Option<&TsQueries>) -> QueryBuilder<Postgres> {
    // The matches carry only what the order and the facets read: they may be many, and a
    // narrow row keeps them in memory.
    let mut columns = BTreeSet::from(["file_id", "created_at"]);
    if let SearchSort::By(sort) = query.sort {
        columns.insert(sort_column(sort.key));
    }
    columns.extend(query.facets.iter().map(|&f| facet_column(f)));
    let columns = columns.into_iter().collect::<Vec<_>>().join(", ");
    let max = i64::from(query.max_matches);

    // The newest matches, one more than the search works on (that one only says there are
    // more): the planner either walks the tenant's files newest first and stops, when the
    // words are common, or takes the few that have them from the word index.
    let words = if text.is_some() { ", words" } else { "" };
    let mut q = QueryBuilder::new(format!(
        "WITH newest AS MATERIALIZED (SELECT {columns}{words} FROM search_documents WHERE tenant = "
    ));
    q.push_bind(query.tenant.as_str().to_owned());
    if let Some(ts) = text {
        q.push(" AND words @@ ").push_bind(ts.all.clone()).push("::tsquery");
    }
    push_filters(&mut q, query.tenant.as_str(), &query.filter);
    q.push(" ORDER BY created_at DESC, file_id DESC LIMIT ")
        .push_bind(max + 1);

    // Those the search works on, ranked: only they are scored.
    q.push(format!("), hits AS MATERIALIZED (SELECT {columns}, "));
    match text {
        Some(ts) => {
            q.push("(ts_rank(words, ").push_bind(ts.all.clone()).push("::tsquery)");
            if ts.expanded {
                // A match with a word as typed ranks above every match found through
                // typos only.
                q.push(" + CASE WHEN words @@ ")
                    .push_bind(ts.exact.clone())
                    .push("::tsquery THEN 1 ELSE 0 END");
            }
            q.push(")::real AS score");
        }
        None => {
            q.push("0::real AS score");
        }
    }
    q.push(" FROM newest ORDER BY created_at DESC, file_id DESC LIMIT ")
        .push_bind(max);

    let order = order_by(query.sort);
    q.push(format_args!(
        "), page AS (SELECT file_id, score, row_number() OVER (ORDER BY {order}) AS n \
         FROM (SELECT * FROM hits ORDER BY {order} LIMIT "
    ))
    .push_bind(i64::from(query.limit))
    .push(" OFFSET ")
    .push_bind(i64::from(query.offset))
    .push(format_args!(
        ") p) SELECT {PAGE}, file_id, n, score FROM page \
         UNION ALL SELECT {TOTAL}, '', count(*), 0 FROM newest"
    ));
    for &facet in &query.facets {
        let (part, column) = (facet_part(facet), facet_column(facet));
        match facet {
            Facet::ContentType | Facet::Bucket => {
                q.push(format_args!(
                    " UNION ALL (SELECT {part}, {column}, count(*), 0 FROM hits GROUP BY {column} \
                     ORDER BY count(*) DESC, {column} LIMIT {MAX_FACET_VALUES})"
                ));
            }
            Facet::Created | Facet::Size => {
                q.push(format_args!(" UNION ALL SELECT {part}, "));
                push_range_label(&mut q, column, &ranges(facet, query));
                q.push(" AS label, count(*), 0 FROM hits GROUP BY label");
            }
        }
    }
    q
}

/// `ORDER BY` of the hits: best match then newest, or the list's order; the id breaks ties.
fn order_by(sort: SearchSort) -> String {
    match sort {
        SearchSort::Relevance => "score DESC, created_at DESC, file_id DESC".to_owned(),
        SearchSort::By(sort) => {
            let dir = if sort.descending { "DESC" } else { "ASC" };
            format!("{} {dir}, file_id {dir}", sort_column(sort.key))
        }
    }
}

fn sort_column(key: SortKey) -> &'static str {
    match key {
        SortKey::CreatedAt => "created_at",
        SortKey::Name => "name",
        SortKey::Size => "size",
    }
}

/// The ranges of a range facet.
fn ranges(facet: Facet, query: &SearchQuery) -> Vec<FacetRange> {
    match facet {
        Facet::Created => created_ranges(query.now),
        _ => size_ranges(),
    }
}

/// The label of the range `column`'s value falls in (the ranges cover every value once).
fn push_range_label(q: &mut QueryBuilder<Postgres>, column: &str, ranges: &[FacetRange]) {
    q.push("CASE");
    for range in ranges {
        q.push(" WHEN TRUE");
        if let Some(from) = range.from {
            q.push(format_args!(" AND {column} >= ")).push_bind(from);
        }
        if let Some(to) = range.to {
            q.push(format_args!(" AND {column} < ")).push_bind(to);
        }
        q.push(" THEN ").push_bind(range.label.to_owned());
    }
    q.push(" END");
}

/// `AND …` for every filter set.
fn push_filters(q: &mut QueryBuilder<Postgres>, tenant: &str, filter: &SearchFilter) {
    // PostgreSQL refuses NUL in text, and no stored value holds one: such a filter matches
    // nothing rather than failing.
    let texts = filter
        .prefix
        .iter()
        .chain(&filter.external_id)
        .chain(&filter.owner)
        .chain(filter.metadata.iter().flat_map(|(k, v)| [k, v]));
    if texts.into_iter().any(|t| t.contains('\0')) {
        q.push(" AND FALSE");
        return;
    }
    if let Some(owner) = &filter.owner {
        q.push(" AND owner = ").push_bind(owner.clone());
    }
    if let Some(bucket) = &filter.bucket {
        q.push(" AND bucket = ").push_bind(bucket.as_str().to_owned());
    }
    if let Some(prefix) = filter.prefix.as_deref().filter(|p| !p.is_empty()) {
        // A range, as the list does: no wildcard to escape, and the index serves it.
        q.push(" AND path >= ").push_bind(prefix.to_owned());
        if let Some(end) = prefix_end(prefix) {
            q.push(" AND path < ").push_bind(end);
        }
    }
    match &filter.content_type {
        Some(TypeFilter::Exact(t)) => {
            q.push(" AND (declared_type = ")
                .push_bind(t.clone())
                .push(" OR sniffed_type = ")
                .push_bind(t.clone())
                .push(")");
        }
        Some(TypeFilter::Family(f)) => {
            q.push(" AND (split_part(declared_type, '/', 1) = ")
                .push_bind(f.clone())
                .push(" OR split_part(sniffed_type, '/', 1) = ")
                .push_bind(f.clone())
                .push(")");
        }
        None => {}
    }
    if let Some(status) = filter.status {
        q.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(after) = filter.created_after {
        q.push(" AND created_at > ").push_bind(micros(after));
    }
    if let Some(before) = filter.created_before {
        q.push(" AND created_at < ").push_bind(micros(before));
    }
    if let Some(min) = filter.size_min {
        match to_i64("size_min", min) {
            Ok(min) => q.push(" AND size >= ").push_bind(min),
            // Larger than any size a file can have.
            Err(_) => q.push(" AND FALSE"),
        };
    }
    if let Some(max) = filter.size_max.and_then(|m| to_i64("size_max", m).ok()) {
        q.push(" AND size <= ").push_bind(max);
    }
    if !filter.metadata.is_empty() {
        match metadata_pairs(&filter.metadata) {
            Some(pairs) => Postgres::push_metadata_match(q, tenant, &pairs),
            None => {
                q.push(" AND FALSE");
            }
        }
    }
    if let Some(external_id) = &filter.external_id {
        q.push(" AND external_id = ").push_bind(external_id.clone());
    }
}

fn decode(query: &SearchQuery, rows: Vec<Row>) -> Result<SearchHits, StoreError> {
    let mut page: Vec<(i64, SearchHit)> = Vec::new();
    let mut counted = 0;
    let mut values: Vec<(i32, String, u64)> = Vec::new();
    for (part, label, n, score) in rows {
        match part {
            PAGE => {
                let id = FileId::parse(&label).map_err(|e| bad_row("search document id", e))?;
                page.push((n, SearchHit { id, score }));
            }
            TOTAL => counted = count("search", n)?,
            _ => values.push((part, label, count("facet", n)?)),
        }
    }
    page.sort_by_key(|(n, _)| *n);
    let mut facets = FacetCounts::new();
    for &facet in &query.facets {
        let part = facet_part(facet);
        let mut counted: Vec<(String, u64)> = values
            .iter()
            .filter(|(p, _, _)| *p == part)
            .map(|(_, label, n)| (label.clone(), *n))
            .collect();
        let shown = match facet {
            Facet::ContentType | Facet::Bucket => {
                counted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                counted
            }
            // Every range in its order, the empty ones too.
            Facet::Created | Facet::Size => ranges(facet, query)
                .iter()
                .map(|r| {
                    let n = counted.iter().find(|(l, _)| l == r.label).map_or(0, |(_, n)| *n);
                    (r.label.to_owned(), n)
                })
                .collect(),
        };
        facets.insert(facet, shown);
    }
    let max = u64::from(query.max_matches);
    Ok(SearchHits {
        hits: page.into_iter().map(|(_, hit)| hit).collect(),
        total: counted.min(max),
        total_is_lower_bound: counted > max,
        facets,
    })
}
