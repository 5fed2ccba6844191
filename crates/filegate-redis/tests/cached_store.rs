//! `CachedStore` over the real `SqliteStore`, with the in-process `MemoryCache` and with
//! `RedisCache`: reads go through the cache, writes invalidate it, two gateways sharing one
//! Redis and one database see each other's writes, tenants never see each other's entries,
//! and a Redis that fails (stopped, or refusing deletes) never fails a request nor leaves
//! this instance reading a stale status.

mod common;

use filegate_core::ports::Effects;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use filegate_core::StoreError;
use filegate_core::cache::GuardedLimiter;
use filegate_core::domain::{FileRecord, FileStatus};
use filegate_core::ports::{Cache, MetadataStore};
use filegate_memory::{CachedStore, MemoryCache, file_key};
use filegate_redis::{Redis, RedisConfig};

/// `file` moved from `from` to `to` through `store`.
async fn advance(store: &CachedStore, file: &FileRecord, from: FileStatus, to: FileStatus) -> FileRecord {
    let next = FileRecord {
        status: to,
        ..file.clone()
    };
    store
        .update_file(&next, &[from], &Effects::NONE)
        .await
        .expect("update file")
}

async fn status(store: &CachedStore, file: &FileRecord) -> FileStatus {
    store
        .get_file(&file.tenant, file.id)
        .await
        .expect("get file")
        .expect("file exists")
        .status
}

#[tokio::test]
async fn reads_go_through_the_memory_cache_and_writes_invalidate_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(MemoryCache::default());
    let store = CachedStore::new(sqlite(dir.path()).await, cache.clone());
    let tenant = tenant(&store, "acme").await;
    let file = store
        .insert_file(&pending_file(&tenant, "a.txt"), &Effects::NONE)
        .await
        .unwrap();
    let key = file_key(&tenant, file.id);

    assert_eq!(cache.get(&key).await.unwrap(), None, "inserts are not cached");
    let read = store.get_file(&tenant, file.id).await.unwrap().unwrap();
    assert_eq!(read, file);
    let cached: FileRecord = serde_json::from_slice(&cache.get(&key).await.unwrap().expect("cached")).unwrap();
    assert_eq!(cached, file);
    assert_eq!(store.get_file(&tenant, file.id).await.unwrap().unwrap(), file);

    let uploaded = advance(&store, &file, FileStatus::Pending, FileStatus::Uploaded).await;
    assert_eq!(cache.get(&key).await.unwrap(), None, "the write invalidated the entry");
    assert_eq!(status(&store, &file).await, FileStatus::Uploaded);
    assert_eq!(store.get_file(&tenant, file.id).await.unwrap().unwrap(), uploaded);

    // A refused compare-and-set still invalidates, and changes nothing.
    assert!(cache.get(&key).await.unwrap().is_some());
    let wrong = FileRecord {
        status: FileStatus::Ready,
        ..file.clone()
    };
    assert!(matches!(
        store.update_file(&wrong, &[FileStatus::Pending], &Effects::NONE).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(cache.get(&key).await.unwrap(), None);
    assert_eq!(status(&store, &file).await, FileStatus::Uploaded);

    // Absent files are not cached (an insert must show at once).
    let missing = pending_file(&tenant, "later.txt");
    assert_eq!(store.get_file(&tenant, missing.id).await.unwrap(), None);
    store.insert_file(&missing, &Effects::NONE).await.unwrap();
    assert_eq!(status(&store, &missing).await, FileStatus::Pending);
}

/// Many readers and one writer on one instance: once a write has returned, no read that
/// starts afterwards may see an older version, however the fills and deletes interleave.
async fn reads_after_a_write_never_see_an_older_version(cache: Arc<dyn Cache>) {
    let dir = tempfile::tempdir().unwrap();
    let store = CachedStore::new(sqlite(dir.path()).await, cache);
    let tenant = tenant(&store, "acme").await;
    let file = store
        .insert_file(&pending_file(&tenant, "hot.txt"), &Effects::NONE)
        .await
        .unwrap();
    let committed = Arc::new(AtomicI64::new(file.change_seq));

    let mut readers = Vec::new();
    for _ in 0..8 {
        let (store, committed, file) = (store.clone(), committed.clone(), file.clone());
        readers.push(tokio::spawn(async move {
            let mut reads = 0u32;
            while committed.load(Ordering::SeqCst) >= 0 {
                let floor = committed.load(Ordering::SeqCst);
                let seen = store.get_file(&file.tenant, file.id).await.unwrap().unwrap();
                assert!(
                    floor < 0 || seen.change_seq >= floor,
                    "read version {} after version {floor} was written",
                    seen.change_seq
                );
                reads += 1;
                // A cache hit in memory never yields; let the runtime's other tasks run
                // (as a request handler would, between requests).
                tokio::task::yield_now().await;
            }
            reads
        }));
    }
    let mut current = file;
    for i in 1..=200u64 {
        // (`size` rather than `download_count`, which only `add_download_counts` writes.)
        let next = FileRecord {
            size: i,
            ..current.clone()
        };
        current = store
            .update_file(&next, &[FileStatus::Pending], &Effects::NONE)
            .await
            .unwrap();
        committed.store(current.change_seq, Ordering::SeqCst);
        tokio::task::yield_now().await;
    }
    committed.store(-1, Ordering::SeqCst);
    for reader in readers {
        assert!(reader.await.unwrap() > 0);
    }
    let last = store.get_file(&current.tenant, current.id).await.unwrap().unwrap();
    assert_eq!(last.size, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_cache_reads_after_a_write_never_see_an_older_version() {
    reads_after_a_write_never_see_an_older_version(Arc::new(MemoryCache::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cache_reads_after_a_write_never_see_an_older_version() {
    let Some(url) = redis_url() else { return };
    let cache = redis(&url, &unique_prefix("versions")).cache();
    reads_after_a_write_never_see_an_older_version(Arc::new(cache)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateways_sharing_redis_and_the_database_see_each_others_writes() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("gateways");
    let dir = tempfile::tempdir().unwrap();
    // Two gateways: each its own store handle on the one database file, its own Redis
    // connection on the one Redis.
    let one = CachedStore::new(sqlite(dir.path()).await, Arc::new(redis(&url, &prefix).cache()));
    let two = CachedStore::new(sqlite(dir.path()).await, Arc::new(redis(&url, &prefix).cache()));
    let tenant = tenant(&one, "acme").await;
    let file = one
        .insert_file(&pending_file(&tenant, "shared.bin"), &Effects::NONE)
        .await
        .unwrap();

    assert_eq!(status(&one, &file).await, FileStatus::Pending);
    assert_eq!(status(&two, &file).await, FileStatus::Pending);

    // The second gateway answers from the shared entry the first one filled.
    let mut raw = raw(&url).await;
    let redis_key = format!("{prefix}cache:{}", file_key(&tenant, file.id));
    let marked = FileRecord {
        status_reason: Some("served from the cache".into()),
        ..file.clone()
    };
    let _: () = redis::cmd("SET")
        .arg(&redis_key)
        .arg(serde_json::to_vec(&marked).unwrap())
        .arg("PX")
        .arg(60_000)
        .query_async(&mut raw)
        .await
        .unwrap();
    let read = two.get_file(&tenant, file.id).await.unwrap().unwrap();
    assert_eq!(read.status_reason.as_deref(), Some("served from the cache"));

    // Each write, on either gateway, is seen at once by reads on both.
    let steps = [
        (FileStatus::Pending, FileStatus::Uploaded),
        (FileStatus::Uploaded, FileStatus::Processing),
        (FileStatus::Processing, FileStatus::Ready),
        (FileStatus::Ready, FileStatus::Deleted),
    ];
    let mut current = file.clone();
    for (i, (from, to)) in steps.into_iter().enumerate() {
        let (writer, other) = if i % 2 == 0 { (&one, &two) } else { (&two, &one) };
        current = advance(writer, &current, from, to).await;
        assert_eq!(
            status(other, &file).await,
            to,
            "the other gateway after {from:?} -> {to:?}"
        );
        assert_eq!(
            status(writer, &file).await,
            to,
            "the writing gateway after {from:?} -> {to:?}"
        );
        assert_eq!(status(other, &file).await, to, "the other gateway, from the cache");
    }
}

#[tokio::test]
async fn a_tenant_never_gets_another_tenants_entry() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("tenants");
    let dir = tempfile::tempdir().unwrap();
    let store = CachedStore::new(sqlite(dir.path()).await, Arc::new(redis(&url, &prefix).cache()));
    let acme = tenant(&store, "acme").await;
    let other = tenant(&store, "other").await;
    let file = store
        .insert_file(&pending_file(&acme, "secret.pdf"), &Effects::NONE)
        .await
        .unwrap();

    assert!(
        store.get_file(&acme, file.id).await.unwrap().is_some(),
        "cached for acme"
    );
    assert_eq!(store.get_file(&other, file.id).await.unwrap(), None);

    // Even an entry that holds acme's record under other's key is refused (and removed).
    metrics();
    let decode_errors = counter("filegate_cache_errors_total", r#"op="decode""#);
    let mut raw = raw(&url).await;
    let planted = format!("{prefix}cache:{}", file_key(&other, file.id));
    let _: () = redis::cmd("SET")
        .arg(&planted)
        .arg(serde_json::to_vec(&file).unwrap())
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(store.get_file(&other, file.id).await.unwrap(), None);
    assert!(counter("filegate_cache_errors_total", r#"op="decode""#) > decode_errors);
    let exists: bool = redis::cmd("EXISTS").arg(&planted).query_async(&mut raw).await.unwrap();
    assert!(!exists, "the bad entry was deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_stopped_mid_run_requests_still_succeed() {
    let Some(mut server) = OwnRedis::start().await else {
        return;
    };
    metrics();
    let dir = tempfile::tempdir().unwrap();
    let redis = redis(&server.url(), "filegate:");
    let store = CachedStore::new(sqlite(dir.path()).await, Arc::new(redis.cache()));
    let limiter = GuardedLimiter::new(Arc::new(redis.rate_limiter()));
    let tenant = tenant(&store, "acme").await;
    let file = store
        .insert_file(&pending_file(&tenant, "a.txt"), &Effects::NONE)
        .await
        .unwrap();
    assert_eq!(status(&store, &file).await, FileStatus::Pending);
    limiter.enforce("user-1", 3, Duration::from_secs(60)).await.unwrap();

    server.kill().await;
    let cache_errors = counter("filegate_cache_errors_total", "");
    let limiter_errors = counter("filegate_rate_limiter_errors_total", "");

    let started = Instant::now();
    assert_eq!(status(&store, &file).await, FileStatus::Pending);
    let uploaded = advance(&store, &file, FileStatus::Pending, FileStatus::Uploaded).await;
    assert_eq!(status(&store, &file).await, FileStatus::Uploaded);
    let second = store
        .insert_file(&pending_file(&tenant, "b.txt"), &Effects::NONE)
        .await
        .unwrap();
    assert_eq!(status(&store, &second).await, FileStatus::Pending);
    for _ in 0..10 {
        // Past the limit of 3, but the limiter is down: every request goes through.
        limiter.enforce("user-1", 3, Duration::from_secs(60)).await.unwrap();
        assert_eq!(status(&store, &file).await, FileStatus::Uploaded);
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(5),
        "requests with Redis down took {elapsed:?}"
    );
    assert!(counter("filegate_cache_errors_total", "") > cache_errors);
    assert!(counter("filegate_rate_limiter_errors_total", "") >= limiter_errors + 10);

    // Redis comes back (empty): reads fill it again, limits apply again.
    server.restart().await;
    let raw_url = server.url();
    eventually(Duration::from_secs(10), "reads fill the cache again", || {
        let (store, tenant, raw_url) = (store.clone(), tenant.clone(), raw_url.clone());
        async move {
            let read = store.get_file(&tenant, uploaded.id).await.unwrap().unwrap();
            assert_eq!(read.status, FileStatus::Uploaded);
            let mut raw = raw(&raw_url).await;
            let key = format!("filegate:cache:{}", file_key(&tenant, uploaded.id));
            let exists: bool = redis::cmd("EXISTS").arg(key).query_async(&mut raw).await.unwrap();
            exists.then_some(())
        }
    })
    .await;
    for _ in 0..3 {
        limiter.enforce("user-2", 3, Duration::from_secs(60)).await.unwrap();
    }
    assert!(limiter.enforce("user-2", 3, Duration::from_secs(60)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_invalidation_is_retried_until_it_lands() {
    let Some(server) = OwnRedis::start().await else { return };
    metrics();
    let url = server.url();
    let mut admin = raw(&url).await;
    // Gateway one's Redis user may read and write entries but, for now, not delete them: a
    // cache that answers reads while the invalidation after a write fails.
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "gw", "on", ">pw", "~*", "+@all", "-del"])
        .query_async(&mut admin)
        .await
        .unwrap();
    let one_url = url.replace("redis://", "redis://gw:pw@");
    let config = |url: &str| RedisConfig::new(url).with_cooldown(Duration::from_millis(100));
    let dir = tempfile::tempdir().unwrap();
    let one = CachedStore::new(
        sqlite(dir.path()).await,
        Arc::new(Redis::open(&config(&one_url)).unwrap().cache()),
    );
    let two = CachedStore::new(
        sqlite(dir.path()).await,
        Arc::new(Redis::open(&config(&url)).unwrap().cache()),
    );
    let tenant = tenant(&two, "acme").await;
    let file = two
        .insert_file(&pending_file(&tenant, "a.txt"), &Effects::NONE)
        .await
        .unwrap();
    assert_eq!(status(&one, &file).await, FileStatus::Pending);
    let key = format!("filegate:cache:{}", file_key(&tenant, file.id));
    let cached = |admin: &redis::aio::MultiplexedConnection| {
        let (mut admin, key) = (admin.clone(), key.clone());
        async move {
            let bytes: Option<Vec<u8>> = redis::cmd("GET").arg(key).query_async(&mut admin).await.unwrap();
            bytes.map(|b| serde_json::from_slice::<FileRecord>(&b).unwrap().status)
        }
    };
    assert_eq!(cached(&admin).await, Some(FileStatus::Pending));

    let deferred = counter("filegate_cache_invalidations_deferred_total", "");
    advance(&one, &file, FileStatus::Pending, FileStatus::Uploaded).await;
    assert!(counter("filegate_cache_invalidations_deferred_total", "") > deferred);
    assert_eq!(
        cached(&admin).await,
        Some(FileStatus::Pending),
        "the stale entry is still there"
    );
    // The writing gateway never reads its own write back stale.
    for _ in 0..5 {
        assert_eq!(status(&one, &file).await, FileStatus::Uploaded);
    }

    // Deletes work again: the retry removes the stale entry, and both gateways agree.
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "gw", "+del"])
        .query_async(&mut admin)
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "the deferred invalidation lands", || async {
        (cached(&admin).await != Some(FileStatus::Pending)).then_some(())
    })
    .await;
    assert_eq!(status(&two, &file).await, FileStatus::Uploaded);
    assert_eq!(status(&one, &file).await, FileStatus::Uploaded);
    // And gateway one fills the cache again once nothing is pending.
    eventually(Duration::from_secs(10), "gateway one caches again", || async {
        let _ = status(&one, &file).await;
        (cached(&admin).await == Some(FileStatus::Uploaded)).then_some(())
    })
    .await;
}
