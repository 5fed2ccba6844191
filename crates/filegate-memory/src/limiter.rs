//! `MemoryRateLimiter`: the in-process `RateLimiter` (the Redis one is shared by instances).
//!
//! Both engines use GCRA, the generic cell rate algorithm: each key keeps one instant, its
//! *theoretical arrival time* (TAT). Requests are spaced `window / limit` apart; a request
//! is allowed when, after it, the TAT is at most `window` ahead of now. That allows bursts
//! of `limit` and a steady `limit` per `window`, without the double burst a fixed window
//! allows at its boundary, and needs one value per key that can be dropped once it is in
//! the past.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use filegate_core::StoreError;
use filegate_core::ports::{Clock, RateDecision, RateLimiter, SystemClock};

/// One GCRA step. `tat` is the key's stored arrival time (`None`: fresh). Returns the
/// decision and the TAT to store, when it changed.
///
/// The time is the wall clock (the one `Clock` port), which can step back (NTP, a
/// `ManualClock` set back). A TAT more than `window` ahead of now cannot come from this rule
/// otherwise, so it is brought back to `window` ahead (and stored so): a step back leaves
/// the key with its burst used up, instead of refusing it for the length of the step.
pub fn gcra(
    tat: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    limit: u32,
    window: Duration,
) -> (RateDecision, Option<DateTime<Utc>>) {
    if limit == 0 {
        return (RateDecision::Limited { retry_after: window }, None);
    }
    let interval = (window / limit).max(Duration::from_nanos(1));
    let latest = later(now, window);
    let stepped_back = tat.is_some_and(|t| t > latest);
    let tat = tat.map_or(now, |t| t.clamp(now, latest));
    let new_tat = later(tat, interval);
    let ahead = (new_tat - now).to_std().unwrap_or(Duration::ZERO);
    if ahead > window {
        let retry_after = ahead - window;
        return (RateDecision::Limited { retry_after }, stepped_back.then_some(tat));
    }
    let remaining = (window - ahead).as_nanos() / interval.as_nanos();
    let remaining = u32::try_from(remaining).unwrap_or(u32::MAX).min(limit - 1);
    (RateDecision::Allowed { remaining }, Some(new_tat))
}

/// `at + by`, saturating at the end of time instead of panicking on absurd windows.
fn later(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by)
        .ok()
        .and_then(|by| at.checked_add_signed(by))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The in-process limiter: GCRA per key in a map of at most `max_keys` entries. Counts are
/// per process; use the Redis limiter when several instances must share them.
pub struct MemoryRateLimiter {
    tats: Mutex<HashMap<String, DateTime<Utc>>>,
    max_keys: usize,
    clock: Arc<dyn Clock>,
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
        Self::with_clock(max_keys, Arc::new(SystemClock))
    }

    /// A limiter reading the time from `clock` (tests pass a `ManualClock`).
    pub fn with_clock(max_keys: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            tats: Mutex::new(HashMap::new()),
            max_keys: max_keys.max(1),
            clock,
        }
    }

    /// `check` at a given instant (tests drive the clock through this).
    pub fn check_at(&self, key: &str, limit: u32, window: Duration, now: DateTime<Utc>) -> RateDecision {
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
fn make_room(tats: &mut HashMap<String, DateTime<Utc>>, max_keys: usize, now: DateTime<Utc>) {
    tats.retain(|_, tat| *tat > now);
    let target = (max_keys - max_keys / 8).max(1);
    if tats.len() >= target {
        let excess = tats.len() + 1 - target;
        let mut victims: Vec<(DateTime<Utc>, String)> = tats.iter().map(|(key, tat)| (*tat, key.clone())).collect();
        victims.select_nth_unstable_by_key(excess - 1, |(tat, _)| *tat);
        for (_, key) in &victims[..excess] {
            tats.remove(key);
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision, StoreError> {
        Ok(self.check_at(key, limit, window, self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use filegate_core::cache::TokenBucket;
    use filegate_core::ports::ManualClock;

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
        let t0 = Utc::now();
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
        let clock = Arc::new(ManualClock::starting_now());
        let limiter = MemoryRateLimiter::with_clock(10, clock.clone());
        assert!(limiter.check("k", 2, SECOND).await.unwrap().is_allowed());
        assert!(limiter.check("k", 2, SECOND).await.unwrap().is_allowed());
        assert_eq!(
            limiter.check("k", 2, SECOND).await.unwrap(),
            RateDecision::Limited {
                retry_after: SECOND / 2
            }
        );
        clock.advance(TimeDelta::milliseconds(500));
        assert!(limiter.check("k", 2, SECOND).await.unwrap().is_allowed());
        assert!(!limiter.check("k", 2, SECOND).await.unwrap().is_allowed());
    }

    #[test]
    fn a_clock_stepping_back_leaves_the_burst_used_up_instead_of_refusing_for_the_step() {
        let limiter = MemoryRateLimiter::default();
        let t0 = Utc::now();
        assert_eq!(allowed(limiter.check_at("k", 2, SECOND, t0)), 1);
        assert_eq!(allowed(limiter.check_at("k", 2, SECOND, t0)), 0);
        let back = t0 - TimeDelta::hours(1);
        assert_eq!(limited(limiter.check_at("k", 2, SECOND, back)), SECOND / 2);
        assert_eq!(allowed(limiter.check_at("k", 2, SECOND, back + SECOND / 2)), 0);
    }

    #[test]
    fn keys_are_counted_apart() {
        let limiter = MemoryRateLimiter::default();
        let t0 = Utc::now();
        assert_eq!(allowed(limiter.check_at("alice", 1, SECOND, t0)), 0);
        limited(limiter.check_at("alice", 1, SECOND, t0));
        assert_eq!(allowed(limiter.check_at("bob", 1, SECOND, t0)), 0);
    }

    #[test]
    fn a_zero_limit_refuses_and_huge_limits_do_not_overflow() {
        let limiter = MemoryRateLimiter::default();
        let t0 = Utc::now();
        assert_eq!(limited(limiter.check_at("k", 0, SECOND, t0)), SECOND);
        assert_eq!(
            allowed(limiter.check_at("big", u32::MAX, Duration::from_millis(1), t0)),
            999_999
        );
    }

    #[test]
    fn memory_is_bounded_and_expired_keys_go_first() {
        let limiter = MemoryRateLimiter::new(100);
        let t0 = Utc::now();
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

    #[test]
    fn a_bucket_lets_exactly_its_burst_through_then_one_token_per_interval() {
        let bucket = TokenBucket::new(3, 0.5).unwrap().unwrap();
        let limiter = MemoryRateLimiter::default();
        let check = |at: DateTime<Utc>| limiter.check_at("k", bucket.burst(), bucket.window(), at);
        let t0 = Utc::now();
        for _ in 0..3 {
            assert!(check(t0).is_allowed());
        }
        let RateDecision::Limited { retry_after } = check(t0) else {
            panic!("the 4th request of a burst of 3 must be limited")
        };
        assert_eq!(retry_after, Duration::from_secs(2));
        // One token back after one interval, not before; and only one.
        assert!(!check(t0 + Duration::from_millis(1999)).is_allowed());
        assert!(check(t0 + Duration::from_secs(2)).is_allowed());
        assert!(!check(t0 + Duration::from_secs(2)).is_allowed());
    }
}
