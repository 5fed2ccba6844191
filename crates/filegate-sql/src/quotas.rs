//! Tenant quotas and storage usage, the same SQL text for every engine (the query builder
//! numbers placeholders per engine). What counts is `domain::Quota`'s rule: every file
//! whose status is neither `expired` nor `purged`, by its (logical) size, and the bytes of
//! every zip bundle stored (`ready`, until it expires).

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{BucketName, Quota, StorageUsage, TenantId, TenantUsage};
use sqlx::QueryBuilder;

use crate::convert::micros;
use crate::dialect::{BindExt as _, Dialect, Run as _};
use crate::errors::{bad_row, unstorable};

/// Refuses (`QuotaExceeded`) one more file of `size` bytes for `tenant` unless its quota
/// allows it, inside the caller's write transaction, before the insert. On PostgreSQL the
/// quota row stays locked until commit ([`Dialect::FOR_UPDATE`]), so a concurrent insert of
/// the same tenant waits here and then, in a fresh READ COMMITTED snapshot, counts this one;
/// SQLite's write transaction (`BEGIN IMMEDIATE`) already keeps every other writer out.
/// Either way, two inserts cannot both take the last byte. Tenants without a quota row take
/// no lock.
pub(crate) async fn enforce_quota<DB: Dialect>(
    conn: &mut DB::Connection,
    tenant: &TenantId,
    size: u64,
) -> Result<(), StoreError> {
    let row: Option<QuotaRow> = quota_select::<DB>(tenant, DB::FOR_UPDATE)
        .fetch_optional(&mut *conn)
        .await?;
    let quota = quota_of(row)?;
    if quota.is_unlimited() {
        return Ok(());
    }
    let (bytes, files): (i64, i64) = usage_total::<DB>(tenant).fetch_one(conn).await?;
    quota
        .admit(&storage_usage(bytes, files)?, size)
        .map_err(StoreError::QuotaExceeded)
}

/// The tenant's quota, unlimited without a row.
pub(crate) async fn read_quota<DB: Dialect>(conn: &mut DB::Connection, tenant: &TenantId) -> Result<Quota, StoreError> {
    let row: Option<QuotaRow> = quota_select::<DB>(tenant, "").fetch_optional(conn).await?;
    quota_of(row)
}

/// Inserts or replaces the tenant's quota row in the caller's transaction; `NotFound` when
/// the tenant does not exist.
pub(crate) async fn write_quota<DB: Dialect>(
    conn: &mut DB::Connection,
    tenant: &TenantId,
    quota: &Quota,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut exists = QueryBuilder::<DB>::new("SELECT id FROM tenants WHERE id = ");
    exists.bind_value(tenant.as_str());
    let found: Option<(String,)> = exists.fetch_optional(&mut *conn).await?;
    if found.is_none() {
        return Err(StoreError::NotFound);
    }
    quota_upsert::<DB>(tenant, quota, at)?.execute(conn).await?;
    Ok(())
}

/// The tenant's usage, in total (zip bundles included) and per bucket.
pub(crate) async fn read_usage<DB: Dialect>(
    conn: &mut DB::Connection,
    tenant: &TenantId,
) -> Result<TenantUsage, StoreError> {
    let rows: Vec<BucketUsageRow> = usage_by_bucket::<DB>(tenant).fetch_all(&mut *conn).await?;
    let mut usage = usage_of(rows)?;
    let mut bundles = QueryBuilder::<DB>::new("SELECT ");
    push_bundle_bytes(&mut bundles, tenant);
    let (bytes,): (i64,) = bundles.fetch_one(conn).await?;
    let bytes = u64::try_from(bytes).map_err(|e| bad_row("usage bundle bytes", e))?;
    usage.total.bytes = usage.total.bytes.saturating_add(bytes);
    Ok(usage)
}

/// `(SELECT <bytes of the tenant's stored zip bundles>)`: a bundle takes room while its
/// zip is stored, from `ready` until the sweeper expires it and deletes the zip.
fn push_bundle_bytes<DB: Dialect>(q: &mut QueryBuilder<DB>, tenant: &TenantId) {
    q.push("(SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM archives WHERE tenant = ");
    q.bind_value(tenant.as_str());
    q.push(" AND status = 'ready')");
}

/// The statuses that hold no storage. `files_usage` (migration 0008) is a partial index on
/// exactly this condition, so the text must stay the same.
const HOLDS_STORAGE: &str = "status NOT IN ('expired', 'purged')";

/// The tenant's quota row: `(max_bytes, max_files)`; `lock` follows the `SELECT`.
fn quota_select<DB: Dialect>(tenant: &TenantId, lock: &str) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new("SELECT max_bytes, max_files FROM tenant_quotas WHERE tenant = ");
    q.bind_value(tenant.as_str()).push(lock);
    q
}

type QuotaRow = (Option<i64>, Option<i64>);

/// A tenant without a row is unlimited.
fn quota_of(row: Option<QuotaRow>) -> Result<Quota, StoreError> {
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
fn quota_upsert<DB: Dialect>(
    tenant: &TenantId,
    quota: &Quota,
    at: DateTime<Utc>,
) -> Result<QueryBuilder<DB>, StoreError> {
    let limit = |what: &str, v: Option<u64>| v.map(|n| i64::try_from(n).map_err(|e| unstorable(what, e))).transpose();
    let max_bytes = limit("quota.max_bytes", quota.max_bytes)?;
    let max_files = limit("quota.max_files", quota.max_files)?;
    let mut q = QueryBuilder::<DB>::new("INSERT INTO tenant_quotas (tenant, max_bytes, max_files, updated_at) ");
    q.push_values([()], |mut row, ()| {
        row.bind_value(tenant.as_str())
            .bind_value(max_bytes)
            .bind_value(max_files)
            .bind_value(micros(at));
    });
    q.push(
        " ON CONFLICT (tenant) DO UPDATE SET max_bytes = excluded.max_bytes, \
         max_files = excluded.max_files, updated_at = excluded.updated_at",
    );
    Ok(q)
}

/// `(bucket, bytes, files)` per bucket holding counted files, by bucket name.
fn usage_by_bucket<DB: Dialect>(tenant: &TenantId) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new(
        "SELECT bucket, CAST(COALESCE(SUM(size), 0) AS BIGINT), COUNT(*) FROM files WHERE tenant = ",
    );
    q.bind_value(tenant.as_str());
    q.push(format!(" AND {HOLDS_STORAGE} GROUP BY bucket ORDER BY bucket"));
    q
}

type BucketUsageRow = (String, i64, i64);

fn usage_of(rows: Vec<BucketUsageRow>) -> Result<TenantUsage, StoreError> {
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

/// `(bytes, files)` of the whole tenant, its stored zip bundles' bytes included: what an
/// insert is checked against.
fn usage_total<DB: Dialect>(tenant: &TenantId) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::<DB>::new("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) + ");
    push_bundle_bytes(&mut q, tenant);
    q.push(", COUNT(*) FROM files WHERE tenant = ");
    q.bind_value(tenant.as_str());
    q.push(format!(" AND {HOLDS_STORAGE}"));
    q
}

fn storage_usage(bytes: i64, files: i64) -> Result<StorageUsage, StoreError> {
    Ok(StorageUsage {
        bytes: u64::try_from(bytes).map_err(|e| bad_row("usage bytes", e))?,
        files: u64::try_from(files).map_err(|e| bad_row("usage files", e))?,
    })
}
