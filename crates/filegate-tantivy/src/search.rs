//! Running a search: the page in the asked order, the total, and the facets over every
//! match, in one pass of the searcher.

use filegate_core::domain::{
    Facet, FacetCounts, FacetRange, FileId, MAX_FACET_VALUES, SearchHit, SearchHits, SearchQuery, SearchSort, SortKey,
    created_ranges, size_ranges,
};
use serde_json::{Value as Json, json};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::Query;
use tantivy::schema::Value as _;
use tantivy::{DocAddress, Order, Searcher, TantivyDocument};

use crate::schema::Fields;

pub fn run(searcher: &Searcher, fields: &Fields, query: &SearchQuery) -> anyhow::Result<SearchHits> {
    let q = crate::query::build(fields, query);
    let top = TopDocs::with_limit(query.limit.max(1) as usize).and_offset(query.offset as usize);
    let order = |descending: bool| if descending { Order::Desc } else { Order::Asc };
    let (page, total) = match query.sort {
        SearchSort::Relevance if !query.text.is_empty() => searcher.search(&q, &(top.order_by_score(), Count))?,
        SearchSort::Relevance => {
            unscored(searcher.search(&q, &(top.order_by_fast_field::<i64>("created", Order::Desc), Count))?)
        }
        SearchSort::By(sort) => match sort.key {
            SortKey::CreatedAt => unscored(searcher.search(
                &q,
                &(top.order_by_fast_field::<i64>("created", order(sort.descending)), Count),
            )?),
            SortKey::Size => unscored(searcher.search(
                &q,
                &(top.order_by_fast_field::<u64>("size", order(sort.descending)), Count),
            )?),
            SortKey::Name => unscored(searcher.search(
                &q,
                &(
                    top.order_by_string_fast_field("name_sort", order(sort.descending)),
                    Count,
                ),
            )?),
        },
    };
    let hits = page
        .into_iter()
        .map(|(score, address)| {
            Ok(SearchHit {
                id: file_id(searcher, fields, address)?,
                score,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let facets = if query.facets.is_empty() {
        FacetCounts::new()
    } else {
        facets(searcher, q.as_ref(), query)?
    };
    Ok(SearchHits {
        hits,
        total: total as u64,
        facets,
    })
}

/// Hits in an order other than relevance score nothing.
fn unscored<K>((page, total): (Vec<(K, DocAddress)>, usize)) -> (Vec<(f32, DocAddress)>, usize) {
    (page.into_iter().map(|(_, address)| (0.0, address)).collect(), total)
}

fn file_id(searcher: &Searcher, fields: &Fields, address: DocAddress) -> anyhow::Result<FileId> {
    let doc: TantivyDocument = searcher.doc(address)?;
    let id = doc
        .get_first(fields.id)
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow::anyhow!("an indexed document has no id"))?;
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
