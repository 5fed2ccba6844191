//! Who is calling: a bearer JWT (HS256, signed with the data directory's key) or an API key.
//! The `Authenticated` extractor turns the `Authorization` header into a `Principal`.

use axum::extract::FromRequestParts;
use http::request::Parts;

use filegate_core::Error;
use filegate_core::domain::Principal;
use filegate_core::usecases::{api_keys, tenants};

use crate::http::error::ApiError;
use crate::state::AppState;

pub mod jwt;

/// An authenticated principal, scoped to its tenant.
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(http::header::AUTHORIZATION).ok_or_else(|| {
            Error::unauthenticated("unauthenticated", "send Authorization: Bearer <token or API key>")
        })?;
        let value = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Error::unauthenticated(
                    "unauthenticated",
                    "the Authorization header must be `Bearer <credential>`",
                )
            })?;
        let principal = if value.starts_with(api_keys::KEY_PREFIX) {
            api_keys::authenticate(&state.services, value).await?
        } else {
            let principal = state.jwt.verify(value)?;
            // A token signed for a tenant that does not exist (or no longer does) grants nothing.
            if !tenants::exists(&state.services, &principal.tenant).await? {
                return Err(Error::unauthenticated("invalid-token", "the token's tenant does not exist").into());
            }
            principal
        };
        tracing::Span::current().record("tenant", principal.tenant.as_str());
        Ok(Self(principal))
    }
}
