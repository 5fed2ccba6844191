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
