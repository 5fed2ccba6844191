//! The secret sealer fails closed: when the random source gives no nonce, creating a webhook
//! or a tenant's first exchange passphrase fails with `Unavailable` (a 503 with
//! `Retry-After`) and nothing is stored — neither the secret in the clear nor one sealed
//! under a zero nonce.

use std::sync::Arc;

use aws_lc_rs::error::Unspecified;
use filegate_core::Error;
use filegate_core::domain::{EventPattern, TenantId, WebhookUrl};
use filegate_core::usecases::notifications::Notifications;
use filegate_core::usecases::{Services, exchange, webhooks};
use filegate_crypto::Sealer;

use crate::common::TestApp;
use crate::support::default_admin;

fn no_randomness(_: &mut [u8]) -> Result<(), Unspecified> {
    Err(Unspecified)
}

/// The running gateway's engines, with sealers whose random source fails.
fn without_randomness(app: &TestApp) -> Services {
    let broken = Arc::new(Sealer::with_random(&[7; 32], no_randomness));
    Services {
        sealer: broken.clone(),
        notifications: Notifications {
            sealer: broken,
            ..app.services.notifications.clone()
        },
        ..app.services.clone()
    }
}

fn is_unavailable<T>(result: Result<T, Error>) -> bool {
    matches!(result, Err(Error::Unavailable { .. }))
}

#[tokio::test]
async fn a_webhook_is_not_created_when_its_secret_cannot_be_sealed() {
    let app = TestApp::spawn().await;
    let services = without_randomness(&app);
    let new = webhooks::NewWebhook {
        url: WebhookUrl::parse("https://hooks.example.org/in").unwrap(),
        events: vec![EventPattern::parse("*").unwrap()],
        secret: None,
    };
    assert!(is_unavailable(webhooks::create(&services, &default_admin(), new).await));
    assert_eq!(app.client.list_webhooks().await.expect("list").items.len(), 0);
}

#[tokio::test]
async fn no_exchange_passphrase_is_stored_when_it_cannot_be_sealed() {
    let app = TestApp::spawn().await;
    let services = without_randomness(&app);
    assert!(is_unavailable(exchange::current(&services, &default_admin()).await));
    let tenant = TenantId::parse("default").unwrap();
    assert_eq!(services.exchange.passphrases(&tenant).await.unwrap().len(), 0);
}
