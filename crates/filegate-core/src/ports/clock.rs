//! `Clock`: what time it is, behind a port so that rules depending on time (share expiry,
//! password lockouts, rate limits) can be tested by moving a clock instead of sleeping.
//! The one clock of core: use cases and the pipeline read `services.clock`, domain functions
//! take "now" as an argument, and only [`SystemClock`] reads the system's.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock: the default everywhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move: for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(now) }
    }

    /// A clock standing at the present moment (microseconds, as the stores keep them).
    pub fn starting_now() -> Self {
        let t = SystemClock.now();
        Self::at(DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.lock() = now;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now = now.checked_add_signed(by).unwrap_or(*now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::starting_now();
        let start = clock.now();
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(90));
        assert_eq!(clock.now(), start + Duration::seconds(90));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }
}
