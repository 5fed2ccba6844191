//! `/v1/files/{id}/shares` and `/v1/shares/{id}`: share links, as their owners manage them.
//! What the links themselves serve is `share_links`.

use std::time::Duration;

use axum::extract::State;
use chrono::Utc;
use http::StatusCode;

use filegate_api::{CreateShare, CreatedShareView, ShareList, ShareView};
use filegate_core::domain::{
    EmailAddress, FileId, Share, ShareId, SharePassword, SharePermission, parse_download_limit,
};
use filegate_core::usecases::shares::{self, NewShare};

use crate::auth::Authenticated;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::state::AppState;

pub fn view(s: Share, now: chrono::DateTime<Utc>) -> ShareView {
    ShareView {
        id: s.id.to_string(),
        file_id: s.file_id.to_string(),
        permission: s.permission.as_str().to_owned(),
        status: s.state(now).to_owned(),
        expires_at: s.expires_at,
        created_at: s.created_at,
        created_by: s.created_by.clone(),
        recipient_email: s.recipient_email.as_ref().map(|e| e.as_str().to_owned()),
        password_required: s.password.is_some(),
        max_downloads: s.max_downloads,
        downloads_left: s.downloads_left(),
        download_count: s.download_count,
        access_count: s.access_count,
        last_accessed_at: s.last_accessed_at,
        revoked_at: s.revoked_at,
    }
}

fn parse(req: CreateShare) -> filegate_core::Result<NewShare> {
    Ok(NewShare {
        permission: req
            .permission
            .as_deref()
            .map_or(Ok(SharePermission::View), SharePermission::parse)?,
        expires_in: req.expires_in.map(Duration::from_secs),
        recipient_email: req.recipient_email.as_deref().map(EmailAddress::parse).transpose()?,
        password: req.password.as_deref().map(SharePassword::parse).transpose()?,
        max_downloads: req.max_downloads.map(parse_download_limit).transpose()?,
        notify: req.notify,
    })
}

/// Shares a file (writers): the answer carries the link's token, shown this once.
#[utoipa::path(post, path = "/v1/files/{id}/shares", tag = "shares", params(("id" = String, Path)),
    request_body = CreateShare,
    responses((status = 201, body = CreatedShareView), (status = 400, body = filegate_api::ErrorBody),
              (status = 403, body = filegate_api::ErrorBody), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    Json(req): Json<CreateShare>,
) -> ApiResult<(StatusCode, Json<CreatedShareView>)> {
    let file_id = FileId::parse(&id)?;
    let created = shares::create(&state.services, &p, file_id, parse(req)?).await?;
    let now = state.services.clock.now();
    let answer = CreatedShareView {
        qr_url: format!("{}/qr.svg", created.url),
        qr_png_url: format!("{}/qr.png", created.url),
        token: created.token.reveal().to_owned(),
        url: created.url,
        email_queued: created.email_queued,
        share: view(created.share, now),
    };
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The file's shares, newest first, with their counts (never their tokens).
#[utoipa::path(get, path = "/v1/files/{id}/shares", tag = "shares", params(("id" = String, Path)),
    responses((status = 200, body = ShareList), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<ShareList>> {
    let items = shares::list(&state.services, &p, FileId::parse(&id)?).await?;
    let now = state.services.clock.now();
    Ok(Json(ShareList {
        items: items.into_iter().map(|s| view(s, now)).collect(),
    }))
}

/// Revokes a share (writers): its link answers `share-revoked` from now on.
#[utoipa::path(delete, path = "/v1/shares/{id}", tag = "shares", params(("id" = String, Path)),
    responses((status = 200, body = ShareView), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<ShareView>> {
    let share = shares::revoke(&state.services, &p, ShareId::parse(&id)?).await?;
    Ok(Json(view(share, state.services.clock.now())))
}
