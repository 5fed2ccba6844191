//! `Cache` and `RateLimiter`: in process by default (`filegate-memory`), Redis when several
//! instances share them (`filegate-redis`).
//!
//! Both are optimisations and guards, never the source of truth: callers treat an error as
//! "the cache is empty" and "the request is allowed" (see `filegate_memory::CachedStore`
//! and [`crate::cache::GuardedLimiter`]), so correctness never depends on them.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::StoreError;

/// A byte cache with a time to live per entry. Keys are opaque to the cache; callers put
/// what scopes the value (tenant, id) in the key.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// The value stored under `key`, or `None` when absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value` under `key` for `ttl` (replacing any earlier value and its TTL).
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError>;
    /// Removes `key`; removing an absent key succeeds.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// The answer of a rate limiter for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// The request may go ahead; `remaining` more would be allowed right now.
    Allowed { remaining: u32 },
    /// Over the limit; a request made after `retry_after` would be allowed.
    Limited { retry_after: Duration },
}

impl RateDecision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }
}

/// Counts requests per key: at most `limit` per `window`, with bursts of up to `limit`.
/// A limit of 0 refuses everything. Implementations must be atomic across every instance
/// that shares them (two gateways on one Redis share one count).
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Records one request for `key` and says whether it is allowed.
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision, StoreError>;
}
