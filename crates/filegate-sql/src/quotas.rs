//! Tenant quotas and storage usage, the same SQL text for every engine (the query builder
//! numbers placeholders per engine). What counts is `domain::Quota`'s rule: every file
//! whose status is neither `expired` nor `purged`, by its (logical) size, and the bytes of
//! every zip bundle stored (`ready`, until it expires).

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{BucketName, Quota, StorageUsage, TenantId, TenantUsage};
use sqlx::{Database, Encode, Executor, IntoArguments, QueryBuilder, Type};

use crate::errors::{bad_row, store_err, unstorable};
use crate::rows::micros;

/// Refuses (`QuotaExceeded`) one more file of `size` bytes for `tenant` unless its quota
/// allows it, inside the caller's write transaction, before the insert. With `lock`
/// (PostgreSQL) the quota row stays locked until commit, so a concurrent insert of the same
/// tenant waits here and then, in a fresh READ COMMITTED snapshot, counts this one; SQLite's
/// write transaction (`BEGIN IMMEDIATE`) already keeps every other writer out. Either way,
/// two inserts cannot both take the last byte. Tenants without a quota row take no lock.
pub(crate) async fn enforce_quota<DB>(
    conn: &mut DB::Connection,
    tenant: &TenantId,
    size: u64,
    lock: bool,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'r> QuotaRow: sqlx::FromRow<'r, DB::Row>,
    for<'r> (i64, i64): sqlx::FromRow<'r, DB::Row>,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let row: Option<QuotaRow> = quota_select::<DB>(tenant, lock)
        .build_query_as()
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_err)?;
    let quota = quota_of(row)?;
    if quota.is_unlimited() {
        return Ok(());
    }
    let (bytes, files): (i64, i64) = usage_total::<DB>(tenant)
        .build_query_as()
        .fetch_one(&mut *conn)
        .await
        .map_err(store_err)?;
    quota
        .admit(&storage_usage(bytes, files)?, size)
        .map_err(StoreError::QuotaExceeded)
}

/// The tenant's quota, unlimited without a row.
pub(crate) async fn read_quota<'c, DB, E>(executor: E, tenant: &TenantId) -> Result<Quota, StoreError>
where
    DB: Database,
    E: Executor<'c, Database = DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'r> QuotaRow: sqlx::FromRow<'r, DB::Row>,
    DB::Arguments: IntoArguments<DB>,
{
    let row: Option<QuotaRow> = quota_select::<DB>(tenant, false)
        .build_query_as()
        .fetch_optional(executor)
        .await
        .map_err(store_err)?;
    quota_of(row)
}

/// Inserts or replaces the tenant's quota row in the caller's transaction; `NotFound` when
/// the tenant does not exist.
pub(crate) async fn write_quota<DB>(
    conn: &mut DB::Connection,
    tenant: &TenantId,
    quota: &Quota,
    at: DateTime<Utc>,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'r> (String,): sqlx::FromRow<'r, DB::Row>,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let mut exists = QueryBuilder::<DB>::new("SELECT id FROM tenants WHERE id = ");
    exists.push_bind(tenant.as_str().to_owned());
    let found: Option<(String,)> = exists
        .build_query_as()
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_err)?;
    if found.is_none() {
        return Err(StoreError::NotFound);
    }
    quota_upsert::<DB>(tenant, quota, at)?
        .build()
        .execute(&mut *conn)
        .await
        .map_err(store_err)?;
    Ok(())
}

/// The tenant's usage, in total (zip bundles included) and per bucket.
pub(crate) async fn read_usage<'c, DB, E>(executor: E, tenant: &TenantId) -> Result<TenantUsage, StoreError>
where
    DB: Database,
    E: Executor<'c, Database = DB> + Copy,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'r> BucketUsageRow: sqlx::FromRow<'r, DB::Row>,
    for<'r> (i64,): sqlx::FromRow<'r, DB::Row>,
    DB::Arguments: IntoArguments<DB>,
{
    let rows: Vec<BucketUsageRow> = usage_by_bucket::<DB>(tenant)
        .build_query_as()
        .fetch_all(executor)
        .await
        .map_err(store_err)?;
    let mut usage = usage_of(rows)?;
    let mut bundles = QueryBuilder::<DB>::new("SELECT ");
    push_bundle_bytes(&mut bundles, tenant);
    let (bytes,): (i64,) = bundles.build_query_as().fetch_one(executor).await.map_err(store_err)?;
    let bytes = u64::try_from(bytes).map_err(|e| bad_row("usage bundle bytes", e))?;
    usage.total.bytes = usage.total.bytes.saturating_add(bytes);
    Ok(usage)
}

/// `(SELECT <bytes of the tenant's stored zip bundles>)`: a bundle takes room while its
/// zip is stored, from `ready` until the sweeper expires it and deletes the zip.
fn push_bundle_bytes<DB>(q: &mut QueryBuilder<DB>, tenant: &TenantId)
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    q.push("(SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM archives WHERE tenant = ");
    q.push_bind(tenant.as_str().to_owned());
    q.push(" AND status = 'ready')");
}

/// The statuses that hold no storage. `files_usage` (migration 0008) is a partial index on
/// exactly this condition, so the text must stay the same.
const HOLDS_STORAGE: &str = "status NOT IN ('expired', 'purged')";

/// The tenant's quota row: `(max_bytes, max_files)`. With `lock`, PostgreSQL's
/// `FOR UPDATE` holds the row until commit (SQLite's write transaction holds everything).
fn quota_select<DB>(tenant: &TenantId, lock: bool) -> QueryBuilder<DB>
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
fn quota_upsert<DB>(tenant: &TenantId, quota: &Quota, at: DateTime<Utc>) -> Result<QueryBuilder<DB>, StoreError>
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
fn usage_by_bucket<DB>(tenant: &TenantId) -> QueryBuilder<DB>
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
fn usage_total<DB>(tenant: &TenantId) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) + ");
    push_bundle_bytes(&mut q, tenant);
    q.push(", COUNT(*) FROM files WHERE tenant = ");
    q.push_bind(tenant.as_str().to_owned());
    q.push(format!(" AND {HOLDS_STORAGE}"));
    q
}

fn storage_usage(bytes: i64, files: i64) -> Result<StorageUsage, StoreError> {
    Ok(StorageUsage {
        bytes: u64::try_from(bytes).map_err(|e| bad_row("usage bytes", e))?,
        files: u64::try_from(files).map_err(|e| bad_row("usage files", e))?,
    })
}
