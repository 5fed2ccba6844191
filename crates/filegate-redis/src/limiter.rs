//! `RedisRateLimiter`: the `RateLimiter` port as a Lua script (GCRA), atomic across every
//! instance on the same Redis. The same algorithm as `filegate_memory::gcra`, on
//! microseconds of the Redis server's clock.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use filegate_core::StoreError;
use filegate_core::ports::{RateDecision, RateLimiter};

use crate::Redis;

/// A rate limiter shared by every instance on the same Redis and prefix. Keys are stored
/// as `<prefix>rate:<key>`, each holding one number and expiring once it no longer matters.
#[derive(Clone)]
pub struct RedisRateLimiter {
    redis: Redis,
    script: Arc<redis::Script>,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            script: Arc::new(redis::Script::new(include_str!("gcra.lua"))),
        }
    }

    /// One round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.redis.ping().await
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision, StoreError> {
        if limit == 0 {
            return Ok(RateDecision::Limited { retry_after: window });
        }
        let window_us = u64::try_from(window.as_micros()).unwrap_or(u64::MAX).max(1);
        let interval_us = (window_us / u64::from(limit)).max(1);
        let key = self.redis.key("rate", key);
        let script = self.script.clone();
        let mut conn = self.redis.conn.clone();
        let call = async move {
            script
                .key(key)
                .arg(interval_us)
                .arg(window_us)
                .invoke_async::<(i64, i64)>(&mut conn)
                .await
        };
        let (allowed, value) = self.redis.call("rate limit script", call).await?;
        let value = u64::try_from(value).unwrap_or(0);
        Ok(if allowed == 1 {
            let remaining = u32::try_from(value).unwrap_or(u32::MAX).min(limit - 1);
            RateDecision::Allowed { remaining }
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_micros(value.max(1)),
            }
        })
    }
}
