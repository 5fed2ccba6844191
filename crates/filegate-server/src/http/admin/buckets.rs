//! `/v1/admin/buckets` (tenant admin): create, change, read, list.

use axum::extract::State;
use http::StatusCode;

use filegate_api::{BucketList, BucketPolicyChange, BucketView, CreateBucket};
use filegate_core::domain::{BucketName, DedupScope};
use filegate_core::usecases::buckets::{self, PolicyChange};
use filegate_core::{Error, ErrorCode, Result};

use crate::auth::Authenticated;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::http::views;
use crate::state::AppState;

fn parse_change(c: BucketPolicyChange) -> Result<PolicyChange> {
    let dedup = match c.dedup.as_deref() {
        None => None,
        Some("off") => Some(DedupScope::Off),
        Some("bucket") => Some(DedupScope::Bucket),
        Some("tenant") => Some(DedupScope::Tenant),
        Some(other) => {
            return Err(Error::invalid(
                ErrorCode::InvalidPolicy,
                format!("dedup {other:?} is not tenant, bucket or off"),
            ));
        }
    };
    Ok(PolicyChange {
        public: c.public,
        max_file_size: c.max_file_size,
        allowed_content_types: c
            .allowed_content_types
            .map(|v| v.into_iter().map(|t| t.to_ascii_lowercase()).collect()),
        retention_days: c.retention_days,
        stages: c.stages,
        dedup,
        inline_active: c.inline_active,
    })
}

/// Creates a bucket; `name` is required, the policy defaults.
#[utoipa::path(post, path = "/v1/admin/buckets", tag = "admin", request_body = CreateBucket,
    responses((status = 201, body = BucketView), (status = 400, body = filegate_api::ErrorBody),
              (status = 403, body = filegate_api::ErrorBody), (status = 409, body = filegate_api::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Json(req): Json<CreateBucket>,
) -> ApiResult<(StatusCode, Json<BucketView>)> {
    let name = BucketName::parse(&req.name)?;
    let bucket = buckets::create(&state.services, &p, name, parse_change(req.policy())?).await?;
    Ok((StatusCode::CREATED, Json(views::bucket(bucket))))
}

/// Changes a bucket's policy; absent fields keep their value.
#[utoipa::path(patch, path = "/v1/admin/buckets/{name}", tag = "admin", params(("name" = String, Path)),
    request_body = BucketPolicyChange,
    responses((status = 200, body = BucketView), (status = 400, body = filegate_api::ErrorBody), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(name): Path<String>,
    Json(req): Json<BucketPolicyChange>,
) -> ApiResult<Json<BucketView>> {
    let name = BucketName::parse(&name).map_err(|_| Error::not_found("bucket"))?;
    let bucket = buckets::update(&state.services, &p, &name, parse_change(req)?).await?;
    Ok(Json(views::bucket(bucket)))
}

/// One bucket and its policy (tenant admins).
#[utoipa::path(get, path = "/v1/admin/buckets/{name}", tag = "admin", params(("name" = String, Path)),
    responses((status = 200, body = BucketView), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Json<BucketView>> {
    let name = BucketName::parse(&name).map_err(|_| Error::not_found("bucket"))?;
    Ok(Json(views::bucket(buckets::get(&state.services, &p, &name).await?)))
}

/// The tenant's buckets and their policies (tenant admins).
#[utoipa::path(get, path = "/v1/admin/buckets", tag = "admin", responses((status = 200, body = BucketList)))]
pub async fn list(State(state): State<AppState>, Authenticated(p): Authenticated) -> ApiResult<Json<BucketList>> {
    let items = buckets::list(&state.services, &p)
        .await?
        .into_iter()
        .map(views::bucket)
        .collect();
    Ok(Json(BucketList { items }))
}
