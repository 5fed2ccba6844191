use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn yes() -> bool {
    true
}

/// `POST /v1/files/{id}/shares`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateShare {
    /// `view` (the page, and the bytes shown in the browser; the default) or `download`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// Seconds until the link expires (default 86400; at least 60, at most `shares.max_expires_in_secs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_email: Option<String>,
    /// Asked for before any byte is served; stored only as an Argon2id hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// How often the bytes may be fetched (views included); `null` for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<u64>,
    /// Email the link to `recipient_email` (when SMTP is configured). Default true.
    #[serde(default = "yes")]
    pub notify: bool,
}

impl Default for CreateShare {
    fn default() -> Self {
        Self {
            permission: None,
            expires_in: None,
            recipient_email: None,
            password: None,
            max_downloads: None,
            notify: true,
        }
    }
}

/// A share as its owner sees it (never its token: only a hash of it is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShareView {
    pub id: String,
    pub file_id: String,
    /// `view` or `download`.
    pub permission: String,
    /// `active`, `expired`, `revoked` or `exhausted`.
    pub status: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub recipient_email: Option<String>,
    pub password_required: bool,
    pub max_downloads: Option<u32>,
    pub downloads_left: Option<u32>,
    /// Requests that served bytes.
    pub download_count: u32,
    /// Every access: pages, views and downloads.
    pub access_count: u64,
    pub last_accessed_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The answer to `POST /v1/files/{id}/shares`: the share and, this once, its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedShareView {
    #[serde(flatten)]
    pub share: ShareView,
    /// The secret part of the link; shown only now.
    pub token: String,
    /// `{public_url}/s/{token}`.
    pub url: String,
    /// The link as a QR code (SVG); `qr_png_url` for a PNG.
    pub qr_url: String,
    pub qr_png_url: String,
    /// Whether the link was queued for email to `recipient_email`.
    pub email_queued: bool,
}

/// `GET /v1/files/{id}/shares`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShareList {
    pub items: Vec<ShareView>,
}

/// `GET /s/{token}` with `Accept: application/json`: what the link's holder may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SharedFileView {
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// `view` or `download`.
    pub permission: String,
    pub expires_at: DateTime<Utc>,
    /// Whether `view_url` and `download_url` ask for the password (header `X-Share-Password`,
    /// or form field `password` in a POST).
    pub password_required: bool,
    pub downloads_left: Option<u32>,
    pub shared_by: String,
    /// The bytes, shown inline.
    pub view_url: String,
    /// The bytes as an attachment; only for `download` shares.
    pub download_url: Option<String>,
}
