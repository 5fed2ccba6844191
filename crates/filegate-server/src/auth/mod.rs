//! Who is calling: a bearer JWT or an API key. JWTs are HS256 (signed with the data
//! directory's key, what `filegate token` issues) or, when an identity provider is configured,
//! RS256/ES256 verified against its JWKS. The `Authenticated` extractor turns the
//! `Authorization` header into a `Principal`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};

use filegate_core::domain::{Origin, Principal, TenantId};
use filegate_core::usecases::{api_keys, tenants};
use filegate_core::{Error, ErrorCode};

use crate::http::error::ApiError;
use crate::state::AppState;

pub mod jwks;
pub mod jwt;
pub mod oidc;
pub mod tus_urls;

use jwks::{JwksSettings, JwksVerifier};
use jwt::JwtKeys;
use oidc::{Endpoints, OidcClient, OidcSettings};

/// `[auth]`: an external identity provider whose tokens filegate accepts besides its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The provider's JWKS URL (its public signing keys): RS256/ES256 tokens it signs are
    /// accepted (keys cached 10 min, refetched on an unknown `kid` at most every 30 s).
    /// Unset: only filegate's own tokens and API keys are accepted.
    pub jwks_url: Option<String>,
    /// The exact `iss` of the provider's tokens. Required with `jwks_url`.
    pub issuer: Option<String>,
    /// The `aud` the provider puts in tokens meant for filegate. Required with `jwks_url`.
    pub audience: Option<String>,
    /// The claim holding filegate roles (array or space-separated string; a dotted path such
    /// as `realm_access.roles` reaches into nested objects). Unknown roles are ignored.
    pub roles_claim: String,
    /// The tenant for provider tokens without a `tenant` claim. Unset: such tokens are refused.
    pub default_tenant: Option<String>,
    /// The web app's client id at the provider (a public client: authorization code with
    /// PKCE, no secret; its redirect URI `{public_url}/app/auth/callback`). Set: the sign-in
    /// page offers "Sign in with `provider_name`". Needs `jwks_url`.
    pub client_id: Option<String>,
    /// The provider's name on the sign-in button.
    pub provider_name: String,
    /// The scopes the web app asks for (space separated; `openid` is needed).
    pub scopes: String,
    /// The provider's authorization endpoint. Unset: read from its discovery document
    /// (`{issuer}/.well-known/openid-configuration`). Set it together with `token_endpoint`.
    pub authorization_endpoint: Option<String>,
    /// The provider's token endpoint (filegate exchanges the code there, not the page).
    /// Unset: from the discovery document.
    pub token_endpoint: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwks_url: None,
            issuer: None,
            audience: None,
            roles_claim: "roles".into(),
            default_tenant: None,
            client_id: None,
            provider_name: "your organisation".into(),
            scopes: "openid profile email".into(),
            authorization_endpoint: None,
            token_endpoint: None,
        }
    }
}

impl AuthConfig {
    /// The JWKS verifier settings this config asks for, `None` without a provider.
    pub fn jwks_settings(&self) -> anyhow::Result<Option<JwksSettings>> {
        let Some(raw_url) = self.jwks_url.as_deref().filter(|u| !u.trim().is_empty()) else {
            for (name, set) in [
                ("issuer", self.issuer.is_some()),
                ("audience", self.audience.is_some()),
                ("default_tenant", self.default_tenant.is_some()),
                ("client_id", self.client_id.is_some()),
            ] {
                anyhow::ensure!(!set, "auth.{name} is set but auth.jwks_url is not");
            }
            return Ok(None);
        };
        let url = url::Url::parse(raw_url.trim()).map_err(|e| anyhow::anyhow!("auth.jwks_url {raw_url:?}: {e}"))?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https"),
            "auth.jwks_url must be http or https"
        );
        let required = |name: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("auth.{name} is required when auth.jwks_url is set"))
        };
        let mut settings = JwksSettings::new(
            url,
            required("issuer", &self.issuer)?,
            required("audience", &self.audience)?,
        );
        anyhow::ensure!(
            !self.roles_claim.trim().is_empty(),
            "auth.roles_claim must not be empty"
        );
        settings.roles_claim = self.roles_claim.trim().to_owned();
        settings.default_tenant = self
            .default_tenant
            .as_deref()
            .map(|t| TenantId::parse(t).map_err(|e| anyhow::anyhow!("auth.default_tenant: {e}")))
            .transpose()?;
        Ok(Some(settings))
    }

    /// The web app's sign-in with the provider, `None` without `client_id`.
    pub fn oidc_settings(&self) -> anyhow::Result<Option<OidcSettings>> {
        let Some(client_id) = self.client_id.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let Some(jwks) = self.jwks_settings()? else {
            anyhow::bail!("auth.client_id is set but auth.jwks_url is not");
        };
        anyhow::ensure!(
            self.scopes.split_whitespace().any(|s| s == "openid"),
            "auth.scopes must include openid"
        );
        let endpoint = |name: &str, value: &str| -> anyhow::Result<url::Url> {
            let url = url::Url::parse(value.trim()).map_err(|e| anyhow::anyhow!("auth.{name} {value:?}: {e}"))?;
            anyhow::ensure!(
                matches!(url.scheme(), "http" | "https"),
                "auth.{name} must be http or https"
            );
            Ok(url)
        };
        let endpoints = match (self.authorization_endpoint.as_deref(), self.token_endpoint.as_deref()) {
            (Some(a), Some(t)) => Some(Endpoints {
                authorization: endpoint("authorization_endpoint", a)?,
                token: endpoint("token_endpoint", t)?,
            }),
            (None, None) => None,
            _ => anyhow::bail!("auth.authorization_endpoint and auth.token_endpoint are set together, or neither"),
        };
        Ok(Some(OidcSettings {
            issuer: jwks.issuer,
            client_id: client_id.to_owned(),
            name: self.provider_name.trim().to_owned(),
            scopes: self.scopes.split_whitespace().collect::<Vec<_>>().join(" "),
            endpoints,
        }))
    }
}

/// The body of an identity provider's answer, refused past `max` bytes (announced or sent):
/// a provider's documents are small, and a huge one must not fill our memory.
async fn read_limited(mut response: reqwest::Response, max: usize, what: &str) -> anyhow::Result<Vec<u8>> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        anyhow::bail!("{what} is larger than {max} bytes");
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        anyhow::ensure!(body.len() + chunk.len() <= max, "{what} is larger than {max} bytes");
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Decides how to verify a bearer token: HS256 with the data directory's key, RS256/ES256
/// with the identity provider's JWKS (when configured). Anything else is refused.
#[derive(Debug)]
pub struct Authenticator {
    jwt: Arc<JwtKeys>,
    jwks: Option<JwksVerifier>,
    oidc: Option<OidcClient>,
}

impl Authenticator {
    /// Filegate's own keys plus the identity provider `config` names, if any. Fails on an
    /// incomplete or invalid `[auth]` section; fetches nothing yet (keys load on first use).
    pub fn new(jwt: impl Into<Arc<JwtKeys>>, config: &AuthConfig) -> anyhow::Result<Self> {
        let jwks = config.jwks_settings()?.map(JwksVerifier::new).transpose()?;
        let oidc = config.oidc_settings()?.map(OidcClient::new).transpose()?;
        Ok(Self {
            jwt: jwt.into(),
            jwks,
            oidc,
        })
    }

    /// Only filegate's own tokens.
    pub fn local(jwt: impl Into<Arc<JwtKeys>>) -> Self {
        Self {
            jwt: jwt.into(),
            jwks: None,
            oidc: None,
        }
    }

    pub fn jwt(&self) -> &Arc<JwtKeys> {
        &self.jwt
    }

    pub fn jwks(&self) -> Option<&JwksVerifier> {
        self.jwks.as_ref()
    }

    /// The web app's sign-in with the identity provider, when configured.
    pub fn oidc(&self) -> Option<&OidcClient> {
        self.oidc.as_ref()
    }

    /// The principal a bearer JWT stands for. Does not check that the tenant exists.
    pub async fn verify_token(&self, token: &str) -> Result<Principal, Error> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Error::unauthenticated(ErrorCode::InvalidToken, "the token is not valid"))?;
        match header.alg {
            Algorithm::HS256 => self.jwt.verify(token),
            Algorithm::RS256 | Algorithm::ES256 => match &self.jwks {
                Some(jwks) => jwks.verify(token).await,
                None => Err(Error::unauthenticated(
                    ErrorCode::InvalidToken,
                    "this server accepts no identity-provider tokens",
                )),
            },
            _ => Err(Error::unauthenticated(
                ErrorCode::InvalidToken,
                "the token's algorithm is not accepted",
            )),
        }
    }
}

/// An authenticated principal, scoped to its tenant.
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(http::header::AUTHORIZATION).ok_or_else(|| {
            Error::unauthenticated(
                ErrorCode::Unauthenticated,
                "send Authorization: Bearer <token or API key>",
            )
        })?;
        let value = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Error::unauthenticated(
                    ErrorCode::Unauthenticated,
                    "the Authorization header must be `Bearer <credential>`",
                )
            })?;
        let principal = if value.starts_with(api_keys::KEY_PREFIX) {
            api_keys::authenticate(&state.services, value).await?
        } else {
            let principal = state.auth.verify_token(value).await?;
            // A token signed for a tenant that does not exist (or no longer does) grants nothing.
            if !tenants::exists(&state.services, &principal.tenant).await? {
                return Err(
                    Error::unauthenticated(ErrorCode::InvalidToken, "the token's tenant does not exist").into(),
                );
            }
            principal
        };
        Ok(Self(admit(parts, state, principal).await?))
    }
}

/// The principal a signed tus URL's token stands for (`tus_urls`), admitted as a bearer
/// credential's is. Its tenant must still exist.
pub async fn signed_tus_caller(
    parts: &Parts,
    state: &AppState,
    id: filegate_core::domain::FileId,
    token: &str,
) -> Result<Principal, ApiError> {
    let principal = state.tus_urls.verify(id, token)?;
    if !tenants::exists(&state.services, &principal.tenant).await? {
        return Err(
            Error::unauthenticated(ErrorCode::InvalidToken, "the signed tus URL's tenant does not exist").into(),
        );
    }
    admit(parts, state, principal).await
}

/// What every authenticated request goes through: its origin recorded for the audit trail,
/// its tenant in the request's span, and the principal's rate limit.
async fn admit(parts: &Parts, state: &AppState, mut principal: Principal) -> Result<Principal, ApiError> {
    principal.origin = origin(parts, state);
    tracing::Span::current().record("tenant", principal.tenant.as_str());
    crate::http::rate_limit::admit(state, &principal).await?;
    Ok(principal)
}

/// Where the request came from, for the audit trail: the request id, the client's address
/// (the first address of `http.client_ip_header` when filegate sits behind a proxy that sets
/// it, the connection's peer otherwise) and the user agent (capped).
pub fn origin(parts: &Parts, state: &AppState) -> Origin {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().filter(|c| !c.is_control()).take(512).collect::<String>())
            .filter(|v| !v.is_empty())
    };
    let client_ip =
        crate::http::client_ip::client_ip(&parts.headers, &parts.extensions, state.client_ip_header.as_deref());
    Origin {
        request_id: crate::http::request_id::current(),
        client_ip: client_ip.map(|ip| ip.to_string()),
        user_agent: header(http::header::USER_AGENT.as_str()),
    }
}
