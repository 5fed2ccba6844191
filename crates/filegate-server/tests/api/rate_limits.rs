//! Rate limits through the real server: per principal on the bearer-token routes, per
//! client address on the signed URLs. The buckets refill so slowly (one token in 1000 s)
//! that the exact boundary does not depend on how fast the test runs; the refill itself is
//! tested with a manual clock next to the middleware (`http::rate_limit`) and the limiters.

use bytes::Bytes;
use filegate_client::Client;
use reqwest::StatusCode;

use crate::common::TestApp;
use crate::support::{redis_url, with_key_prefix};

/// The status, `Retry-After` (whole seconds) and error code of a response.
async fn outcome(response: reqwest::Response) -> (StatusCode, Option<u64>, Option<String>) {
    let status = response.status();
    let retry_after = response.headers().get(reqwest::header::RETRY_AFTER).map(|v| {
        v.to_str()
            .expect("ascii")
            .parse::<u64>()
            .expect("Retry-After is whole seconds")
    });
    let code = if status.is_success() {
        None
    } else {
        let body: serde_json::Value = response.json().await.expect("a JSON error");
        body["error"]["code"].as_str().map(str::to_owned)
    };
    (status, retry_after, code)
}

async fn list_buckets(client: &Client) -> (StatusCode, Option<u64>, Option<String>) {
    let response = client
        .request(reqwest::Method::GET, &["v1", "admin", "buckets"])
        .expect("URL")
        .send()
        .await
        .expect("sent");
    outcome(response).await
}

#[track_caller]
fn assert_limited(outcome: (StatusCode, Option<u64>, Option<String>), most_secs: u64) {
    let (status, retry_after, code) = outcome;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code.as_deref(), Some("rate-limited"));
    let retry_after = retry_after.expect("429 carries Retry-After");
    assert!((1..=most_secs).contains(&retry_after), "Retry-After {retry_after}");
}

#[tokio::test]
async fn a_principal_gets_exactly_its_burst_then_429_with_retry_after() {
    let app = TestApp::spawn_with(|config| {
        // 3 at once, then one every 1000 s.
        config.rate_limit.requests = 3;
        config.rate_limit.window_secs = 3000;
    })
    .await;
    let alice = app.anonymous.with_token(app.token_for("default", "admin", "alice"));
    let bob = app.anonymous.with_token(app.token_for("default", "admin", "bob"));
    for _ in 0..3 {
        assert_eq!(list_buckets(&alice).await.0, StatusCode::OK);
    }
    assert_limited(list_buckets(&alice).await, 1000);
    assert_limited(list_buckets(&alice).await, 1000);
    // Another principal of the same tenant has its own bucket.
    assert_eq!(list_buckets(&bob).await.0, StatusCode::OK);
    // Routes without a token are not counted against anyone.
    assert_eq!(app.anonymous.health().await.expect("healthz").status, "ok");
}

#[tokio::test]
async fn signed_urls_are_limited_per_client_address() {
    let app = TestApp::spawn_with(|config| {
        config.rate_limit.requests = 0;
        config.rate_limit.signed_urls.burst = 3;
        config.rate_limit.signed_urls.per_second = 0.001;
        config.http.client_ip_header = Some("x-forwarded-for".into());
    })
    .await;
    // The upload's signed PUT comes from 127.0.0.1 (no header): its own bucket.
    let file = app.ready_file(&app.client, "default", "a.txt", b"hello").await;
    let url = app.client.download_url(&file.id, None).await.expect("download URL").url;
    let get = |from: &'static str| {
        let request = app.anonymous.http().get(&url).header("x-forwarded-for", from);
        async move { outcome(request.send().await.expect("sent")).await }
    };

    for _ in 0..3 {
        assert_eq!(get("198.51.100.1").await.0, StatusCode::OK);
    }
    assert_limited(get("198.51.100.1").await, 1000);
    // Another address is unaffected; the API with a token is another limit altogether.
    assert_eq!(get("198.51.100.2").await.0, StatusCode::OK);
    assert_eq!(list_buckets(&app.client).await.0, StatusCode::OK);

    // IPv6 clients count by their /64.
    for _ in 0..3 {
        assert_eq!(get("2001:db8:0:1::1").await.0, StatusCode::OK);
    }
    assert_limited(get("2001:db8:0:1::2").await, 1000);
    assert_eq!(get("2001:db8:0:2::1").await.0, StatusCode::OK);
}

#[tokio::test]
async fn signed_uploads_count_too_and_a_zero_burst_turns_the_limit_off() {
    let app = TestApp::spawn_with(|config| {
        config.rate_limit.signed_urls.burst = 1;
        config.rate_limit.signed_urls.per_second = 0.001;
    })
    .await;
    // The first signed request from 127.0.0.1 takes the only token: the next PUT is refused
    // before a byte is stored.
    let first = app.ready_file(&app.client, "default", "first.txt", b"one").await;
    let url = app
        .client
        .download_url(&first.id, None)
        .await
        .expect("download URL")
        .url;
    let response = app.anonymous.http().get(&url).send().await.expect("sent");
    assert_limited(outcome(response).await, 1000);
    let before = app.stored_objects();
    let refused = app
        .client
        .upload_bytes("default", "second.txt", "text/plain", Bytes::from_static(b"two"))
        .await;
    assert_eq!(refused.expect_err("limited").status(), Some(429));
    assert_eq!(app.stored_objects(), before);

    let unlimited = TestApp::spawn_with(|config| {
        config.rate_limit.signed_urls.burst = 0;
    })
    .await;
    let file = unlimited.ready_file(&unlimited.client, "default", "a.txt", b"a").await;
    let url = unlimited.client.download_url(&file.id, None).await.expect("URL").url;
    for _ in 0..50 {
        let response = unlimited.anonymous.http().get(&url).send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn gateways_sharing_redis_share_the_per_address_buckets() {
    let Some(url) = redis_url() else { return };
    let cache = with_key_prefix(&url, &format!("ratelimits-{}:", uuid::Uuid::new_v4().simple()));
    let gateway = || {
        let cache = cache.clone();
        TestApp::spawn_with(move |config| {
            config.cache = Some(cache);
            config.rate_limit.signed_urls.burst = 3;
            config.rate_limit.signed_urls.per_second = 0.001;
            config.http.client_ip_header = Some("x-forwarded-for".into());
        })
    };
    let (one, two) = (gateway().await, gateway().await);
    let mut urls = Vec::new();
    for app in [&one, &two] {
        let file = app.ready_file(&app.client, "default", "a.txt", b"shared").await;
        urls.push(app.client.download_url(&file.id, None).await.expect("URL").url);
    }
    let get = |i: usize| {
        let request = one
            .anonymous
            .http()
            .get(&urls[i])
            .header("x-forwarded-for", "198.51.100.1");
        async move { outcome(request.send().await.expect("sent")).await }
    };
    assert_eq!(get(0).await.0, StatusCode::OK);
    assert_eq!(get(1).await.0, StatusCode::OK);
    assert_eq!(get(0).await.0, StatusCode::OK);
    // The fourth request from that address is refused by whichever gateway gets it.
    assert_limited(get(1).await, 1000);
    assert_limited(get(0).await, 1000);
}
