//! A search as the engines receive it: the text, the filters (the tenant's and the
//! caller's reach among them, so a page is never short because of what the caller may not
//! see), the order, the page and the facets to count.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::SearchText;
use crate::domain::{BucketName, FileId, FileStatus, Sort, SortKey, TenantId};
use crate::error::{Error, ErrorCode};

pub const DEFAULT_SEARCH_PAGE: u32 = 20;
pub const MAX_SEARCH_PAGE: u32 = 100;
/// How deep pages go: a search is for finding, a listing (`GET /v1/files`) for walking
/// everything. Bounds the work of a far page.
pub const MAX_SEARCH_DEPTH: u32 = 10_000;
/// The most matches a search works on: it counts matches up to this many (beyond, the total
/// is a lower bound, as Elasticsearch's `track_total_hits` answers), counts its facets over
/// at most this many (the newest), and PostgreSQL ranks only these. A word on half of a
/// million files would otherwise cost a read of each of them for every keystroke.
pub const MAX_SEARCH_MATCHES: u32 = MAX_SEARCH_DEPTH;
/// Most `metadata.KEY=VALUE` filters in one query.
pub const MAX_METADATA_FILTERS: usize = 16;

/// The statuses the index holds: files someone may be looking for and may see. Pending and
/// processing files join when they reach one of these; quarantined, deleted and purged
/// files leave, and are never returned even before the index has caught up (the use case
/// checks each hit against the database).
pub fn is_searchable(status: FileStatus) -> bool {
    matches!(status, FileStatus::Ready | FileStatus::Failed)
}

/// `type=`: one content type, or a family (`image/*`). Matches the declared or the
/// sniffed type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeFilter {
    Exact(String),
    Family(String),
}

impl TypeFilter {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim().to_ascii_lowercase();
        let invalid = || {
            Error::invalid(
                ErrorCode::InvalidQuery,
                "type is a content type or a family like image/*",
            )
        };
        let (family, sub) = s.split_once('/').ok_or_else(invalid)?;
        let token = |t: &str| {
            !t.is_empty()
                && t.len() <= 127
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        match sub {
            "*" if token(family) => Ok(Self::Family(family.to_owned())),
            _ if token(family) && token(sub) => Ok(Self::Exact(s)),
            _ => Err(invalid()),
        }
    }

    pub fn matches(&self, content_type: &str) -> bool {
        match self {
            Self::Exact(t) => content_type == t,
            Self::Family(f) => content_type.split_once('/').is_some_and(|(family, _)| family == f),
        }
    }
}

/// What a search is narrowed to. Every field set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    pub bucket: Option<BucketName>,
    /// Paths that begin with this (as `GET /v1/files?prefix=`).
    pub prefix: Option<String>,
    pub content_type: Option<TypeFilter>,
    /// One of the searchable statuses; both when absent.
    pub status: Option<FileStatus>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub size_min: Option<u64>,
    pub size_max: Option<u64>,
    /// `metadata.KEY=VALUE`, each exactly.
    pub metadata: Vec<(String, String)>,
    pub external_id: Option<String>,
    /// Only the files this subject owns: set by the use case for a principal that may see no
    /// others, never from the query string.
    pub owner: Option<String>,
}

/// The order of the hits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SearchSort {
    /// Best match first (then newest); without words, newest first.
    #[default]
    Relevance,
    /// Any order the list has (`created_at`, `-size`, ...).
    By(Sort),
}

impl SearchSort {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "relevance" => Ok(Self::Relevance),
            other => Sort::parse(other).map(Self::By).map_err(|_| {
                Error::invalid(
                    ErrorCode::InvalidSort,
                    "sort must be relevance or one of created_at, name, size, optionally prefixed by '-'",
                )
            }),
        }
    }

    fn tag(self) -> String {
        match self {
            Self::Relevance => "relevance".into(),
            Self::By(sort) => {
                let key = match sort.key {
                    SortKey::CreatedAt => "created_at",
                    SortKey::Name => "name",
                    SortKey::Size => "size",
                };
                if sort.descending { format!("-{key}") } else { key.into() }
            }
        }
    }
}

/// A page of search results starts at an offset: relevance has no stable key to continue
/// after. The cursor carries it opaquely, bound to the order it was made for.
pub fn encode_search_cursor(sort: SearchSort, offset: u32) -> String {
    let body = serde_json::json!({"s": sort.tag(), "o": offset});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body.to_string())
}

pub fn decode_search_cursor(sort: SearchSort, cursor: &str) -> Result<u32, Error> {
    #[derive(Deserialize)]
    struct Body {
        s: String,
        o: u32,
    }
    let invalid = || {
        Error::invalid(
            ErrorCode::InvalidCursor,
            "the cursor is malformed or belongs to another sort order",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let body: Body = serde_json::from_slice(&raw).map_err(|_| invalid())?;
    if body.s != sort.tag() || body.o > MAX_SEARCH_DEPTH {
        return Err(invalid());
    }
    Ok(body.o)
}

/// A count of the whole result by one property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Facet {
    /// By content type (the sniffed one when the pipeline found it, else the declared).
    ContentType,
    Bucket,
    /// By age, in the ranges of [`created_ranges`].
    Created,
    /// By size, in the ranges of [`size_ranges`].
    Size,
}

/// Most values a value facet reports, the most frequent first.
pub const MAX_FACET_VALUES: usize = 20;

impl Facet {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContentType => "content_type",
            Self::Bucket => "bucket",
            Self::Created => "created",
            Self::Size => "size",
        }
    }

    /// `content_type,bucket,created,size` (any of them, once each).
    pub fn parse_list(s: &str) -> Result<Vec<Self>, Error> {
        let mut facets = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let facet = match name {
                "content_type" => Self::ContentType,
                "bucket" => Self::Bucket,
                "created" => Self::Created,
                "size" => Self::Size,
                _ => {
                    return Err(Error::invalid(
                        ErrorCode::InvalidQuery,
                        "facets are content_type, bucket, created and size",
                    ));
                }
            };
            if !facets.contains(&facet) {
                facets.push(facet);
            }
        }
        Ok(facets)
    }
}

/// A bucket of a range facet: values from `from` (inclusive) to `to` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetRange {
    pub label: &'static str,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl FacetRange {
    pub fn contains(&self, value: i64) -> bool {
        self.from.is_none_or(|f| value >= f) && self.to.is_none_or(|t| value < t)
    }
}

/// Age ranges of `created`, in microseconds since the epoch, relative to `now`.
pub fn created_ranges(now: DateTime<Utc>) -> Vec<FacetRange> {
    let ago = |d: Duration| Some((now - d).timestamp_micros());
    vec![
        FacetRange {
            label: "past_day",
            from: ago(Duration::days(1)),
            to: None,
        },
        FacetRange {
            label: "past_week",
            from: ago(Duration::days(7)),
            to: ago(Duration::days(1)),
        },
        FacetRange {
            label: "past_month",
            from: ago(Duration::days(30)),
            to: ago(Duration::days(7)),
        },
        FacetRange {
            label: "past_year",
            from: ago(Duration::days(365)),
            to: ago(Duration::days(30)),
        },
        FacetRange {
            label: "older",
            from: None,
            to: ago(Duration::days(365)),
        },
    ]
}

/// Size ranges of `size`, in bytes.
pub fn size_ranges() -> Vec<FacetRange> {
    const KIB: i64 = 1024;
    const MIB: i64 = 1024 * KIB;
    vec![
        FacetRange {
            label: "under_100kib",
            from: None,
            to: Some(100 * KIB),
        },
        FacetRange {
            label: "100kib_to_1mib",
            from: Some(100 * KIB),
            to: Some(MIB),
        },
        FacetRange {
            label: "1mib_to_10mib",
            from: Some(MIB),
            to: Some(10 * MIB),
        },
        FacetRange {
            label: "10mib_to_100mib",
            from: Some(10 * MIB),
            to: Some(100 * MIB),
        },
        FacetRange {
            label: "100mib_and_over",
            from: Some(100 * MIB),
            to: None,
        },
    ]
}

/// One search, ready for an engine.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub tenant: TenantId,
    pub text: SearchText,
    pub filter: SearchFilter,
    pub sort: SearchSort,
    pub offset: u32,
    pub limit: u32,
    pub facets: Vec<Facet>,
    /// What "past day" is measured from.
    pub now: DateTime<Utc>,
    /// How many matches the engine works on ([`MAX_SEARCH_MATCHES`]; smaller in tests).
    /// When more match, it answers a total of exactly this with `total_is_lower_bound`,
    /// and counts the facets over the newest this many.
    pub max_matches: u32,
}

/// One file an engine found, with how well it matched (higher is better; 0 without words).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchHit {
    pub id: FileId,
    pub score: f32,
}

/// Counts per value (or range label), in the order to show them.
pub type FacetCounts = BTreeMap<Facet, Vec<(String, u64)>>;

/// What an engine answers: one page of hits in order, how many match, and the facets over
/// them (over the newest `max_matches` when more match).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchHits {
    pub hits: Vec<SearchHit>,
    /// Every match when `total_is_lower_bound` is false; else the query's `max_matches`.
    pub total: u64,
    /// More than `total` files match.
    pub total_is_lower_bound: bool,
    pub facets: FacetCounts,
}

/// A completion for a prefix being typed, and how many files it would find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub text: String,
    pub count: u64,
}

pub const DEFAULT_SUGGESTIONS: u32 = 8;
pub const MAX_SUGGESTIONS: u32 = 20;
/// Longest prefix completed.
pub const MAX_SUGGEST_CHARS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filters_take_a_type_or_a_family() {
        let family = TypeFilter::parse("image/*").unwrap();
        assert!(family.matches("image/png") && !family.matches("text/csv"));
        let exact = TypeFilter::parse("Text/CSV").unwrap();
        assert!(exact.matches("text/csv") && !exact.matches("text/plain"));
        for bad in ["image", "*/*", "image/", "a b/c", ""] {
            assert!(TypeFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursors_are_bound_to_their_order_and_depth() {
        let by_size = SearchSort::parse("-size").unwrap();
        let cursor = encode_search_cursor(by_size, 40);
        assert_eq!(decode_search_cursor(by_size, &cursor).unwrap(), 40);
        assert!(decode_search_cursor(SearchSort::Relevance, &cursor).is_err());
        let too_deep = encode_search_cursor(by_size, MAX_SEARCH_DEPTH + 1);
        assert!(decode_search_cursor(by_size, &too_deep).is_err());
        assert!(decode_search_cursor(by_size, "!!").is_err());
        assert!(SearchSort::parse("score").is_err());
    }

    #[test]
    fn facets_are_named_once_and_unknown_ones_refused() {
        assert_eq!(
            Facet::parse_list("size,bucket,size").unwrap(),
            [Facet::Size, Facet::Bucket]
        );
        assert!(Facet::parse_list("owner").is_err());
    }

    #[test]
    fn ranges_cover_every_value_once() {
        let now = Utc::now();
        for ranges in [created_ranges(now), size_ranges()] {
            for value in [0, 1, 100 * 1024, 50 << 20, i64::MAX, now.timestamp_micros()] {
                assert_eq!(ranges.iter().filter(|r| r.contains(value)).count(), 1, "{value}");
            }
        }
    }
}
