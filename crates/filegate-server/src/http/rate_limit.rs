//! Request limits (one client must not crowd out the others): per principal on the routes that take a bearer
//! token, per client address on the routes that do not (signed URLs, shares, public files,
//! public triggers). Each is a token bucket (GCRA, see `filegate_core::cache::TokenBucket`)
//! in the `RateLimiter` port, shared by every gateway when Redis is configured; when the
//! limiter fails, requests are allowed (a limiter must never take the service down) —
//! `GuardedLimiter` logs and counts that. Over a limit: 429 `rate-limited` with
//! `Retry-After` in whole seconds, at least 1.
//!
//! Keys: `{tenant}/{subject}` per principal, `ip:{class}:{network}` per address (tenant ids
//! hold no `:`, so the two never meet).
//!
//! The per-address limit is a middleware for a group of routes:
//! `.route_layer(axum::middleware::from_fn(rate_limit::anonymous))` (or `signed_urls`). It
//! finds its limiter in the request's extensions, where the gateway puts an [`IpLimits`]
//! (`IpLimits::extension`) around the whole router.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use filegate_core::Error;
use filegate_core::cache::TokenBucket;
use filegate_core::domain::Principal;
use filegate_core::ports::{RateDecision, RateLimiter};

use super::client_ip::{client_ip, rate_network};
use super::error::ApiError;
use crate::config::RateLimitConfig;
use crate::state::AppState;

/// Refuses the request with `rate-limited` (429, `Retry-After`) when the principal has used
/// up its requests for the window.
pub async fn admit(state: &AppState, principal: &Principal) -> Result<(), Error> {
    let limit = &state.rate_limit;
    if limit.requests == 0 {
        return Ok(());
    }
    let key = format!("{}/{}", principal.tenant, principal.subject);
    let window = Duration::from_secs(limit.window_secs.max(1));
    refuse_when_limited(state.limiter.check(&key, limit.requests, window).await)
}

/// `GuardedLimiter` turns failures into `Allowed`; anything else is allowed too.
fn refuse_when_limited<E>(decision: Result<RateDecision, E>) -> Result<(), Error> {
    match decision {
        Ok(RateDecision::Limited { retry_after }) => Err(Error::RateLimited { retry_after }),
        _ => Ok(()),
    }
}

/// The groups of routes without a bearer token; each has its own bucket per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateClass {
    /// `/blob/{key}` and `/blob-form`: the signed URLs of the local store
    /// (`rate_limit.signed_urls`).
    SignedUrls,
    /// Shares, public bucket files, public triggers (`rate_limit.anonymous`).
    Anonymous,
}

impl RateClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedUrls => "signed_urls",
            Self::Anonymous => "anonymous",
        }
    }
}

/// What the per-address limits need: the limiter, each class's bucket, and where the
/// client's address is.
pub struct IpLimits {
    limiter: Arc<dyn RateLimiter>,
    signed_urls: Option<TokenBucket>,
    anonymous: Option<TokenBucket>,
    /// `http.client_ip_header`, lowercased.
    client_ip_header: Option<String>,
}

impl IpLimits {
    /// Fails on a class whose rate is not a positive number.
    pub fn new(
        limiter: Arc<dyn RateLimiter>,
        config: &RateLimitConfig,
        client_ip_header: Option<String>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            limiter,
            signed_urls: config.signed_urls.bucket("signed_urls")?,
            anonymous: config.anonymous.bucket("anonymous")?,
            client_ip_header,
        })
    }

    /// The layer that hands these limits to [`signed_urls`] and [`anonymous`]; the gateway
    /// wraps its whole router in it.
    pub fn extension(self) -> axum::Extension<Arc<IpLimits>> {
        axum::Extension(Arc::new(self))
    }

    fn bucket(&self, class: RateClass) -> Option<TokenBucket> {
        match class {
            RateClass::SignedUrls => self.signed_urls,
            RateClass::Anonymous => self.anonymous,
        }
    }

    /// Takes one token of `class` for the client `ip`.
    pub async fn admit(&self, class: RateClass, ip: Option<IpAddr>) -> Result<(), Error> {
        let Some(bucket) = self.bucket(class) else {
            return Ok(());
        };
        // Without an address (no peer recorded), every such request shares one bucket.
        let network = ip.map_or_else(|| "unknown".to_owned(), |ip| rate_network(ip).to_string());
        let key = format!("ip:{}:{network}", class.as_str());
        refuse_when_limited(self.limiter.check(&key, bucket.burst(), bucket.window()).await)
    }
}

/// Middleware: the per-address limit of the signed-URL routes.
pub async fn signed_urls(request: Request, next: Next) -> Response {
    per_ip(RateClass::SignedUrls, request, next).await
}

/// Middleware: the per-address limit of the other routes without a bearer token.
pub async fn anonymous(request: Request, next: Next) -> Response {
    per_ip(RateClass::Anonymous, request, next).await
}

/// Middleware for routes either anyone or a principal may call (public triggers): a
/// request without credentials takes an `anonymous` token of its address; one with
/// credentials is limited per principal when it authenticates.
pub async fn anonymous_callers(request: Request, next: Next) -> Response {
    if request.headers().contains_key(http::header::AUTHORIZATION) {
        return next.run(request).await;
    }
    per_ip(RateClass::Anonymous, request, next).await
}

async fn per_ip(class: RateClass, request: Request, next: Next) -> Response {
    let Some(limits) = request.extensions().get::<Arc<IpLimits>>().cloned() else {
        // A router built without `IpLimits::extension`: a wiring bug, loud rather than open.
        return ApiError(Error::Internal(anyhow::anyhow!(
            "the {} rate limit has no IpLimits extension",
            class.as_str()
        )))
        .into_response();
    };
    let ip = client_ip(
        request.headers(),
        request.extensions(),
        limits.client_ip_header.as_deref(),
    );
    match limits.admit(class, ip).await {
        Ok(()) => next.run(request).await,
        Err(refused) => ApiError(refused).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::Router;
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use chrono::TimeDelta;
    use filegate_core::cache::GuardedLimiter;
    use filegate_core::ports::ManualClock;
    use filegate_memory::MemoryRateLimiter;
    use http::{StatusCode, header};
    use tower::ServiceExt as _;

    use super::*;
    use crate::config::BucketConfig;

    fn app(clock: &Arc<ManualClock>, burst: u32, per_second: f64) -> Router {
        let limiter = Arc::new(GuardedLimiter::new(Arc::new(MemoryRateLimiter::with_clock(
            100,
            clock.clone(),
        ))));
        let config = RateLimitConfig {
            anonymous: BucketConfig { burst, per_second },
            ..RateLimitConfig::default()
        };
        let limits = IpLimits::new(limiter, &config, Some("x-forwarded-for".into())).unwrap();
        Router::new()
            .route("/s/x", get(|| async { "shared" }))
            .route_layer(axum::middleware::from_fn(anonymous))
            .route("/open", get(|| async { "open" }))
            .layer(limits.extension())
    }

    async fn call(app: &Router, path: &str, forwarded_for: Option<&str>) -> (StatusCode, Option<String>) {
        let mut request = Request::get(path).body(Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo("127.0.0.1:4000".parse::<SocketAddr>().unwrap()));
        if let Some(ip) = forwarded_for {
            request.headers_mut().insert("x-forwarded-for", ip.parse().unwrap());
        }
        let response = app.clone().oneshot(request).await.unwrap();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status(), retry_after)
    }

    #[tokio::test]
    async fn exactly_the_burst_passes_then_429_until_a_token_comes_back() {
        let clock = Arc::new(ManualClock::starting_now());
        // 3 at once, then one every 2 seconds.
        let app = app(&clock, 3, 0.5);
        for _ in 0..3 {
            assert_eq!(call(&app, "/s/x", None).await, (StatusCode::OK, None));
        }
        assert_eq!(
            call(&app, "/s/x", None).await,
            (StatusCode::TOO_MANY_REQUESTS, Some("2".into()))
        );
        // Another client, and routes outside the group, are not affected.
        assert_eq!(call(&app, "/s/x", Some("203.0.113.9")).await.0, StatusCode::OK);
        assert_eq!(call(&app, "/open", None).await.0, StatusCode::OK);

        clock.advance(TimeDelta::milliseconds(1999));
        assert_eq!(call(&app, "/s/x", None).await.0, StatusCode::TOO_MANY_REQUESTS);
        clock.advance(TimeDelta::milliseconds(1));
        assert_eq!(call(&app, "/s/x", None).await.0, StatusCode::OK, "one token came back");
        assert_eq!(
            call(&app, "/s/x", None).await.0,
            StatusCode::TOO_MANY_REQUESTS,
            "only one"
        );
    }

    #[tokio::test]
    async fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        let clock = Arc::new(ManualClock::starting_now());
        // One token every 100 ms: the wait is a fraction of a second, announced as 1.
        let app = app(&clock, 1, 10.0);
        assert_eq!(call(&app, "/s/x", None).await.0, StatusCode::OK);
        assert_eq!(
            call(&app, "/s/x", None).await,
            (StatusCode::TOO_MANY_REQUESTS, Some("1".into()))
        );
        // One every 2.5 s: announced as 3, never 2 (a client waiting 2 s would be refused).
        let app = super::tests::app(&clock, 1, 0.4);
        assert_eq!(call(&app, "/s/x", None).await.0, StatusCode::OK);
        assert_eq!(call(&app, "/s/x", None).await.1.as_deref(), Some("3"));
    }

    #[tokio::test]
    async fn a_burst_of_zero_turns_the_limit_off() {
        let clock = Arc::new(ManualClock::starting_now());
        let app = app(&clock, 0, 0.0);
        for _ in 0..50 {
            assert_eq!(call(&app, "/s/x", None).await.0, StatusCode::OK);
        }
    }

    #[tokio::test]
    async fn a_router_without_the_limits_fails_loudly() {
        let app = Router::new()
            .route("/s/x", get(|| async { "shared" }))
            .route_layer(axum::middleware::from_fn(anonymous));
        assert_eq!(call(&app, "/s/x", None).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
