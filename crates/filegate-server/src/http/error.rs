//! The one place that turns errors into HTTP: core errors (and the HTTP layer's own
//! refusals) become the JSON error body (docs/errors.md), with the status their code defines.
//! Internal detail goes to the log with the request id, never to the client.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use filegate_api::{ErrorBody, ErrorDetail};
use filegate_core::{Error, ErrorCode};

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

/// The status, stable code and public message for an error: the code decides the status.
pub fn classify(error: &Error) -> (StatusCode, ErrorCode, String) {
    let code = error.code();
    let message = match error {
        Error::Invalid { message, .. }
        | Error::Unauthenticated { message, .. }
        | Error::Forbidden { message, .. }
        | Error::Conflict { message, .. }
        | Error::TooLarge { message, .. }
        | Error::UnsupportedType { message }
        | Error::Mismatch { message, .. }
        | Error::Locked { message, .. }
        | Error::Upstream { message, .. } => message.clone(),
        Error::NotFound { what } => format!("{what} not found"),
        Error::Unavailable { what, .. } => format!("{what} is unavailable; retry shortly"),
        Error::RateLimited { .. } => "too many requests; retry after the time in the Retry-After header".to_owned(),
        Error::Internal(_) => "internal error; quote the request id when reporting it".to_owned(),
    };
    (status_of(code), code, message)
}

/// The HTTP status of a code, as its definition in core says.
pub fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The JSON error response for a code, with the code's own status.
pub fn error_response(code: ErrorCode, message: String) -> Response {
    error_response_as(status_of(code), code, message)
}

/// The JSON error response with a status the HTTP layer chose (axum's rejections carry
/// their own), carrying the request id.
pub fn error_response_as(status: StatusCode, code: ErrorCode, message: String) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.as_str().to_owned(),
            status: status.as_u16(),
            message,
            request_id: request_id::current().unwrap_or_default(),
        },
    };
    (status, Json(body)).into_response()
}

/// A JSON body for an error axum (or a layer) answered in plain text, by its status.
pub fn json_error_for(status: StatusCode) -> Response {
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::Timeout,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::BadRequest,
    };
    let message = status.canonical_reason().unwrap_or("error").to_owned();
    error_response_as(status, code, message)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = classify(&self.0);
        match &self.0 {
            Error::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            Error::Unavailable { source, what, .. } => {
                tracing::warn!(error = format!("{source:#}"), what, "dependency unavailable");
            }
            other => tracing::debug!(code = code.as_str(), error = %other, "request refused"),
        }
        let mut response = error_response_as(status, code, message);
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
