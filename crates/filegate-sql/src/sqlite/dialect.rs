//! SQLite's SQL where it differs from the text written once: JSON is TEXT read with
//! `json_each`/`json_extract`, lists travel as one JSON array, the write transaction holds
//! the whole database (no row locks to ask for), and "now" is the caller's clock.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use sqlx::sqlite::SqliteQueryResult;
use sqlx::{QueryBuilder, Sqlite};

use crate::convert::{micros, to_json};
use crate::dialect::{BindExt as _, Dialect, RowsAffected};

impl RowsAffected for SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        SqliteQueryResult::rows_affected(self)
    }
}

/// `now + lease` in microseconds, saturating instead of overflowing on absurd leases.
pub(super) fn lease_end(now: DateTime<Utc>, lease: Duration) -> i64 {
    micros(now).saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX))
}

impl Dialect for Sqlite {
    const JSON: &'static str = "";
    const FOR_UPDATE: &'static str = "";
    const FOR_SHARE: &'static str = "";
    const NOT_BY_INDEX: &'static str = "+";
    const CHANGE_XID: &'static str = "0";
    const CHANGE_HORIZON: &'static str = "";

    fn push_now(q: &mut QueryBuilder<Self>, now: DateTime<Utc>) {
        q.bind_value(micros(now));
    }

    fn push_lease_end(q: &mut QueryBuilder<Self>, now: DateTime<Utc>, lease: Duration) {
        q.bind_value(lease_end(now, lease));
    }

    fn push_in(q: &mut QueryBuilder<Self>, ids: Vec<String>) -> Result<(), StoreError> {
        q.push(" IN (SELECT value FROM json_each(")
            .bind_value(to_json("ids", &ids)?)
            .push("))");
        Ok(())
    }

    fn storable_text(text: &str) -> String {
        text.to_owned()
    }

    fn push_metadata_match(q: &mut QueryBuilder<Self>, tenant: &str, pairs: &BTreeMap<String, String>) {
        // Each pair through the index of `file_metadata` (migration 0012), which the
        // triggers on `files` keep: the files that have it, not a scan of the tenant's.
        for (key, value) in pairs {
            q.push(" AND id IN (SELECT file_id FROM file_metadata WHERE tenant = ")
                .bind_value(tenant.to_owned())
                .push(" AND key = ")
                .bind_value(key.clone())
                .push(" AND value = ")
                .bind_value(value.clone())
                .push(")");
        }
    }

    fn thumbnail_sizes(tenant: &str, blob_key: &str) -> QueryBuilder<Self> {
        // `json_extract` only on objects: on another element (a string) it would fail.
        let mut q = QueryBuilder::new(
            "SELECT DISTINCT CAST(json_extract(t.value, '$.size') AS TEXT) \
             FROM files, json_each(files.processing, '$.thumbnails') AS t WHERE files.blob_key = ",
        );
        q.bind_value(blob_key.to_owned())
            .push(" AND +files.tenant = ")
            .bind_value(tenant.to_owned())
            .push(" AND t.type = 'object'");
        q
    }

    fn add_download_counts(counts: Vec<(String, String, i64)>) -> Result<QueryBuilder<Self>, StoreError> {
        // One statement for the whole batch, whatever its size: the counts travel as one
        // JSON array.
        let rows: Vec<serde_json::Value> = counts
            .into_iter()
            .map(|(t, f, n)| serde_json::json!({"t": t, "f": f, "n": n}))
            .collect();
        let mut q = QueryBuilder::new(
            "UPDATE files SET download_count = download_count + j.n \
             FROM (SELECT json_extract(value, '$.t') AS t, json_extract(value, '$.f') AS f, \
                          json_extract(value, '$.n') AS n FROM json_each(",
        );
        q.bind_value(to_json("download counts", &rows)?)
            .push(")) AS j WHERE files.tenant = j.t AND files.id = j.f");
        Ok(q)
    }
}
