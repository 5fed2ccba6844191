//! `/v1/archives`: zip bundles of ready files (documents delivered as one download). A request
//! answers `202 pending`; a worker builds the zip; `GET` then carries a signed URL.

use axum::extract::State;
use http::StatusCode;

use filegate_api::{ArchiveFileView, ArchiveView, CreateArchive};
use filegate_core::domain::{Archive, ArchiveId, ArchiveQuery, ArchiveSelection, FileId};
use filegate_core::usecases::archives::{self, ArchiveUrl};
use filegate_core::{Error, ErrorCode};

use crate::auth::Authenticated;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::state::AppState;

pub fn view(a: Archive, url: Option<ArchiveUrl>) -> ArchiveView {
    ArchiveView {
        id: a.id.to_string(),
        status: a.status.to_string(),
        file_count: a.entries.len() as u64,
        content_bytes: a.content_bytes(),
        size: a.size,
        url_expires_at: url.as_ref().map(|u| u.expires_at),
        url: url.map(|u| u.url),
        expires_at: a.expires_at,
        error: a.error,
        created_at: a.created_at,
        created_by: a.created_by,
        files: a
            .entries
            .into_iter()
            .map(|e| ArchiveFileView {
                file_id: e.file_id.to_string(),
                path: e.path,
                name: e.name,
                size: e.size,
            })
            .collect(),
    }
}

/// The body as a selection: ids or a query, exactly one.
fn selection(body: CreateArchive) -> Result<ArchiveSelection, Error> {
    match (body.file_ids, body.query) {
        (Some(ids), None) => ids
            .iter()
            .map(|id| FileId::parse(id))
            .collect::<Result<Vec<_>, _>>()
            .map(ArchiveSelection::Files),
        (None, Some(q)) => {
            ArchiveQuery::parse(q.bucket.as_deref(), q.prefix.as_deref(), q.metadata).map(ArchiveSelection::Query)
        }
        _ => Err(Error::invalid(
            ErrorCode::InvalidBody,
            "send either file_ids or query (not both)",
        )),
    }
}

/// Bundles ready files into a zip, built in the background.
#[utoipa::path(post, path = "/v1/archives", tag = "archives", request_body = CreateArchive,
    responses((status = 202, body = ArchiveView), (status = 400, body = filegate_api::ErrorBody),
              (status = 404, body = filegate_api::ErrorBody), (status = 409, body = filegate_api::ErrorBody),
              (status = 413, body = filegate_api::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Json(body): Json<CreateArchive>,
) -> ApiResult<(StatusCode, Json<ArchiveView>)> {
    let archive = archives::create(&state.services, &p, selection(body)?).await?;
    Ok((StatusCode::ACCEPTED, Json(view(archive, None))))
}

/// The archive's status and, once ready, a signed URL for the zip.
#[utoipa::path(get, path = "/v1/archives/{id}", tag = "archives", params(("id" = String, Path)),
    responses((status = 200, body = ArchiveView), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<ArchiveView>> {
    let (archive, url) = archives::get(&state.services, &p, ArchiveId::parse(&id)?).await?;
    Ok(Json(view(archive, url)))
}
