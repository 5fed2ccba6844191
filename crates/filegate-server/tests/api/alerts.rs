//! Alerts: an `alert.*` event is emailed, through a real SMTP server (aiosmtpd), to the
//! tenant's recipients and the platform's, and reaches the tenant's `alert.*` webhooks.

use filegate_api::{AlertRecipients, CreateWebhook};
use filegate_core::domain::{FileEvent, FileId, TenantId};
use filegate_core::ports::Effects;
use filegate_core::ports::{Job, NewJob};

use crate::common::TestApp;
use crate::receiver::{Receiver, SmtpSink, verify};
use crate::support::{api_error, err};

/// Emits `kind` about a file the way the pipeline does: the event job commits with a write of
/// the file (here an unchanged one), through the outbox.
async fn emit(app: &TestApp, tenant: &str, file_id: &str, kind: &str, data: serde_json::Value) {
    let tenant = TenantId::parse(tenant).expect("tenant");
    let id = FileId::parse(file_id).expect("file id");
    let file = app
        .services
        .store
        .get_file(&tenant, id)
        .await
        .expect("store")
        .expect("file");
    let event = FileEvent::about(kind, &file, data);
    app.services
        .store
        .update_file(
            &file,
            &[file.status],
            &Effects::jobs([NewJob::now(Job::PublishEvent { event })]),
        )
        .await
        .expect("outbox write");
}

#[tokio::test]
async fn an_alert_is_emailed_to_the_tenant_and_platform_admins_and_reaches_alert_webhooks() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let smtp = sink.url();
    let app = TestApp::spawn_with(move |c| {
        c.smtp.url = Some(filegate_server::config::Redacted(smtp));
        c.smtp.from = "filegate@files.example.org".into();
        c.alerts.emails = vec!["platform@ops.example.org".into()];
        c.webhooks.allow_private_networks = true;
    })
    .await;
    let set = app
        .client
        .set_alert_recipients(&AlertRecipients {
            emails: vec!["Admin@Tenant.example.org".into(), "admin@tenant.example.org".into()],
        })
        .await
        .expect("set recipients");
    assert_eq!(set.emails, ["Admin@tenant.example.org", "admin@tenant.example.org"]);
    assert_eq!(app.client.alert_recipients().await.expect("get"), set);
    let receiver = Receiver::start(&[]).await;
    let hook = app
        .client
        .create_webhook(&CreateWebhook {
            url: receiver.url.clone(),
            events: vec!["alert.*".into()],
            secret: None,
        })
        .await
        .expect("webhook");

    let file = app
        .ready_file(&app.client, "default", "partners/q3.csv.age", b"ciphertext")
        .await;
    assert!(sink.wait_for(0).await.is_empty(), "a ready file is no alert");
    emit(
        &app,
        "default",
        &file.id,
        "alert.old_passphrase",
        serde_json::json!({"passphrase_version": 1}),
    )
    .await;
    app.run_jobs().await;

    let mail = sink.wait_for(1).await;
    assert_eq!(mail.len(), 1, "one email per alert, to every recipient");
    let text = &mail[0];
    for rcpt in [
        "admin@tenant.example.org",
        "Admin@tenant.example.org",
        "platform@ops.example.org",
    ] {
        assert!(text.contains(rcpt), "{rcpt} is not a recipient:\n{text}");
    }
    assert!(text.contains("From: filegate@files.example.org"), "{text}");
    assert!(
        text.contains("Subject: [filegate] alert.old_passphrase in tenant default"),
        "{text}"
    );
    assert!(text.contains(&file.id), "the email names the file:\n{text}");
    assert!(text.contains("partners/q3.csv.age"), "{text}");
    assert!(
        text.contains("passphrase_version"),
        "the email carries the details:\n{text}"
    );

    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "only the alert: the webhook subscribed to alert.* alone");
    assert_eq!(got[0].kind(), "alert.old_passphrase");
    verify(hook.secret.as_deref().expect("secret"), &got[0]);

    // Running the jobs again sends nothing more.
    assert_eq!(app.run_jobs().await, 0);
    assert_eq!(sink.wait_for(1).await.len(), 1);
}

#[tokio::test]
async fn a_quarantined_file_alerts_the_platform_even_when_the_tenant_set_no_recipient() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let smtp = sink.url();
    let app = TestApp::spawn_with(move |c| {
        c.smtp.url = Some(filegate_server::config::Redacted(smtp));
        c.alerts.emails = vec!["platform@ops.example.org".into()];
    })
    .await;
    let acme = app.tenant("acme").await;
    let file = app.ready_file(&acme, "default", "invoice.pdf", b"EICAR-like").await;
    emit(
        &app,
        "acme",
        &file.id,
        "file.quarantined",
        serde_json::json!({"signature": "Eicar-Test-Signature"}),
    )
    .await;
    app.run_jobs().await;
    let mail = sink.wait_for(1).await;
    assert!(mail[0].contains("platform@ops.example.org"), "{}", mail[0]);
    assert!(mail[0].contains("file.quarantined in tenant acme"), "{}", mail[0]);
    assert!(mail[0].contains("Eicar-Test-Signature"), "{}", mail[0]);
}

#[tokio::test]
async fn alert_recipients_are_validated_and_admin_only() {
    let app = TestApp::spawn().await;
    for bad in ["not-an-email", "a@b.org\r\nBcc: x@y.org", "a@b.org, c@d.org"] {
        let request = AlertRecipients {
            emails: vec![bad.into()],
        };
        assert_eq!(
            api_error(app.client.set_alert_recipients(&request).await),
            err(400, "invalid-email"),
            "{bad:?}"
        );
    }
    let too_many = AlertRecipients {
        emails: (0..21).map(|i| format!("a{i}@example.org")).collect(),
    };
    assert_eq!(
        api_error(app.client.set_alert_recipients(&too_many).await),
        err(400, "too-many-items")
    );
    assert_eq!(
        app.client.alert_recipients().await.expect("get").emails,
        Vec::<String>::new()
    );
    let writer = app.client_as("default", "writer");
    assert_eq!(api_error(writer.alert_recipients().await), err(403, "forbidden"));
    // Each tenant has its own.
    app.client
        .set_alert_recipients(&AlertRecipients {
            emails: vec!["ops@default.example.org".into()],
        })
        .await
        .expect("set");
    let acme = app.tenant("acme").await;
    assert!(acme.alert_recipients().await.expect("get").emails.is_empty());
}
