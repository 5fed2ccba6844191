//! Prometheus metrics: requests by route and status with latency histograms, bytes in and
//! out, queue depth and jobs by outcome (counted by the worker).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// The process-wide recorder. Installed once; every server in the process shares it.
pub fn recorder() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let buckets = [
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)?
        .install_recorder()
        .or_else(|e| HANDLE.get().cloned().ok_or(e))?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

pub async fn middleware(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_owned(), |m| m.as_str().to_owned());
    let bytes_in = content_length(request.headers());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method)];
    metrics::counter!(
        "filegate_http_requests_total",
        &[labels[0].clone(), labels[1].clone(), ("status", status)]
    )
    .increment(1);
    metrics::histogram!("filegate_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    metrics::counter!("filegate_http_bytes_in_total").increment(bytes_in);
    metrics::counter!("filegate_http_bytes_out_total").increment(content_length(response.headers()));
    response
}

fn content_length(headers: &http::HeaderMap) -> u64 {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Prometheus metrics; the queue and stream-turn gauges are refreshed first.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(), responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn render(State(state): State<AppState>) -> Response {
    match state.services.queue.stats().await {
        Ok(stats) => {
            metrics::gauge!("filegate_queue_jobs", "state" => "queued").set(stats.queued as f64);
            metrics::gauge!("filegate_queue_jobs", "state" => "running").set(stats.running as f64);
            metrics::gauge!("filegate_queue_jobs", "state" => "dead").set(stats.dead as f64);
        }
        Err(e) => tracing::warn!(error = %e, "queue stats unavailable"),
    }
    // At 0, big files wait for a turn in this process: `workers.streams` is the limit.
    metrics::gauge!("filegate_stream_turns_free").set(state.services.stream_turns.available_permits() as f64);
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
