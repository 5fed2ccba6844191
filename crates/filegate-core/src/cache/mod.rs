//! The in-process defaults for the `Cache` and `RateLimiter` ports, and the two guards that
//! make a cache or a limiter safe to lose:
//!
//! - [`MemoryCache`]: bounded (bytes) with a TTL per entry, on `moka`.
//! - [`MemoryRateLimiter`]: GCRA per key in a bounded map; the same algorithm as the Redis
//!   limiter, so both engines answer alike.
//! - [`CachedStore`]: a `MetadataStore` that reads files through a cache and invalidates
//!   on write. A cache error is logged, counted and treated as a miss.
//! - [`Lookups`]: in-process copies of bucket policies and webhook lists, for a second.
//! - [`GuardedLimiter`]: a limiter error allows the request (logged, counted).
//! - [`TokenBucket`]: a limit as `burst` and `per_second`, in the GCRA terms of the port.
//!
//! Metrics: `filegate_cache_requests_total{result=hit|miss}`,
//! `filegate_cache_errors_total{op=get|set|delete|decode}`,
//! `filegate_cache_invalidations_deferred_total`, `filegate_rate_limiter_errors_total`,
//! `filegate_rate_limited_total`.

mod bucket;
mod cached_store;
mod limiter;
mod lookups;
mod memory;

pub use bucket::TokenBucket;
pub use cached_store::{CachedStore, file_key};
pub use limiter::{Clock, GuardedLimiter, ManualClock, MemoryRateLimiter, gcra};
pub use lookups::Lookups;
pub use memory::MemoryCache;
