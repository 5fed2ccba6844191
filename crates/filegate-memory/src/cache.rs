//! `MemoryCache`: the in-process `Cache`, bounded in bytes, with a TTL per entry.
//!
//! Built on `moka` (already a workspace dependency) rather than by hand: it gives a
//! concurrent map with size-aware eviction (TinyLFU) and per-entry expiry, which a small
//! hand-written map would have to reinvent (and get the eviction policy wrong under load).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;

use filegate_core::StoreError;
use filegate_core::ports::Cache;

/// A value and the TTL it was stored with.
#[derive(Clone)]
struct Entry {
    bytes: Arc<[u8]>,
    ttl: Duration,
}

/// Every entry lives for the TTL given to the `set` that stored it.
struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _created_at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Per-entry bookkeeping counted against the capacity on top of key and value bytes.
const ENTRY_OVERHEAD: usize = 64;

/// The in-process cache. Cheap to clone (clones share the entries).
#[derive(Clone)]
pub struct MemoryCache {
    entries: moka::future::Cache<String, Entry>,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.entries.entry_count())
            .finish_non_exhaustive()
    }
}

impl MemoryCache {
    /// 64 MiB of keys and values.
    pub const DEFAULT_CAPACITY_BYTES: u64 = 64 << 20;

    /// A cache holding at most about `capacity_bytes` of keys and values; the least useful
    /// entries are evicted past that.
    pub fn new(capacity_bytes: u64) -> Self {
        let entries = moka::future::Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|key: &String, value: &Entry| {
                u32::try_from(key.len() + value.bytes.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        Self { entries }
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY_BYTES)
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.entries.get(key).await.map(|entry| entry.bytes.to_vec()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let entry = Entry {
            bytes: Arc::from(value),
            ttl,
        };
        self.entries.insert(key.to_owned(), entry).await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.entries.invalidate(key).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn set_get_delete() {
        let cache = MemoryCache::default();
        assert_eq!(cache.get("a").await.unwrap(), None);
        cache.set("a", b"one", MINUTE).await.unwrap();
        cache.set("b", b"two", MINUTE).await.unwrap();
        assert_eq!(cache.get("a").await.unwrap().as_deref(), Some(&b"one"[..]));
        cache.set("a", b"uno", MINUTE).await.unwrap();
        assert_eq!(cache.get("a").await.unwrap().as_deref(), Some(&b"uno"[..]));
        cache.delete("a").await.unwrap();
        cache.delete("never-set").await.unwrap();
        assert_eq!(cache.get("a").await.unwrap(), None);
        assert_eq!(cache.get("b").await.unwrap().as_deref(), Some(&b"two"[..]));
    }

    #[tokio::test]
    async fn entries_expire_after_their_own_ttl() {
        let cache = MemoryCache::default();
        cache.set("short", b"x", Duration::from_millis(30)).await.unwrap();
        cache.set("long", b"y", MINUTE).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while cache.get("short").await.unwrap().is_some() {
            assert!(Instant::now() < deadline, "the short entry never expired");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(cache.get("long").await.unwrap().as_deref(), Some(&b"y"[..]));
        // Re-setting an entry gives it the new TTL.
        cache.set("long", b"z", Duration::from_millis(30)).await.unwrap();
        while cache.get("long").await.unwrap().is_some() {
            assert!(Instant::now() < deadline, "the re-set entry kept its old TTL");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn memory_stays_within_the_capacity() {
        let capacity = 64 * 1024;
        let cache = MemoryCache::new(capacity);
        let value = vec![7u8; 1000];
        for i in 0..1000 {
            cache.set(&format!("k{i}"), &value, MINUTE).await.unwrap();
        }
        cache.entries.run_pending_tasks().await;
        assert!(
            cache.entries.weighted_size() <= capacity,
            "{} bytes held for a capacity of {capacity}",
            cache.entries.weighted_size()
        );
        assert!(cache.entries.entry_count() > 0, "the cache kept nothing");
    }
}
