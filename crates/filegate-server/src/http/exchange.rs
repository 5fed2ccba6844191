//! `/v1/exchange/passphrase` (exchange clients and admins) and `/v1/admin/exchange/...`
//! (admins): the tenant's exchange passphrase, its rotation and its history (the hospital exchange).

use axum::extract::State;

use filegate_api::{ExchangePassphrase, PassphraseHistory, PassphraseVersionView};
use filegate_core::domain::PassphraseVersion;
use filegate_core::usecases::exchange;

use crate::auth::Authenticated;
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::state::AppState;

fn version_view(v: PassphraseVersion) -> PassphraseVersionView {
    PassphraseVersionView {
        version: v.version,
        created_at: v.created_at,
        created_by: v.created_by,
        retired_at: v.retired_at,
    }
}

/// The current passphrase: encrypt uploads with it (`age -p`) and create them with
/// `"encryption": "age"`. Every read is audited.
#[utoipa::path(get, path = "/v1/exchange/passphrase", tag = "exchange",
    responses((status = 200, body = ExchangePassphrase), (status = 403, body = filegate_api::ErrorBody)))]
pub async fn passphrase(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> ApiResult<Json<ExchangePassphrase>> {
    let current = exchange::current(&state.services, &p).await?;
    Ok(Json(ExchangePassphrase {
        version: current.version,
        passphrase: current.passphrase.expose().to_owned(),
        created_at: current.created_at,
    }))
}

/// Makes a new current version (admin). Files encrypted with an older one still decrypt,
/// with an audit record and an alert. Answers the new version, without the secret.
#[utoipa::path(post, path = "/v1/admin/exchange/rotate", tag = "exchange",
    responses((status = 200, body = PassphraseVersionView), (status = 403, body = filegate_api::ErrorBody)))]
pub async fn rotate(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> ApiResult<Json<PassphraseVersionView>> {
    Ok(Json(version_view(exchange::rotate(&state.services, &p).await?)))
}

/// Every version, newest first, never the secrets (admin).
#[utoipa::path(get, path = "/v1/admin/exchange/passphrases", tag = "exchange",
    responses((status = 200, body = PassphraseHistory), (status = 403, body = filegate_api::ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> ApiResult<Json<PassphraseHistory>> {
    let items = exchange::history(&state.services, &p)
        .await?
        .into_iter()
        .map(version_view)
        .collect();
    Ok(Json(PassphraseHistory { items }))
}
