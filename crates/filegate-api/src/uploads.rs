use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::FileView;

/// `POST /v1/uploads`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUpload {
    pub bucket: String,
    pub path: String,
    /// Exact size in bytes; the signed URL pins it.
    pub size: u64,
    /// Defaults to `application/octet-stream`; the signed URL pins it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Hex (or base64) SHA-256, checked when the upload completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Force (`true`) or refuse (`false`) multipart; by default files over the threshold
    /// (100 MiB) use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<bool>,
    /// A browser form POST instead of a PUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<bool>,
    /// `age`: the bytes are an age file encrypted with the tenant's exchange passphrase
    /// (`GET /v1/exchange/passphrase`); the bucket must run the `decrypt` stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    /// The file request (`GET /v1/requests`) this upload answers; it must be pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `tus`: answer a signed tus URL to append the bytes to (docs/tus.md), for a tus client
    /// that must not hold a token. Not combined with `form` or `multipart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UploadCreated {
    pub file_id: String,
    pub status: String,
    pub expires_at: DateTime<Utc>,
    /// `true` when the file shares the bytes of an identical file already in the tenant
    /// (the bucket's `dedup` policy): it is already `uploaded`, and there is no `upload`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deduplicated: bool,
    /// How to send the bytes; absent when `deduplicated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadInstructions>,
}

/// How to send the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "method")]
pub enum UploadInstructions {
    /// `PUT` the bytes to `url` with `headers`. Answers `200` with an `ETag`.
    #[serde(rename = "PUT")]
    Put {
        url: String,
        headers: BTreeMap<String, String>,
    },
    /// `POST` a multipart form to `url`: every field of `fields`, then the file as `file`.
    #[serde(rename = "POST")]
    Post {
        url: String,
        fields: BTreeMap<String, String>,
    },
    /// Resume a tus upload at `url` (tus-js-client's `uploadUrl`, Uppy's `@uppy/tus` with
    /// it): `HEAD` and `PATCH` need no other credential, and only for this upload until the
    /// upload expires. It completes itself when its last byte arrives.
    #[serde(rename = "tus")]
    Tus { url: String },
    /// `PUT` each part to its URL; complete with the parts' etags.
    #[serde(rename = "multipart")]
    Multipart {
        upload_id: String,
        part_size: u64,
        part_count: u32,
        parts: Vec<PartUrl>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartUrl {
    pub number: u32,
    pub url: String,
}

/// `POST /v1/uploads/{file_id}/parts`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartsRequest {
    pub numbers: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartUrls {
    pub parts: Vec<PartUrl>,
}

/// `POST /v1/uploads/{file_id}/complete`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteUpload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The `ETag` the PUT answered (single uploads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Multipart: every part, ascending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<CompletedPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompletedPart {
    pub number: u32,
    pub etag: String,
}

/// `POST /v1/uploads/complete`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteUploads {
    pub uploads: Vec<CompleteItem>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteItem {
    pub file_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<CompletedPart>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompletedUploads {
    /// How many items completed: a client that only counts its successes reads this.
    pub confirmed: usize,
    pub results: Vec<CompleteResult>,
}

/// One item: `file` when it completed, `error` when not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompleteResult {
    pub file_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ItemError {
    pub code: String,
    pub status: u16,
    pub message: String,
}

/// `POST /v1/images`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageUpload {
    pub bucket: String,
    /// Base64, or a `data:` URL.
    pub data: String,
    /// `image/gif`, `image/png`, `image/jpeg` (and what the bucket adds).
    pub content_type: String,
    /// Stored as `{name}_{uuid}.{ext}`; `image` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}
