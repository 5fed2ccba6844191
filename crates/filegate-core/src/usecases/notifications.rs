//! What event delivery beyond the broker needs: webhook subscriptions and their deliveries,
//! alert recipients, the outbound HTTP client, the mailer, and the sealer that keeps
//! webhook secrets unreadable at rest.

use std::sync::Arc;

use crate::domain::EmailAddress;
use crate::ports::{Mailer, NotificationStore, SecretSealer, WebhookClient};

#[derive(Clone)]
pub struct Notifications {
    pub store: Arc<dyn NotificationStore>,
    pub webhooks: Arc<dyn WebhookClient>,
    pub mailer: Arc<dyn Mailer>,
    pub sealer: Arc<dyn SecretSealer>,
    /// The platform's alert recipients (`[alerts] emails`), told about every tenant's alerts.
    pub platform_recipients: Arc<Vec<EmailAddress>>,
}
