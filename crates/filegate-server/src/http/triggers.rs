//! `POST /v1/triggers/{name}`: fires a configured trigger (a call to one of the operator's
//! own services).
//! The name only selects a trigger of the configuration; the body only carries `data`.
//! Public triggers need no credentials, so these routes form their own group
//! ([`routes`]) that a per-address limit can wrap.

use axum::extract::{FromRequestParts, State};
use http::StatusCode;
use http::request::Parts;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use filegate_api::{FireTrigger, TriggerResult};
use filegate_core::domain::Principal;
use filegate_core::usecases::triggers::{self, Fired};

use crate::auth::Authenticated;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::state::AppState;

/// The trigger routes, as one group; calls without credentials (public triggers) are
/// limited per client address.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(fire))
        .route_layer(axum::middleware::from_fn(crate::http::rate_limit::anonymous_callers))
}

/// The caller when the request carries credentials (which must then be valid); `None`
/// without an `Authorization` header.
pub struct MaybeAuthenticated(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeAuthenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(http::header::AUTHORIZATION) {
            return Ok(Self(None));
        }
        let Authenticated(principal) = Authenticated::from_request_parts(parts, state).await?;
        Ok(Self(Some(principal)))
    }
}

/// Fires a trigger: sync ones answer with the target's answer, async ones are queued.
///
/// A trigger configured `public = true` takes no token; any other needs one whose roles reach
/// the trigger's `role`.
#[utoipa::path(post, path = "/v1/triggers/{name}", tag = "triggers",
    security(("bearer" = []), ()), params(("name" = String, Path)),
    request_body = FireTrigger,
    responses((status = 200, body = TriggerResult), (status = 202, body = TriggerResult),
              (status = 400, body = filegate_api::ErrorBody), (status = 401, body = filegate_api::ErrorBody),
              (status = 403, body = filegate_api::ErrorBody), (status = 404, body = filegate_api::ErrorBody),
              (status = 502, body = filegate_api::ErrorBody), (status = 504, body = filegate_api::ErrorBody)))]
pub async fn fire(
    State(state): State<AppState>,
    MaybeAuthenticated(principal): MaybeAuthenticated,
    Path(name): Path<String>,
    Json(body): Json<FireTrigger>,
) -> ApiResult<(StatusCode, Json<TriggerResult>)> {
    let fired = triggers::fire(&state.services, principal.as_ref(), &name, body.data).await?;
    Ok(match fired {
        Fired::Answered {
            success,
            status,
            result,
        } => (
            StatusCode::OK,
            Json(TriggerResult {
                success,
                status: Some(status),
                result: Some(result),
                id: None,
            }),
        ),
        Fired::Queued { id } => (
            StatusCode::ACCEPTED,
            Json(TriggerResult {
                success: true,
                status: None,
                result: None,
                id: Some(id.to_string()),
            }),
        ),
    })
}
