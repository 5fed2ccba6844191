//! `/v1/auth/…`: the web app's sign-in with the identity provider (OpenID Connect,
//! authorization code with PKCE; see `auth::oidc`). Both routes are called before anyone is
//! signed in, so they take no credential and are limited per client like the share links.
//! `GET /v1/auth/config` says whether and where to send the browser; `POST /v1/auth/token`
//! exchanges the code the browser came back with for a token this server accepts.

use axum::extract::State;

use filegate_api::{AuthConfigView, OidcTokenRequest, OidcView, SignInToken};
use filegate_core::{Error, ErrorCode};

use super::error::ApiResult;
use super::extract::Json;
use crate::auth::oidc::valid_verifier;
use crate::state::AppState;

/// The longest code or redirect URI accepted.
const MAX_FIELD: usize = 4096;

/// How a browser may sign in: the identity provider's authorization endpoint and this
/// deployment's client id there, or `null` without one.
#[utoipa::path(get, path = "/v1/auth/config", tag = "account", security(),
    responses((status = 200, body = AuthConfigView), (status = 503, body = filegate_api::ErrorBody)))]
pub async fn config(State(state): State<AppState>) -> ApiResult<Json<AuthConfigView>> {
    let Some(oidc) = state.auth.oidc() else {
        return Ok(Json(AuthConfigView { oidc: None }));
    };
    let endpoints = oidc.endpoints().await?;
    let settings = oidc.settings();
    Ok(Json(AuthConfigView {
        oidc: Some(OidcView {
            name: settings.name.clone(),
            issuer: settings.issuer.clone(),
            authorization_endpoint: endpoints.authorization.to_string(),
            client_id: settings.client_id.clone(),
            scopes: settings.scopes.clone(),
        }),
    }))
}

/// Exchanges the provider's code (with the PKCE verifier) for a token this server accepts.
#[utoipa::path(post, path = "/v1/auth/token", tag = "account", security(), request_body = OidcTokenRequest,
    responses((status = 200, body = SignInToken), (status = 400, body = filegate_api::ErrorBody),
              (status = 401, body = filegate_api::ErrorBody), (status = 404, body = filegate_api::ErrorBody),
              (status = 503, body = filegate_api::ErrorBody)))]
pub async fn token(State(state): State<AppState>, Json(req): Json<OidcTokenRequest>) -> ApiResult<Json<SignInToken>> {
    let oidc = state.auth.oidc().ok_or(Error::not_found("identity provider"))?;
    if req.code.is_empty() || req.code.len() > MAX_FIELD {
        return Err(Error::invalid(ErrorCode::InvalidBody, "code must be 1 to 4096 characters").into());
    }
    if !valid_verifier(&req.code_verifier) {
        return Err(Error::invalid(
            ErrorCode::InvalidBody,
            "code_verifier must be 43 to 128 of A-Z a-z 0-9 - . _ ~",
        )
        .into());
    }
    let redirect = url::Url::parse(&req.redirect_uri).ok().filter(|u| {
        req.redirect_uri.len() <= MAX_FIELD
            && matches!(u.scheme(), "http" | "https")
            && u.path() == "/app/auth/callback"
    });
    if redirect.is_none() {
        return Err(Error::invalid(
            ErrorCode::InvalidBody,
            "redirect_uri must be this web app's http(s) …/app/auth/callback",
        )
        .into());
    }
    let answer = oidc.exchange(&req.code, &req.code_verifier, &req.redirect_uri).await?;
    // The access token is meant for APIs; some providers put filegate's audience only in
    // the ID token (when the client id is the audience). Whichever verifies is handed back.
    let mut refusal = None;
    for token in [answer.access_token, answer.id_token].into_iter().flatten() {
        match state.auth.verify_token(&token).await {
            Ok(_) => return Ok(Json(SignInToken { token })),
            Err(e) => refusal = Some(e),
        }
    }
    Err(refusal
        .unwrap_or_else(|| Error::unauthenticated(ErrorCode::InvalidToken, "the identity provider sent no token"))
        .into())
}
