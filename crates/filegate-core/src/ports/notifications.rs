//! The ports behind webhooks and alert emails: where subscriptions, delivery attempts and
//! alert recipients are stored, how a webhook secret is sealed at rest, and how a delivery
//! leaves the process.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{DeliveryId, EmailAddress, TenantId, Webhook, WebhookDelivery, WebhookId, WebhookUrl};
use crate::error::StoreError;
use crate::ports::metadata::Effects;

/// Every method is scoped by tenant; no method returns a row of another tenant.
#[async_trait]
pub trait NotificationStore: Send + Sync + 'static {
    /// Inserts the subscription and writes `effects` (its audit record) in one transaction.
    /// `Conflict` when the id exists.
    async fn create_webhook(&self, webhook: &Webhook, effects: &Effects) -> Result<(), StoreError>;
    async fn get_webhook(&self, tenant: &TenantId, id: WebhookId) -> Result<Option<Webhook>, StoreError>;
    /// Oldest first.
    async fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>, StoreError>;
    /// Removes the subscription and its delivery history, and writes `effects` in the same
    /// transaction. `NotFound` when absent (then nothing is written, effects included).
    async fn delete_webhook(&self, tenant: &TenantId, id: WebhookId, effects: &Effects) -> Result<(), StoreError>;

    /// Records one attempt. `NotFound` when the subscription is gone (deleted meanwhile).
    async fn record_delivery(&self, delivery: &WebhookDelivery) -> Result<(), StoreError>;
    /// Attempts of one subscription, newest first, those older than `before` when given; at
    /// most `limit`.
    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        webhook: WebhookId,
        before: Option<DeliveryId>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;
    /// Whether an attempt to deliver `event_id` to `webhook` succeeded already (a job that
    /// runs twice does not deliver twice).
    async fn was_delivered(
        &self,
        tenant: &TenantId,
        webhook: WebhookId,
        event_id: uuid::Uuid,
    ) -> Result<bool, StoreError>;

    /// The tenant's alert recipients; empty when never set.
    async fn alert_recipients(&self, tenant: &TenantId) -> Result<Vec<EmailAddress>, StoreError>;
    /// Replaces the tenant's alert recipients and writes `effects` in the same transaction.
    async fn set_alert_recipients(
        &self,
        tenant: &TenantId,
        emails: &[EmailAddress],
        at: DateTime<Utc>,
        effects: &Effects,
    ) -> Result<(), StoreError>;
}

/// Seals small secrets (webhook signing secrets, exchange passphrases, share tokens) so that
/// a database dump does not reveal them. `context` binds a sealed value to where it is
/// stored. Implemented by `filegate_crypto::Sealer`.
pub trait SecretSealer: Send + Sync + 'static {
    /// Fails closed: an error, never the plain value or a value sealed under a nonce that
    /// was not freshly drawn. The caller then stores nothing.
    fn seal(&self, plain: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError>;
    /// `None` when the value does not open (another deployment secret, a tampered row).
    fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>>;
}

/// Why a secret could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The random source gave no nonce.
    #[error("the random source failed; no nonce to seal a secret with")]
    NoRandomness,
    /// The cipher refused to seal.
    #[error("sealing a secret failed")]
    Cipher,
}

impl From<SealError> for crate::error::Error {
    fn from(e: SealError) -> Self {
        match e {
            // The system's entropy may come back: the caller may retry.
            SealError::NoRandomness => Self::Unavailable {
                what: "random source",
                retry_after: Duration::from_secs(2),
                source: e.into(),
            },
            SealError::Cipher => Self::Internal(e.into()),
        }
    }
}

/// One outbound webhook call.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub url: WebhookUrl,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// How a receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookResponse {
    /// It answered with this HTTP status.
    Status(u16),
    /// No answer: refused, timed out, TLS failure, a forbidden address. Said for people.
    Failed(String),
}

/// Posts a delivery. Implementations bound the call's duration, follow no redirects and
/// read at most a little of the answer.
#[async_trait]
pub trait WebhookClient: Send + Sync + 'static {
    /// Refuses a URL this client will never call (an address outside the allowed networks),
    /// saying why, so a subscription to it is refused when created.
    fn check_url(&self, _url: &WebhookUrl) -> Result<(), String> {
        Ok(())
    }
    async fn post(&self, request: WebhookRequest) -> (WebhookResponse, Duration);
}
