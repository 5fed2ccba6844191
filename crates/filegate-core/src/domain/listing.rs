//! Listing queries: filters, sort orders and opaque cursors with a stable order.

use std::fmt;
use std::str::FromStr;

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
    /// Only the files directly in the folder `prefix` names (it ends with `/`, or is empty
    /// for the bucket's top), not those in its subfolders: `delimiter=/`.
    pub direct: bool,
    /// `None` lists every status except `deleted` and `purged`.
    pub status: Option<FileStatus>,
    /// Matches the essence (`text/csv`) or a `type/*` pattern.
    pub content_type: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    /// `metadata.KEY=VALUE`: each key present with exactly this value
    /// (`parse_metadata_filters`).
    pub metadata: Vec<(String, String)>,
    /// Only the files with this external id (seed 001's patient number).
    pub external_id: Option<String>,
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
    /// The position to pass as `since` next time (unchanged when nothing is new).
    pub next_since: ChangeCursor,
}

/// A position in a tenant's change feed: the changes after it come next.
///
/// Changes are ordered by the transaction that wrote them (`xid`), then by their number
/// within the store (`seq`). An engine with one writer at a time (SQLite) numbers changes in
/// commit order and leaves `xid` at 0. PostgreSQL numbers them from a sequence, which is not
/// commit order, and orders them by the writing transaction's id, showing a change only once
/// every older transaction has ended: a change that commits late can never fall behind a
/// cursor already handed out. Written as `seq` when `xid` is 0 (the cursors of earlier
/// versions stay valid) and as `xid.seq` otherwise; clients treat it as opaque.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangeCursor {
    pub xid: i64,
    pub seq: i64,
}

impl ChangeCursor {
    /// The beginning of the feed.
    pub const START: Self = Self { xid: 0, seq: 0 };
}

impl fmt::Display for ChangeCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.xid == 0 {
            write!(f, "{}", self.seq)
        } else {
            write!(f, "{}.{}", self.xid, self.seq)
        }
    }
}

impl FromStr for ChangeCursor {
    type Err = InvalidChangeCursor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = |part: &str| {
            // Digits only: no sign, no spaces, no `+`.
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(InvalidChangeCursor);
            }
            part.parse::<i64>().map_err(|_| InvalidChangeCursor)
        };
        match s.split_once('.') {
            None => Ok(Self {
                xid: 0,
                seq: number(s)?,
            }),
            Some((xid, seq)) => Ok(Self {
                xid: number(xid)?,
                seq: number(seq)?,
            }),
        }
    }
}

/// A `since` that no answer of the change feed could have given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a change-feed cursor")]
pub struct InvalidChangeCursor;

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
    fn change_cursors_round_trip_and_earlier_numbers_stay_valid() {
        for c in [
            ChangeCursor::START,
            ChangeCursor { xid: 0, seq: 41 },
            ChangeCursor { xid: 9_000_123, seq: 7 },
        ] {
            assert_eq!(c.to_string().parse::<ChangeCursor>(), Ok(c));
        }
        assert_eq!("41".parse(), Ok(ChangeCursor { xid: 0, seq: 41 }));
        assert!(ChangeCursor { xid: 0, seq: 41 } < ChangeCursor { xid: 1, seq: 2 });
        for bad in ["", "-1", "+1", "1.", ".1", "1.2.3", "x", " 1", "99999999999999999999"] {
            assert_eq!(bad.parse::<ChangeCursor>(), Err(InvalidChangeCursor), "{bad:?}");
        }
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
