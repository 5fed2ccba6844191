//! `GET /v1/search` and `GET /v1/search/suggest`.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;

use crate::api::{SearchResultList, SuggestionList};
use crate::files::with_query;
use crate::{Client, Result};

/// A search: words, filters, facets, order and page. Empty fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// Words (typo-tolerant, the last one a prefix) and `"quoted phrases"`.
    pub q: Option<String>,
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    /// `text/csv` or a family, `image/*`.
    pub content_type: Option<String>,
    pub status: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub size_min: Option<u64>,
    pub size_max: Option<u64>,
    /// `metadata.KEY=VALUE` filters, each exact.
    pub metadata: Vec<(String, String)>,
    pub external_id: Option<String>,
    /// `content_type`, `bucket`, `created`, `size`.
    pub facets: Vec<String>,
    /// `relevance` (default) or a list order (`-created_at`, `name`, ...).
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl Search {
    /// A search for these words.
    pub fn words(q: impl Into<String>) -> Self {
        Self {
            q: Some(q.into()),
            ..Self::default()
        }
    }

    /// The query string's pairs, in a stable order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        let facets = (!self.facets.is_empty()).then(|| self.facets.join(","));
        let pairs = [
            ("q", self.q.clone()),
            ("bucket", self.bucket.clone()),
            ("prefix", self.prefix.clone()),
            ("type", self.content_type.clone()),
            ("status", self.status.clone()),
            ("created_after", self.created_after.as_ref().map(time)),
            ("created_before", self.created_before.as_ref().map(time)),
            ("size_min", self.size_min.map(|v| v.to_string())),
            ("size_max", self.size_max.map(|v| v.to_string())),
            ("external_id", self.external_id.clone()),
            ("facets", facets),
            ("sort", self.sort.clone()),
            ("limit", self.limit.map(|v| v.to_string())),
            ("cursor", self.cursor.clone()),
        ];
        let mut out: Vec<(String, String)> = pairs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect();
        out.extend(self.metadata.iter().map(|(k, v)| (format!("metadata.{k}"), v.clone())));
        out
    }
}

impl Client {
    /// `GET /v1/search?…`: one page of hits, with the total and the facets asked for.
    pub async fn search(&self, search: &Search) -> Result<SearchResultList> {
        let url = with_query(self.url(&["v1", "search"])?, search.query_pairs());
        self.send_json(self.request_url(Method::GET, url)).await
    }

    /// `GET /v1/search/suggest?q=&limit=`: completions of what is being typed.
    pub async fn suggest(&self, q: &str, limit: Option<u32>) -> Result<SuggestionList> {
        let limit = limit.map(|l| l.to_string());
        let pairs = [("q", Some(q)), ("limit", limit.as_deref())];
        let url = with_query(
            self.url(&["v1", "search", "suggest"])?,
            pairs.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))),
        );
        self.send_json(self.request_url(Method::GET, url)).await
    }
}
