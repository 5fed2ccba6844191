//! `MemoryRateLimiter` (the in-process default) and `GuardedLimiter` (fail open).
//!
//! Both engines use GCRA, the generic cell rate algorithm: each key keeps one instant, its
//! *theoretical arrival time* (TAT). Requests are spaced `window / limit` apart; a request
//! is allowed when, after it, the TAT is at most `window` ahead of now. That allows bursts
//! of `limit` and a steady `limit` per `window`, without the double burst a fixed window
//! allows at its boundary, and needs one value per key that can be dropped once it is in
//! the past.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::error::{Error, StoreError};
use crate::ports::{RateDecision, RateLimiter};

/// One GCRA step. `tat` is the key's stored arrival time (`None`: fresh). Returns the
/// decision and, when allowed, the TAT to store.
pub fn gcra(tat: Option<Instant>, now: Instant, limit: u32, window: Duration) -> (RateDecision, Option<Instant>) {
    if limit == 0 {
        return (RateDecision::Limited { retry_after: window }, None);
    }
    let interval = (window / limit).max(Duration::from_nanos(1));
    let tat = tat.map_or(now, |t| t.max(now));
    let new_tat = tat + interval;
    let ahead = new_tat - now;
    if ahead > window {
        return (
            RateDecision::Limited {
                retry_after: ahead - window,
            },
            None,
        );
    }
    let remaining = (window - ahead).as_nanos() / interval.as_nanos();
    let remaining = u32::try_from(remaining).unwrap_or(u32::MAX).min(limit - 1);
    (RateDecision::Allowed { remaining }, Some(new_tat))
}

/// Where a limiter reads the time: the monotonic clock, or a [`ManualClock`] in tests.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// A clock that moves only when told to, so tests see a token come back without sleeping.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Instant>>);

impl ManualClock {
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(Instant::now())))
    }

    pub fn now(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) += by;
    }

    /// This clock as a limiter's [`Clock`].
    pub fn clock(&self) -> Clock {
        let this = self.clone();
        Arc::new(move || this.now())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

/// The in-process limiter: GCRA per key in a map of at most `max_keys` entries. Counts are
/// per process; use the Redis limiter when several instances must share them.
pub struct MemoryRateLimiter {
    tats: Mutex<HashMap<String, Instant>>,
    max_keys: usize,
    clock: Clock,
}

impl std::fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter")
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

impl MemoryRateLimiter {
    pub const DEFAULT_MAX_KEYS: usize = 100_000;

    /// `max_keys` bounds memory: when the map is full, keys whose TAT has passed (they would
    /// start afresh anyway) are dropped; if that frees too little, the keys closest to
    /// starting afresh are dropped too, so under a flood of live keys a few may get a fresh
    /// burst early, but memory never grows past the bound.
    pub fn new(max_keys: usize) -> Self {
        Self::with_clock(max_keys, Arc::new(Instant::now))
    }

    /// A limiter reading the time from `clock` (tests pass a [`ManualClock`]'s).
    pub fn with_clock(max_keys: usize, clock: Clock) -> Self {
        Self {
            tats: Mutex::new(HashMap::new()),
            max_keys: max_keys.max(1),
            clock,
        }
    }

    /// `check` at a given instant (tests drive the clock through this).
    pub fn check_at(&self, key: &str, limit: u32, window: Duration, now: Instant) -> RateDecision {
        let mut tats = self.tats.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (decision, new_tat) = gcra(tats.get(key).copied(), now, limit, window);
        if let Some(new_tat) = new_tat {
            if let Some(tat) = tats.get_mut(key) {
                *tat = new_tat;
            } else {
                if tats.len() >= self.max_keys {
                    make_room(&mut tats, self.max_keys, now);
                }
                tats.insert(key.to_owned(), new_tat);
            }
        }
        decision
    }

    /// How many keys are tracked.
    pub fn len(&self) -> usize {
        self.tats.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_KEYS)
    }
}

/// Drops the keys whose TAT has passed; if the map is still over 7/8 full, drops the keys
/// with the earliest TATs down to 7/8, so the next inserts do not each scan the map.
fn make_room(tats: &mut HashMap<String, Instant>, max_keys: usize, now: Instant) {
    tats.retain(|_, tat| *tat > now);
    let target = (max_keys - max_keys / 8).max(1);
    if tats.len() >= target {
        let excess = tats.len() + 1 - target;
        let mut victims: Vec<(Instant, String)> = tats.iter().map(|(key, tat)| (*tat, key.clone())).collect();
        victims.select_nth_unstable_by_key(excess - 1, |(tat, _)| *tat);
        for (_, key) in &victims[..excess] {
            tats.remove(key);
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision, StoreError> {
        Ok(self.check_at(key, limit, window, (self.clock)()))
    }
}

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

    fn allowed(d: RateDecision) -> u32 {
        match d {
            RateDecision::Allowed { remaining } => remaining,
            RateDecision::Limited { retry_after } => panic!("limited, retry after {retry_after:?}"),
        }
    }

    fn limited(d: RateDecision) -> Duration {
        match d {
            RateDecision::Limited { retry_after } => retry_after,
            RateDecision::Allowed { remaining } => panic!("allowed, {remaining} remaining"),
        }
    }

    #[test]
    fn a_burst_of_limit_then_limited_until_the_spacing_passes() {
        let limiter = MemoryRateLimiter::default();
        let t0 = Instant::now();
        assert_eq!(allowed(limiter.check_at("k", 3, SECOND, t0)), 2);
        assert_eq!(allowed(limiter.check_at("k", 3, SECOND, t0)), 1);
        assert_eq!(allowed(limiter.check_at("k", 3, SECOND, t0)), 0);
        let wait = limited(limiter.check_at("k", 3, SECOND, t0));
        assert!(
            wait > Duration::from_millis(300) && wait <= Duration::from_millis(334),
            "{wait:?}"
        );
        // A refused request does not push the next allowed one further out.
        assert_eq!(limited(limiter.check_at("k", 3, SECOND, t0)), wait);
        assert!(!limiter.check_at("k", 3, SECOND, t0 + wait / 2).is_allowed());
        assert_eq!(allowed(limiter.check_at("k", 3, SECOND, t0 + wait)), 0);
        // After a whole window of silence the full burst is back.
        let later = t0 + 3 * SECOND;
        assert_eq!(allowed(limiter.check_at("k", 3, SECOND, later)), 2);
    }

    #[tokio::test]
    async fn the_port_reads_the_injected_clock() {
        let clock = ManualClock::new();
        let limiter = MemoryRateLimiter::with_clock(10, clock.clock());
        assert!(limiter.check("k", 2, SECOND).await.unwrap().is_allowed());
        assert!(limiter.check("k", 2, SECOND).await.unwrap().is_allowed());
        assert_eq!(
            limiter.check("k", 2, SECOND).await.unwrap(),
            RateDecision::Limited {
                retry_after: SECOND / 2
            }
        );
        clock.advance(SECOND / 2);
        assert!(limiter.check("k", 2, SECOND).await.unwrap().is_allowed());
        assert!(!limiter.check("k", 2, SECOND).await.unwrap().is_allowed());
    }

    #[test]
    fn keys_are_counted_apart() {
        let limiter = MemoryRateLimiter::default();
        let t0 = Instant::now();
        assert_eq!(allowed(limiter.check_at("alice", 1, SECOND, t0)), 0);
        limited(limiter.check_at("alice", 1, SECOND, t0));
        assert_eq!(allowed(limiter.check_at("bob", 1, SECOND, t0)), 0);
    }

    #[test]
    fn a_zero_limit_refuses_and_huge_limits_do_not_overflow() {
        let limiter = MemoryRateLimiter::default();
        let t0 = Instant::now();
        assert_eq!(limited(limiter.check_at("k", 0, SECOND, t0)), SECOND);
        assert_eq!(
            allowed(limiter.check_at("big", u32::MAX, Duration::from_millis(1), t0)),
            999_999
        );
    }

    #[test]
    fn memory_is_bounded_and_expired_keys_go_first() {
        let limiter = MemoryRateLimiter::new(100);
        let t0 = Instant::now();
        // 100 keys that will have started afresh by t1, then 100 live ones at t1.
        for i in 0..100 {
            limiter.check_at(&format!("old{i}"), 10, SECOND, t0);
        }
        assert_eq!(limiter.len(), 100);
        let t1 = t0 + 2 * SECOND;
        for i in 0..100 {
            limiter.check_at(&format!("live{i}"), 1, SECOND, t1);
        }
        assert!(limiter.len() <= 100);
        // Every live key kept its count: the old ones were dropped to make room.
        for i in 0..100 {
            limited(limiter.check_at(&format!("live{i}"), 1, SECOND, t1));
        }
        // A flood of live keys stays within the bound, dropping only what it must.
        for i in 0..1000 {
            limiter.check_at(&format!("flood{i}"), 1, SECOND, t1);
            assert!(limiter.len() <= 100);
            assert!(limiter.len() >= 87, "{} keys left", limiter.len());
        }
        limited(limiter.check_at("flood999", 1, SECOND, t1));
    }

    struct Broken;

    #[async_trait]
    impl RateLimiter for Broken {
        async fn check(&self, _: &str, _: u32, _: Duration) -> Result<RateDecision, StoreError> {
            Err(StoreError::Unavailable(anyhow::anyhow!("down")))
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

        let memory = GuardedLimiter::new(Arc::new(MemoryRateLimiter::default()));
        memory.enforce("k", 1, SECOND).await.unwrap();
        match memory.enforce("k", 1, SECOND).await {
            Err(Error::RateLimited { retry_after }) => assert!(retry_after > Duration::ZERO && retry_after <= SECOND),
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }
}
