//! filegate's Redis engines: a [`RedisCache`] and a [`RedisRateLimiter`] shared by every
//! instance that points at the same Redis and key prefix.
//!
//! Both sit on one [`Redis`] handle: a `ConnectionManager` (one multiplexed connection that
//! reconnects by itself), a key prefix (default `filegate:`), a short timeout on every call
//! (default 250 ms) and a circuit breaker: after a failure, calls fail at once for a
//! cool-down (default 1 s) instead of each waiting for the timeout, so a dead Redis costs
//! next to nothing. Every failure is `StoreError::Unavailable`; the callers
//! (`filegate_memory::CachedStore`, `filegate_core::cache::GuardedLimiter`) turn that into
//! "use the store" and "allow the request". Redis is never the source of truth.
//!
//! ```no_run
//! # async fn wire() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use filegate_core::ports::{Cache, RateLimiter};
//! let redis = filegate_redis::Redis::open(&filegate_redis::RedisConfig::new("redis://127.0.0.1:6379/0"))?;
//! let cache: Arc<dyn Cache> = Arc::new(redis.cache());
//! let limiter: Arc<dyn RateLimiter> = Arc::new(redis.rate_limiter());
//! redis.ping().await?; // for /readyz
//! # Ok(()) }
//! ```

mod cache;
mod limiter;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use filegate_core::StoreError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use cache::RedisCache;
pub use limiter::RedisRateLimiter;

/// Where Redis is and how long to wait for it.
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port/db`.
    pub url: String,
    /// Put in front of every key, so several deployments (or tests) can share one Redis.
    pub prefix: String,
    /// The longest any one call (connecting included) may take.
    pub timeout: Duration,
    /// After a failure, how long calls fail at once before Redis is tried again.
    pub cooldown: Duration,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("cooldown", &self.cooldown)
            .finish()
    }
}

impl RedisConfig {
    pub const DEFAULT_PREFIX: &str = "filegate:";
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
    pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(1);

    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            timeout: Self::DEFAULT_TIMEOUT,
            cooldown: Self::DEFAULT_COOLDOWN,
        }
    }

    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }
}

/// The URL with its password (if any) replaced, for logs and `Debug`.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://<redacted>@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// A connection to one Redis with a key prefix. Cheap to clone; clones share the
/// connection and the circuit breaker.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
    breaker: Arc<Breaker>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Parses the URL and prepares the connection without making it: a Redis that is down
    /// at start-up does not stop the gateway (`ping` tells `/readyz`). Must be called
    /// inside a Tokio runtime. Fails only on a malformed URL or outside a runtime.
    pub fn open(config: &RedisConfig) -> anyhow::Result<Self> {
        tokio::runtime::Handle::try_current().context("Redis::open must run inside a Tokio runtime")?;
        let client = redis::Client::open(config.url.as_str())
            .with_context(|| format!("invalid Redis URL {}", redacted(&config.url)))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            // Give up reconnecting quickly; the next call starts a new attempt.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(config.cooldown.max(Duration::from_millis(50)));
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)
            .with_context(|| format!("preparing the Redis connection to {}", redacted(&config.url)))?;
        Ok(Self {
            conn,
            prefix: Arc::from(config.prefix.as_str()),
            timeout: config.timeout,
            breaker: Arc::new(Breaker::new(config.cooldown)),
        })
    }

    /// The shared cache on this connection (keys `<prefix>cache:<key>`).
    pub fn cache(&self) -> RedisCache {
        RedisCache::new(self.clone())
    }

    /// The shared rate limiter on this connection (keys `<prefix>rate:<key>`).
    pub fn rate_limiter(&self) -> RedisRateLimiter {
        RedisRateLimiter::new(self.clone())
    }

    /// One round trip, for `/readyz`. Not subject to the circuit breaker, so a recovered
    /// Redis shows as ready at once.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let answer: String = self
            .call_unguarded("PING", async move { redis::cmd("PING").query_async(&mut conn).await })
            .await?;
        if answer == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Unavailable(anyhow!("Redis answered PING with {answer:?}")))
        }
    }

    fn key(&self, namespace: &str, key: &str) -> String {
        format!("{}{namespace}:{key}", self.prefix)
    }

    /// Runs one call under the breaker and the timeout.
    async fn call<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        if let Some(left) = self.breaker.open_for() {
            return Err(StoreError::Unavailable(anyhow!(
                "Redis failed recently; not retried for another {left:?}"
            )));
        }
        self.call_unguarded(what, call).await
    }

    async fn call_unguarded<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(anyhow::Error::new(error).context(format!("Redis {what}"))),
            Err(_) => Err(anyhow!("Redis {what} took longer than {:?}", self.timeout)),
        };
        match result {
            Ok(value) => {
                self.breaker.close();
                Ok(value)
            }
            Err(error) => {
                self.breaker.trip();
                Err(StoreError::Unavailable(error))
            }
        }
    }
}

/// Open (failing fast) until an instant after a failure, closed otherwise.
struct Breaker {
    start: Instant,
    cooldown: Duration,
    /// Milliseconds after `start` until which calls fail at once; 0 when closed.
    open_until_ms: AtomicU64,
}

impl Breaker {
    fn new(cooldown: Duration) -> Self {
        Self {
            start: Instant::now(),
            cooldown,
            open_until_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How long the breaker stays open, if it is.
    fn open_for(&self) -> Option<Duration> {
        let until = self.open_until_ms.load(Ordering::Relaxed);
        let now = self.now_ms();
        (until > now).then(|| Duration::from_millis(until - now))
    }

    fn trip(&self) {
        let cooldown = u64::try_from(self.cooldown.as_millis()).unwrap_or(u64::MAX);
        self.open_until_ms
            .store(self.now_ms().saturating_add(cooldown), Ordering::Relaxed);
    }

    fn close(&self) {
        self.open_until_ms.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            redacted("redis://user:secret@10.0.0.1:6379/0"),
            "redis://<redacted>@10.0.0.1:6379/0"
        );
        assert_eq!(redacted("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
        let config = RedisConfig::new("redis://:pw@h/0");
        assert!(!format!("{config:?}").contains("pw"));
    }

    #[test]
    fn open_refuses_bad_urls_and_needs_no_server() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            assert!(Redis::open(&RedisConfig::new("http://127.0.0.1/")).is_err());
            assert!(Redis::open(&RedisConfig::new("not a url")).is_err());
            // Nothing listens on port 1; opening still succeeds (lazily).
            Redis::open(&RedisConfig::new("redis://127.0.0.1:1/0")).unwrap();
        });
        assert!(
            Redis::open(&RedisConfig::new("redis://127.0.0.1:1/0")).is_err(),
            "outside a runtime"
        );
    }
}
