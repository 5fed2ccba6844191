//! Listing queries: filters, sort orders and opaque cursors with a stable order.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{BucketName, FileId, FileRecord, FileStatus};
use crate::error::{Error, ErrorCode};

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    CreatedAt,
    Name,
    Size,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Sort {
    /// `created_at`, `-created_at`, `name`, `-name`, `size`, `-size`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let (descending, key) = match s.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, s),
        };
        let key = match key {
            "created_at" => SortKey::CreatedAt,
            "name" => SortKey::Name,
            "size" => SortKey::Size,
            _ => {
                return Err(Error::invalid(
                    ErrorCode::InvalidSort,
                    "sort must be one of created_at, name, size, optionally prefixed by '-'",
                ));
            }
        };
        Ok(Self { key, descending })
    }
}

/// The sort value of the last item of a page; the next page starts strictly after it.
/// The file id breaks ties, so the order is total and stable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct After {
    pub value: SortValue,
    pub id: FileId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Int(i64),
    Text(String),
}

impl After {
    pub fn of(record: &FileRecord, key: SortKey) -> Self {
        let value = match key {
            SortKey::CreatedAt => SortValue::Int(record.created_at.timestamp_micros()),
            SortKey::Name => SortValue::Text(record.name().to_owned()),
            SortKey::Size => SortValue::Int(i64::try_from(record.size).unwrap_or(i64::MAX)),
        };
        Self { value, id: record.id }
    }
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum PageStart {
    #[default]
    First,
    After(After),
    Offset(u64),
}

/// An opaque cursor: base64url JSON of the sort order and the position, so a cursor from one
/// sort order cannot be replayed against another.
pub fn encode_cursor(sort: Sort, after: &After) -> String {
    let body = serde_json::json!({"s": sort_tag(sort), "v": after.value, "i": after.id});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body.to_string())
}

pub fn decode_cursor(sort: Sort, cursor: &str) -> Result<After, Error> {
    #[derive(Deserialize)]
    struct Body {
        s: String,
        v: SortValue,
        i: FileId,
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
    if body.s != sort_tag(sort) {
        return Err(invalid());
    }
    let value_fits = matches!(
        (sort.key, &body.v),
        (SortKey::Name, SortValue::Text(_)) | (SortKey::CreatedAt | SortKey::Size, SortValue::Int(_))
    );
    if !value_fits {
        return Err(invalid());
    }
    Ok(After {
        value: body.v,
        id: body.i,
    })
}

fn sort_tag(sort: Sort) -> String {
    let key = match sort.key {
        SortKey::CreatedAt => "created_at",
        SortKey::Name => "name",
        SortKey::Size => "size",
    };
    if sort.descending {
        format!("-{key}")
    } else {
        key.to_owned()
    }
}

/// A parsed `GET /v1/files` query. The tenant comes from the principal, never from here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileQuery {
    pub bucket: Option<BucketName>,
    pub prefix: Option<String>,
    /// `None` lists every status except `deleted` and `purged`.
    pub status: Option<FileStatus>,
    /// Matches the essence (`text/csv`) or a `type/*` pattern.
    pub content_type: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    /// Only the files this subject created: set by the use case for a principal that may
    /// see no others (a partner's machine), never from the query string.
    pub owner: Option<String>,
    pub sort: Sort,
    pub limit: u32,
    pub start: PageStart,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FilePage {
    pub items: Vec<FileRecord>,
    /// Present when `start` was an offset.
    pub total: Option<u64>,
    pub next_cursor: Option<String>,
}

/// A page of the change feed: files in the order they last changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePage {
    pub items: Vec<FileRecord>,
    /// The `change_seq` to pass as `since` next time (unchanged when nothing is new).
    pub next_since: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_sort() {
        let sort = Sort::parse("-size").unwrap();
        let after = After {
            value: SortValue::Int(42),
            id: FileId::new(),
        };
        let c = encode_cursor(sort, &after);
        assert_eq!(decode_cursor(sort, &c).unwrap(), after);
        assert!(decode_cursor(Sort::parse("size").unwrap(), &c).is_err());
        assert!(decode_cursor(Sort::parse("name").unwrap(), &c).is_err());
        assert!(decode_cursor(sort, "garbage!").is_err());
    }

    #[test]
    fn sort_orders() {
        assert_eq!(
            Sort::parse("name").unwrap(),
            Sort {
                key: SortKey::Name,
                descending: false
            }
        );
        assert_eq!(
            Sort::parse("-created_at").unwrap(),
            Sort {
                key: SortKey::CreatedAt,
                descending: true
            }
        );
        assert!(Sort::parse("owner").is_err());
    }
}
