//! Values <-> their stored representations, the same on every engine: ids as UUID text,
//! timestamps as integer microseconds since the Unix epoch, structured values as JSON
//! (TEXT in SQLite, JSONB in PostgreSQL, read back as text). Everything read from the
//! database is decoded with errors, never unwrapped: a value that does not decode is
//! `StoreError::Other` naming what failed. The row types sit with their tables' statements.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{BucketName, FileId, FileStatus, TenantId};
use uuid::Uuid;

use crate::errors::{bad_row, unstorable};

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn time(what: &str, v: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| bad_row(what, format!("timestamp {v} out of range")))
}

pub(crate) fn opt_time(what: &str, v: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    v.map(|v| time(what, v)).transpose()
}

pub(crate) fn to_i64(what: &str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| unstorable(what, format!("{v} exceeds the engine's integer range")))
}

pub(crate) fn to_u64(what: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| bad_row(what, format!("negative value {v}")))
}

pub(crate) fn uuid(what: &str, s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| bad_row(what, e))
}

pub(crate) fn to_json<T: serde::Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| unstorable(what, e))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| bad_row(what, e))
}

pub(crate) fn status(what: &str, s: &str) -> Result<FileStatus, StoreError> {
    s.parse().map_err(|_| bad_row(what, format!("unknown status {s:?}")))
}

pub(crate) fn tenant_id(s: &str) -> Result<TenantId, StoreError> {
    TenantId::parse(s).map_err(|e| bad_row("tenant id", e))
}

pub(crate) fn bucket_name(s: &str) -> Result<BucketName, StoreError> {
    BucketName::parse(s).map_err(|e| bad_row("bucket name", e))
}

/// A count from `COUNT(*)` or `SUM(…)`, which is never negative.
pub(crate) fn count(what: &str, n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Other(anyhow::anyhow!("negative {what} count {n}")))
}

/// Download counts as bound to one statement: one entry per file (duplicates summed, since
/// an `UPDATE … FROM` applies only one source row per target row), as (tenant, id, n).
pub(crate) fn download_counts(counts: &[(TenantId, FileId, u64)]) -> Vec<(String, String, i64)> {
    let mut summed: std::collections::BTreeMap<(&str, FileId), u64> = std::collections::BTreeMap::new();
    for (tenant, id, n) in counts {
        let slot = summed.entry((tenant.as_str(), *id)).or_insert(0);
        *slot = slot.saturating_add(*n);
    }
    summed
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((tenant, id), n)| (tenant.to_owned(), id.to_string(), i64::try_from(n).unwrap_or(i64::MAX)))
        .collect()
}

/// Thumbnail sizes read back as text from `processing.thumbnails[].size`: those that are
/// sizes (whole numbers in `u32`), ascending, without duplicates.
pub(crate) fn thumbnail_sizes(raw: Vec<Option<String>>) -> Vec<u32> {
    let mut sizes: Vec<u32> = raw.into_iter().flatten().filter_map(|s| s.parse().ok()).collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}
