//! Tenant quotas and storage usage, the same SQL text for every engine (the query builder
//! numbers placeholders per engine). What counts is `domain::Quota`'s rule: every file
//! whose status is neither `expired` nor `purged`, by its (logical) size.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{BucketName, Quota, StorageUsage, TenantId, TenantUsage};
use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::errors::{bad_row, unstorable};
use crate::rows::micros;

/// The statuses that hold no storage. `files_usage` (migration 0008) is a partial index on
/// exactly this condition, so the text must stay the same.
const HOLDS_STORAGE: &str = "status NOT IN ('expired', 'purged')";

/// The tenant's quota row: `(max_bytes, max_files)`. With `lock`, PostgreSQL's
/// `FOR UPDATE` holds the row until commit (SQLite's write transaction holds everything).
pub(crate) fn quota_select<DB>(tenant: &TenantId, lock: bool) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new("SELECT max_bytes, max_files FROM tenant_quotas WHERE tenant = ");
    q.push_bind(tenant.as_str().to_owned());
    if lock {
        q.push(" FOR UPDATE");
    }
    q
}

pub(crate) type QuotaRow = (Option<i64>, Option<i64>);

/// A tenant without a row is unlimited.
pub(crate) fn quota_of(row: Option<QuotaRow>) -> Result<Quota, StoreError> {
    let Some((max_bytes, max_files)) = row else {
        return Ok(Quota::UNLIMITED);
    };
    let limit = |what: &str, v: Option<i64>| v.map(|n| u64::try_from(n).map_err(|e| bad_row(what, e))).transpose();
    Ok(Quota {
        max_bytes: limit("tenant_quotas.max_bytes", max_bytes)?,
        max_files: limit("tenant_quotas.max_files", max_files)?,
    })
}

/// Inserts or replaces the tenant's quota row.
pub(crate) fn quota_upsert<DB>(
    tenant: &TenantId,
    quota: &Quota,
    at: DateTime<Utc>,
) -> Result<QueryBuilder<DB>, StoreError>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
{
    let limit = |what: &str, v: Option<u64>| v.map(|n| i64::try_from(n).map_err(|e| unstorable(what, e))).transpose();
    let max_bytes = limit("quota.max_bytes", quota.max_bytes)?;
    let max_files = limit("quota.max_files", quota.max_files)?;
    let mut q = QueryBuilder::<DB>::new("INSERT INTO tenant_quotas (tenant, max_bytes, max_files, updated_at) ");
    q.push_values([()], |mut row, ()| {
        row.push_bind(tenant.as_str().to_owned())
            .push_bind(max_bytes)
            .push_bind(max_files)
            .push_bind(micros(at));
    });
    q.push(
        " ON CONFLICT (tenant) DO UPDATE SET max_bytes = excluded.max_bytes, \
         max_files = excluded.max_files, updated_at = excluded.updated_at",
    );
    Ok(q)
}

/// `(bucket, bytes, files)` per bucket holding counted files, by bucket name.
pub(crate) fn usage_by_bucket<DB>(tenant: &TenantId) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new(
        "SELECT bucket, CAST(COALESCE(SUM(size), 0) AS BIGINT), COUNT(*) FROM files WHERE tenant = ",
    );
    q.push_bind(tenant.as_str().to_owned());
    q.push(format!(" AND {HOLDS_STORAGE} GROUP BY bucket ORDER BY bucket"));
    q
}

pub(crate) type BucketUsageRow = (String, i64, i64);

pub(crate) fn usage_of(rows: Vec<BucketUsageRow>) -> Result<TenantUsage, StoreError> {
    let mut usage = TenantUsage::default();
    for (bucket, bytes, files) in rows {
        let bucket = BucketName::parse(&bucket).map_err(|e| bad_row("files.bucket", e))?;
        let counted = storage_usage(bytes, files)?;
        usage.total.bytes = usage.total.bytes.saturating_add(counted.bytes);
        usage.total.files = usage.total.files.saturating_add(counted.files);
        usage.buckets.push((bucket, counted));
    }
    Ok(usage)
}

/// `(bytes, files)` of the whole tenant: what an insert is checked against.
pub(crate) fn usage_total<DB>(tenant: &TenantId) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    let mut q =
        QueryBuilder::<DB>::new("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), COUNT(*) FROM files WHERE tenant = ");
    q.push_bind(tenant.as_str().to_owned());
    q.push(format!(" AND {HOLDS_STORAGE}"));
    q
}

pub(crate) fn storage_usage(bytes: i64, files: i64) -> Result<StorageUsage, StoreError> {
    Ok(StorageUsage {
        bytes: u64::try_from(bytes).map_err(|e| bad_row("usage bytes", e))?,
        files: u64::try_from(files).map_err(|e| bad_row("usage files", e))?,
    })
}
