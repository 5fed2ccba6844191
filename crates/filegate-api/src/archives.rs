use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/archives`: the files to bundle, by id or by a query (exactly one of the two).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArchive {
    /// Ready files of the caller's tenant, zipped in this order (repeats dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<ArchiveQueryBody>,
}

/// The tenant's ready files matching every criterion given (at least one), zipped by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveQueryBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Paths starting with this, literally (`2026/11/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Each key must be present with exactly this value: `{"patient": "123"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// An archive. `url` (a signed download of the zip) and `size` appear once it is `ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ArchiveView {
    pub id: String,
    /// `pending`, `ready`, `failed` or `expired`.
    pub status: String,
    pub file_count: u64,
    /// The bytes of the files inside.
    pub content_bytes: u64,
    /// The size of the zip, once built.
    pub size: Option<u64>,
    pub url: Option<String>,
    /// When `url` stops working (never after `expires_at`).
    pub url_expires_at: Option<DateTime<Utc>>,
    /// When the zip is deleted.
    pub expires_at: DateTime<Utc>,
    /// Why it failed.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// The files, in zip order, with their names inside the zip.
    pub files: Vec<ArchiveFileView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ArchiveFileView {
    pub file_id: String,
    pub path: String,
    /// The entry's name in the zip: the path, made unique (` (2)` before the extension).
    pub name: String,
    pub size: u64,
}
