//! `/v1/admin/api-keys` (tenant admin): keys for machines, shown once, stored hashed.

use axum::extract::State;
use http::StatusCode;

use filegate_api::{ApiKeyCreated, ApiKeyList, CreateApiKey};
use filegate_core::domain::{ApiKeyId, Role};
use filegate_core::usecases::api_keys;

use crate::auth::Authenticated;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::http::views;
use crate::state::AppState;

/// Creates a key; the answer is the only time its secret is shown.
#[utoipa::path(post, path = "/v1/admin/api-keys", tag = "admin", request_body = CreateApiKey,
    responses((status = 201, body = ApiKeyCreated), (status = 400, body = filegate_api::ErrorBody), (status = 403, body = filegate_api::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Json(req): Json<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<ApiKeyCreated>)> {
    let roles = req
        .roles
        .iter()
        .map(|r| Role::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let created = api_keys::create(&state.services, &p, req.name, roles).await?;
    let key = created.key;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            id: key.id.to_string(),
            name: key.name,
            roles: key.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            key: created.secret,
            created_at: key.created_at,
        }),
    ))
}

/// The tenant's API keys, never their secrets (tenant admins).
#[utoipa::path(get, path = "/v1/admin/api-keys", tag = "admin", responses((status = 200, body = ApiKeyList)))]
pub async fn list(State(state): State<AppState>, Authenticated(p): Authenticated) -> ApiResult<Json<ApiKeyList>> {
    let items = api_keys::list(&state.services, &p)
        .await?
        .into_iter()
        .map(views::api_key)
        .collect();
    Ok(Json(ApiKeyList { items }))
}

/// Revokes a key at once.
#[utoipa::path(delete, path = "/v1/admin/api-keys/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204, description = "revoked"), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    api_keys::revoke(&state.services, &p, ApiKeyId::parse(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
