//! Running a search: the total (counted up to the query's bound), the page in the asked
//! order and the facets, over every match or, when more than the bound match, over the
//! newest of them.

use std::ops::Bound;

use filegate_core::domain::{
    Facet, FacetCounts, FacetRange, FileId, MAX_FACET_VALUES, SearchHit, SearchHits, SearchQuery, SearchSort, SortKey,
    TenantId, created_ranges, size_ranges,
};
use serde_json::{Value as Json, json};
use tantivy::Term as IndexTerm;
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector};
use tantivy::collector::DocSetCollector;
use tantivy::collector::TopDocs;
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue, SortByString};
use tantivy::query::{BooleanQuery, ConstScoreQuery, EnableScoring, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocSet as _, Order, Searcher, TERMINATED};

use crate::schema::Fields;

pub fn run(searcher: &Searcher, fields: &Fields, query: &SearchQuery) -> anyhow::Result<SearchHits> {
    let max = query.max_matches as usize;
    let mut q = crate::query::build(fields, query);
    // Counting stops one past the bound: a word on half the index costs no more to count
    // than one on `max` files.
    let counted = count_up_to(searcher, q.as_ref(), max.saturating_add(1))?;
    let total_is_lower_bound = counted > max;
    if total_is_lower_bound {
        q = newest(searcher, fields, q, max)?;
    }
    let hits = page(searcher, q.as_ref(), query)?;
    let facets = if query.facets.is_empty() {
        FacetCounts::new()
    } else {
        facets(searcher, q.as_ref(), query)?
    };
    Ok(SearchHits {
        hits,
        total: counted.min(max) as u64,
        total_is_lower_bound,
        facets,
    })
}

/// How many live documents `q` matches, counting no further than `limit`.
fn count_up_to(searcher: &Searcher, q: &dyn Query, limit: usize) -> anyhow::Result<usize> {
    let weight = q.weight(EnableScoring::disabled_from_searcher(searcher))?;
    let mut n = 0;
    for segment in searcher.segment_readers() {
        let alive = segment.alive_bitset();
        let mut docs = weight.scorer(segment, 1.0)?;
        let mut doc = docs.doc();
        while doc != TERMINATED {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                n += 1;
                if n >= limit {
                    return Ok(n);
                }
            }
            doc = docs.advance();
        }
    }
    Ok(n)
}

/// `q` narrowed to its newest `max` matches (and any created at the same instant as the
/// last of them): what a search works on when more match.
fn newest(searcher: &Searcher, fields: &Fields, q: Box<dyn Query>, max: usize) -> anyhow::Result<Box<dyn Query>> {
    let newest = TopDocs::with_limit(max.max(1)).order_by_fast_field::<i64>("created", Order::Desc);
    let Some(oldest) = searcher
        .search(q.as_ref(), &newest)?
        .last()
        .and_then(|(created, _)| *created)
    else {
        return Ok(q);
    };
    let since = RangeQuery::new(
        Bound::Included(IndexTerm::from_field_i64(fields.created, oldest)),
        Bound::Unbounded,
    );
    Ok(Box::new(BooleanQuery::new(vec![
        (Occur::Must, q),
        (Occur::Must, Box::new(ConstScoreQuery::new(Box::new(since), 0.0))),
    ])))
}

/// The page `query` asks for, in its order; the id breaks ties, as on every engine.
fn page(searcher: &Searcher, q: &dyn Query, query: &SearchQuery) -> anyhow::Result<Vec<SearchHit>> {
    let top = TopDocs::with_limit(query.limit.max(1) as usize).and_offset(query.offset as usize);
    let order = |descending: bool| if descending { Order::Desc } else { Order::Asc };
    let by = |field: &str, descending: bool| {
        let order = order(descending);
        (
            (SortByStaticFastValue::<i64>::for_field(field), order),
            (SortByString::for_field("id"), order),
        )
    };
    let page = match query.sort {
        // Best match, then newest, then the id (tantivy's own tie-break, the document's place
        // in its segment, would change as segments merge).
        SearchSort::Relevance if !query.text.is_empty() => searcher
            .search(q, &top.order_by((SortBySimilarityScore, by("created", true))))?
            .into_iter()
            .map(|((score, _), address)| (score, address))
            .collect(),
        SearchSort::Relevance => unscored(searcher.search(q, &top.order_by(by("created", true)))?),
        SearchSort::By(sort) => match sort.key {
            SortKey::CreatedAt => unscored(searcher.search(q, &top.order_by(by("created", sort.descending)))?),
            SortKey::Size => unscored(searcher.search(
                q,
                &top.order_by((
                    (SortByStaticFastValue::<u64>::for_field("size"), order(sort.descending)),
                    (SortByString::for_field("id"), order(sort.descending)),
                )),
            )?),
            SortKey::Name => unscored(searcher.search(
                q,
                &top.order_by((
                    (SortByString::for_field("name_sort"), order(sort.descending)),
                    (SortByString::for_field("id"), order(sort.descending)),
                )),
            )?),
        },
    };
    page.into_iter()
        .map(|(score, address)| {
            Ok(SearchHit {
                id: file_id(searcher, address)?,
                score,
            })
        })
        .collect()
}

/// Hits in an order other than relevance score nothing.
fn unscored<K>(page: Vec<(K, DocAddress)>) -> Vec<(f32, DocAddress)> {
    page.into_iter().map(|(_, address)| (0.0, address)).collect()
}

/// Which of `ids` the index holds for `tenant`.
pub fn held_by(searcher: &Searcher, fields: &Fields, tenant: &TenantId, ids: &[FileId]) -> anyhow::Result<Vec<FileId>> {
    let term = |field, text: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(
            IndexTerm::from_field_text(field, text),
            IndexRecordOption::Basic,
        ))
    };
    let any_id = ids
        .iter()
        .map(|id| (Occur::Should, term(fields.id, &id.to_string())))
        .collect();
    let q = BooleanQuery::new(vec![
        (Occur::Must, term(fields.tenant, tenant.as_str())),
        (Occur::Must, Box::new(BooleanQuery::new(any_id))),
    ]);
    searcher
        .search(&q, &DocSetCollector)?
        .into_iter()
        .map(|address| file_id(searcher, address))
        .collect()
}

/// The id of a hit, from the id column (no stored document is decompressed for it).
fn file_id(searcher: &Searcher, address: DocAddress) -> anyhow::Result<FileId> {
    let missing = || anyhow::anyhow!("an indexed document has no id");
    let ids = searcher
        .segment_reader(address.segment_ord)
        .fast_fields()
        .str("id")?
        .ok_or_else(missing)?;
    let ord = ids.term_ords(address.doc_id).next().ok_or_else(missing)?;
    let mut id = String::new();
    if !ids.ord_to_str(ord, &mut id)? {
        return Err(missing());
    }
    Ok(id.parse()?)
}

/// The facets asked for, as tantivy aggregations over the same query.
fn facets(searcher: &Searcher, q: &dyn Query, query: &SearchQuery) -> anyhow::Result<FacetCounts> {
    let ranges = |field: &str, ranges: &[FacetRange]| {
        let ranges: Vec<Json> = ranges
            .iter()
            .map(|r| {
                let mut range = json!({"key": r.label});
                if let Some(from) = r.from {
                    range["from"] = json!(from as f64);
                }
                if let Some(to) = r.to {
                    range["to"] = json!(to as f64);
                }
                range
            })
            .collect();
        json!({"range": {"field": field, "ranges": ranges}})
    };
    let created = created_ranges(query.now);
    let sizes = size_ranges();
    let mut request = serde_json::Map::new();
    for facet in &query.facets {
        let agg = match facet {
            Facet::ContentType => json!({"terms": {"field": "facet_type", "size": MAX_FACET_VALUES}}),
            Facet::Bucket => json!({"terms": {"field": "bucket", "size": MAX_FACET_VALUES}}),
            Facet::Created => ranges("created", &created),
            Facet::Size => ranges("size", &sizes),
        };
        request.insert(facet.as_str().to_owned(), agg);
    }
    let request: Aggregations = serde_json::from_value(Json::Object(request))?;
    let collector = AggregationCollector::from_aggs(request, AggContextParams::default());
    let results = serde_json::to_value(searcher.search(q, &collector)?)?;
    let mut counts = FacetCounts::new();
    for facet in &query.facets {
        let buckets = results[facet.as_str()]["buckets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut values: Vec<(String, u64)> = buckets
            .iter()
            .filter_map(|b| {
                let key = match &b["key"] {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some((key, b["doc_count"].as_u64()?))
            })
            .collect();
        // Ranges in their own order (every range, zeros included); values by count.
        if let Some(order) = match facet {
            Facet::Created => Some(&created),
            Facet::Size => Some(&sizes),
            _ => None,
        } {
            values = order
                .iter()
                .map(|r| {
                    let n = values.iter().find(|(k, _)| k == r.label).map_or(0, |(_, n)| *n);
                    (r.label.to_owned(), n)
                })
                .collect();
        }
        counts.insert(*facet, values);
    }
    Ok(counts)
}
