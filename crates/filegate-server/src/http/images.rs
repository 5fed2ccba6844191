//! `POST /v1/images`: a base64 image in JSON (for clients that cannot send a file).

use axum::extract::State;
use http::StatusCode;

use filegate_api::{FileView, ImageUpload};
use filegate_core::domain::{BucketName, ContentType, Metadata};
use filegate_core::usecases::images::{self, NewImage};

use super::error::ApiResult;
use super::extract::Json;
use super::views;
use crate::auth::Authenticated;
use crate::state::AppState;

/// Stores a base64 image as `{name}_{uuid}.{ext}`; only image types are accepted.
#[utoipa::path(post, path = "/v1/images", tag = "files", request_body = ImageUpload,
    responses((status = 201, body = FileView), (status = 400, body = filegate_api::ErrorBody),
              (status = 413, body = filegate_api::ErrorBody), (status = 415, body = filegate_api::ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(req): Json<ImageUpload>,
) -> ApiResult<(StatusCode, Json<FileView>)> {
    let image = NewImage {
        bucket: BucketName::parse(&req.bucket)?,
        data: req.data,
        content_type: ContentType::parse(&req.content_type)?,
        name: req.name,
        prefix: req.prefix,
        metadata: Metadata::parse(req.metadata.unwrap_or_default())?,
    };
    let file = images::upload(&state.services, &principal, image).await?;
    Ok((StatusCode::CREATED, Json(views::file(file))))
}
