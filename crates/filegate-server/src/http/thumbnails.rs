//! `GET /v1/files/{id}/thumbnail?size=256`: a rendered thumbnail of a ready picture.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use filegate_core::domain::{ContentType, FileId, Principal};
use filegate_core::ports::Disposition;
use filegate_core::usecases::thumbnails;

use super::body::{Served, bytes_response};
use super::error::{ApiError, ApiResult};
use super::extract::{Path, Query};
use crate::auth::Authenticated;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ThumbnailParams {
    /// The longer side in pixels; one of the configured sizes (default 256).
    size: Option<u32>,
}

/// The thumbnail's bytes (`image/png`, or `image/jpeg` for JPEG pictures).
#[utoipa::path(get, path = "/v1/files/{id}/thumbnail", tag = "files", params(("id" = String, Path), ThumbnailParams),
    responses((status = 200, description = "the thumbnail", content_type = "image/png"),
              (status = 404, body = filegate_api::ErrorBody, description = "no such file, or no thumbnail of that size"),
              (status = 409, body = filegate_api::ErrorBody, description = "the file is not ready (processing, quarantined, failed...)")))]
pub async fn thumbnail(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    Query(params): Query<ThumbnailParams>,
) -> Response {
    match serve(&state, &p, &id, params.size).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn serve(state: &AppState, p: &Principal, id: &str, size: Option<u32>) -> ApiResult<Response> {
    let answer = thumbnails::get(&state.services, p, FileId::parse(id)?, size).await?;
    let content_type = ContentType::parse(&answer.thumbnail.content_type).map_err(ApiError)?;
    let extension = if content_type.essence() == "image/jpeg" {
        "jpg"
    } else {
        "png"
    };
    let filename = format!("{}.thumb-{}.{extension}", answer.file.name(), answer.thumbnail.size);
    let served = Served {
        size: answer.thumbnail.bytes,
        range: None,
        etag: None,
        content_type: &content_type,
        filename: &filename,
        disposition: Disposition::Inline,
        cache: "private, max-age=3600",
    };
    Ok(bytes_response(&served, answer.body))
}
