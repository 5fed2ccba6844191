//! `MemoryLookups`: the `Lookups` port as short-lived, in-process copies of what the hot
//! paths read on every request or job and what rarely changes — a bucket's policy (every
//! upload, completion and processed file), a tenant's quota (every upload's early check)
//! and a tenant's webhook subscriptions (every event).
//!
//! A change made through this process forgets its copy at once, so here it is seen by the
//! next read. Another process (a second gateway, a worker of its own) keeps its copy for at
//! most the TTL: a new bucket policy or webhook takes effect there within that time. Only
//! reads that merely *apply* a policy go through here; read-modify-write paths (updating a
//! bucket) read the store.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::RwLock;

use filegate_core::StoreError;
use filegate_core::domain::{Bucket, BucketName, Quota, TenantId, Webhook};
use filegate_core::ports::{Lookups, MetadataStore, NotificationStore};

/// Entries kept per kind: far more tenants and buckets than one process serves at once.
const CAPACITY: u64 = 10_000;

#[derive(Clone)]
pub struct MemoryLookups {
    buckets: moka::future::Cache<(TenantId, BucketName), Arc<Bucket>>,
    quotas: moka::future::Cache<TenantId, Arc<Quota>>,
    webhooks: moka::future::Cache<TenantId, Arc<Vec<Webhook>>>,
    /// Bumped by every `forget_*` while it forgets (write lock); a read stores its copy only
    /// if no bump happened since it asked the store (checked and stored under the read
    /// lock). A read that raced a change therefore keeps nothing, and this process never
    /// serves a copy older than its own last change.
    changes: Arc<RwLock<u64>>,
}

impl std::fmt::Debug for MemoryLookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLookups").finish_non_exhaustive()
    }
}

impl Default for MemoryLookups {
    /// One second: the most another process lags behind a change.
    fn default() -> Self {
        Self::new(Duration::from_secs(1))
    }
}

impl MemoryLookups {
    pub fn new(ttl: Duration) -> Self {
        Self {
            buckets: moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            quotas: moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            webhooks: moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            changes: Arc::new(RwLock::new(0)),
        }
    }

    /// The copy under `key`, or what `load` reads (kept unless a change came meanwhile).
    async fn read_through<K, V>(
        &self,
        cache: &moka::future::Cache<K, Arc<V>>,
        key: K,
        load: impl std::future::Future<Output = Result<Option<V>, StoreError>>,
    ) -> Result<Option<Arc<V>>, StoreError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        if let Some(copy) = cache.get(&key).await {
            return Ok(Some(copy));
        }
        let seen = *self.changes.read().await;
        let Some(value) = load.await? else {
            return Ok(None);
        };
        let value = Arc::new(value);
        let now = self.changes.read().await;
        if *now == seen {
            cache.insert(key, Arc::clone(&value)).await;
        }
        Ok(Some(value))
    }

    async fn forget<K, V>(&self, cache: &moka::future::Cache<K, Arc<V>>, key: &K)
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        let mut changes = self.changes.write().await;
        *changes += 1;
        cache.invalidate(key).await;
    }
}

#[async_trait]
impl Lookups for MemoryLookups {
    /// The bucket, from the copy when there is a fresh one. A missing bucket is not kept:
    /// the next read asks the store again (it may just have been created elsewhere).
    async fn bucket(
        &self,
        store: &dyn MetadataStore,
        tenant: &TenantId,
        name: &BucketName,
    ) -> Result<Option<Arc<Bucket>>, StoreError> {
        self.read_through(
            &self.buckets,
            (tenant.clone(), name.clone()),
            store.get_bucket(tenant, name),
        )
        .await
    }

    /// After a change to the bucket through this process.
    async fn forget_bucket(&self, tenant: &TenantId, name: &BucketName) {
        self.forget(&self.buckets, &(tenant.clone(), name.clone())).await;
    }

    /// The tenant's quota, from the copy when there is a fresh one. Only for the early check
    /// at create-upload: the binding check reads the quota in the insert's own transaction.
    async fn quota(&self, store: &dyn MetadataStore, tenant: &TenantId) -> Result<Arc<Quota>, StoreError> {
        let load = async { store.tenant_quota(tenant).await.map(Some) };
        let quota = self.read_through(&self.quotas, tenant.clone(), load).await?;
        Ok(quota.unwrap_or_default())
    }

    /// After the tenant's quota was set through this process.
    async fn forget_quota(&self, tenant: &TenantId) {
        self.forget(&self.quotas, tenant).await;
    }

    /// The tenant's webhook subscriptions, from the copy when there is a fresh one.
    async fn webhooks(
        &self,
        store: &dyn NotificationStore,
        tenant: &TenantId,
    ) -> Result<Arc<Vec<Webhook>>, StoreError> {
        let load = async { store.list_webhooks(tenant).await.map(Some) };
        let webhooks = self.read_through(&self.webhooks, tenant.clone(), load).await?;
        Ok(webhooks.unwrap_or_default())
    }

    /// After a subscription of the tenant was created or deleted through this process.
    async fn forget_webhooks(&self, tenant: &TenantId) {
        self.forget(&self.webhooks, tenant).await;
    }
}
