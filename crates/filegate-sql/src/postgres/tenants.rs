//! Tenants, buckets and API keys.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{ApiKey, ApiKeyId, Bucket, BucketName, Tenant, TenantId};
use sqlx::PgConnection;

use super::PostgresStore;
use crate::errors::store_err;
use crate::rows::{ApiKeyRow, BucketRow, TenantRow, micros, roles_json, to_json};

macro_rules! bucket_columns {
    () => {
        "tenant, name, policy::text AS policy, created_at, updated_at"
    };
}

macro_rules! api_key_columns {
    () => {
        "id, tenant, name, roles::text AS roles, secret_hash, created_at, revoked_at"
    };
}

async fn insert_bucket(conn: &mut PgConnection, bucket: &Bucket) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO buckets (tenant, name, policy, created_at, updated_at) VALUES ($1, $2, $3::jsonb, $4, $5)",
    )
    .bind(bucket.tenant.as_str())
    .bind(bucket.name.as_str())
    .bind(to_json("bucket.policy", &bucket.policy)?)
    .bind(micros(bucket.created_at))
    .bind(micros(bucket.updated_at))
    .execute(conn)
    .await
    .map_err(store_err)?;
    Ok(())
}

impl PostgresStore {
    pub(super) async fn create_tenant_impl(&self, tenant: &Tenant, first_bucket: &Bucket) -> Result<(), StoreError> {
        if first_bucket.tenant != tenant.id {
            return Err(StoreError::Other(anyhow::anyhow!(
                "the first bucket of tenant {} belongs to tenant {}",
                tenant.id,
                first_bucket.tenant
            )));
        }
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO tenants (id, created_at) VALUES ($1, $2)")
            .bind(tenant.id.as_str())
            .bind(micros(tenant.created_at))
            .execute(&mut *tx)
            .await
            .map_err(|e| match store_err(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("tenant {} exists", tenant.id)),
                other => other,
            })?;
        insert_bucket(&mut tx, first_bucket).await?;
        tx.commit().await.map_err(store_err)
    }

    pub(super) async fn get_tenant_impl(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        sqlx::query_as::<_, TenantRow>("SELECT id, created_at FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_err)?
            .map(Tenant::try_from)
            .transpose()
    }

    pub(super) async fn create_bucket_impl(&self, bucket: &Bucket) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_err)?;
        insert_bucket(&mut conn, bucket).await.map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!("bucket {} exists", bucket.name)),
            other => other,
        })
    }

    pub(super) async fn update_bucket_impl(&self, bucket: &Bucket) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE buckets SET policy = $1::jsonb, updated_at = $2 WHERE tenant = $3 AND name = $4")
                .bind(to_json("bucket.policy", &bucket.policy)?)
                .bind(micros(bucket.updated_at))
                .bind(bucket.tenant.as_str())
                .bind(bucket.name.as_str())
                .execute(&self.pool)
                .await
                .map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(super) async fn get_bucket_impl(
        &self,
        tenant: &TenantId,
        name: &BucketName,
    ) -> Result<Option<Bucket>, StoreError> {
        sqlx::query_as::<_, BucketRow>(concat!(
            "SELECT ",
            bucket_columns!(),
            " FROM buckets WHERE tenant = $1 AND name = $2"
        ))
        .bind(tenant.as_str())
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?
        .map(Bucket::try_from)
        .transpose()
    }

    pub(super) async fn list_buckets_impl(&self, tenant: &TenantId) -> Result<Vec<Bucket>, StoreError> {
        sqlx::query_as::<_, BucketRow>(concat!(
            "SELECT ",
            bucket_columns!(),
            " FROM buckets WHERE tenant = $1 ORDER BY name"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(Bucket::try_from)
        .collect()
    }

    pub(super) async fn create_api_key_impl(&self, key: &ApiKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant, name, roles, secret_hash, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)",
        )
        .bind(key.id.to_string())
        .bind(key.tenant.as_str())
        .bind(&key.name)
        .bind(roles_json(&key.roles)?)
        .bind(key.secret_hash.as_slice())
        .bind(micros(key.created_at))
        .bind(key.revoked_at.map(micros))
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(())
    }

    pub(super) async fn find_api_key_impl(&self, secret_hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        sqlx::query_as::<_, ApiKeyRow>(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE secret_hash = $1"
        ))
        .bind(secret_hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?
        .map(ApiKey::try_from)
        .transpose()
    }

    pub(super) async fn list_api_keys_impl(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        sqlx::query_as::<_, ApiKeyRow>(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE tenant = $1 ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(ApiKey::try_from)
        .collect()
    }

    pub(super) async fn revoke_api_key_impl(
        &self,
        tenant: &TenantId,
        id: ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Idempotent: a second revocation keeps the first time.
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE tenant = $2 AND id = $3")
                .bind(micros(at))
                .bind(tenant.as_str())
                .bind(id.to_string())
                .execute(&self.pool)
                .await
                .map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
