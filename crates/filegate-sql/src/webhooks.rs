//! Webhook subscriptions, delivery attempts and alert recipients (`NotificationStore`): the
//! rows (the same representations as everywhere: ids as UUID text, times as microseconds,
//! lists as JSON) and the port.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{
    DeliveryId, EmailAddress, EventPattern, TenantId, Webhook, WebhookDelivery, WebhookId, WebhookUrl,
};
use filegate_core::ports::{Effects, NotificationStore};
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::convert::{micros, tenant_id as tenant, time, to_i64, to_json, uuid};
use crate::dialect::{BindExt as _, Dialect as _, Run as _};
use crate::engine::Engine;
use crate::errors::bad_row;
use crate::store::SqlStore;

/// The columns `WebhookRow` reads (JSON cast to text for PostgreSQL's JSONB).
const WEBHOOK_COLUMNS: &str = "id, tenant, url, CAST(events AS TEXT) AS events, secret, created_at";

/// The columns `DeliveryRow` reads; integers widened so both engines decode the same type.
const DELIVERY_COLUMNS: &str = "id, webhook_id, tenant, event_id, event_type, CAST(attempt AS BIGINT) AS attempt, \
     attempted_at, CAST(status_code AS BIGINT) AS status_code, error, duration_ms, delivered";

fn patterns_json(events: &[EventPattern]) -> Result<String, StoreError> {
    to_json(
        "webhook.events",
        &events.iter().map(EventPattern::as_str).collect::<Vec<_>>(),
    )
}

fn emails_json(emails: &[EmailAddress]) -> Result<String, StoreError> {
    to_json(
        "alert_recipients.emails",
        &emails.iter().map(EmailAddress::as_str).collect::<Vec<_>>(),
    )
}

fn emails_from_json(s: &str) -> Result<Vec<EmailAddress>, StoreError> {
    let raw: Vec<String> = serde_json::from_str(s).map_err(|e| bad_row("alert_recipients.emails", e))?;
    raw.iter()
        .map(|e| EmailAddress::parse(e).map_err(|err| bad_row("alert_recipients.emails", err)))
        .collect()
}

#[derive(FromRow)]
pub struct WebhookRow {
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
pub struct DeliveryRow {
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

#[async_trait]
impl<E: Engine> NotificationStore for SqlStore<E> {
    async fn create_webhook(&self, webhook: &Webhook, effects: &Effects) -> Result<(), StoreError> {
        let mut q =
            QueryBuilder::<E::DB>::new("INSERT INTO webhooks (id, tenant, url, events, secret, created_at) VALUES (");
        q.bind_value(webhook.id.to_string());
        q.push(", ").bind_value(webhook.tenant.as_str());
        q.push(", ").bind_value(webhook.url.as_str());
        q.push(", ")
            .bind_value(patterns_json(&webhook.events)?)
            .push(E::DB::JSON);
        q.push(", ").bind_value(webhook.sealed_secret.as_slice());
        q.push(", ").bind_value(micros(webhook.created_at)).push(")");
        self.write_change(effects, |c| q.execute(c)).await?;
        Ok(())
    }

    async fn get_webhook(&self, tenant: &TenantId, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant = "));
        q.bind_value(tenant.as_str())
            .push(" AND id = ")
            .bind_value(id.to_string());
        let row: Option<WebhookRow> = self.read_optional(q).await?;
        row.map(Webhook::try_from).transpose()
    }

    async fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant = "));
        q.bind_value(tenant.as_str()).push(" ORDER BY created_at, id");
        let rows: Vec<WebhookRow> = self.read_all(q).await?;
        rows.into_iter().map(Webhook::try_from).collect()
    }

    async fn delete_webhook(&self, tenant: &TenantId, id: WebhookId, effects: &Effects) -> Result<(), StoreError> {
        // The deliveries go with it (ON DELETE CASCADE).
        let mut q = QueryBuilder::new("DELETE FROM webhooks WHERE tenant = ");
        q.bind_value(tenant.as_str())
            .push(" AND id = ")
            .bind_value(id.to_string());
        self.write_found_with(q, effects).await
    }

    async fn record_delivery(&self, d: &WebhookDelivery) -> Result<(), StoreError> {
        // Only for a subscription that still exists, in the delivery's tenant.
        let mut q = QueryBuilder::new(
            "INSERT INTO webhook_deliveries (id, webhook_id, tenant, event_id, event_type, attempt, attempted_at, \
             status_code, error, duration_ms, delivered) SELECT ",
        );
        q.bind_value(d.id.to_string());
        q.push(", ").bind_value(d.webhook_id.to_string());
        q.push(", ").bind_value(d.tenant.as_str());
        q.push(", ").bind_value(d.event_id.to_string());
        q.push(", ").bind_value(d.event_type.as_str());
        q.push(", ").bind_value(i64::from(d.attempt));
        q.push(", ").bind_value(micros(d.attempted_at));
        q.push(", ").bind_value(d.status_code.map(i64::from));
        q.push(", ").bind_value(d.error.as_deref());
        q.push(", ").bind_value(to_i64("delivery.duration_ms", d.duration_ms)?);
        q.push(", ").bind_value(d.delivered);
        q.push(" WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ")
            .bind_value(d.webhook_id.to_string());
        q.push(" AND tenant = ").bind_value(d.tenant.as_str()).push(")");
        self.write_found(q).await
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        webhook: WebhookId,
        before: Option<DeliveryId>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let mut q = QueryBuilder::new(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant = "
        ));
        q.bind_value(tenant.as_str());
        q.push(" AND webhook_id = ").bind_value(webhook.to_string());
        if let Some(before) = before {
            q.push(" AND id < ").bind_value(before.to_string());
        }
        q.push(" ORDER BY id DESC LIMIT ").bind_value(i64::from(limit));
        let rows: Vec<DeliveryRow> = self.read_all(q).await?;
        rows.into_iter().map(WebhookDelivery::try_from).collect()
    }

    async fn was_delivered(&self, tenant: &TenantId, webhook: WebhookId, event_id: Uuid) -> Result<bool, StoreError> {
        let mut q = QueryBuilder::new("SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE tenant = ");
        q.bind_value(tenant.as_str());
        q.push(" AND webhook_id = ").bind_value(webhook.to_string());
        q.push(" AND event_id = ").bind_value(event_id.to_string());
        q.push(" AND delivered)");
        let (found,): (bool,) = self.read_one(q).await?;
        Ok(found)
    }

    async fn alert_recipients(&self, tenant: &TenantId) -> Result<Vec<EmailAddress>, StoreError> {
        let mut q = QueryBuilder::new("SELECT CAST(emails AS TEXT) FROM alert_recipients WHERE tenant = ");
        q.bind_value(tenant.as_str());
        let emails: Option<(String,)> = self.read_optional(q).await?;
        emails.map_or(Ok(Vec::new()), |(e,)| emails_from_json(&e))
    }

    async fn set_alert_recipients(
        &self,
        tenant: &TenantId,
        emails: &[EmailAddress],
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        let mut q = QueryBuilder::<E::DB>::new("INSERT INTO alert_recipients (tenant, emails, updated_at) VALUES (");
        q.bind_value(tenant.as_str());
        q.push(", ").bind_value(emails_json(emails)?).push(E::DB::JSON);
        q.push(", ").bind_value(micros(at));
        q.push(") ON CONFLICT (tenant) DO UPDATE SET emails = excluded.emails, updated_at = excluded.updated_at");
        self.write_change(effects, |c| q.execute(c)).await?;
        Ok(())
    }
}
