//! Webhook subscriptions, their delivery attempts, and alert recipients.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/webhooks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `http` or `https`, at most 2048 characters.
    pub url: String,
    /// Event types (`file.ready`), prefixes (`alert.*`) or `*`.
    pub events: Vec<String>,
    /// `whsec_` + base64 of 24-64 bytes; generated (and returned once) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Only in the answer to a create that generated it: the one time it is shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

/// One attempt to deliver one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    /// The `webhook-id` header: the event's id, the same on every attempt.
    pub event_id: String,
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why there was no answer (timeout, connection refused, ...).
    pub error: Option<String>,
    pub duration_ms: u64,
    /// The receiver answered 2xx.
    pub delivered: bool,
}

/// Newest first; pass `next_cursor` as `cursor` for older attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
}

/// `GET`/`PUT /v1/admin/alerts`: who is emailed about the tenant's alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRecipients {
    pub emails: Vec<String>,
}
