//! The test's identity provider: a real HTTP server on port 0 serving a JWKS document the test
//! controls (and counting the fetches), real ES256/RS256 keys generated with aws-lc-rs, and the
//! claims a provider would put in a token for filegate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use filegate_core::Error;
use filegate_core::domain::Principal;
use filegate_server::auth::AuthConfig;
use filegate_server::auth::jwks::{JwksSettings, JwksVerifier};

pub const ISSUER: &str = "https://idp.example/realms/filegate";
pub const AUDIENCE: &str = "filegate";

// ---------------------------------------------------------------------------------------------
// A tiny identity provider: serves a JWKS document the test controls and counts the fetches.

#[derive(Clone)]
pub enum Serve {
    Keys(Value),
    Status(u16),
    /// A 2 MiB body: more than a JWKS document may be.
    Huge,
}

#[derive(Clone)]
struct IdpState {
    serve: Arc<Mutex<Serve>>,
    fetches: Arc<AtomicUsize>,
}

pub struct Idp {
    url: String,
    state: IdpState,
    task: tokio::task::JoinHandle<()>,
}

async fn jwks_route(State(state): State<IdpState>) -> Response {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let serve = state.serve.lock().unwrap().clone();
    match serve {
        Serve::Keys(doc) => axum::Json(doc).into_response(),
        Serve::Status(code) => http::StatusCode::from_u16(code).unwrap().into_response(),
        Serve::Huge => {
            let padding = "x".repeat(2 * 1024 * 1024);
            axum::Json(json!({"keys": [], "padding": padding})).into_response()
        }
    }
}

impl Idp {
    pub async fn start(keys: Vec<Value>) -> Self {
        let state = IdpState {
            serve: Arc::new(Mutex::new(Serve::Keys(json!({ "keys": keys })))),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let router = Router::new()
            .route("/.well-known/jwks.json", axum::routing::get(jwks_route))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { url, state, task }
    }

    /// From now on the set holds exactly these keys (the provider rotated).
    pub fn publish(&self, keys: Vec<Value>) {
        *self.state.serve.lock().unwrap() = Serve::Keys(json!({ "keys": keys }));
    }

    pub fn answer(&self, serve: Serve) {
        *self.state.serve.lock().unwrap() = serve;
    }

    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    pub fn settings(&self) -> JwksSettings {
        JwksSettings::new(self.url.parse().unwrap(), ISSUER, AUDIENCE)
    }

    pub fn verifier(&self) -> JwksVerifier {
        JwksVerifier::new(self.settings()).unwrap()
    }

    pub fn auth_config(&self) -> AuthConfig {
        AuthConfig {
            jwks_url: Some(self.url.clone()),
            issuer: Some(ISSUER.into()),
            audience: Some(AUDIENCE.into()),
            ..AuthConfig::default()
        }
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A JWKS URL nobody listens on.
pub async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/.well-known/jwks.json")
}

// ---------------------------------------------------------------------------------------------
// Real keys.

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub trait SigningKey {
    fn kid(&self) -> &str;
    fn alg(&self) -> Algorithm;
    fn jwk(&self) -> Value;
    fn encoding_key(&self) -> EncodingKey;

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.kid(), claims)
    }

    /// Signs with this key but names `kid` in the header.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg());
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding_key()).unwrap()
    }
}

pub struct EcKey {
    kid: String,
    pkcs8: Vec<u8>,
    point: Vec<u8>,
}

impl EcKey {
    pub fn generate(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        Self {
            kid: kid.into(),
            pkcs8: pair.to_pkcs8v1().unwrap().as_ref().to_vec(),
            point: pair.public_key().as_ref().to_vec(),
        }
    }
}

impl SigningKey for EcKey {
    fn kid(&self) -> &str {
        &self.kid
    }
    fn alg(&self) -> Algorithm {
        Algorithm::ES256
    }
    fn jwk(&self) -> Value {
        assert_eq!(self.point.len(), 65, "an uncompressed P-256 point");
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
               "x": b64(&self.point[1..33]), "y": b64(&self.point[33..])})
    }
    fn encoding_key(&self) -> EncodingKey {
        EncodingKey::from_ec_der(&self.pkcs8)
    }
}

pub struct RsaKey {
    kid: String,
    /// The private key as PKCS#1 `RSAPrivateKey` DER, which `EncodingKey::from_rsa_der` wants.
    pkcs1: Vec<u8>,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    /// The public key as PKCS#1 `RSAPublicKey` DER and as X.509 SubjectPublicKeyInfo DER.
    pub public_pkcs1: Vec<u8>,
    pub public_spki: Vec<u8>,
}

/// The content of the DER element at the start of `input`, and what follows it.
fn der_element(input: &[u8], tag: u8) -> (&[u8], &[u8]) {
    assert_eq!(input[0], tag, "DER tag");
    let (len, header) = match input[1] {
        n if n < 0x80 => (n as usize, 2),
        n => {
            let count = (n & 0x7f) as usize;
            let len = input[2..2 + count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, 2 + count)
        }
    };
    (&input[header..header + len], &input[header + len..])
}

/// PKCS#8 `PrivateKeyInfo { version, algorithm, privateKey OCTET STRING }` → the inner key.
fn pkcs8_inner(pkcs8: &[u8]) -> Vec<u8> {
    let (info, _) = der_element(pkcs8, 0x30);
    let (_, rest) = der_element(info, 0x02);
    let (_, rest) = der_element(rest, 0x30);
    let (key, _) = der_element(rest, 0x04);
    key.to_vec()
}

impl RsaKey {
    pub fn generate(kid: &str) -> Self {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = pair.as_der().unwrap();
        let public = pair.public_key();
        Self {
            kid: kid.into(),
            pkcs1: pkcs8_inner(pkcs8.as_ref()),
            n: public.modulus().big_endian_without_leading_zero().to_vec(),
            e: public.exponent().big_endian_without_leading_zero().to_vec(),
            public_pkcs1: public.as_ref().to_vec(),
            public_spki: public.as_der().unwrap().as_ref().to_vec(),
        }
    }

    pub fn public_pem(&self) -> String {
        let body = STANDARD.encode(&self.public_spki);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }
}

impl SigningKey for RsaKey {
    fn kid(&self) -> &str {
        &self.kid
    }
    fn alg(&self) -> Algorithm {
        Algorithm::RS256
    }
    fn jwk(&self) -> Value {
        json!({"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256", "n": b64(&self.n), "e": b64(&self.e)})
    }
    fn encoding_key(&self) -> EncodingKey {
        EncodingKey::from_rsa_der(&self.pkcs1)
    }
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// Claims a provider would issue for filegate: right issuer and audience, valid 10 minutes.
pub fn claims(tenant: &str, roles: &[&str]) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "user-42", "tenant": tenant, "roles": roles,
           "iat": now(), "exp": now() + 600})
}

pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

pub fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[track_caller]
pub fn assert_refused(result: Result<Principal, Error>, code: &str) {
    match result {
        Err(Error::Unauthenticated { code: got, .. }) => assert_eq!(got.as_str(), code),
        other => panic!("expected {code}, got {other:?}"),
    }
}

#[track_caller]
pub fn assert_unavailable(result: Result<Principal, Error>) {
    match result {
        Err(Error::Unavailable { retry_after, .. }) => assert!(retry_after >= Duration::from_secs(1)),
        other => panic!("expected unavailable, got {other:?}"),
    }
}

pub fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}
