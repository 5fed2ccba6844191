//! `GET /v1/files/{id}/content`: the bytes through the gateway, with Range and ETag; and the
//! one way any route (share links, public buckets) answers with a file's bytes.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, header};

use filegate_core::domain::FileId;
use filegate_core::ports::Disposition;
use filegate_core::usecases::files::{self, Content};

use super::body::{Served, bytes_response, not_modified, unsatisfiable_range_header};
use super::error::ApiError;
use super::extract::Path;
use crate::auth::Authenticated;
use crate::state::AppState;

/// The file's bytes; `Range` (one range, suffix ranges too) and `If-None-Match` honoured.
#[utoipa::path(get, path = "/v1/files/{id}/content", tag = "files", params(("id" = String, Path)),
    responses((status = 200, description = "the bytes"), (status = 206, description = "the requested range"),
              (status = 304, description = "not modified"), (status = 404, body = filegate_api::ErrorBody),
              (status = 409, body = filegate_api::ErrorBody), (status = 416, body = filegate_api::ErrorBody)))]
pub async fn content(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let id = match FileId::parse(&id) {
        Ok(id) => id,
        Err(e) => return ApiError(e).into_response(),
    };
    let answer = files::content(
        &state.services,
        &p,
        id,
        header_str(&headers, header::IF_NONE_MATCH),
        header_str(&headers, header::RANGE),
    )
    .await;
    match answer {
        Ok(content) => respond(content, Disposition::Attachment, "private, max-age=0, must-revalidate"),
        Err(e) => ApiError(e).into_response(),
    }
}

pub(crate) fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The response for a file's bytes (or 304, or 416 with the file's size).
pub(crate) fn respond(content: Content, disposition: Disposition, cache: &'static str) -> Response {
    match content {
        Content::NotModified(file) => not_modified(file.etag.as_ref()),
        Content::Bytes { file, range, body } => {
            let served = Served {
                size: file.size,
                range,
                etag: file.etag.as_ref(),
                content_type: &file.content_type,
                filename: file.name(),
                disposition,
                cache,
            };
            bytes_response(&served, body)
        }
        Content::Unsatisfiable { size, error } => {
            let mut response = ApiError(error).into_response();
            unsatisfiable_range_header(&mut response, size);
            response
        }
    }
}
