//! `/v1/audit`: the tenant's audit trail (admins).

use filegate_api::{AuditFilter, AuditList};
use reqwest::Method;

use crate::files::with_query;
use crate::{Client, Result};

impl Client {
    /// `GET /v1/audit`: one page, newest first; follow `next_cursor` with `filter.cursor`.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<AuditList> {
        let url = with_query(self.url(&["v1", "audit"])?, filter.query_pairs());
        self.send_json(self.request_url(Method::GET, url)).await
    }
}
