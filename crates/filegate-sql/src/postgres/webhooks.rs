//! `NotificationStore` on PostgreSQL: webhook subscriptions, delivery attempts, alert recipients.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{DeliveryId, EmailAddress, TenantId, Webhook, WebhookDelivery, WebhookId};
use filegate_core::ports::NotificationStore;
use uuid::Uuid;

use super::PostgresStore;
use crate::errors::store_err;
use crate::rows::{micros, to_i64};
use crate::webhook_rows::{
    DeliveryRow, WebhookRow, delivery_columns, emails_from_json, emails_json, patterns_json, webhook_columns,
};

#[async_trait]
impl NotificationStore for PostgresStore {
    async fn create_webhook(&self, webhook: &Webhook) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhooks (id, tenant, url, events, secret, created_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6)",
        )
        .bind(webhook.id.to_string())
        .bind(webhook.tenant.as_str())
        .bind(webhook.url.as_str())
        .bind(patterns_json(&webhook.events)?)
        .bind(webhook.sealed_secret.as_slice())
        .bind(micros(webhook.created_at))
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn get_webhook(&self, tenant: &TenantId, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        sqlx::query_as::<_, WebhookRow>(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE tenant = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?
        .map(Webhook::try_from)
        .transpose()
    }

    async fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>, StoreError> {
        sqlx::query_as::<_, WebhookRow>(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE tenant = $1 ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(Webhook::try_from)
        .collect()
    }

    async fn delete_webhook(&self, tenant: &TenantId, id: WebhookId) -> Result<(), StoreError> {
        // The deliveries go with it (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM webhooks WHERE tenant = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn record_delivery(&self, d: &WebhookDelivery) -> Result<(), StoreError> {
        // Only for a subscription that still exists, in the delivery's tenant.
        let done = sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, tenant, event_id, event_type, attempt, attempted_at, \
             status_code, error, duration_ms, delivered) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $12 AND tenant = $13)",
        )
        .bind(d.id.to_string())
        .bind(d.webhook_id.to_string())
        .bind(d.tenant.as_str())
        .bind(d.event_id.to_string())
        .bind(&d.event_type)
        .bind(i64::from(d.attempt))
        .bind(micros(d.attempted_at))
        .bind(d.status_code.map(i64::from))
        .bind(d.error.as_deref())
        .bind(to_i64("delivery.duration_ms", d.duration_ms)?)
        .bind(d.delivered)
        .bind(d.webhook_id.to_string())
        .bind(d.tenant.as_str())
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        webhook: WebhookId,
        before: Option<DeliveryId>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        sqlx::query_as::<_, DeliveryRow>(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE tenant = $1 AND webhook_id = $2 AND ($3::text IS NULL OR id < $3) \
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(tenant.as_str())
        .bind(webhook.to_string())
        .bind(before.map(|b| b.to_string()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(WebhookDelivery::try_from)
        .collect()
    }

    async fn was_delivered(&self, tenant: &TenantId, webhook: WebhookId, event_id: Uuid) -> Result<bool, StoreError> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM webhook_deliveries WHERE tenant = $1 AND webhook_id = $2 AND event_id = $3 AND delivered \
             LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(webhook.to_string())
        .bind(event_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(found.is_some())
    }

    async fn alert_recipients(&self, tenant: &TenantId) -> Result<Vec<EmailAddress>, StoreError> {
        let emails: Option<String> = sqlx::query_scalar("SELECT emails::text FROM alert_recipients WHERE tenant = $1")
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_err)?;
        emails.map_or(Ok(Vec::new()), |e| emails_from_json(&e))
    }

    async fn set_alert_recipients(
        &self,
        tenant: &TenantId,
        emails: &[EmailAddress],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alert_recipients (tenant, emails, updated_at) VALUES ($1, $2::jsonb, $3) \
             ON CONFLICT (tenant) DO UPDATE SET emails = excluded.emails, updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(emails_json(emails)?)
        .bind(micros(at))
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(())
    }
}
