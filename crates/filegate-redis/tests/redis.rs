//! `RedisCache` and `RedisRateLimiter` against a real Redis (`FILEGATE_TEST_REDIS_URL`),
//! and against a `redis-server` of the test's own that it kills mid-run.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use filegate_core::StoreError;
use filegate_core::cache::{GuardedLimiter, TokenBucket};
use filegate_core::ports::{Cache, RateDecision, RateLimiter};
use filegate_redis::{Redis, RedisConfig};

const MINUTE: Duration = Duration::from_secs(60);

fn remaining(decision: RateDecision) -> u32 {
    match decision {
        RateDecision::Allowed { remaining } => remaining,
        RateDecision::Limited { retry_after } => panic!("limited, retry after {retry_after:?}"),
    }
}

fn retry_after(decision: RateDecision) -> Duration {
    match decision {
        RateDecision::Limited { retry_after } => retry_after,
        RateDecision::Allowed { remaining } => panic!("allowed, {remaining} remaining"),
    }
}

#[tokio::test]
async fn cache_sets_gets_deletes_and_expires() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("cache");
    let cache = redis(&url, &prefix).cache();

    assert_eq!(cache.get("a").await.unwrap(), None);
    cache.set("a", b"one", MINUTE).await.unwrap();
    cache.set("b", b"\x00binary\xff", MINUTE).await.unwrap();
    assert_eq!(cache.get("a").await.unwrap().as_deref(), Some(&b"one"[..]));
    assert_eq!(cache.get("b").await.unwrap().as_deref(), Some(&b"\x00binary\xff"[..]));
    cache.delete("a").await.unwrap();
    cache.delete("never-set").await.unwrap();
    assert_eq!(cache.get("a").await.unwrap(), None);

    // Keys live under the prefix with the TTL they were given.
    let mut raw = raw(&url).await;
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}cache:b"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(ttl_ms > 50_000 && ttl_ms <= 60_000, "PTTL {ttl_ms}");

    // Another prefix is another deployment: it sees nothing of ours.
    let other = redis(&url, &unique_prefix("cache-other")).cache();
    assert_eq!(other.get("b").await.unwrap(), None);

    // A short TTL runs out.
    cache.set("short", b"x", Duration::from_millis(100)).await.unwrap();
    assert!(cache.get("short").await.unwrap().is_some());
    eventually(Duration::from_secs(5), "the short entry expires", || async {
        cache.get("short").await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(cache.get("b").await.unwrap().is_some());
}

#[tokio::test]
async fn the_limiter_allows_the_limit_then_limits_across_instances() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("limit");
    // Two handles, two connections: two gateways.
    let one = redis(&url, &prefix).rate_limiter();
    let two = redis(&url, &prefix).rate_limiter();

    let window = Duration::from_secs(10);
    for (i, expected) in (0..5).rev().enumerate() {
        let limiter = if i % 2 == 0 { &one } else { &two };
        assert_eq!(remaining(limiter.check("alice", 5, window).await.unwrap()), expected);
    }
    // Five spaced over ten seconds: the next one is allowed two seconds after the first.
    let wait = retry_after(two.check("alice", 5, window).await.unwrap());
    assert!(
        wait > Duration::from_millis(1500) && wait <= Duration::from_secs(2),
        "{wait:?}"
    );
    assert!(!one.check("alice", 5, window).await.unwrap().is_allowed());

    // Other keys have their own count; a zero limit refuses.
    assert_eq!(remaining(one.check("bob", 5, window).await.unwrap()), 4);
    assert_eq!(retry_after(one.check("carol", 0, window).await.unwrap()), window);
}

#[tokio::test]
async fn a_token_bucket_lets_exactly_its_burst_through_then_one_token_per_interval() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("bucket");
    let limiter = redis(&url, &prefix).rate_limiter();
    // Per-address keys as the gateway writes them: 3 at once, then one every 100 s.
    let slow = TokenBucket::new(3, 0.01).unwrap().unwrap();
    let key = "ip:signed_urls:198.51.100.7";
    for expected in [2, 1, 0] {
        assert_eq!(
            remaining(limiter.check(key, slow.burst(), slow.window()).await.unwrap()),
            expected
        );
    }
    let wait = retry_after(limiter.check(key, slow.burst(), slow.window()).await.unwrap());
    assert!(
        wait > Duration::from_secs(99) && wait <= Duration::from_secs(100),
        "{wait:?}"
    );
    // Another address is unaffected.
    let other = "ip:signed_urls:198.51.100.8";
    assert_eq!(
        remaining(limiter.check(other, slow.burst(), slow.window()).await.unwrap()),
        2
    );

    // One token a second: once the wait has passed exactly one comes back, not two.
    let fast = TokenBucket::new(2, 1.0).unwrap().unwrap();
    let check = || limiter.check("fast", fast.burst(), fast.window());
    assert!(check().await.unwrap().is_allowed());
    assert!(check().await.unwrap().is_allowed());
    let wait = retry_after(check().await.unwrap());
    assert!(wait > Duration::from_millis(900) && wait <= fast.interval(), "{wait:?}");
    eventually(Duration::from_secs(5), "a token comes back", || async {
        check().await.unwrap().is_allowed().then_some(())
    })
    .await;
    let wait = retry_after(check().await.unwrap());
    assert!(wait > Duration::from_millis(500), "only one token came back: {wait:?}");
}

#[tokio::test]
async fn concurrent_checks_never_exceed_the_limit() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("atomic");
    let limiters = [redis(&url, &prefix).rate_limiter(), redis(&url, &prefix).rate_limiter()];
    let mut tasks = Vec::new();
    for i in 0..60 {
        let limiter = limiters[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            limiter.check("shared", 20, MINUTE).await.unwrap().is_allowed()
        }));
    }
    let mut allowed = 0;
    for task in tasks {
        allowed += usize::from(task.await.unwrap());
    }
    assert_eq!(allowed, 20);
}

#[tokio::test]
async fn the_window_resets() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("reset");
    let limiter = redis(&url, &prefix).rate_limiter();
    let window = Duration::from_millis(300);

    assert_eq!(remaining(limiter.check("k", 2, window).await.unwrap()), 1);
    assert_eq!(remaining(limiter.check("k", 2, window).await.unwrap()), 0);
    let wait = retry_after(limiter.check("k", 2, window).await.unwrap());
    assert!(wait <= Duration::from_millis(150), "{wait:?}");

    // One request is allowed again once the spacing has passed (refusals do not count) ...
    eventually(Duration::from_secs(5), "allowed again after retry_after", || async {
        limiter.check("k", 2, window).await.unwrap().is_allowed().then_some(())
    })
    .await;
    // ... and once the key has expired (a whole window of silence) the full burst is back.
    let raw = raw(&url).await;
    let key = format!("{prefix}rate:k");
    eventually(Duration::from_secs(5), "the limiter key expires", || {
        let mut raw = raw.clone();
        let key = key.clone();
        async move {
            let exists: bool = redis::cmd("EXISTS").arg(key).query_async(&mut raw).await.unwrap();
            (!exists).then_some(())
        }
    })
    .await;
    assert_eq!(remaining(limiter.check("k", 2, window).await.unwrap()), 1);
}

#[tokio::test]
async fn nothing_listening_fails_fast_as_unavailable() {
    let url = format!("redis://127.0.0.1:{}/0", dead_port());
    let redis = Redis::open(&RedisConfig::new(&url)).expect("opening is lazy");
    let cache = redis.cache();
    let started = Instant::now();
    assert!(matches!(cache.get("k").await, Err(StoreError::Unavailable(_))));
    assert!(matches!(
        cache.set("k", b"v", MINUTE).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(cache.delete("k").await, Err(StoreError::Unavailable(_))));
    assert!(matches!(
        redis.rate_limiter().check("k", 1, MINUTE).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(redis.ping().await, Err(StoreError::Unavailable(_))));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn redis_stopped_mid_run_fails_fast_allows_requests_and_recovers() {
    let Some(mut server) = OwnRedis::start().await else {
        return;
    };
    metrics();
    let redis = redis(&server.url(), "filegate:");
    let cache = redis.cache();
    let limiter = GuardedLimiter::new(Arc::new(redis.rate_limiter()));

    cache.set("k", b"v", MINUTE).await.unwrap();
    assert_eq!(remaining(limiter.check("p", 1, MINUTE).await.unwrap()), 0);
    assert!(
        limiter.enforce("p", 1, MINUTE).await.is_err(),
        "over the limit while Redis is up"
    );

    server.kill().await;

    let errors_before = counter("filegate_rate_limiter_errors_total", "");
    let started = Instant::now();
    for _ in 0..20 {
        assert!(matches!(cache.get("k").await, Err(StoreError::Unavailable(_))));
        // Over the limit, but the limiter is down: allowed.
        limiter
            .enforce("p", 1, MINUTE)
            .await
            .expect("allowed while Redis is down");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(3),
        "40 calls to a dead Redis took {elapsed:?}"
    );
    assert!(counter("filegate_rate_limiter_errors_total", "") >= errors_before + 20);
    assert!(redis.ping().await.is_err());

    // Back (empty, nothing was persisted): the same handle reconnects by itself.
    server.restart().await;
    eventually(Duration::from_secs(10), "the handle reconnects", || async {
        redis.ping().await.is_ok().then_some(())
    })
    .await;
    cache.set("k", b"again", MINUTE).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"again"[..]));
    assert_eq!(remaining(limiter.check("p", 1, MINUTE).await.unwrap()), 0);
    assert!(
        limiter.enforce("p", 1, MINUTE).await.is_err(),
        "limits again once Redis is back"
    );
}
