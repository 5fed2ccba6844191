//! `/v1/admin/quotas` and `/v1/admin/usage`: a tenant's storage limits and what it keeps.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A tenant's storage quota; `null` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuotaView {
    pub tenant: String,
    pub max_bytes: Option<u64>,
    pub max_files: Option<u64>,
}

/// `PUT /v1/admin/quotas` (superadmin): the whole quota of `tenant` (default: the caller's).
/// An absent or `null` limit is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuota {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default)]
    pub max_bytes: Option<u64>,
    #[serde(default)]
    pub max_files: Option<u64>,
}

/// What a tenant keeps against its quota: files that hold or reserve storage (pending
/// uploads by their declared size, and every file until it is purged), by logical size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageView {
    pub tenant: String,
    pub bytes: u64,
    pub files: u64,
    pub max_bytes: Option<u64>,
    pub max_files: Option<u64>,
    /// Buckets holding counted files, by name.
    pub buckets: Vec<BucketUsageView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BucketUsageView {
    pub name: String,
    pub bytes: u64,
    pub files: u64,
}
