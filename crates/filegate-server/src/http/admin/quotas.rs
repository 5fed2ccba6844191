//! `/v1/admin/quotas` and `/v1/admin/usage`: a tenant admin reads its tenant's storage quota
//! and usage; a superadmin reads and sets any tenant's (`?tenant=`, or `tenant` in the body).

use axum::extract::State;
use serde::Deserialize;

use filegate_api::{BucketUsageView, QuotaView, SetQuota, UsageView};
use filegate_core::domain::{Quota, TenantId};
use filegate_core::usecases::quotas;

use crate::auth::Authenticated;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Query};
use crate::state::AppState;

/// `?tenant=`: another tenant than the caller's (superadmin only).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TenantParams {
    tenant: Option<String>,
}

fn tenant(raw: Option<&str>) -> ApiResult<Option<TenantId>> {
    Ok(raw.map(TenantId::parse).transpose()?)
}

fn view(tenant: &TenantId, quota: Quota) -> QuotaView {
    QuotaView {
        tenant: tenant.to_string(),
        max_bytes: quota.max_bytes,
        max_files: quota.max_files,
    }
}

/// The tenant's quota (`null`: unlimited).
#[utoipa::path(get, path = "/v1/admin/quotas", tag = "admin", params(TenantParams),
    responses((status = 200, body = QuotaView), (status = 403, body = filegate_api::ErrorBody),
        (status = 404, body = filegate_api::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(params): Query<TenantParams>,
) -> ApiResult<Json<QuotaView>> {
    let (tenant, quota) = quotas::get(&state.services, &p, tenant(params.tenant.as_deref())?).await?;
    Ok(Json(view(&tenant, quota)))
}

/// Replaces a tenant's quota (superadmin). Files already stored stay when a limit drops
/// below the usage; new ones are refused with `quota-exceeded` until it is back under.
#[utoipa::path(put, path = "/v1/admin/quotas", tag = "admin", request_body = SetQuota,
    responses((status = 200, body = QuotaView), (status = 400, body = filegate_api::ErrorBody),
        (status = 403, body = filegate_api::ErrorBody), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Json(req): Json<SetQuota>,
) -> ApiResult<Json<QuotaView>> {
    let quota = Quota {
        max_bytes: req.max_bytes,
        max_files: req.max_files,
    };
    let (tenant, quota) = quotas::set(&state.services, &p, tenant(req.tenant.as_deref())?, quota).await?;
    Ok(Json(view(&tenant, quota)))
}

/// What the tenant keeps, in total and per bucket, beside its quota.
#[utoipa::path(get, path = "/v1/admin/usage", tag = "admin", params(TenantParams),
    responses((status = 200, body = UsageView), (status = 403, body = filegate_api::ErrorBody),
        (status = 404, body = filegate_api::ErrorBody)))]
pub async fn usage(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(params): Query<TenantParams>,
) -> ApiResult<Json<UsageView>> {
    let (tenant, quota, usage) = quotas::usage(&state.services, &p, tenant(params.tenant.as_deref())?).await?;
    Ok(Json(UsageView {
        tenant: tenant.to_string(),
        bytes: usage.total.bytes,
        files: usage.total.files,
        max_bytes: quota.max_bytes,
        max_files: quota.max_files,
        buckets: usage
            .buckets
            .into_iter()
            .map(|(name, used)| BucketUsageView {
                name: name.to_string(),
                bytes: used.bytes,
                files: used.files,
            })
            .collect(),
    }))
}
