//! Request ids: taken from `X-Request-Id` when the client sent a sane one, made otherwise;
//! echoed back, attached to every log line (a span) and to every error body (a task-local).
//! This middleware is also the safety net that turns any non-JSON error answer (from a
//! layer or axum itself) into the JSON error shape.

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderName, HeaderValue};
use tracing::Instrument as _;

use super::error::json_error_for;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Marks an error answer that is not JSON on purpose (the page a share link shows a person
/// when it does not open): the safety net leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct MeantForPeople;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request this task is serving, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

fn accept(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| s.to_owned())
}

pub async fn middleware(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(accept)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let route = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        route = route.as_deref().unwrap_or("unmatched"),
        tenant = tracing::field::Empty,
    );
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request).instrument(span.clone()))
        .await;
    if response.status().as_u16() >= 400
        && !is_json(&response)
        && response.extensions().get::<MeantForPeople>().is_none()
    {
        let status = response.status();
        response = REQUEST_ID.sync_scope(id.clone(), || json_error_for(status));
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, v);
    }
    span.in_scope(|| tracing::info!(status = response.status().as_u16(), "request finished"));
    response
}

fn is_json(response: &Response<Body>) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
