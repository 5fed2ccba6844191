//! `POST /v1/admin/tenants` (superadmin): a tenant and its `default` bucket.

use axum::extract::State;
use http::StatusCode;

use filegate_api::{CreateTenant, TenantView};
use filegate_core::domain::TenantId;
use filegate_core::usecases::tenants;

use crate::auth::Authenticated;
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::http::views;
use crate::state::AppState;

/// Creates a tenant with its private `default` bucket.
#[utoipa::path(post, path = "/v1/admin/tenants", tag = "admin", request_body = CreateTenant,
    responses((status = 201, body = TenantView), (status = 403, body = filegate_api::ErrorBody), (status = 409, body = filegate_api::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Json(req): Json<CreateTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    let id = TenantId::parse(&req.id)?;
    let tenant = tenants::create(&state.services, &p, id).await?;
    Ok((StatusCode::CREATED, Json(views::tenant(tenant))))
}
