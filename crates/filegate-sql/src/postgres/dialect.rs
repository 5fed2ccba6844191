//! PostgreSQL's SQL where it differs from the text written once: JSON is JSONB (bound text
//! is cast to it), lists travel as arrays, the rows a write transaction checks are locked
//! (`FOR UPDATE`, `FOR SHARE`) because writers run concurrently, "now" is the database's
//! clock, and text cannot hold NUL.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use sqlx::postgres::PgQueryResult;
use sqlx::{Postgres, QueryBuilder};

use super::queue::lease_micros;
use crate::dialect::{BindExt as _, Dialect, RowsAffected};

impl RowsAffected for PgQueryResult {
    fn rows_affected(&self) -> u64 {
        PgQueryResult::rows_affected(self)
    }
}

impl Dialect for Postgres {
    const JSON: &'static str = "::jsonb";
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const FOR_SHARE: &'static str = " FOR SHARE";
    const NOT_BY_INDEX: &'static str = "";
    const CHANGE_XID: &'static str = "pg_current_xact_id()::text::bigint";
    // A sub-select: evaluated once per statement, so the index range stays one range.
    const CHANGE_HORIZON: &'static str =
        " AND change_xid < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)";

    fn push_now(q: &mut QueryBuilder<Self>, _: DateTime<Utc>) {
        q.push("filegate_now_micros()");
    }

    fn push_lease_end(q: &mut QueryBuilder<Self>, _: DateTime<Utc>, lease: Duration) {
        q.push("filegate_now_micros() + ").push_bind(lease_micros(lease));
    }

    fn push_in(q: &mut QueryBuilder<Self>, ids: Vec<String>) -> Result<(), StoreError> {
        q.push(" = ANY(").push_bind(ids).push(")");
        Ok(())
    }

    /// An error message is for people: a NUL in it is replaced.
    fn storable_text(text: &str) -> String {
        text.replace('\0', "\u{fffd}")
    }

    fn push_metadata_match(q: &mut QueryBuilder<Self>, _tenant: &str, pairs: &BTreeMap<String, String>) {
        // One containment test for every pair: the GIN index on metadata serves it.
        let object: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        q.push(" AND metadata @> ")
            .bind_value(serde_json::Value::Object(object).to_string())
            .push("::jsonb");
    }

    fn thumbnail_sizes(tenant: &str, blob_key: &str) -> QueryBuilder<Self> {
        // `jsonb_array_elements` fails on anything but an array: guard it.
        let mut q = QueryBuilder::new(
            "SELECT DISTINCT t.value ->> 'size' FROM files, jsonb_array_elements( \
                 CASE WHEN jsonb_typeof(files.processing -> 'thumbnails') = 'array' \
                      THEN files.processing -> 'thumbnails' ELSE '[]'::jsonb END) AS t(value) \
             WHERE files.blob_key = ",
        );
        q.push_bind(blob_key.to_owned())
            .push(" AND files.tenant = ")
            .push_bind(tenant.to_owned())
            .push(" AND jsonb_typeof(t.value) = 'object'");
        q
    }

    fn add_download_counts(counts: Vec<(String, String, i64)>) -> Result<QueryBuilder<Self>, StoreError> {
        // One statement for the whole batch, whatever its size: the counts travel as three
        // arrays.
        let mut tenants = Vec::with_capacity(counts.len());
        let mut ids = Vec::with_capacity(counts.len());
        let mut ns = Vec::with_capacity(counts.len());
        for (tenant, id, n) in counts {
            tenants.push(tenant);
            ids.push(id);
            ns.push(n);
        }
        let mut q = QueryBuilder::new("UPDATE files SET download_count = files.download_count + v.n FROM UNNEST(");
        q.push_bind(tenants)
            .push("::text[], ")
            .push_bind(ids)
            .push("::text[], ")
            .push_bind(ns)
            .push("::int8[]) AS v(tenant, id, n) WHERE files.tenant = v.tenant AND files.id = v.id");
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_replaced() {
        assert_eq!(Postgres::storable_text("a\0b"), "a\u{fffd}b");
    }
}
