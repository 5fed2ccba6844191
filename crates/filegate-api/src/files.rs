use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The file object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FileView {
    pub id: String,
    pub tenant: String,
    pub bucket: String,
    pub path: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub sha256: Option<String>,
    pub etag: Option<String>,
    /// `pending`, `uploaded`, `processing`, `ready`, `quarantined`, `failed`, `expired`,
    /// `deleted`, `purged`.
    pub status: String,
    pub status_reason: Option<String>,
    pub owner: String,
    pub external_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub processing: ProcessingView,
    pub download_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// `age` when the upload arrived encrypted (the file now holds the plaintext).
    #[serde(default)]
    pub encryption: Option<String>,
    /// The file request this upload answers.
    #[serde(default)]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProcessingView {
    pub scan: Option<String>,
    pub sniffed_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub image: Option<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub thumbnails: Vec<serde_json::Value>,
    /// Set once an encrypted upload was decrypted.
    #[serde(default)]
    pub decryption: Option<DecryptionView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DecryptionView {
    /// The exchange passphrase version that opened the file.
    pub passphrase_version: u32,
    /// A newer version existed: the use was audited and alerted.
    pub old_passphrase: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    pub id: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DownloadView {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FileList {
    pub items: Vec<FileView>,
    pub next_cursor: Option<String>,
    /// Present when the page was asked for by `offset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// A folder directly in the one asked about: a path prefix some live file is below.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FolderView {
    /// Its own name (one path segment).
    pub name: String,
    /// Its full prefix, ending with `/`: what to list next (`GET /v1/files?prefix=…&delimiter=/`).
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FolderList {
    pub items: Vec<FolderView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeList {
    /// Changed files, oldest change first; deleted ones have `status: "deleted"`.
    pub items: Vec<FileView>,
    /// Pass as `since` next time; unchanged when nothing is new. Opaque (a number on the
    /// embedded engine, two numbers joined by a dot on PostgreSQL).
    pub next_cursor: String,
}

/// `PATCH /v1/files/{id}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Replaces the whole map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchDeleted {
    pub deleted: Vec<String>,
    pub not_found: Vec<String>,
}
