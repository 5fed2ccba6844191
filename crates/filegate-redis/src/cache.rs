//! `RedisCache`: the `Cache` port on Redis strings with a millisecond TTL.

use std::time::Duration;

use async_trait::async_trait;
use filegate_core::StoreError;
use filegate_core::ports::Cache;

use crate::Redis;

/// A cache shared by every instance on the same Redis and prefix. Keys are stored as
/// `<prefix>cache:<key>`.
#[derive(Clone, Debug)]
pub struct RedisCache {
    redis: Redis,
}

impl RedisCache {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    /// One round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.redis.ping().await
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.redis.key("cache", key);
        let mut conn = self.redis.conn.clone();
        self.redis
            .call(
                "GET",
                async move { redis::cmd("GET").arg(key).query_async(&mut conn).await },
            )
            .await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let key = self.redis.key("cache", key);
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut conn = self.redis.conn.clone();
        let call = async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ttl_ms)
                .query_async::<()>(&mut conn)
                .await
        };
        self.redis.call("SET", call).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let key = self.redis.key("cache", key);
        let mut conn = self.redis.conn.clone();
        self.redis
            .call("DEL", async move {
                redis::cmd("DEL").arg(key).query_async::<()>(&mut conn).await
            })
            .await
    }
}
