//! Event delivery beyond the broker: an event fans out to one `DeliverWebhook` job per
//! matching subscription of its tenant, and an alert to one `SendAlertEmail` job. Each of
//! those jobs is retried on its own with the worker's backoff, so a slow or failing receiver
//! never holds back another.
//!
//! Idempotence: the fanned-out jobs have ids derived from (subscription, event) and (event),
//! so a `PublishEvent` that runs twice enqueues each once on the database queue (the second
//! insert is a conflict we ignore); and a delivery job first checks whether that event
//! already reached that subscription (a broker queue cannot refuse duplicate ids).

use std::time::Duration;

use uuid::Uuid;

use super::StageError;
use crate::domain::{DeliveryId, FileEvent, JobId, Webhook, WebhookDelivery, WebhookId, WebhookSecret, webhook_body};
use crate::error::StoreError;
use crate::ports::{Email, Job, MailError, NewJob, WebhookRequest, WebhookResponse};
use crate::usecases::Services;

/// Namespace of the UUIDv5 job ids of fanned-out work.
const JOB_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_2b6e_4a3c_5e8f_9a0b_1c2d_3e4f_5a6b);

/// Whether an event is one people must hear about by email.
pub fn is_alert(kind: &str) -> bool {
    kind.starts_with("alert.") || kind == "file.quarantined"
}

/// Enqueues the webhook deliveries and the alert email an event causes.
#[tracing::instrument(skip_all, fields(event_id = %event.id, kind = %event.kind, tenant = %event.tenant))]
pub async fn fan_out(services: &Services, event: &FileEvent) -> Result<(), StageError> {
    let notifications = &services.notifications;
    let webhooks = services
        .lookups
        .webhooks(notifications.store.as_ref(), &event.tenant)
        .await?;
    for webhook in webhooks.iter() {
        if webhook.wants(&event.kind) {
            let id = job_id(&format!("webhook/{}/{}", webhook.id, event.id));
            enqueue_once(
                services,
                id,
                Job::DeliverWebhook {
                    webhook_id: webhook.id,
                    event: event.clone(),
                },
            )
            .await?;
        }
    }
    if is_alert(&event.kind) && !recipients(services, event).await?.is_empty() {
        let id = job_id(&format!("alert-email/{}", event.id));
        enqueue_once(services, id, Job::SendAlertEmail { event: event.clone() }).await?;
    }
    Ok(())
}

fn job_id(name: &str) -> JobId {
    JobId::from_uuid(Uuid::new_v5(&JOB_NAMESPACE, name.as_bytes()))
}

async fn enqueue_once(services: &Services, id: JobId, job: Job) -> Result<(), StageError> {
    let job = NewJob { id, ..NewJob::now(job) };
    match services.queue.enqueue(&job).await {
        // Enqueued by an earlier run of the same fan-out.
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// One attempt to deliver `event` to a subscription: signed, posted, recorded. A 2xx answer
/// completes the job; anything else is retried (then dead-lettered by the worker).
#[tracing::instrument(skip(services, event), fields(event_id = %event.id, kind = %event.kind))]
pub async fn deliver_webhook(
    services: &Services,
    webhook_id: WebhookId,
    event: &FileEvent,
    attempt: u32,
) -> Result<(), StageError> {
    let store = &services.notifications.store;
    let Some(webhook) = store.get_webhook(&event.tenant, webhook_id).await? else {
        tracing::debug!("the webhook was deleted; dropping its delivery");
        return Ok(());
    };
    if store.was_delivered(&event.tenant, webhook_id, event.id).await? {
        return Ok(());
    }
    let secret = open_secret(services, &webhook)?;
    let body = webhook_body(event);
    let attempted_at = services.clock.now();
    let msg_id = event.id.to_string();
    let timestamp = attempted_at.timestamp();
    let headers = vec![
        ("webhook-id", msg_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", secret.sign(&msg_id, timestamp, &body)),
        ("content-type", "application/json".to_owned()),
    ];
    let (response, took) = services
        .notifications
        .webhooks
        .post(WebhookRequest {
            url: webhook.url.clone(),
            headers,
            body,
        })
        .await;
    let (status_code, error) = match &response {
        WebhookResponse::Status(code) => (Some(*code), None),
        WebhookResponse::Failed(why) => (None, Some(why.chars().take(500).collect::<String>())),
    };
    let delivered = status_code.is_some_and(|c| (200..300).contains(&c));
    let record = WebhookDelivery {
        id: DeliveryId::new(),
        webhook_id,
        tenant: event.tenant.clone(),
        event_id: event.id,
        event_type: event.kind.clone(),
        attempt,
        attempted_at,
        status_code,
        error,
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        delivered,
    };
    metrics::counter!("filegate_webhook_deliveries_total", "outcome" => if delivered { "delivered" } else { "failed" })
        .increment(1);
    match store.record_delivery(&record).await {
        Ok(()) => {}
        // Deleted while we posted: nothing left to retry for.
        Err(StoreError::NotFound) => return Ok(()),
        // The receiver has it; losing the record is better than delivering it again.
        Err(e) if delivered => tracing::warn!(error = %e, "delivered, but the attempt could not be recorded"),
        Err(e) => return Err(e.into()),
    }
    if delivered {
        Ok(())
    } else {
        Err(StageError::Retry(anyhow::anyhow!(
            "webhook {} not delivered: {}",
            webhook.id,
            match response {
                WebhookResponse::Status(code) => format!("HTTP {code}"),
                WebhookResponse::Failed(why) => why,
            }
        )))
    }
}

fn open_secret(services: &Services, webhook: &Webhook) -> Result<WebhookSecret, StageError> {
    services
        .notifications
        .sealer
        .open(
            &webhook.sealed_secret,
            &Webhook::seal_context(webhook.id, &webhook.tenant),
        )
        .map(WebhookSecret::from_bytes)
        .ok_or_else(|| {
            // The deployment secret changed since the webhook was created: no attempt can sign.
            StageError::Fail(format!(
                "the secret of webhook {} does not open with this deployment's secret; recreate the webhook",
                webhook.id
            ))
        })
}

/// The tenant's and the platform's recipients, without duplicates.
async fn recipients(services: &Services, event: &FileEvent) -> Result<Vec<crate::domain::EmailAddress>, StageError> {
    let mut to = services.notifications.store.alert_recipients(&event.tenant).await?;
    to.extend(services.notifications.platform_recipients.iter().cloned());
    to.sort();
    to.dedup();
    Ok(to)
}

/// Emails an alert to the tenant's and the platform's recipients.
#[tracing::instrument(skip_all, fields(event_id = %event.id, kind = %event.kind, tenant = %event.tenant))]
pub async fn send_alert_email(services: &Services, event: &FileEvent) -> Result<(), StageError> {
    let to = recipients(services, event).await?;
    if to.is_empty() {
        return Ok(());
    }
    let email = alert_email(event, to);
    match services.notifications.mailer.send(&email).await {
        Ok(()) => Ok(()),
        Err(MailError::Transient(e)) => Err(StageError::Retry(e)),
        Err(MailError::Permanent(why)) => Err(StageError::Fail(why)),
    }
}

/// What happened, for a person: the event, the tenant, the file and the event's details.
/// Built only from the event, which carries no secret.
pub fn alert_email(event: &FileEvent, to: Vec<crate::domain::EmailAddress>) -> Email {
    let what = match event.kind.as_str() {
        "file.quarantined" => "a file was quarantined".to_owned(),
        "alert.old_passphrase" => "a file was encrypted with an old exchange passphrase".to_owned(),
        other => other.trim_start_matches("alert.").replace('_', " "),
    };
    let mut body = format!(
        "filegate alert: {what}.\n\n\
         Event:   {kind}\n\
         Tenant:  {tenant}\n\
         File:    {file_id}\n\
         Bucket:  {bucket}\n\
         Path:    {path}\n\
         Status:  {status}\n",
        kind = event.kind,
        tenant = event.tenant,
        file_id = event.file_id,
        bucket = event.bucket,
        path = event.path,
        status = event.status,
    );
    if let Some(reason) = &event.status_reason {
        body.push_str(&format!("Reason:  {reason}\n"));
    }
    if !event.data.is_null() {
        body.push_str(&format!("Details: {}\n", event.data));
    }
    body.push_str(&format!(
        "When:    {}\nEvent id: {}\n",
        event.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        event.id
    ));
    // One line, bounded: the path is the tenant's, so keep control characters out of it.
    let path: String = event.path.chars().filter(|c| !c.is_control()).take(80).collect();
    Email {
        to,
        subject: format!("[filegate] {} in tenant {}: {path}", event.kind, event.tenant),
        body,
    }
}

/// How long the delivery worker lets one webhook call take, unless configured otherwise.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
