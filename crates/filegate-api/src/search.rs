//! `GET /v1/search` and `GET /v1/search/suggest`.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::FileView;

/// One file found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchHitView {
    pub file: FileView,
    /// How well it matched (higher is better); 0 when ordered by something else.
    pub score: f32,
    /// `name`, `path`, `external_id`, `metadata.KEY`: the matched value, HTML-escaped,
    /// each matched word in `<mark>`; long values cut around the first match with `…`.
    pub highlights: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchResultList {
    pub items: Vec<SearchHitView>,
    /// Every file matching, not only this page's, counted up to 10,000: when more match,
    /// this is 10,000 and `total_is_lower_bound` is true.
    pub total: u64,
    /// More files than `total` match (narrow the query to count them).
    #[serde(default)]
    pub total_is_lower_bound: bool,
    /// Per facet asked for: value (or range) → files, over the whole result (over the
    /// newest 10,000 matches when `total_is_lower_bound`). Values most
    /// frequent first; ranges in their order (`past_day` … `older`, `under_100kib` …
    /// `100mib_and_over`), empty ones included.
    #[schema(value_type = Object)]
    pub facets: IndexMap<String, IndexMap<String, u64>>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SuggestionView {
    pub text: String,
    /// Files it would find.
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SuggestionList {
    pub suggestions: Vec<SuggestionView>,
}
