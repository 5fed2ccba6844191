//! `/v1/requests`: file requests (the extracts asked of partners). Admins create and
//! cancel them; exchange clients list the pending ones and upload with `request_id`.

use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;

use filegate_api::{CreateFileRequest, FileRequestList, FileRequestView};
use filegate_core::domain::{FileRequest, RequestId, RequestParameters, RequestStatus, parse_request_note};
use filegate_core::usecases::requests::{self, NewRequest};

use crate::auth::Authenticated;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn view(r: FileRequest) -> FileRequestView {
    FileRequestView {
        id: r.id.to_string(),
        parameters: r.parameters.into_json(),
        note: r.note,
        status: r.status.to_string(),
        due_at: r.due_at,
        file_id: r.file_id.map(|f| f.to_string()),
        created_by: r.created_by,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// Records what a partner must upload (admin).
#[utoipa::path(post, path = "/v1/requests", tag = "requests", request_body = CreateFileRequest,
    responses((status = 201, body = FileRequestView), (status = 400, body = filegate_api::ErrorBody),
              (status = 403, body = filegate_api::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Json(req): Json<CreateFileRequest>,
) -> ApiResult<(StatusCode, Json<FileRequestView>)> {
    let new = NewRequest {
        parameters: RequestParameters::parse(req.parameters)?,
        due_at: req.due_at,
        note: parse_request_note(req.note.as_deref().unwrap_or_default())?,
    };
    let created = requests::create(&state.services, &p, new).await?;
    Ok((StatusCode::CREATED, Json(view(created))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `pending`, `fulfilled` or `cancelled`; all when absent.
    pub status: Option<String>,
    /// 1 to 500, default 100.
    pub limit: Option<u32>,
}

/// File requests, oldest first (exchange clients and admins).
#[utoipa::path(get, path = "/v1/requests", tag = "requests", params(ListQuery),
    responses((status = 200, body = FileRequestList), (status = 400, body = filegate_api::ErrorBody),
              (status = 403, body = filegate_api::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<FileRequestList>> {
    let status = q.status.as_deref().map(str::parse::<RequestStatus>).transpose()?;
    let items = requests::list(&state.services, &p, status, q.limit)
        .await?
        .into_iter()
        .map(view)
        .collect();
    Ok(Json(FileRequestList { items }))
}

/// One file request (exchange clients and admins).
#[utoipa::path(get, path = "/v1/requests/{id}", tag = "requests", params(("id" = String, Path)),
    responses((status = 200, body = FileRequestView), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<FileRequestView>> {
    let request = requests::get(&state.services, &p, RequestId::parse(&id)?).await?;
    Ok(Json(view(request)))
}

/// Cancels a pending request (admin); a fulfilled or cancelled one answers 409.
#[utoipa::path(delete, path = "/v1/requests/{id}", tag = "requests", params(("id" = String, Path)),
    responses((status = 200, body = FileRequestView), (status = 404, body = filegate_api::ErrorBody),
              (status = 409, body = filegate_api::ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<FileRequestView>> {
    let request = requests::cancel(&state.services, &p, RequestId::parse(&id)?).await?;
    Ok(Json(view(request)))
}
