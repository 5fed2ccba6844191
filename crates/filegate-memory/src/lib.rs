//! filegate's in-process engines, and the decorators that sit between the use cases and
//! another engine. The rules they serve (a cache is an optimisation, a limiter that fails
//! lets requests through) are in `filegate_core::cache`; the shared Redis engines are in
//! `filegate-redis`.
//!
//! - [`MemoryCache`]: the `Cache` port, bounded (bytes) with a TTL per entry, on `moka`.
//! - [`MemoryRateLimiter`]: the `RateLimiter` port, GCRA per key in a bounded map; the same
//!   algorithm as the Redis limiter, so both engines answer alike.
//! - [`CachedStore`]: a `MetadataStore` that reads files through a `Cache` (in process or
//!   Redis) and invalidates on write. A cache error is logged, counted and treated as a miss.
//! - [`MemoryLookups`]: the `Lookups` port, in-process copies of bucket policies, quotas
//!   and webhook lists, for a second.
//! - [`BatchedAuditLog`]: an `AuditLog` that writes the appends arriving together in one
//!   statement.
//!
//! Metrics: `filegate_cache_requests_total{result=hit|miss|bypass}`,
//! `filegate_cache_errors_total{op=get|set|delete|decode|encode}`,
//! `filegate_cache_invalidations_deferred_total`.

mod audit_batch;
mod cache;
mod cached_store;
mod limiter;
mod lookups;

pub use audit_batch::{BatchedAuditLog, MAX_BATCH};
pub use cache::MemoryCache;
pub use cached_store::{CachedStore, file_key};
pub use limiter::{MemoryRateLimiter, gcra};
pub use lookups::MemoryLookups;
