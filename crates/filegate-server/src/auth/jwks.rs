//! Tokens from an identity provider: RS256 or ES256 JWTs verified against the public keys its
//! JWKS URL publishes, with `iss` and `aud` pinned by configuration.
//!
//! The keys are cached in memory by `kid`. The set is fetched on first use, refreshed when it is
//! older than the cache TTL, and refetched when a token names a `kid` we do not know (the
//! provider rotated its keys) — at most once per refetch interval, so tokens with made-up kids
//! cannot make us hammer the provider. When the provider cannot be reached, keys fetched before
//! keep working for a while; with none, requests get 503 rather than 401.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use filegate_core::domain::{Principal, Role, TenantId};
use filegate_core::{Error, ErrorCode};

/// The claim naming the tenant a token is for.
pub const TENANT_CLAIM: &str = "tenant";
/// The largest JWKS document we read.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Keys beyond this many in one set are ignored.
pub const MAX_KEYS: usize = 64;
const MAX_SUBJECT_CHARS: usize = 256;
const MAX_ROLES: usize = 64;

/// What a [`JwksVerifier`] checks, and how it caches.
#[derive(Debug, Clone)]
pub struct JwksSettings {
    pub jwks_url: url::Url,
    /// The exact `iss` tokens must carry.
    pub issuer: String,
    /// An `aud` tokens must carry (alone or among others).
    pub audience: String,
    /// The claim holding the roles: an array of strings or a space-separated string. A dotted
    /// path (`realm_access.roles`) reaches into objects when no claim has that exact name.
    pub roles_claim: String,
    /// The tenant for tokens without a `tenant` claim; without it such tokens are refused.
    pub default_tenant: Option<TenantId>,
    /// Leeway on `exp` and `nbf`, for clock skew between us and the provider.
    pub leeway: Duration,
    /// A key set older than this is fetched again before use.
    pub cache_ttl: Duration,
    /// At most one refetch for an unknown `kid` per this interval.
    pub refetch_interval: Duration,
    /// After a failed fetch, no new attempt for this long (answers are 503 or stale keys).
    pub failure_backoff: Duration,
    /// How long past the TTL a key set still serves while the provider is unreachable.
    pub max_stale: Duration,
    /// The whole fetch (connect, headers, body) must finish within this.
    pub fetch_timeout: Duration,
}

impl JwksSettings {
    /// Settings with the default timings: cache 10 min, one unknown-`kid` refetch per 30 s,
    /// 5 s back-off after a failure, stale keys for up to 1 h, 5 s fetch timeout, 30 s leeway.
    pub fn new(jwks_url: url::Url, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            jwks_url,
            issuer: issuer.into(),
            audience: audience.into(),
            roles_claim: "roles".into(),
            default_tenant: None,
            leeway: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(600),
            refetch_interval: Duration::from_secs(30),
            failure_backoff: Duration::from_secs(5),
            max_stale: Duration::from_secs(3600),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

/// A public key from the set, with the one algorithm it may verify.
struct VerifyingKey {
    alg: Algorithm,
    key: DecodingKey,
}

/// One fetched key set.
#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Vec<VerifyingKey>>,
    fetched_at: Option<Instant>,
}

/// Bookkeeping for fetches; its mutex also makes fetches single-flight.
#[derive(Default)]
struct FetchState {
    last_unknown_kid_refetch: Option<Instant>,
    last_failure: Option<Instant>,
}

/// Verifies identity-provider tokens against a JWKS URL. Cheap to share behind an `Arc`.
pub struct JwksVerifier {
    settings: JwksSettings,
    client: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    fetch: tokio::sync::Mutex<FetchState>,
}

impl std::fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksVerifier")
            .field("jwks_url", &self.settings.jwks_url.as_str())
            .field("issuer", &self.settings.issuer)
            .field("audience", &self.settings.audience)
            .finish_non_exhaustive()
    }
}

fn invalid(message: &str) -> Error {
    Error::unauthenticated(ErrorCode::InvalidToken, message)
}

impl JwksVerifier {
    pub fn new(settings: JwksSettings) -> anyhow::Result<Self> {
        anyhow::ensure!(
            matches!(settings.jwks_url.scheme(), "http" | "https"),
            "jwks_url must be http or https"
        );
        anyhow::ensure!(!settings.issuer.is_empty(), "issuer must not be empty");
        anyhow::ensure!(!settings.audience.is_empty(), "audience must not be empty");
        anyhow::ensure!(!settings.roles_claim.is_empty(), "roles_claim must not be empty");
        let client = reqwest::Client::builder()
            .timeout(settings.fetch_timeout)
            .connect_timeout(settings.fetch_timeout.min(Duration::from_secs(3)))
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("filegate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            settings,
            client,
            keys: RwLock::new(Arc::new(KeySet::default())),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
        })
    }

    pub fn settings(&self) -> &JwksSettings {
        &self.settings
    }

    /// The principal an RS256/ES256 token stands for. A bad token is `Unauthenticated`
    /// (`invalid-token` or `token-expired`); a provider we cannot reach is `Unavailable`.
    pub async fn verify(&self, token: &str) -> Result<Principal, Error> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("the token is not valid"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(invalid("the token's algorithm is not accepted"));
        }
        let kid = header.kid.ok_or_else(|| invalid("the token names no key (`kid`)"))?;
        let set = self.key_set_with(&kid).await?;
        let key = set
            .keys
            .get(&kid)
            .ok_or_else(|| invalid("the token's key is not published by the identity provider"))?
            .iter()
            .find(|k| k.alg == header.alg)
            .ok_or_else(|| invalid("the token's algorithm does not match its key"))?;

        let mut validation = Validation::new(key.alg);
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => Error::unauthenticated(ErrorCode::TokenExpired, "the token has expired"),
                _ => invalid("the token is not valid"),
            }
        })?;
        self.principal(&data.claims)
    }

    /// Maps verified claims to a principal, as HS256 tokens are: unknown roles are ignored.
    fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, Error> {
        let subject = match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_SUBJECT_CHARS => s.clone(),
            _ => return Err(invalid("the token's subject is not valid")),
        };
        let tenant = match claims.get(TENANT_CLAIM) {
            Some(Value::String(t)) => TenantId::parse(t).map_err(|_| invalid("the token's tenant is not valid"))?,
            None | Some(Value::Null) => self
                .settings
                .default_tenant
                .clone()
                .ok_or_else(|| invalid("the token names no tenant"))?,
            Some(_) => return Err(invalid("the token's tenant is not valid")),
        };
        let names: Vec<&str> = match lookup_claim(claims, &self.settings.roles_claim) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).take(MAX_ROLES).collect(),
            Some(Value::String(s)) => s.split_whitespace().take(MAX_ROLES).collect(),
            _ => Vec::new(),
        };
        let mut roles = Vec::new();
        for role in names.into_iter().filter_map(|r| Role::parse(r).ok()) {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        Ok(Principal {
            subject,
            tenant,
            roles,
            origin: Default::default(),
        })
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn is_fresh(&self, set: &KeySet) -> bool {
        set.fetched_at.is_some_and(|t| t.elapsed() < self.settings.cache_ttl)
    }

    /// A key set that is fresh and knows `kid` if the provider publishes it — fetching when
    /// needed and allowed.
    async fn key_set_with(&self, kid: &str) -> Result<Arc<KeySet>, Error> {
        let set = self.snapshot();
        if self.is_fresh(&set) && set.keys.contains_key(kid) {
            return Ok(set);
        }
        let mut state = self.fetch.lock().await;
        // Another request may have fetched while we waited for the lock.
        let mut set = self.snapshot();
        if !self.is_fresh(&set) {
            match self.fetch_and_store(&mut state).await {
                Ok(fresh) => set = fresh,
                Err(e) => {
                    let usable = set
                        .fetched_at
                        .is_some_and(|t| t.elapsed() < self.settings.cache_ttl + self.settings.max_stale);
                    if !usable {
                        return Err(e);
                    }
                    tracing::debug!(error = %e, "verifying with the identity provider's keys fetched before");
                }
            }
        }
        if set.keys.contains_key(kid) {
            return Ok(set);
        }
        // An unknown kid: the provider may have rotated its keys. Ask again, but rarely.
        let now = Instant::now();
        if state
            .last_unknown_kid_refetch
            .is_some_and(|t| now.duration_since(t) < self.settings.refetch_interval)
        {
            return Ok(set);
        }
        state.last_unknown_kid_refetch = Some(now);
        self.fetch_and_store(&mut state).await
    }

    /// Fetches the set and makes it current; honours the back-off after a failure.
    async fn fetch_and_store(&self, state: &mut FetchState) -> Result<Arc<KeySet>, Error> {
        if let Some(failed) = state.last_failure {
            let since = failed.elapsed();
            if since < self.settings.failure_backoff {
                return Err(self.unavailable(
                    self.settings.failure_backoff - since,
                    anyhow::anyhow!("the last JWKS fetch failed {since:?} ago; backing off"),
                ));
            }
        }
        match self.fetch_keys().await {
            Ok(keys) => {
                state.last_failure = None;
                metrics::counter!("filegate_jwks_fetches_total", "outcome" => "ok").increment(1);
                tracing::info!(keys = keys.len(), url = %self.settings.jwks_url, "fetched the identity provider's keys");
                let set = Arc::new(KeySet {
                    keys,
                    fetched_at: Some(Instant::now()),
                });
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = set.clone();
                Ok(set)
            }
            Err(e) => {
                state.last_failure = Some(Instant::now());
                metrics::counter!("filegate_jwks_fetches_total", "outcome" => "error").increment(1);
                tracing::warn!(error = format!("{e:#}"), url = %self.settings.jwks_url, "fetching the identity provider's keys failed");
                Err(self.unavailable(self.settings.failure_backoff, e))
            }
        }
    }

    fn unavailable(&self, retry_after: Duration, source: anyhow::Error) -> Error {
        Error::Unavailable {
            what: "the identity provider",
            retry_after: retry_after.max(Duration::from_secs(1)),
            source: source.context(format!("JWKS {}", self.settings.jwks_url)),
        }
    }

    async fn fetch_keys(&self) -> anyhow::Result<HashMap<String, Vec<VerifyingKey>>> {
        let response = self
            .client
            .get(self.settings.jwks_url.clone())
            .header(http::header::ACCEPT, "application/json, application/jwk-set+json")
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == reqwest::StatusCode::OK,
            "the JWKS endpoint answered {}",
            response.status()
        );
        let body = super::read_limited(response, MAX_JWKS_BYTES, "the JWKS document").await?;
        parse_key_set(&body)
    }
}

/// The usable keys of a JWKS document, by `kid`. Keys we cannot use (no `kid`, not for
/// signatures, other types or curves, malformed) are skipped, not fatal.
fn parse_key_set(body: &[u8]) -> anyhow::Result<HashMap<String, Vec<VerifyingKey>>> {
    #[derive(serde::Deserialize)]
    struct RawSet {
        keys: Vec<Value>,
    }
    let raw: RawSet =
        serde_json::from_slice(body).map_err(|e| anyhow::anyhow!("the JWKS document is not valid: {e}"))?;
    let mut keys: HashMap<String, Vec<VerifyingKey>> = HashMap::new();
    let mut count = 0;
    for value in raw.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let Some((kid, key)) = verifying_key(&jwk) else {
            continue;
        };
        if count == MAX_KEYS {
            tracing::warn!("the JWKS document has more than {MAX_KEYS} usable keys; ignoring the rest");
            break;
        }
        count += 1;
        keys.entry(kid).or_default().push(key);
    }
    Ok(keys)
}

/// The `kid` and verifying key for a JWK we accept: an RSA key for RS256 or a P-256 key for
/// ES256, meant for signatures, whose own `alg` (when given) agrees.
fn verifying_key(jwk: &Jwk) -> Option<(String, VerifyingKey)> {
    let common = &jwk.common;
    let kid = common.key_id.clone().filter(|k| !k.is_empty())?;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let coordinate_ok = |c: &str| b64.decode(c).is_ok_and(|b| b.len() == 32);
            if !coordinate_ok(&ec.x) || !coordinate_ok(&ec.y) {
                return None;
            }
            Algorithm::ES256
        }
        _ => return None,
    };
    if common.key_algorithm.is_some_and(|a| a != KeyAlgorithm::from(alg)) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, VerifyingKey { alg, key }))
}

/// A claim by exact name, else by a dotted path through nested objects.
fn lookup_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

#[cfg(test)]
mod tests;
