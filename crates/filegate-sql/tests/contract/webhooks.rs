//! Webhook subscriptions, delivery attempts and alert recipients (`NotificationStore`).

use std::sync::Arc;

use filegate_core::StoreError;
use filegate_core::domain::{
    DeliveryId, EmailAddress, EventPattern, TenantId, Webhook, WebhookDelivery, WebhookId, WebhookUrl,
};
use filegate_core::ports::{Effects, NotificationStore};
use uuid::Uuid;

use super::{Store, now, secs, tenant};

pub type Notes = Arc<dyn NotificationStore>;

/// Calls `$run!(scenario, …)` with every notification scenario; each engine's test binary
/// runs all of them with its store as both `Store` and `Notes`.
macro_rules! notification_scenarios {
    ($run:ident) => {
        $run!(
            webhooks_round_trip_and_stay_in_their_tenant,
            deliveries_are_listed_newest_first_and_go_with_their_webhook,
            alert_recipients_are_replaced_per_tenant,
        );
    };
}
pub(crate) use notification_scenarios;

fn webhook(tenant: &TenantId, url: &str, events: &[&str]) -> Webhook {
    Webhook {
        id: WebhookId::new(),
        tenant: tenant.clone(),
        url: WebhookUrl::parse(url).expect("url"),
        events: events
            .iter()
            .map(|e| EventPattern::parse(e).expect("pattern"))
            .collect(),
        sealed_secret: vec![1, 2, 3, 0, 255],
        created_at: now(),
    }
}

fn attempt(w: &Webhook, event_id: Uuid, n: u32, status: Option<u16>) -> WebhookDelivery {
    WebhookDelivery {
        id: DeliveryId::new(),
        webhook_id: w.id,
        tenant: w.tenant.clone(),
        event_id,
        event_type: "file.ready".into(),
        attempt: n,
        attempted_at: now(),
        status_code: status,
        error: status.is_none().then(|| "connection refused".to_owned()),
        duration_ms: 12,
        delivered: status.is_some_and(|s| (200..300).contains(&s)),
    }
}

pub async fn webhooks_round_trip_and_stay_in_their_tenant(store: Store, notes: Notes) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let mut first = webhook(&a, "https://hooks.example.org/a?x=1", &["file.ready", "alert.*"]);
    first.created_at = now() - secs(10);
    let second = webhook(&a, "http://10.0.0.1:8080/in", &["*"]);
    let theirs = webhook(&b, "https://b.example.org/", &["file.*"]);
    for w in [&second, &first, &theirs] {
        notes.create_webhook(w, &Effects::NONE).await.expect("create");
    }
    assert!(matches!(
        notes.create_webhook(&first, &Effects::NONE).await,
        Err(StoreError::Conflict(_))
    ));

    assert_eq!(notes.get_webhook(&a, first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(
        notes.list_webhooks(&a).await.unwrap(),
        vec![first.clone(), second.clone()],
        "oldest first"
    );
    assert_eq!(notes.get_webhook(&a, theirs.id).await.unwrap(), None);
    assert_eq!(notes.list_webhooks(&b).await.unwrap(), vec![theirs.clone()]);

    assert!(matches!(
        notes.delete_webhook(&a, theirs.id, &Effects::NONE).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(notes.get_webhook(&b, theirs.id).await.unwrap(), Some(theirs.clone()));
    notes
        .delete_webhook(&a, first.id, &Effects::NONE)
        .await
        .expect("delete");
    assert!(matches!(
        notes.delete_webhook(&a, first.id, &Effects::NONE).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(notes.list_webhooks(&a).await.unwrap(), vec![second]);
}

pub async fn deliveries_are_listed_newest_first_and_go_with_their_webhook(store: Store, notes: Notes) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let w = webhook(&a, "https://hooks.example.org/", &["*"]);
    notes.create_webhook(&w, &Effects::NONE).await.unwrap();
    let event = Uuid::now_v7();
    let tries = [
        attempt(&w, event, 1, None),
        attempt(&w, event, 2, Some(500)),
        attempt(&w, event, 3, Some(204)),
    ];
    assert!(!notes.was_delivered(&a, w.id, event).await.unwrap());
    for t in &tries {
        notes.record_delivery(t).await.expect("record");
    }
    assert!(notes.was_delivered(&a, w.id, event).await.unwrap());
    assert!(!notes.was_delivered(&a, w.id, Uuid::now_v7()).await.unwrap());
    assert!(
        !notes.was_delivered(&b, w.id, event).await.unwrap(),
        "another tenant's view"
    );

    let all = notes.list_deliveries(&a, w.id, None, 10).await.unwrap();
    let newest_first: Vec<_> = tries.iter().rev().cloned().collect();
    assert_eq!(all, newest_first, "every field round-trips, newest first");
    let page = notes.list_deliveries(&a, w.id, Some(tries[2].id), 1).await.unwrap();
    assert_eq!(page, vec![tries[1].clone()]);
    assert!(notes.list_deliveries(&b, w.id, None, 10).await.unwrap().is_empty());

    // Not for a webhook of another tenant, nor one that is gone; deleting takes the record.
    let mut stray = attempt(&w, event, 4, Some(200));
    stray.tenant = b.clone();
    assert!(matches!(notes.record_delivery(&stray).await, Err(StoreError::NotFound)));
    notes.delete_webhook(&a, w.id, &Effects::NONE).await.unwrap();
    assert!(matches!(
        notes.record_delivery(&attempt(&w, event, 5, Some(200))).await,
        Err(StoreError::NotFound)
    ));
    assert!(notes.list_deliveries(&a, w.id, None, 10).await.unwrap().is_empty());
}

pub async fn alert_recipients_are_replaced_per_tenant(store: Store, notes: Notes) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let email = |s: &str| EmailAddress::parse(s).expect("email");
    assert!(notes.alert_recipients(&a).await.unwrap().is_empty());
    notes
        .set_alert_recipients(&a, &[email("one@a.org"), email("two@a.org")], now(), &Effects::NONE)
        .await
        .unwrap();
    notes
        .set_alert_recipients(&b, &[email("b@b.org")], now(), &Effects::NONE)
        .await
        .unwrap();
    assert_eq!(
        notes.alert_recipients(&a).await.unwrap(),
        [email("one@a.org"), email("two@a.org")]
    );
    notes
        .set_alert_recipients(&a, &[email("three@a.org")], now(), &Effects::NONE)
        .await
        .unwrap();
    assert_eq!(notes.alert_recipients(&a).await.unwrap(), [email("three@a.org")]);
    notes
        .set_alert_recipients(&a, &[], now(), &Effects::NONE)
        .await
        .unwrap();
    assert!(notes.alert_recipients(&a).await.unwrap().is_empty());
    assert_eq!(notes.alert_recipients(&b).await.unwrap(), [email("b@b.org")]);
}
