//! `/v1/files/{id}/shares`, `/v1/shares/{id}` and the JSON view of a share link.

use filegate_api::{CreateShare, CreatedShareView, ShareList, ShareView, SharedFileView};
use reqwest::Method;

use crate::{Client, Result};

/// The header a share's password travels in.
pub const SHARE_PASSWORD_HEADER: &str = "x-share-password";

impl Client {
    /// `POST /v1/files/{id}/shares`: the answer carries the link's token, shown this once.
    pub async fn create_share(&self, file_id: &str, request: &CreateShare) -> Result<CreatedShareView> {
        let rb = self.request(Method::POST, &["v1", "files", file_id, "shares"])?;
        self.send_json(rb.json(request)).await
    }

    /// `GET /v1/files/{id}/shares`: newest first.
    pub async fn list_shares(&self, file_id: &str) -> Result<ShareList> {
        self.send_json(self.request(Method::GET, &["v1", "files", file_id, "shares"])?)
            .await
    }

    /// `DELETE /v1/shares/{id}`: the link stops working; answers the revoked share.
    pub async fn revoke_share(&self, share_id: &str) -> Result<ShareView> {
        self.send_json(self.request(Method::DELETE, &["v1", "shares", share_id])?)
            .await
    }

    /// `GET /s/{token}` as JSON: what the link's holder may see (no bearer token needed).
    /// Counts as one access of the share.
    pub async fn shared_file(&self, token: &str) -> Result<SharedFileView> {
        let rb = self
            .request(Method::GET, &["s", token])?
            .header(reqwest::header::ACCEPT, "application/json");
        self.send_json(rb).await
    }
}
