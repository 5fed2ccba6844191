//! `TokenBucket`: a rate limit as operators write it (`burst`, `per_second`), and the GCRA
//! parameters the `RateLimiter` port takes.
//!
//! A token bucket holding `burst` tokens, refilled at `per_second`, where each request
//! takes one, is exactly GCRA with `limit = burst` and `window = burst / per_second`: the
//! requests are spaced `1 / per_second` apart and the theoretical arrival time may run
//! `window` ahead of now. So both limiters (in process and Redis) serve either form.

use std::time::Duration;

/// At most `burst` requests at once, then one more each `1 / per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    burst: u32,
    window: Duration,
}

impl TokenBucket {
    /// `None` when `burst` is 0 (no limit). Refuses a rate that is not a positive number,
    /// or so slow that a full bucket would take longer than a year to refill.
    pub fn new(burst: u32, per_second: f64) -> Result<Option<Self>, String> {
        if burst == 0 {
            return Ok(None);
        }
        if !per_second.is_finite() || per_second <= 0.0 {
            return Err(format!("per_second must be a positive number, not {per_second}"));
        }
        let window = Duration::try_from_secs_f64(f64::from(burst) / per_second)
            .ok()
            .filter(|w| *w <= Duration::from_secs(365 * 24 * 3600))
            .ok_or_else(|| format!("{burst} requests at {per_second} per second take too long to refill"))?;
        Ok(Some(Self {
            burst,
            window: window.max(Duration::from_nanos(u64::from(burst))),
        }))
    }

    /// `requests` per `window`, with bursts of `requests`; `None` when `requests` is 0.
    pub fn per_window(requests: u32, window: Duration) -> Option<Self> {
        (requests > 0).then(|| Self {
            burst: requests,
            window: window.max(Duration::from_nanos(u64::from(requests))),
        })
    }

    /// The GCRA `limit` (the bucket's size).
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The GCRA `window`: how long an empty bucket takes to fill again.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// How long one token takes to come back.
    pub fn interval(&self) -> Duration {
        self.window / self.burst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_and_rate_become_a_gcra_window() {
        let bucket = TokenBucket::new(10, 2.0).unwrap().unwrap();
        assert_eq!((bucket.burst(), bucket.window()), (10, Duration::from_secs(5)));
        assert_eq!(bucket.interval(), Duration::from_millis(500));
        assert_eq!(TokenBucket::new(0, 0.0), Ok(None));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(TokenBucket::new(1, bad).is_err(), "{bad}");
        }
        assert!(TokenBucket::new(u32::MAX, 1e-9).is_err());
        assert_eq!(
            TokenBucket::per_window(6000, Duration::from_secs(60))
                .unwrap()
                .interval(),
            Duration::from_millis(10)
        );
        assert_eq!(TokenBucket::per_window(0, Duration::from_secs(60)), None);
    }
}
