//! The one place that knows HTTP status codes: core errors become API.md's JSON error body.
//! Internal detail goes to the log with the request id, never to the client.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use filegate_api::{ErrorBody, ErrorDetail};
use filegate_core::Error;

use super::request_id;

/// A core error on its way out as HTTP.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl From<filegate_core::StoreError> for ApiError {
    fn from(e: filegate_core::StoreError) -> Self {
        Self(e.into())
    }
}

/// The status, stable code and public message for an error.
pub fn classify(error: &Error) -> (StatusCode, &'static str, String) {
    match error {
        Error::Invalid { code, message } => {
            let status = match *code {
                "range-not-satisfiable" | "range-unsupported" => StatusCode::RANGE_NOT_SATISFIABLE,
                "body-timeout" => StatusCode::REQUEST_TIMEOUT,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, code, message.clone())
        }
        Error::Unauthenticated { code, message } => (StatusCode::UNAUTHORIZED, code, message.clone()),
        Error::Forbidden { code, message } => (StatusCode::FORBIDDEN, code, message.clone()),
        Error::NotFound { what } => (StatusCode::NOT_FOUND, "not-found", format!("{what} not found")),
        Error::Conflict { code, message } => (StatusCode::CONFLICT, code, message.clone()),
        Error::TooLarge { code, message } => (StatusCode::PAYLOAD_TOO_LARGE, code, message.clone()),
        Error::UnsupportedType { message } => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-content-type",
            message.clone(),
        ),
        Error::Mismatch { code, message } => (StatusCode::BAD_REQUEST, code, message.clone()),
        Error::Unavailable { what, .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("{what} is unavailable; retry shortly"),
        ),
        Error::RateLimited { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "too many requests; retry after the time in the Retry-After header".to_owned(),
        ),
        Error::Locked { code, message, .. } => (StatusCode::TOO_MANY_REQUESTS, code, message.clone()),
        Error::Upstream {
            code,
            message,
            timed_out,
        } => {
            let status = if *timed_out {
                StatusCode::GATEWAY_TIMEOUT
            } else {
                StatusCode::BAD_GATEWAY
            };
            (status, code, message.clone())
        }
        Error::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; quote the request id when reporting it".to_owned(),
        ),
    }
}

/// The JSON error response for a status, code and message, carrying the request id.
pub fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            status: status.as_u16(),
            message,
            request_id: request_id::current().unwrap_or_default(),
        },
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = classify(&self.0);
        match &self.0 {
            Error::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            Error::Unavailable { source, what, .. } => {
                tracing::warn!(error = format!("{source:#}"), what, "dependency unavailable");
            }
            other => tracing::debug!(code, error = %other, "request refused"),
        }
        let mut response = error_response(status, code, message);
        let headers = response.headers_mut();
        match &self.0 {
            Error::Unavailable { retry_after, .. } | Error::RateLimited { retry_after } => {
                headers.insert(header::RETRY_AFTER, retry_after_value(*retry_after));
            }
            Error::Locked { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, retry_after_value(*retry_after));
            }
            Error::Unauthenticated { .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

/// Whole seconds, rounded up (a client that waits 1 s on a 1.5 s hint would be refused again).
fn retry_after_value(d: Duration) -> HeaderValue {
    HeaderValue::from((d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1))
}

pub type ApiResult<T> = Result<T, ApiError>;
