//! `POST /v1/files/{id}/shares` (API.md "Shares"): a link that lets someone without an
//! account see or download one file.
//!
//! Written against API.md while the server side was being built in parallel: the
//! request and answer types here are this client's own and keep only the fields the
//! CLI needs (the answer's other fields are kept in `extra`). Once `filegate-api` has
//! the shares wire types, they replace these.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::{Client, Result};

/// What a new share link allows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShareLinkRequest {
    /// `view` or `download`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// Seconds until the link stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_email: Option<String>,
    /// A password the recipient must give.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<u64>,
}

/// The answer: the link, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareLink {
    pub id: String,
    /// The secret part of the link.
    pub token: String,
    /// The link to hand out.
    pub url: String,
    /// The link as a QR code picture.
    #[serde(default)]
    pub qr_url: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// Everything else the server said about the share.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Client {
    /// `POST /v1/files/{id}/shares`.
    pub async fn share_link(&self, file_id: &str, request: &ShareLinkRequest) -> Result<ShareLink> {
        let rb = self.request(Method::POST, &["v1", "files", file_id, "shares"])?;
        self.send_json(rb.json(request)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_keeps_what_it_does_not_name() {
        let body = br#"{"id":"s1","token":"t","url":"https://f/s/t","qr_url":"https://f/s/t/qr.svg",
            "expires_at":"2026-12-02T00:00:00Z","permission":"download","status":"active"}"#;
        let link: ShareLink = serde_json::from_slice(body).unwrap();
        assert_eq!(link.url, "https://f/s/t");
        assert_eq!(link.extra["permission"], "download");
        let request = ShareLinkRequest {
            permission: Some("view".into()),
            ..ShareLinkRequest::default()
        };
        assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"permission":"view"}"#);
    }
}
