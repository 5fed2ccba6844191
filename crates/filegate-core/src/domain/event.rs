//! Events: every change of a file is announced (`file.uploaded`, `file.ready`, ...) through
//! the transactional outbox, to webhooks and the broker.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{BucketName, FileId, FileRecord, FileStatus, TenantId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEvent {
    /// Unique per event and stable across redeliveries: consumers drop duplicates by it.
    pub id: Uuid,
    /// `file.<status>` for a status change, `file.restored`, or `file.updated`.
    #[serde(rename = "type")]
    pub kind: String,
    pub tenant: TenantId,
    pub file_id: FileId,
    pub bucket: BucketName,
    pub path: String,
    pub status: FileStatus,
    pub status_reason: Option<String>,
    pub size: u64,
    pub sha256: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// What a non-status event says besides the file (`alert.old_passphrase`: the version
    /// used; `request.fulfilled`: the request id). `null` for status changes.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl FileEvent {
    /// The event for `file` having moved from `previous` to its current state.
    pub fn of_change(previous: FileStatus, file: &FileRecord) -> Self {
        let kind = if previous == FileStatus::Deleted && file.status != FileStatus::Deleted {
            "file.restored".to_owned()
        } else if previous != file.status {
            format!("file.{}", file.status)
        } else {
            "file.updated".to_owned()
        };
        Self::about(kind, file, serde_json::Value::Null)
    }

    /// An event of any `kind` about `file` (`alert.*`, `request.fulfilled`, `share.accessed`),
    /// carrying `data`.
    pub fn about(kind: impl Into<String>, file: &FileRecord, data: serde_json::Value) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind: kind.into(),
            tenant: file.tenant.clone(),
            file_id: file.id,
            bucket: file.bucket.clone(),
            path: file.path.to_string(),
            status: file.status,
            status_reason: file.status_reason.clone(),
            size: file.size,
            sha256: file.sha256.as_ref().map(ToString::to_string),
            occurred_at: file.updated_at,
            data,
        }
    }
}
