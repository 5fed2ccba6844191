//! `/v1/admin`: tenants, buckets and API keys.

use filegate_api::{
    ApiKeyCreated, ApiKeyList, BucketList, BucketPolicyChange, BucketView, CreateApiKey, CreateBucket, CreateTenant,
    TenantView,
};
use reqwest::Method;

use crate::{Client, Result};

impl Client {
    /// `POST /v1/admin/tenants` (superadmin).
    pub async fn create_tenant(&self, request: &CreateTenant) -> Result<TenantView> {
        let rb = self.request(Method::POST, &["v1", "admin", "tenants"])?;
        self.send_json(rb.json(request)).await
    }

    /// `POST /v1/admin/buckets`: `name` is required, the rest defaults.
    pub async fn create_bucket(&self, request: &CreateBucket) -> Result<BucketView> {
        let rb = self.request(Method::POST, &["v1", "admin", "buckets"])?;
        self.send_json(rb.json(request)).await
    }

    /// `PATCH /v1/admin/buckets/{name}`: absent fields keep their value.
    pub async fn update_bucket(&self, name: &str, change: &BucketPolicyChange) -> Result<BucketView> {
        let rb = self.request(Method::PATCH, &["v1", "admin", "buckets", name])?;
        self.send_json(rb.json(change)).await
    }

    /// `GET /v1/admin/buckets`
    pub async fn list_buckets(&self) -> Result<BucketList> {
        self.send_json(self.request(Method::GET, &["v1", "admin", "buckets"])?)
            .await
    }

    /// `GET /v1/admin/buckets/{name}`
    pub async fn get_bucket(&self, name: &str) -> Result<BucketView> {
        self.send_json(self.request(Method::GET, &["v1", "admin", "buckets", name])?)
            .await
    }

    /// `POST /v1/admin/api-keys`: the answer is the only time the key is shown.
    pub async fn create_api_key(&self, request: &CreateApiKey) -> Result<ApiKeyCreated> {
        let rb = self.request(Method::POST, &["v1", "admin", "api-keys"])?;
        self.send_json(rb.json(request)).await
    }

    /// `GET /v1/admin/api-keys`
    pub async fn list_api_keys(&self) -> Result<ApiKeyList> {
        self.send_json(self.request(Method::GET, &["v1", "admin", "api-keys"])?)
            .await
    }

    /// `DELETE /v1/admin/api-keys/{id}`: revokes the key (`204`).
    pub async fn revoke_api_key(&self, id: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &["v1", "admin", "api-keys", id])?)
            .await
    }
}
