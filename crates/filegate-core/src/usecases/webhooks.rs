//! Webhook subscriptions (tenant admin): create, read, list, delete, and the record of
//! every delivery attempt.

use super::audit::{self, Actor};
use super::context::{HasClock, HasLookups, HasNotifications};
use crate::domain::{
    DeliveryId, EventPattern, MAX_PATTERNS, Permission, Principal, Webhook, WebhookDelivery, WebhookId, WebhookSecret,
    WebhookUrl,
};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::Effects;

/// A tenant may have at most this many subscriptions: each event fans out to all of them.
pub const MAX_WEBHOOKS_PER_TENANT: usize = 50;
/// The most delivery attempts one page lists.
pub const MAX_DELIVERY_PAGE: u32 = 200;

/// What a caller asks for; parsed at the edge.
pub struct NewWebhook {
    pub url: WebhookUrl,
    pub events: Vec<EventPattern>,
    /// `None`: one is generated and returned once.
    pub secret: Option<WebhookSecret>,
}

/// A created subscription, with its secret when filegate generated it (shown this once).
pub struct CreatedWebhook {
    pub webhook: Webhook,
    pub generated_secret: Option<WebhookSecret>,
}

#[tracing::instrument(skip(cx, principal, new), fields(actor = %principal.subject, tenant = %principal.tenant))]
pub async fn create(
    cx: &(impl HasNotifications + HasClock + HasLookups),
    principal: &Principal,
    new: NewWebhook,
) -> Result<CreatedWebhook> {
    principal.require(Permission::Administer)?;
    if new.events.is_empty() || new.events.len() > MAX_PATTERNS {
        return Err(Error::invalid(
            ErrorCode::InvalidEventPattern,
            format!("a webhook subscribes to 1 to {MAX_PATTERNS} event patterns"),
        ));
    }
    cx.notifications()
        .webhooks
        .check_url(&new.url)
        .map_err(|why| Error::invalid(ErrorCode::InvalidUrl, why))?;
    let mut events = new.events;
    let mut seen = std::collections::HashSet::new();
    events.retain(|p| seen.insert(p.clone()));
    let store = &cx.notifications().store;
    if store.list_webhooks(&principal.tenant).await?.len() >= MAX_WEBHOOKS_PER_TENANT {
        return Err(Error::conflict(
            ErrorCode::TooManyWebhooks,
            format!("a tenant may have at most {MAX_WEBHOOKS_PER_TENANT} webhooks"),
        ));
    }
    let (secret, generated) = match new.secret {
        Some(s) => (s, false),
        None => (WebhookSecret::generate(), true),
    };
    let id = WebhookId::new();
    let sealed_secret = cx
        .notifications()
        .sealer
        .seal(secret.bytes(), &Webhook::seal_context(id, &principal.tenant))?;
    let webhook = Webhook {
        id,
        tenant: principal.tenant.clone(),
        url: new.url,
        events,
        sealed_secret,
        created_at: cx.clock().now(),
    };
    let details = serde_json::json!({
        "webhook_id": webhook.id,
        "url": webhook.url.as_str(),
        "events": webhook.events.iter().map(EventPattern::as_str).collect::<Vec<_>>(),
    });
    let record = audit::entry(cx, &Actor::of(principal), "webhook.created", None, details);
    let created = store.create_webhook(&webhook, &Effects::NONE.audited(record)).await;
    cx.lookups().forget_webhooks(&principal.tenant).await;
    created?;
    tracing::info!(webhook_id = %webhook.id, url = %webhook.url, "webhook created");
    Ok(CreatedWebhook {
        webhook,
        generated_secret: generated.then_some(secret),
    })
}

pub async fn list(cx: &impl HasNotifications, principal: &Principal) -> Result<Vec<Webhook>> {
    principal.require(Permission::Administer)?;
    Ok(cx.notifications().store.list_webhooks(&principal.tenant).await?)
}

pub async fn get(cx: &impl HasNotifications, principal: &Principal, id: WebhookId) -> Result<Webhook> {
    principal.require(Permission::Administer)?;
    cx.notifications()
        .store
        .get_webhook(&principal.tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("webhook"))
}

/// Deletes the subscription: deliveries still queued for it are dropped when they run.
#[tracing::instrument(skip(cx, principal), fields(actor = %principal.subject, tenant = %principal.tenant))]
pub async fn delete(
    cx: &(impl HasNotifications + HasClock + HasLookups),
    principal: &Principal,
    id: WebhookId,
) -> Result<()> {
    principal.require(Permission::Administer)?;
    let details = serde_json::json!({ "webhook_id": id });
    let record = audit::entry(cx, &Actor::of(principal), "webhook.deleted", None, details);
    let deleted = cx
        .notifications()
        .store
        .delete_webhook(&principal.tenant, id, &Effects::NONE.audited(record))
        .await;
    cx.lookups().forget_webhooks(&principal.tenant).await;
    deleted.map_err(|e| match e {
        StoreError::NotFound => Error::not_found("webhook"),
        other => other.into(),
    })?;
    tracing::info!(webhook_id = %id, "webhook deleted");
    Ok(())
}

/// A page of attempts, newest first, and whether older ones follow.
pub struct DeliveryPage {
    pub items: Vec<WebhookDelivery>,
    /// Pass as `before` for the next (older) page.
    pub next_before: Option<DeliveryId>,
}

pub async fn deliveries(
    cx: &impl HasNotifications,
    principal: &Principal,
    id: WebhookId,
    before: Option<DeliveryId>,
    limit: u32,
) -> Result<DeliveryPage> {
    let webhook = get(cx, principal, id).await?;
    let limit = limit.clamp(1, MAX_DELIVERY_PAGE);
    let mut items = cx
        .notifications()
        .store
        .list_deliveries(&principal.tenant, webhook.id, before, limit + 1)
        .await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_before = if more { items.last().map(|d| d.id) } else { None };
    Ok(DeliveryPage { items, next_before })
}
