//! What a signed-in client asks first: who the caller is, what its roles let it do, and
//! which buckets there are (`GET /v1/me`, `GET /v1/buckets`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The caller, as the server sees its credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MeView {
    pub tenant: String,
    /// The token's `sub`, or `key:<id>` for an API key.
    pub subject: String,
    pub roles: Vec<String>,
    /// What the roles allow, for a client to offer only that: `read` (see every file of the
    /// tenant), `write` (change, share, delete them), `upload`, `administer` (buckets, keys,
    /// webhooks, audit), `operate` (tenants), `exchange` (the exchange passphrase, file
    /// requests).
    pub permissions: Vec<String>,
    /// The deployment's limits a client should respect before asking (a zip of a whole
    /// search stops gathering at them rather than asking for a bundle that is refused).
    #[serde(default)]
    pub limits: ClientLimits,
}

/// Limits of this deployment that shape what a client asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClientLimits {
    /// Most files in one zip bundle (`archives.max_files`).
    pub archive_max_files: u32,
    /// Most bytes of files in one zip bundle (`archives.max_bytes`).
    pub archive_max_bytes: u64,
}

/// A bucket as readers and uploaders see it: what to browse, and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BucketSummary {
    pub name: String,
    /// Its files have unsigned URLs (`/p/{tenant}/{bucket}/{path}`).
    pub public: bool,
    /// Uploads must be encrypted with the exchange passphrase (the bucket decrypts them).
    pub encrypted: bool,
    pub max_file_size: u64,
    /// Empty: any type.
    pub allowed_content_types: Vec<String>,
    /// Deleted files can be restored for this many days.
    pub retention_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BucketSummaryList {
    pub items: Vec<BucketSummary>,
}

/// `GET /v1/auth/config`: how a browser may sign in, asked before anyone is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthConfigView {
    /// Sign-in with the identity provider (authorization code with PKCE), when configured.
    pub oidc: Option<OidcView>,
}

/// Where to send the browser: `authorization_endpoint?response_type=code&client_id&
/// redirect_uri&scope&state&code_challenge&code_challenge_method=S256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OidcView {
    /// The provider's name, for "Sign in with {name}".
    pub name: String,
    pub issuer: String,
    pub authorization_endpoint: String,
    pub client_id: String,
    pub scopes: String,
}

/// `POST /v1/auth/token`: the code the provider sent the browser back with, and the PKCE
/// verifier whose challenge went with the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcTokenRequest {
    pub code: String,
    pub code_verifier: String,
    /// The `redirect_uri` the authorization request named (the provider checks they match).
    pub redirect_uri: String,
}

/// A bearer token this server accepts, from the identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignInToken {
    pub token: String,
}
