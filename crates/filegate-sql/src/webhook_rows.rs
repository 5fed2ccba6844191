//! Rows of the webhook tables <-> domain values, shared by both engines (same
//! representations as `rows`: ids as UUID text, times as microseconds, lists as JSON).

use filegate_core::StoreError;
use filegate_core::domain::{
    DeliveryId, EmailAddress, EventPattern, TenantId, Webhook, WebhookDelivery, WebhookId, WebhookUrl,
};
use sqlx::FromRow;
use uuid::Uuid;

use crate::errors::bad_row;
use crate::rows::{time, to_json};

/// The columns `WebhookRow` reads, JSON cast to text for both engines.
macro_rules! webhook_columns {
    () => {
        "id, tenant, url, CAST(events AS TEXT) AS events, secret, created_at"
    };
}
pub(crate) use webhook_columns;

/// The columns `DeliveryRow` reads; integers widened so both engines decode the same type.
macro_rules! delivery_columns {
    () => {
        "id, webhook_id, tenant, event_id, event_type, CAST(attempt AS BIGINT) AS attempt, attempted_at, \
         CAST(status_code AS BIGINT) AS status_code, error, duration_ms, delivered"
    };
}
pub(crate) use delivery_columns;

fn uuid(what: &str, s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| bad_row(what, e))
}

fn tenant(s: &str) -> Result<TenantId, StoreError> {
    TenantId::parse(s).map_err(|e| bad_row("tenant id", e))
}

pub(crate) fn patterns_json(events: &[EventPattern]) -> Result<String, StoreError> {
    to_json(
        "webhook.events",
        &events.iter().map(EventPattern::as_str).collect::<Vec<_>>(),
    )
}

pub(crate) fn emails_json(emails: &[EmailAddress]) -> Result<String, StoreError> {
    to_json(
        "alert_recipients.emails",
        &emails.iter().map(EmailAddress::as_str).collect::<Vec<_>>(),
    )
}

pub(crate) fn emails_from_json(s: &str) -> Result<Vec<EmailAddress>, StoreError> {
    let raw: Vec<String> = serde_json::from_str(s).map_err(|e| bad_row("alert_recipients.emails", e))?;
    raw.iter()
        .map(|e| EmailAddress::parse(e).map_err(|err| bad_row("alert_recipients.emails", err)))
        .collect()
}

#[derive(FromRow)]
pub(crate) struct WebhookRow {
    id: String,
    tenant: String,
    url: String,
    events: String,
    secret: Vec<u8>,
    created_at: i64,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;
    fn try_from(r: WebhookRow) -> Result<Self, StoreError> {
        let patterns: Vec<String> = serde_json::from_str(&r.events).map_err(|e| bad_row("webhook.events", e))?;
        Ok(Webhook {
            id: WebhookId::from_uuid(uuid("webhook.id", &r.id)?),
            tenant: tenant(&r.tenant)?,
            url: WebhookUrl::parse(&r.url).map_err(|e| bad_row("webhook.url", e))?,
            events: patterns
                .iter()
                .map(|p| EventPattern::parse(p).map_err(|e| bad_row("webhook.events", e)))
                .collect::<Result<_, _>>()?,
            sealed_secret: r.secret,
            created_at: time("webhook.created_at", r.created_at)?,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct DeliveryRow {
    id: String,
    webhook_id: String,
    tenant: String,
    event_id: String,
    event_type: String,
    attempt: i64,
    attempted_at: i64,
    status_code: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
    delivered: bool,
}

impl TryFrom<DeliveryRow> for WebhookDelivery {
    type Error = StoreError;
    fn try_from(r: DeliveryRow) -> Result<Self, StoreError> {
        Ok(WebhookDelivery {
            id: DeliveryId::from_uuid(uuid("delivery.id", &r.id)?),
            webhook_id: WebhookId::from_uuid(uuid("delivery.webhook_id", &r.webhook_id)?),
            tenant: tenant(&r.tenant)?,
            event_id: uuid("delivery.event_id", &r.event_id)?,
            event_type: r.event_type,
            attempt: u32::try_from(r.attempt).map_err(|_| bad_row("delivery.attempt", r.attempt))?,
            attempted_at: time("delivery.attempted_at", r.attempted_at)?,
            status_code: r
                .status_code
                .map(|c| u16::try_from(c).map_err(|_| bad_row("delivery.status_code", c)))
                .transpose()?,
            error: r.error,
            duration_ms: u64::try_from(r.duration_ms).map_err(|_| bad_row("delivery.duration_ms", r.duration_ms))?,
            delivered: r.delivered,
        })
    }
}
