//! `/v1/admin/quotas` and `/v1/admin/usage`: a tenant's storage quota and usage.

use filegate_api::{QuotaView, SetQuota, UsageView};
use reqwest::Method;

use crate::{Client, Result};

impl Client {
    /// `GET /v1/admin/quotas`: the caller's tenant, or `tenant` (superadmin).
    pub async fn quota(&self, tenant: Option<&str>) -> Result<QuotaView> {
        let url = self.tenant_url("quotas", tenant)?;
        self.send_json(self.request_url(Method::GET, url)).await
    }

    /// `PUT /v1/admin/quotas` (superadmin): replaces the whole quota; `None` is unlimited.
    pub async fn set_quota(&self, request: &SetQuota) -> Result<QuotaView> {
        let rb = self.request(Method::PUT, &["v1", "admin", "quotas"])?;
        self.send_json(rb.json(request)).await
    }

    /// `GET /v1/admin/usage`: bytes and files kept, per bucket, beside the quota.
    pub async fn usage(&self, tenant: Option<&str>) -> Result<UsageView> {
        let url = self.tenant_url("usage", tenant)?;
        self.send_json(self.request_url(Method::GET, url)).await
    }
}

impl Client {
    fn tenant_url(&self, route: &str, tenant: Option<&str>) -> Result<url::Url> {
        let mut url = self.url(&["v1", "admin", route])?;
        if let Some(tenant) = tenant {
            url.query_pairs_mut().append_pair("tenant", tenant);
        }
        Ok(url)
    }
}
