//! Webhooks: deliveries arrive signed the Standard Webhooks way (verified by the
//! `standardwebhooks` crate), are retried until the receiver takes them, are recorded attempt
//! by attempt, follow the subscription's event patterns and stay within their tenant.

use filegate_api::CreateWebhook;
use filegate_client::Client;

use crate::common::TestApp;
use crate::receiver::{Receiver, verify};
use crate::support::{api_error, err};

async fn app() -> TestApp {
    TestApp::spawn_with(|c| {
        // The receivers listen on 127.0.0.1.
        c.webhooks.allow_private_networks = true;
        c.workers.backoff_base_secs = 0;
        c.workers.max_attempts = 3;
    })
    .await
}

async fn subscribe(client: &Client, url: &str, events: &[&str]) -> (String, String) {
    let hook = client
        .create_webhook(&CreateWebhook {
            url: url.to_owned(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            secret: None,
        })
        .await
        .expect("create webhook");
    let secret = hook.secret.expect("a generated secret is shown once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    (hook.id, secret)
}

#[tokio::test]
async fn a_ready_file_reaches_its_webhook_signed_and_the_attempt_is_recorded() {
    let app = app().await;
    let receiver = Receiver::start(&[]).await;
    let (hook, secret) = subscribe(&app.client, &receiver.url, &["file.ready"]).await;

    let file = app.ready_file(&app.client, "default", "in/report.pdf", b"hello").await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "only file.ready was subscribed to");
    verify(&secret, &got[0]);
    let body = got[0].json();
    assert_eq!(body["type"], "file.ready");
    assert_eq!(body["data"]["file_id"], file.id.as_str());
    assert_eq!(body["data"]["path"], "in/report.pdf");
    assert_eq!(body["data"]["sha256"], file.sha256.clone().expect("sha256").as_str());
    assert_eq!(got[0].headers["content-type"], "application/json");

    let deliveries = app
        .client
        .webhook_deliveries(&hook, None, None)
        .await
        .expect("deliveries");
    assert_eq!(deliveries.items.len(), 1);
    let d = &deliveries.items[0];
    assert_eq!(d.event_type, "file.ready");
    assert_eq!(
        d.event_id,
        got[0].headers["webhook-id"].to_str().unwrap(),
        "webhook-id is the event id"
    );
    assert_eq!((d.attempt, d.status_code, d.delivered), (1, Some(200), true));
    assert_eq!(d.error, None);

    // The secret is never shown again.
    assert_eq!(app.client.get_webhook(&hook).await.expect("get").secret, None);
    let listed = app.client.list_webhooks().await.expect("list");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].secret, None);
    assert_eq!(listed.items[0].events, ["file.ready"]);
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_the_same_id_and_every_attempt_is_listed() {
    let app = app().await;
    let receiver = Receiver::start(&[500]).await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let hook = app
        .client
        .create_webhook(&CreateWebhook {
            url: receiver.url.clone(),
            events: vec!["file.ready".into()],
            secret: Some(secret.into()),
        })
        .await
        .expect("create");
    assert_eq!(hook.secret, None, "a secret the caller chose is not echoed");

    app.ready_file(&app.client, "default", "a.bin", b"x").await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got.len(), 2);
    for r in &got {
        verify(secret, r);
    }
    assert_eq!(
        got[0].headers["webhook-id"], got[1].headers["webhook-id"],
        "stable across retries"
    );

    let page = app
        .client
        .webhook_deliveries(&hook.id, None, None)
        .await
        .expect("deliveries");
    let attempts: Vec<_> = page
        .items
        .iter()
        .map(|d| (d.attempt, d.status_code, d.delivered))
        .collect();
    assert_eq!(attempts, [(2, Some(200), true), (1, Some(500), false)], "newest first");
    assert_eq!(app.run_jobs().await, 0, "delivered: nothing left to retry");

    // Pages of one.
    let first = app
        .client
        .webhook_deliveries(&hook.id, Some(1), None)
        .await
        .expect("page 1");
    assert_eq!(first.items[0].attempt, 2);
    let cursor = first.next_cursor.expect("an older attempt follows");
    let second = app
        .client
        .webhook_deliveries(&hook.id, Some(1), Some(&cursor))
        .await
        .expect("page 2");
    assert_eq!(second.items[0].attempt, 1);
    assert_eq!(second.next_cursor, None);
}

#[tokio::test]
async fn a_receiver_that_never_answers_2xx_is_dead_lettered_after_the_last_attempt() {
    let app = app().await;
    let receiver = Receiver::start(&[503, 503, 503, 503]).await;
    let (hook, _) = subscribe(&app.client, &receiver.url, &["file.ready"]).await;
    app.ready_file(&app.client, "default", "a.bin", b"x").await;
    assert_eq!(receiver.wait_for(3).await.len(), 3, "max_attempts = 3");
    let page = app
        .client
        .webhook_deliveries(&hook, None, None)
        .await
        .expect("deliveries");
    assert_eq!(page.items.len(), 3);
    assert!(page.items.iter().all(|d| d.status_code == Some(503) && !d.delivered));
    assert_eq!(app.run_jobs().await, 0);
    let metrics = app.anonymous.metrics().await.expect("metrics");
    let dead = metrics
        .lines()
        .find(|l| l.starts_with("filegate_queue_jobs{") && l.contains("state=\"dead\""))
        .unwrap_or_else(|| panic!("no dead-letter gauge in {metrics}"));
    assert!(dead.ends_with(" 1"), "{dead}");
}

#[tokio::test]
async fn subscriptions_get_only_the_events_they_match_and_only_their_tenants() {
    let app = app().await;
    let files = Receiver::start(&[]).await;
    let alerts = Receiver::start(&[]).await;
    let other = Receiver::start(&[]).await;
    subscribe(&app.client, &files.url, &["file.*"]).await;
    subscribe(&app.client, &alerts.url, &["alert.*"]).await;
    let acme = app.tenant("acme").await;
    let (acme_hook, _) = subscribe(&acme, &other.url, &["*"]).await;

    let file = app.ready_file(&app.client, "default", "mine.txt", b"mine").await;
    let got = files.wait_for(3).await;
    let kinds: Vec<String> = got.iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, ["file.uploaded", "file.processing", "file.ready"]);
    app.client.delete_file(&file.id).await.expect("delete");
    app.run_jobs().await;
    assert_eq!(files.wait_for(4).await[3].kind(), "file.deleted");
    assert!(alerts.received().is_empty(), "no alert happened");
    assert!(other.received().is_empty(), "another tenant's webhook heard our events");

    // Nor can one tenant see or touch the other's subscriptions.
    assert_eq!(
        api_error(app.client.get_webhook(&acme_hook).await),
        err(404, "not-found")
    );
    assert_eq!(
        api_error(app.client.webhook_deliveries(&acme_hook, None, None).await),
        err(404, "not-found")
    );
    assert_eq!(
        api_error(app.client.delete_webhook(&acme_hook).await),
        err(404, "not-found")
    );
    assert_eq!(app.client.list_webhooks().await.expect("list").items.len(), 2);
    assert_eq!(acme.list_webhooks().await.expect("list").items.len(), 1);

    // Deleted: the next events go nowhere, and the subscription is gone.
    acme.delete_webhook(&acme_hook).await.expect("delete");
    assert_eq!(api_error(acme.get_webhook(&acme_hook).await), err(404, "not-found"));
    app.ready_file(&acme, "default", "theirs.txt", b"theirs").await;
    assert!(other.received().is_empty());

    // Both admin changes are in acme's audit trail, without the secret.
    let trail = acme
        .audit(&filegate_api::AuditFilter {
            action: Some("webhook.*".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    let actions: Vec<&str> = trail.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["webhook.deleted", "webhook.created"], "newest first");
    assert_eq!(trail.items[1].details["url"], other.url.as_str());
    assert!(!trail.items[1].details.to_string().contains("whsec_"));
}

#[tokio::test]
async fn bad_subscriptions_are_refused_and_nothing_is_created() {
    let app = app().await;
    let create = |url: &str, events: &[&str], secret: Option<&str>| CreateWebhook {
        url: url.to_owned(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        secret: secret.map(str::to_owned),
    };
    let long = format!("https://example.org/{}", "a".repeat(2100));
    for (request, code) in [
        (create("ftp://example.org/x", &["file.ready"], None), "invalid-url"),
        (create("not a url", &["file.ready"], None), "invalid-url"),
        (
            create("https://user:pw@example.org/", &["file.ready"], None),
            "invalid-url",
        ),
        (create(&long, &["file.ready"], None), "invalid-url"),
        (create("https://example.org/", &[], None), "invalid-event-pattern"),
        (
            create("https://example.org/", &["File.Ready"], None),
            "invalid-event-pattern",
        ),
        (
            create("https://example.org/", &["file.*.x"], None),
            "invalid-event-pattern",
        ),
        (
            create("https://example.org/", &["file.ready"], Some("hunter2")),
            "invalid-secret",
        ),
        (
            create("https://example.org/", &["file.ready"], Some("whsec_c2hvcnQ=")),
            "invalid-secret",
        ),
    ] {
        assert_eq!(
            api_error(app.client.create_webhook(&request).await),
            err(400, code),
            "{request:?}"
        );
    }
    // Writers may not subscribe; unknown ids are 404.
    let writer = app.client_as("default", "writer");
    assert_eq!(
        api_error(
            writer
                .create_webhook(&create("https://example.org/", &["*"], None))
                .await
        ),
        err(403, "forbidden")
    );
    assert_eq!(api_error(writer.list_webhooks().await), err(403, "forbidden"));
    assert_eq!(api_error(app.client.get_webhook("nope").await), err(404, "not-found"));
    assert_eq!(app.client.list_webhooks().await.expect("list").items.len(), 0);
}

#[tokio::test]
async fn private_addresses_are_refused_unless_the_operator_allows_them() {
    let app = TestApp::spawn().await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/x",
    ] {
        let request = CreateWebhook {
            url: url.to_owned(),
            events: vec!["*".into()],
            secret: None,
        };
        assert_eq!(
            api_error(app.client.create_webhook(&request).await),
            err(400, "invalid-url"),
            "{url}"
        );
    }
}

/// Other spellings of a loopback host: the trailing-dot name, the IPv4 address inside IPv6
/// (mapped, NAT64, 6to4) and the numeric forms URL parsers read as 127.0.0.1. Delivery
/// would refuse them; creation says so at once, and nothing is created.
#[tokio::test]
async fn other_spellings_of_a_private_host_are_refused_at_creation() {
    let app = TestApp::spawn().await;
    for url in [
        "http://localhost./x",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://127.1/",
    ] {
        let request = CreateWebhook {
            url: url.to_owned(),
            events: vec!["*".into()],
            secret: None,
        };
        assert_eq!(
            api_error(app.client.create_webhook(&request).await),
            err(400, "invalid-url"),
            "{url}"
        );
    }
    assert_eq!(app.client.list_webhooks().await.expect("list").items.len(), 0);
}

/// With RabbitMQ as the queue, the relay hands events to the workers, which fan them out to
/// webhooks (and publish them to the events exchange): the same deliveries as without it.
#[tokio::test]
async fn webhooks_are_delivered_when_rabbitmq_carries_the_jobs() {
    let amqp = match std::env::var("FILEGATE_TEST_AMQP_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "FILEGATE_TEST_AMQP_URL is not set: CI must run the RabbitMQ tests"
            );
            eprintln!("note: FILEGATE_TEST_AMQP_URL is not set; skipping this RabbitMQ test");
            return;
        }
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let queue = format!("{amqp}?prefix=fgwh-{run}&events_exchange=fgwh-{run}.events&prefetch=4");
    let app = TestApp::spawn_with(move |c| {
        c.queue = Some(queue);
        c.webhooks.allow_private_networks = true;
        c.workers.enabled = true;
        c.workers.backoff_base_secs = 0;
    })
    .await;
    let receiver = Receiver::start(&[500]).await;
    let (hook, secret) = subscribe(&app.client, &receiver.url, &["file.*"]).await;
    let file = app
        .client
        .upload_bytes(
            "default",
            "via/rabbit.bin",
            "application/octet-stream",
            bytes::Bytes::from_static(b"hop"),
        )
        .await
        .expect("upload");

    // The first delivery is refused once (500), then retried through the broker's retry queue.
    let got = receiver.wait_for(4).await;
    let mut kinds: Vec<String> = got.iter().map(|r| r.kind()).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, ["file.processing", "file.ready", "file.uploaded"]);
    for r in &got {
        verify(&secret, r);
        assert_eq!(r.json()["data"]["file_id"], file.id.as_str());
    }
    // Each attempt is recorded once the receiver has answered: wait for the four records.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let attempts = app
            .client
            .webhook_deliveries(&hook, None, None)
            .await
            .expect("deliveries");
        if attempts.items.len() >= 4 {
            assert!(
                attempts.items.iter().any(|d| d.attempt == 2 && d.delivered),
                "the refused delivery was retried: {:?}",
                attempts.items
            );
            assert_eq!(attempts.items.iter().filter(|d| d.delivered).count(), 3);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "attempts not recorded: {:?}",
            attempts.items
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
