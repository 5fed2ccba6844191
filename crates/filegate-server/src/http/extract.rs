//! Extractors whose rejections are our JSON errors (axum's own answer in plain text).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::error::error_response;

/// `axum::Json`, with malformed, wrongly typed, unknown-field and oversize bodies answered
/// as API errors.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(BadRequest))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(BadRequest))]
pub struct Query<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(BadRequest))]
pub struct Path<T>(pub T);

/// A request axum could not even parse.
pub struct BadRequest(Response);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        self.0
    }
}

impl From<JsonRejection> for BadRequest {
    fn from(r: JsonRejection) -> Self {
        let (status, code) = match &r {
            JsonRejection::MissingJsonContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type"),
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large")
            }
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "invalid-json"),
            JsonRejection::JsonDataError(_) => (StatusCode::BAD_REQUEST, "invalid-body"),
            _ => (r.status(), "invalid-body"),
        };
        Self(error_response(status, code, r.body_text()))
    }
}

impl From<QueryRejection> for BadRequest {
    fn from(r: QueryRejection) -> Self {
        Self(error_response(StatusCode::BAD_REQUEST, "invalid-query", r.body_text()))
    }
}

impl From<PathRejection> for BadRequest {
    fn from(r: PathRejection) -> Self {
        Self(error_response(
            StatusCode::BAD_REQUEST,
            "invalid-path-parameter",
            r.body_text(),
        ))
    }
}

/// `axum::extract::Multipart`, with a body that is not a multipart form answered as
/// `invalid-form` like every other form error.
pub struct MultipartForm(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for MultipartForm {
    type Rejection = BadRequest;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(Self)
            .map_err(|r| BadRequest(error_response(r.status(), "invalid-form", r.body_text())))
    }
}

/// A JSON body that may also be absent (an empty body is the type's default), for calls
/// like `complete` where every field is optional.
pub struct JsonOrEmpty<T>(pub T);

impl<S, T> FromRequest<S> for JsonOrEmpty<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Default,
{
    type Rejection = BadRequest;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|r| {
            let code = if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "body-too-large"
            } else {
                "invalid-body"
            };
            BadRequest(error_response(r.status(), code, r.body_text()))
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        serde_json::from_slice(&bytes).map(Self).map_err(|e| {
            // The same codes as `Json`: unparsable is `invalid-json`, the wrong shape `invalid-body`.
            let code = if e.is_data() { "invalid-body" } else { "invalid-json" };
            BadRequest(error_response(StatusCode::BAD_REQUEST, code, e.to_string()))
        })
    }
}
