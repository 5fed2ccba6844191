//! `/v1/admin/alerts` (tenant admin): who is emailed about the tenant's alerts.

use axum::extract::State;

use filegate_api::AlertRecipients;
use filegate_core::domain::EmailAddress;
use filegate_core::usecases::alerts;

use crate::auth::Authenticated;
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::state::AppState;

fn view(emails: Vec<EmailAddress>) -> AlertRecipients {
    AlertRecipients {
        emails: emails.into_iter().map(|e| e.to_string()).collect(),
    }
}

/// The tenant's alert recipients (tenant admins).
#[utoipa::path(get, path = "/v1/admin/alerts", tag = "admin", responses((status = 200, body = AlertRecipients)))]
pub async fn get(State(state): State<AppState>, Authenticated(p): Authenticated) -> ApiResult<Json<AlertRecipients>> {
    Ok(Json(view(alerts::recipients(&state.services, &p).await?)))
}

/// Replaces the recipients; `[]` turns the tenant's alert emails off (the platform's
/// recipients still get them).
#[utoipa::path(put, path = "/v1/admin/alerts", tag = "admin", request_body = AlertRecipients,
    responses((status = 200, body = AlertRecipients), (status = 400, body = filegate_api::ErrorBody), (status = 403, body = filegate_api::ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Json(req): Json<AlertRecipients>,
) -> ApiResult<Json<AlertRecipients>> {
    let emails = req
        .emails
        .iter()
        .map(|e| EmailAddress::parse(e))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(view(alerts::set_recipients(&state.services, &p, emails).await?)))
}
