//! Tenants, buckets and API keys: their rows and statements (run by `metadata.rs`).

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{ApiKey, ApiKeyId, Bucket, BucketName, Role, Tenant, TenantId};
use sqlx::{FromRow, QueryBuilder};

use crate::convert::{bucket_name, from_json, micros, opt_time, tenant_id, time, to_json, uuid};
use crate::dialect::{BindExt as _, Dialect};
use crate::errors::bad_row;

#[derive(FromRow)]
pub struct TenantRow {
    id: String,
    created_at: i64,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> Result<Self, StoreError> {
        Ok(Tenant {
            id: tenant_id(&r.id)?,
            created_at: time("tenant.created_at", r.created_at)?,
        })
    }
}

pub(crate) fn insert_tenant<DB: Dialect>(tenant: &Tenant) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new("INSERT INTO tenants (id, created_at) VALUES (");
    q.bind_value(tenant.id.as_str())
        .push(", ")
        .bind_value(micros(tenant.created_at))
        .push(")");
    q
}

pub(crate) fn select_tenant<DB: Dialect>(id: &TenantId) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new("SELECT id, created_at FROM tenants WHERE id = ");
    q.bind_value(id.as_str());
    q
}

/// By id.
pub(crate) fn list_tenants<DB: Dialect>() -> QueryBuilder<DB> {
    QueryBuilder::new("SELECT id, created_at FROM tenants ORDER BY id")
}

#[derive(FromRow)]
pub struct BucketRow {
    tenant: String,
    name: String,
    policy: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<BucketRow> for Bucket {
    type Error = StoreError;
    fn try_from(r: BucketRow) -> Result<Self, StoreError> {
        Ok(Bucket {
            tenant: tenant_id(&r.tenant)?,
            name: bucket_name(&r.name)?,
            policy: from_json("bucket.policy", &r.policy)?,
            created_at: time("bucket.created_at", r.created_at)?,
            updated_at: time("bucket.updated_at", r.updated_at)?,
        })
    }
}

/// The columns `BucketRow` reads (JSON cast to text for PostgreSQL's JSONB).
const BUCKET_COLUMNS: &str = "tenant, name, CAST(policy AS TEXT) AS policy, created_at, updated_at";

pub(crate) fn insert_bucket<DB: Dialect>(bucket: &Bucket) -> Result<QueryBuilder<DB>, StoreError> {
    let mut q = QueryBuilder::new("INSERT INTO buckets (tenant, name, policy, created_at, updated_at) VALUES (");
    q.bind_value(bucket.tenant.as_str());
    q.push(", ").bind_value(bucket.name.as_str());
    q.push(", ")
        .bind_value(to_json("bucket.policy", &bucket.policy)?)
        .push(DB::JSON);
    q.push(", ").bind_value(micros(bucket.created_at));
    q.push(", ").bind_value(micros(bucket.updated_at)).push(")");
    Ok(q)
}

pub(crate) fn update_bucket<DB: Dialect>(bucket: &Bucket) -> Result<QueryBuilder<DB>, StoreError> {
    let mut q = QueryBuilder::new("UPDATE buckets SET policy = ");
    q.bind_value(to_json("bucket.policy", &bucket.policy)?).push(DB::JSON);
    q.push(", updated_at = ").bind_value(micros(bucket.updated_at));
    q.push(" WHERE tenant = ").bind_value(bucket.tenant.as_str());
    q.push(" AND name = ").bind_value(bucket.name.as_str());
    Ok(q)
}

pub(crate) fn select_bucket<DB: Dialect>(tenant: &TenantId, name: &BucketName) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new(format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE tenant = "));
    q.bind_value(tenant.as_str())
        .push(" AND name = ")
        .bind_value(name.as_str());
    q
}

/// By name.
pub(crate) fn list_buckets<DB: Dialect>(tenant: &TenantId) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new(format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE tenant = "));
    q.bind_value(tenant.as_str()).push(" ORDER BY name");
    q
}

#[derive(FromRow)]
pub struct ApiKeyRow {
    id: String,
    tenant: String,
    name: String,
    roles: String,
    secret_hash: Vec<u8>,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;
    fn try_from(r: ApiKeyRow) -> Result<Self, StoreError> {
        let names: Vec<String> = from_json("api_key.roles", &r.roles)?;
        let roles = names
            .iter()
            .map(|n| Role::parse(n).map_err(|e| bad_row("api_key.roles", e)))
            .collect::<Result<_, _>>()?;
        let secret_hash: [u8; 32] = r
            .secret_hash
            .as_slice()
            .try_into()
            .map_err(|_| bad_row("api_key.secret_hash", format!("{} bytes, not 32", r.secret_hash.len())))?;
        Ok(ApiKey {
            id: ApiKeyId::from_uuid(uuid("api_key.id", &r.id)?),
            tenant: tenant_id(&r.tenant)?,
            name: r.name,
            roles,
            secret_hash,
            created_at: time("api_key.created_at", r.created_at)?,
            revoked_at: opt_time("api_key.revoked_at", r.revoked_at)?,
        })
    }
}

/// The columns `ApiKeyRow` reads (JSON cast to text for PostgreSQL's JSONB).
const API_KEY_COLUMNS: &str = "id, tenant, name, CAST(roles AS TEXT) AS roles, secret_hash, created_at, revoked_at";

pub(crate) fn insert_api_key<DB: Dialect>(key: &ApiKey) -> Result<QueryBuilder<DB>, StoreError> {
    let roles: Vec<&str> = key.roles.iter().map(|r| r.as_str()).collect();
    let mut q = QueryBuilder::new(
        "INSERT INTO api_keys (id, tenant, name, roles, secret_hash, created_at, revoked_at) VALUES (",
    );
    q.bind_value(key.id.to_string());
    q.push(", ").bind_value(key.tenant.as_str());
    q.push(", ").bind_value(key.name.as_str());
    q.push(", ")
        .bind_value(to_json("api_key.roles", &roles)?)
        .push(DB::JSON);
    q.push(", ").bind_value(key.secret_hash.as_slice());
    q.push(", ").bind_value(micros(key.created_at));
    q.push(", ").bind_value(key.revoked_at.map(micros)).push(")");
    Ok(q)
}

pub(crate) fn find_api_key<DB: Dialect>(secret_hash: &[u8; 32]) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new(format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE secret_hash = "));
    q.bind_value(secret_hash.as_slice());
    q
}

/// Oldest first.
pub(crate) fn list_api_keys<DB: Dialect>(tenant: &TenantId) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new(format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant = "));
    q.bind_value(tenant.as_str()).push(" ORDER BY created_at, id");
    q
}

/// Idempotent: a second revocation keeps the first time.
pub(crate) fn revoke_api_key<DB: Dialect>(tenant: &TenantId, id: ApiKeyId, at: DateTime<Utc>) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ");
    q.bind_value(micros(at)).push(")");
    q.push(" WHERE tenant = ").bind_value(tenant.as_str());
    q.push(" AND id = ").bind_value(id.to_string());
    q
}
