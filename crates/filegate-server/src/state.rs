//! What every handler can reach: the use-case services and the HTTP-side pieces.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use filegate_blobs::LocalBlobStore;
use filegate_core::ports::RateLimiter;
use filegate_core::usecases::Services;

use crate::auth::Authenticator;
use crate::auth::tus_urls::TusUrls;
use crate::config::RateLimitConfig;
use crate::engines::Probe;

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub auth: Arc<Authenticator>,
    /// Signs and checks the tus URLs `POST /v1/uploads` hands out (`"protocol": "tus"`).
    pub tus_urls: Arc<TusUrls>,
    /// Set when objects live in the local directory: filegate then serves the signed URLs.
    pub local_blobs: Option<Arc<LocalBlobStore>>,
    /// Per-principal request limits (shared by all gateways when Redis is configured).
    pub limiter: Arc<dyn RateLimiter>,
    pub rate_limit: RateLimitConfig,
    /// `http.client_ip_header`, lowercased: where the client's address is when behind a proxy.
    pub client_ip_header: Option<String>,
    /// `http.body_idle_timeout_secs`: how long an upload body may send nothing.
    pub body_idle_timeout: std::time::Duration,
    /// One readiness check per configured engine.
    pub probes: Arc<Vec<Probe>>,
    pub metrics: PrometheusHandle,
    /// The OpenAPI document, rendered once.
    pub openapi: Arc<String>,
}
