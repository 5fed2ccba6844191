use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/admin/buckets`: `name` is required, the rest defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBucket {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_content_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_active: Option<bool>,
}

impl CreateBucket {
    /// The policy part of the request.
    pub fn policy(&self) -> BucketPolicyChange {
        BucketPolicyChange {
            public: self.public,
            max_file_size: self.max_file_size,
            allowed_content_types: self.allowed_content_types.clone(),
            retention_days: self.retention_days,
            stages: self.stages.clone(),
            dedup: self.dedup.clone(),
            inline_active: self.inline_active,
        }
    }
}

/// A bucket policy change; absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketPolicyChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_content_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<String>>,
    /// `tenant`, `bucket` or `off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup: Option<String>,
    /// Show HTML, SVG, XML and script inline when asked (default off: as attachments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BucketView {
    pub name: String,
    pub public: bool,
    pub max_file_size: u64,
    pub allowed_content_types: Vec<String>,
    pub retention_days: u32,
    pub stages: Vec<String>,
    pub dedup: String,
    /// Whether HTML, SVG, XML and script are shown inline when asked (else attachments).
    #[serde(default)]
    pub inline_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BucketList {
    pub items: Vec<BucketView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    /// `reader`, `writer`, `admin`, `exchange` (and `superadmin`, by a superadmin).
    pub roles: Vec<String>,
}

/// The answer to creating a key: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyCreated {
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
    /// Send as `Authorization: Bearer <key>`. Shown once.
    pub key: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyView>,
}
