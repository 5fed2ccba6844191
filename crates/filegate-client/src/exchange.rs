//! `/v1/exchange`, `/v1/admin/exchange` and `/v1/requests` (the hospital exchange:
//! partners fetch the passphrase, see what is asked for, upload encrypted extracts).

use filegate_api::{
    CreateFileRequest, ExchangePassphrase, FileRequestList, FileRequestView, PassphraseHistory, PassphraseVersionView,
};
use reqwest::Method;

use crate::{Client, Result};

impl Client {
    /// `GET /v1/exchange/passphrase`: the current passphrase (exchange role or admin).
    pub async fn exchange_passphrase(&self) -> Result<ExchangePassphrase> {
        self.send_json(self.request(Method::GET, &["v1", "exchange", "passphrase"])?)
            .await
    }

    /// `POST /v1/admin/exchange/rotate`: a new current version (admin).
    pub async fn rotate_exchange_passphrase(&self) -> Result<PassphraseVersionView> {
        self.send_json(self.request(Method::POST, &["v1", "admin", "exchange", "rotate"])?)
            .await
    }

    /// `GET /v1/admin/exchange/passphrases`: every version, newest first, without secrets.
    pub async fn exchange_passphrase_history(&self) -> Result<PassphraseHistory> {
        self.send_json(self.request(Method::GET, &["v1", "admin", "exchange", "passphrases"])?)
            .await
    }

    /// `POST /v1/requests` (admin).
    pub async fn create_file_request(&self, request: &CreateFileRequest) -> Result<FileRequestView> {
        let rb = self.request(Method::POST, &["v1", "requests"])?;
        self.send_json(rb.json(request)).await
    }

    /// `GET /v1/requests?status=`: oldest first; `None` lists every status.
    pub async fn list_file_requests(&self, status: Option<&str>) -> Result<FileRequestList> {
        let mut url = self.url(&["v1", "requests"])?;
        if let Some(status) = status {
            url.query_pairs_mut().append_pair("status", status);
        }
        self.send_json(self.request_url(Method::GET, url)).await
    }

    /// `GET /v1/requests/{id}`
    pub async fn get_file_request(&self, id: &str) -> Result<FileRequestView> {
        self.send_json(self.request(Method::GET, &["v1", "requests", id])?)
            .await
    }

    /// `DELETE /v1/requests/{id}`: cancels a pending request (admin).
    pub async fn cancel_file_request(&self, id: &str) -> Result<FileRequestView> {
        self.send_json(self.request(Method::DELETE, &["v1", "requests", id])?)
            .await
    }
}
