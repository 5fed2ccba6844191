//! `/v1/me`, `/v1/buckets` and `/v1/folders`: who the caller is, the buckets it can browse
//! or upload to, and a folder's subfolders.

use filegate_api::{BucketSummaryList, FolderList, MeView};
use reqwest::Method;

use crate::files::with_query;
use crate::{Client, Result};

impl Client {
    /// `GET /v1/me`: the caller's tenant, subject, roles and what they allow.
    pub async fn me(&self) -> Result<MeView> {
        self.send_json(self.request(Method::GET, &["v1", "me"])?).await
    }

    /// `GET /v1/buckets`: the tenant's buckets and what each accepts.
    pub async fn buckets(&self) -> Result<BucketSummaryList> {
        self.send_json(self.request(Method::GET, &["v1", "buckets"])?).await
    }

    /// `GET /v1/folders`: the folders directly in `folder` (empty, or ending with `/`) of
    /// `bucket`, one page after `cursor`.
    pub async fn folders(&self, bucket: &str, folder: &str, cursor: Option<&str>) -> Result<FolderList> {
        let mut pairs = vec![("bucket", bucket), ("prefix", folder)];
        if let Some(cursor) = cursor {
            pairs.push(("cursor", cursor));
        }
        let url = with_query(self.url(&["v1", "folders"])?, pairs);
        self.send_json(self.request_url(Method::GET, url)).await
    }
}
