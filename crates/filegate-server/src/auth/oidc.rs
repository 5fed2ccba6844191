//! Sign-in with the identity provider for the web app: OpenID Connect authorization code with
//! PKCE (RFC 7636, `S256`). The page sends the browser to the provider's authorization
//! endpoint with a challenge and gets a code back; this module exchanges the code (with the
//! page's verifier) at the provider's token endpoint, and hands back only a token filegate
//! itself accepts (verified against the JWKS like any other bearer token).
//!
//! The exchange is made here rather than by the page so that the provider need not allow the
//! page's origin (CORS) and the page's Content-Security-Policy names no other origin. The
//! client is public: no client secret exists or is sent; the verifier is what binds the code
//! to the browser that asked for it.
//!
//! The endpoints come from the provider's discovery document
//! (`{issuer}/.well-known/openid-configuration`), read on first use and kept; a failed read is
//! tried again on the next sign-in. `auth.authorization_endpoint` and `auth.token_endpoint`
//! replace discovery when both are set.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::OnceCell;

use filegate_core::{Error, ErrorCode};

/// The largest discovery document or token answer read.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// The whole call to the provider must finish within this.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What the web app needs to send a browser to the provider.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    /// Shown on the button: "Sign in with {name}".
    pub name: String,
    pub scopes: String,
    /// Both, or neither (then discovery).
    pub endpoints: Option<Endpoints>,
}

/// The provider's endpoints this flow uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization: url::Url,
    pub token: url::Url,
}

/// A provider's code exchange, for the web app's sign-in.
#[derive(Debug)]
pub struct OidcClient {
    settings: OidcSettings,
    client: reqwest::Client,
    endpoints: OnceCell<Endpoints>,
}

/// The tokens a token endpoint answers with (those this flow may use).
#[derive(Debug, Deserialize)]
pub struct TokenAnswer {
    pub access_token: Option<String>,
    pub id_token: Option<String>,
}

fn provider_down(source: anyhow::Error) -> Error {
    Error::Unavailable {
        what: "the identity provider",
        retry_after: Duration::from_secs(5),
        source,
    }
}

impl OidcClient {
    pub fn new(settings: OidcSettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            // A token answer must come from the endpoint asked, not from where it points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("filegate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let endpoints = OnceCell::new_with(settings.endpoints.clone());
        Ok(Self {
            settings,
            client,
            endpoints,
        })
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The endpoints, discovered on first use.
    pub async fn endpoints(&self) -> Result<&Endpoints, Error> {
        self.endpoints
            .get_or_try_init(|| async { self.discover().await.map_err(provider_down) })
            .await
    }

    async fn discover(&self) -> anyhow::Result<Endpoints> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            authorization_endpoint: String,
            token_endpoint: String,
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let response = self.client.get(&url).send().await?;
        anyhow::ensure!(response.status() == 200, "{url} answered {}", response.status());
        let body = super::read_limited(response, MAX_ANSWER_BYTES, "the discovery document").await?;
        let doc: Discovery = serde_json::from_slice(&body)?;
        // A discovery document for another issuer is someone else's provider.
        anyhow::ensure!(
            doc.issuer == self.settings.issuer,
            "{url} names the issuer {:?}, not {:?}",
            doc.issuer,
            self.settings.issuer
        );
        let endpoint = |value: &str| -> anyhow::Result<url::Url> {
            let parsed = url::Url::parse(value)?;
            anyhow::ensure!(matches!(parsed.scheme(), "http" | "https"), "{value} is not http(s)");
            Ok(parsed)
        };
        Ok(Endpoints {
            authorization: endpoint(&doc.authorization_endpoint)?,
            token: endpoint(&doc.token_endpoint)?,
        })
    }

    /// Exchanges a code for the provider's tokens. A refusal (the code expired or was used,
    /// the verifier does not match) is `invalid-grant`; no answer is 503.
    pub async fn exchange(&self, code: &str, verifier: &str, redirect_uri: &str) -> Result<TokenAnswer, Error> {
        let endpoints = self.endpoints().await?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("code_verifier", verifier)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("client_id", &self.settings.client_id)
            .finish();
        let response = self
            .client
            .post(endpoints.token.clone())
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| provider_down(e.into()))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(provider_down(anyhow::anyhow!("the token endpoint answered {status}")));
        }
        let body = super::read_limited(response, MAX_ANSWER_BYTES, "the token answer")
            .await
            .map_err(provider_down)?;
        if !status.is_success() {
            tracing::info!(%status, "the identity provider refused a sign-in code");
            return Err(Error::unauthenticated(
                ErrorCode::InvalidGrant,
                "the identity provider refused the sign-in (the code expired or was used already); sign in again",
            ));
        }
        serde_json::from_slice(&body).map_err(|e| provider_down(anyhow::anyhow!("the token answer is not JSON: {e}")))
    }
}

/// A PKCE verifier as RFC 7636 §4.1 allows: 43 to 128 of `A-Z a-z 0-9 - . _ ~`.
pub fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthConfig;

    fn provider() -> AuthConfig {
        AuthConfig {
            jwks_url: Some("https://login.example.org/certs".into()),
            issuer: Some("https://login.example.org".into()),
            audience: Some("filegate".into()),
            client_id: Some("filegate-web".into()),
            ..AuthConfig::default()
        }
    }

    #[test]
    fn the_web_sign_in_needs_a_provider_and_openid() {
        let settings = provider().oidc_settings().unwrap().expect("configured");
        assert_eq!(settings.issuer, "https://login.example.org");
        assert_eq!(settings.scopes, "openid profile email");
        assert!(settings.endpoints.is_none(), "discovered");
        assert!(AuthConfig::default().oidc_settings().unwrap().is_none());

        let without_provider = AuthConfig {
            client_id: Some("filegate-web".into()),
            ..AuthConfig::default()
        };
        let refusal = without_provider.oidc_settings().unwrap_err().to_string();
        assert!(refusal.contains("client_id"), "{refusal}");
        let no_openid = AuthConfig {
            scopes: "profile".into(),
            ..provider()
        };
        assert!(no_openid.oidc_settings().is_err());
        let half = AuthConfig {
            authorization_endpoint: Some("https://login.example.org/auth".into()),
            ..provider()
        };
        assert!(half.oidc_settings().is_err(), "both endpoints or neither");
        let both = AuthConfig {
            authorization_endpoint: Some("https://login.example.org/auth".into()),
            token_endpoint: Some("https://login.example.org/token".into()),
            ..provider()
        };
        let endpoints = both.oidc_settings().unwrap().unwrap().endpoints.expect("set");
        assert_eq!(endpoints.token.as_str(), "https://login.example.org/token");
        let ftp = AuthConfig {
            authorization_endpoint: Some("ftp://login.example.org/auth".into()),
            token_endpoint: Some("https://login.example.org/token".into()),
            ..provider()
        };
        assert!(ftp.oidc_settings().is_err());
    }

    #[test]
    fn verifiers_are_what_rfc_7636_allows() {
        assert!(valid_verifier(&"a".repeat(43)));
        assert!(valid_verifier(&"Az09-._~".repeat(16)));
        assert!(!valid_verifier(&"a".repeat(42)));
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!valid_verifier(&format!("{}+", "a".repeat(43))));
        assert!(!valid_verifier(&format!("{}é", "a".repeat(43))));
    }
}
