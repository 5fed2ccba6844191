//! `Lookups`: recent copies of what the hot paths read on every request or job and what
//! rarely changes — a bucket's policy, a tenant's quota, a tenant's webhook subscriptions.
//!
//! An optimisation like the `Cache`: a copy may lag a change made by another process for
//! a bounded time (the engine's TTL), never one made through this process, whose use cases
//! call the `forget_*` methods after every change. Only reads that merely *apply* a policy go
//! through here; read-modify-write paths (updating a bucket) read the store.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{Bucket, BucketName, Quota, TenantId, Webhook};
use crate::error::StoreError;
use crate::ports::{MetadataStore, NotificationStore};

#[async_trait]
pub trait Lookups: Send + Sync + 'static {
    /// The bucket, from a fresh copy or else from `store`.
    async fn bucket(
        &self,
        store: &dyn MetadataStore,
        tenant: &TenantId,
        name: &BucketName,
    ) -> Result<Option<Arc<Bucket>>, StoreError>;
    /// After a change to the bucket through this process.
    async fn forget_bucket(&self, tenant: &TenantId, name: &BucketName);
    /// The tenant's quota, from a fresh copy or else from `store`. Only for early checks: a
    /// binding check reads the quota in its own transaction.
    async fn quota(&self, store: &dyn MetadataStore, tenant: &TenantId) -> Result<Arc<Quota>, StoreError>;
    /// After the tenant's quota was set through this process.
    async fn forget_quota(&self, tenant: &TenantId);
    /// The tenant's webhook subscriptions, from a fresh copy or else from `store`.
    async fn webhooks(&self, store: &dyn NotificationStore, tenant: &TenantId)
    -> Result<Arc<Vec<Webhook>>, StoreError>;
    /// After a subscription of the tenant was created or deleted through this process.
    async fn forget_webhooks(&self, tenant: &TenantId);
}
