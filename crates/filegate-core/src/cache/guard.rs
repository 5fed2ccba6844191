//! `GuardedLimiter`: a rate limiter that is safe to lose. Limiting is a guard, not a
//! source of truth, so a limiter that cannot answer lets the request through (and says so
//! in the log and the metrics) rather than failing every request with it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{Error, StoreError};
use crate::ports::{RateDecision, RateLimiter};

/// Wraps a limiter so that its failure never fails a request: an error is logged, counted
/// in `filegate_rate_limiter_errors_total` and the request is allowed.
#[derive(Clone)]
pub struct GuardedLimiter {
    inner: Arc<dyn RateLimiter>,
}

impl std::fmt::Debug for GuardedLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedLimiter").finish_non_exhaustive()
    }
}

impl GuardedLimiter {
    pub fn new(inner: Arc<dyn RateLimiter>) -> Self {
        Self { inner }
    }

    /// `Ok` when the request may go ahead (also when the limiter is unavailable),
    /// `Error::RateLimited` when over the limit: what a handler or middleware calls.
    pub async fn enforce(&self, key: &str, limit: u32, window: Duration) -> Result<(), Error> {
        match self.check(key, limit, window).await {
            Ok(RateDecision::Limited { retry_after }) => Err(Error::RateLimited { retry_after }),
            Ok(RateDecision::Allowed { .. }) | Err(_) => Ok(()),
        }
    }
}

#[async_trait]
impl RateLimiter for GuardedLimiter {
    /// Never fails: an unavailable limiter answers `Allowed { remaining: limit }`.
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision, StoreError> {
        match self.inner.check(key, limit, window).await {
            Ok(decision) => {
                if !decision.is_allowed() {
                    metrics::counter!("filegate_rate_limited_total").increment(1);
                }
                Ok(decision)
            }
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "rate limiter unavailable; allowing the request"
                );
                metrics::counter!("filegate_rate_limiter_errors_total").increment(1);
                Ok(RateDecision::Allowed { remaining: limit })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    struct Broken;

    #[async_trait]
    impl RateLimiter for Broken {
        async fn check(&self, _: &str, _: u32, _: Duration) -> Result<RateDecision, StoreError> {
            Err(StoreError::Unavailable(anyhow::anyhow!("down")))
        }
    }

    /// A limiter that always says the key is over its limit.
    struct Full;

    #[async_trait]
    impl RateLimiter for Full {
        async fn check(&self, _: &str, _: u32, window: Duration) -> Result<RateDecision, StoreError> {
            Ok(RateDecision::Limited {
                retry_after: window / 2,
            })
        }
    }

    #[tokio::test]
    async fn a_guarded_limiter_allows_when_its_limiter_fails_and_refuses_over_the_limit() {
        let broken = GuardedLimiter::new(Arc::new(Broken));
        assert_eq!(
            broken.check("k", 5, SECOND).await.unwrap(),
            RateDecision::Allowed { remaining: 5 }
        );
        broken.enforce("k", 0, SECOND).await.unwrap();

        let full = GuardedLimiter::new(Arc::new(Full));
        match full.enforce("k", 1, SECOND).await {
            Err(Error::RateLimited { retry_after }) => assert_eq!(retry_after, SECOND / 2),
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }
}
