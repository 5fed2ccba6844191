//! The rules that make a cache or a rate limiter safe to lose, above the `Cache` and
//! `RateLimiter` ports (the engines are in `filegate-memory` and `filegate-redis`):
//!
//! - [`GuardedLimiter`]: a limiter error allows the request (logged, counted).
//! - [`TokenBucket`]: a limit as `burst` and `per_second`, in the GCRA terms of the port.
//!
//! Metrics: `filegate_rate_limiter_errors_total`, `filegate_rate_limited_total`.

mod bucket;
mod guard;

pub use bucket::TokenBucket;
pub use guard::GuardedLimiter;
