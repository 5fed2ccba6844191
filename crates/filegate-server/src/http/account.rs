//! `GET /v1/me` and `GET /v1/buckets`: what a client that just got a credential asks first —
//! who it is, what it may do, and which buckets there are. The web app offers only what
//! the answers allow (the server checks every request anyway).

use axum::extract::State;

use filegate_api::{BucketSummary, BucketSummaryList, ClientLimits, MeView};
use filegate_core::domain::Permission;
use filegate_core::usecases::buckets;

use super::error::ApiResult;
use super::extract::Json;
use crate::auth::Authenticated;
use crate::state::AppState;

const PERMISSIONS: [(Permission, &str); 6] = [
    (Permission::Read, "read"),
    (Permission::Write, "write"),
    (Permission::Upload, "upload"),
    (Permission::Administer, "administer"),
    (Permission::Operate, "operate"),
    (Permission::Exchange, "exchange"),
];

/// The caller: tenant, subject, roles, what they allow, and the limits to respect.
#[utoipa::path(get, path = "/v1/me", tag = "account",
    responses((status = 200, body = MeView), (status = 401, body = filegate_api::ErrorBody)))]
pub async fn me(State(state): State<AppState>, Authenticated(p): Authenticated) -> ApiResult<Json<MeView>> {
    let settings = &state.services.settings;
    Ok(Json(MeView {
        tenant: p.tenant.to_string(),
        subject: p.subject.clone(),
        roles: p.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        permissions: PERMISSIONS
            .iter()
            .filter(|(permission, _)| p.may(*permission))
            .map(|(_, name)| (*name).to_owned())
            .collect(),
        limits: ClientLimits {
            archive_max_files: settings.archive_max_files,
            archive_max_bytes: settings.archive_max_bytes,
        },
    }))
}

/// The tenant's buckets, for callers that read or upload files: names, and what each
/// accepts. Admins read the full policies at `/v1/admin/buckets`.
#[utoipa::path(get, path = "/v1/buckets", tag = "account",
    responses((status = 200, body = BucketSummaryList), (status = 403, body = filegate_api::ErrorBody)))]
pub async fn buckets(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> ApiResult<Json<BucketSummaryList>> {
    let items = buckets::visible(&state.services, &p)
        .await?
        .into_iter()
        .map(|b| BucketSummary {
            name: b.name.to_string(),
            public: b.policy.public,
            encrypted: b.policy.stages.iter().any(|s| s == "decrypt"),
            max_file_size: b.policy.max_file_size,
            allowed_content_types: b.policy.allowed_content_types,
            retention_days: b.policy.retention_days,
        })
        .collect();
    Ok(Json(BucketSummaryList { items }))
}
