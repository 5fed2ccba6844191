//! `/v1/search`: full text over names, folders and metadata with filters, facets and
//! highlights; `/v1/search/suggest`: completions of what is being typed.
//!
//! The query string is read as pairs rather than into a struct: `metadata.KEY=VALUE` names
//! its key in the parameter. Every parameter is checked; an unknown or repeated one is a
//! 400, like the list's.

use axum::extract::State;
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::Deserialize;

use filegate_api::{SearchHitView, SearchResultList, SuggestionList, SuggestionView};
use filegate_core::domain::{
    BucketName, DEFAULT_SEARCH_PAGE, DEFAULT_SUGGESTIONS, Facet, FileStatus, MAX_SEARCH_PAGE, SearchFilter, SearchSort,
    SearchText, TypeFilter, decode_search_cursor, parse_metadata_filters, parse_prefix,
};
use filegate_core::usecases::search::{self, SearchRequest};
use filegate_core::{Error, ErrorCode, Result};

use super::error::ApiResult;
use super::extract::{Json, Query};
use super::views;
use crate::auth::Authenticated;
use crate::state::AppState;

/// The parameters of `GET /v1/search`, for the reference (they are read as pairs).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchParams {
    /// Words (typo-tolerant: exact up to 4 characters, 1 edit from 5, 2 from 9; the last
    /// one also matches as a prefix unless followed by a space) and `"quoted phrases"`
    /// (exact, in order). At most 256 characters and 16 words. Empty: filters alone.
    q: Option<String>,
    bucket: Option<String>,
    /// Paths beginning with this.
    prefix: Option<String>,
    /// A content type (`text/csv`) or a family (`image/*`), declared or sniffed.
    r#type: Option<String>,
    /// `ready` or `failed` (both by default).
    status: Option<String>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
    size_min: Option<u64>,
    size_max: Option<u64>,
    /// `metadata.KEY=VALUE`, exact; up to 16 of them, all must hold.
    #[param(rename = "metadata.KEY")]
    metadata: Option<String>,
    external_id: Option<String>,
    /// Comma-separated: `content_type`, `bucket`, `created`, `size`.
    facets: Option<String>,
    /// `relevance` (default), or `created_at`, `name`, `size`, optionally prefixed by `-`.
    sort: Option<String>,
    /// 1 to 100, default 20.
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Files of the caller's tenant by words, filters and facets, best match first.
#[utoipa::path(get, path = "/v1/search", tag = "search", params(SearchParams),
    responses((status = 200, body = SearchResultList), (status = 400, body = filegate_api::ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<SearchResultList>> {
    let results = search::search(&state.services, &p, parse_search(pairs)?).await?;
    let facets = results
        .facets
        .into_iter()
        .map(|(facet, counts)| {
            (
                facet.as_str().to_owned(),
                counts.into_iter().collect::<IndexMap<_, _>>(),
            )
        })
        .collect();
    Ok(Json(SearchResultList {
        items: results
            .items
            .into_iter()
            .map(|found| SearchHitView {
                file: views::file(found.file),
                score: found.score,
                highlights: found.highlights,
            })
            .collect(),
        total: results.total,
        total_is_lower_bound: results.total_is_lower_bound,
        facets,
        next_cursor: results.next_cursor,
    }))
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::InvalidQuery, message)
}

fn parse_search(pairs: Vec<(String, String)>) -> Result<SearchRequest> {
    let mut seen = std::collections::HashSet::new();
    let mut request = SearchRequest {
        limit: DEFAULT_SEARCH_PAGE,
        ..SearchRequest::default()
    };
    let mut filter = SearchFilter::default();
    let mut cursor = None;
    for (key, value) in pairs {
        if let Some(meta_key) = key.strip_prefix("metadata.") {
            // Checked together below, as the list checks them.
            filter.metadata.push((meta_key.to_owned(), value));
            continue;
        }
        if !seen.insert(key.clone()) {
            return Err(invalid(format!("{key} is given twice")));
        }
        let number = |what: &str| value.parse::<u64>().map_err(|_| invalid(format!("{what} is a number")));
        let time = |what: &str| {
            DateTime::parse_from_rfc3339(&value)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| invalid(format!("{what} is an RFC 3339 time")))
        };
        match key.as_str() {
            "q" => request.text = SearchText::parse(&value)?,
            "bucket" => filter.bucket = Some(BucketName::parse(&value)?),
            "prefix" => filter.prefix = Some(parse_prefix(&value)?),
            "type" => filter.content_type = Some(TypeFilter::parse(&value)?),
            "status" => filter.status = Some(value.parse::<FileStatus>()?),
            "created_after" => filter.created_after = Some(time("created_after")?),
            "created_before" => filter.created_before = Some(time("created_before")?),
            "size_min" => filter.size_min = Some(number("size_min")?),
            "size_max" => filter.size_max = Some(number("size_max")?),
            "external_id" => filter.external_id = Some(value),
            "facets" => request.facets = Facet::parse_list(&value)?,
            "sort" => request.sort = SearchSort::parse(&value)?,
            "limit" => {
                request.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_SEARCH_PAGE).contains(n))
                    .ok_or_else(|| invalid(format!("limit must be 1 to {MAX_SEARCH_PAGE}")))?;
            }
            "cursor" => cursor = Some(value),
            other => return Err(invalid(format!("unknown parameter {other:?}"))),
        }
    }
    // The cursor is bound to the order, which may come after it in the query string.
    if let Some(cursor) = cursor {
        request.offset = decode_search_cursor(request.sort, &cursor)?;
    }
    filter.metadata = parse_metadata_filters(std::mem::take(&mut filter.metadata))?;
    request.filter = filter;
    Ok(request)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SuggestParams {
    /// What is being typed (at most 64 characters); nothing completes to nothing.
    q: Option<String>,
    /// 1 to 20, default 8.
    limit: Option<u32>,
}

/// Completions of what is being typed, from the names, folders and metadata values of the
/// files the caller may see, the ones that would find most files first.
#[utoipa::path(get, path = "/v1/search/suggest", tag = "search", params(SuggestParams),
    responses((status = 200, body = SuggestionList), (status = 400, body = filegate_api::ErrorBody)))]
pub async fn suggest(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(params): Query<SuggestParams>,
) -> ApiResult<Json<SuggestionList>> {
    let limit = params.limit.unwrap_or(DEFAULT_SUGGESTIONS);
    let suggestions = search::suggest(&state.services, &p, params.q.as_deref().unwrap_or_default(), limit).await?;
    Ok(Json(SuggestionList {
        suggestions: suggestions
            .into_iter()
            .map(|s| SuggestionView {
                text: s.text,
                count: s.count,
            })
            .collect(),
    }))
}
