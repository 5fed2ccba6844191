//! `/v1/webhooks` and `/v1/admin/alerts`.

use filegate_api::{AlertRecipients, CreateWebhook, DeliveryList, WebhookList, WebhookView};
use reqwest::Method;

use crate::files::with_query;
use crate::{Client, Result};

impl Client {
    /// `POST /v1/webhooks`: the answer carries the secret when filegate generated it.
    pub async fn create_webhook(&self, request: &CreateWebhook) -> Result<WebhookView> {
        let rb = self.request(Method::POST, &["v1", "webhooks"])?;
        self.send_json(rb.json(request)).await
    }

    /// `GET /v1/webhooks`
    pub async fn list_webhooks(&self) -> Result<WebhookList> {
        self.send_json(self.request(Method::GET, &["v1", "webhooks"])?).await
    }

    /// `GET /v1/webhooks/{id}`
    pub async fn get_webhook(&self, id: &str) -> Result<WebhookView> {
        self.send_json(self.request(Method::GET, &["v1", "webhooks", id])?)
            .await
    }

    /// `DELETE /v1/webhooks/{id}` (`204`).
    pub async fn delete_webhook(&self, id: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &["v1", "webhooks", id])?)
            .await
    }

    /// `GET /v1/webhooks/{id}/deliveries`: newest first; `cursor` from the previous page.
    pub async fn webhook_deliveries(&self, id: &str, limit: Option<u32>, cursor: Option<&str>) -> Result<DeliveryList> {
        let pairs = limit
            .map(|l| ("limit", l.to_string()))
            .into_iter()
            .chain(cursor.map(|c| ("cursor", c.to_owned())));
        let url = with_query(self.url(&["v1", "webhooks", id, "deliveries"])?, pairs);
        self.send_json(self.request_url(Method::GET, url)).await
    }

    /// `GET /v1/admin/alerts`
    pub async fn alert_recipients(&self) -> Result<AlertRecipients> {
        self.send_json(self.request(Method::GET, &["v1", "admin", "alerts"])?)
            .await
    }

    /// `PUT /v1/admin/alerts`: replaces the tenant's alert recipients.
    pub async fn set_alert_recipients(&self, recipients: &AlertRecipients) -> Result<AlertRecipients> {
        let rb = self.request(Method::PUT, &["v1", "admin", "alerts"])?;
        self.send_json(rb.json(recipients)).await
    }
}
