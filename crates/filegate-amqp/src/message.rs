//! How jobs and events look on the wire. Pure functions, unit-tested here.
//!
//! A job message: body = the JSON of `Job` (the same JSON the database stores),
//! `message_id` = the job id, `type` = the job kind, header `x-filegate-attempt` = the run
//! this message is for (1 on first publish, +1 per retry), persistent, `application/json`.
//!
//! An event message: body = the JSON of `FileEvent`, `message_id` = the event id (the
//! idempotency key consumers drop duplicates by), routing key and `type` = the event type
//! (`file.ready`), persistent, `application/json`.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{FileEvent, JobId};
use filegate_core::ports::{ClaimedJob, Job};
use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

use crate::config::AmqpConfig;

pub(crate) const HEADER_ATTEMPT: &str = "x-filegate-attempt";
/// The error a job was buried with (dead queue) or last failed with (retry copies).
pub const HEADER_ERROR: &str = "x-filegate-error";
/// When a job was buried, RFC 3339.
pub const HEADER_DEAD_AT: &str = "x-filegate-dead-at";
/// Set by quorum queues on redelivery: how many earlier deliveries were not settled.
const HEADER_DELIVERY_COUNT: &str = "x-delivery-count";

const JSON: &str = "application/json";
const PERSISTENT: u8 = 2;

/// A message ready to publish.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub exchange: String,
    pub routing_key: String,
    pub body: Vec<u8>,
    pub properties: BasicProperties,
    /// Return the message (a failed publish) when nothing is bound to take it.
    pub mandatory: bool,
    /// The `kind` label of `filegate_amqp_published_total`.
    pub kind: &'static str,
}

fn encode_err(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Other(anyhow::anyhow!("encoding {what}: {e}"))
}

fn base_properties(id: String, kind: &str) -> BasicProperties {
    BasicProperties::default()
        .with_message_id(ShortString::from(id))
        .with_type(ShortString::from(kind))
        .with_content_type(ShortString::from(JSON))
        .with_delivery_mode(PERSISTENT)
        .with_app_id(ShortString::from("filegate"))
}

/// A job for the work queue (`routing_key` = the queue, default exchange) or the retry or
/// dead queue, with `extra` headers.
pub(crate) fn job_message(
    id: JobId,
    job: &Job,
    attempt: u32,
    exchange: &str,
    routing_key: &str,
    extra: &[(&str, String)],
    kind: &'static str,
) -> Result<Outgoing, StoreError> {
    let body = serde_json::to_vec(job).map_err(|e| encode_err("a job", e))?;
    let mut headers = FieldTable::default();
    headers.insert(HEADER_ATTEMPT.into(), AMQPValue::LongUInt(attempt));
    for (key, value) in extra {
        headers.insert((*key).into(), AMQPValue::LongString(LongString::from(value.as_str())));
    }
    Ok(Outgoing {
        exchange: exchange.to_owned(),
        routing_key: routing_key.to_owned(),
        body,
        properties: base_properties(id.to_string(), job.kind()).with_headers(headers),
        mandatory: true,
        kind,
    })
}

/// An event for the events exchange. Not mandatory: an exchange nobody listens to is fine.
pub(crate) fn event_message(event: &FileEvent, exchange: &str) -> Result<Outgoing, StoreError> {
    let body = serde_json::to_vec(event).map_err(|e| encode_err("an event", e))?;
    let mut properties = base_properties(event.id.to_string(), &event.kind);
    if let Ok(seconds) = u64::try_from(event.occurred_at.timestamp()) {
        properties = properties.with_timestamp(seconds);
    }
    let routing_key = ShortString::try_new(event.kind.clone())
        .map_err(|_| StoreError::Other(anyhow::anyhow!("event type too long for a routing key")))?;
    Ok(Outgoing {
        exchange: exchange.to_owned(),
        routing_key: routing_key.to_string(),
        body,
        properties,
        mandatory: false,
        kind: "publish_event",
    })
}

/// A job for the work queue, or, when `run_at` is still ahead, for the retry queue with a
/// per-message TTL that releases it into the work queue then.
#[allow(clippy::too_many_arguments)]
pub(crate) fn scheduled_job(
    config: &AmqpConfig,
    id: JobId,
    job: &Job,
    attempt: u32,
    run_at: DateTime<Utc>,
    extra: &[(&str, String)],
    kind: &'static str,
) -> Result<Outgoing, StoreError> {
    let lane = job.lane();
    match expiration_until(run_at, Utc::now()) {
        Some(ms) => {
            let mut message = job_message(id, job, attempt, "", &config.lane_retry_queue(lane), extra, kind)?;
            message.properties = message.properties.with_expiration(ms.into());
            Ok(message)
        }
        None => job_message(id, job, attempt, "", &config.lane_queue(lane), extra, kind),
    }
}

/// Header values stay well inside a frame, whatever an error message holds.
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 4096;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The per-message TTL (`expiration`) that holds a retry until `run_at`.
pub(crate) fn expiration_until(run_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<String> {
    let ms = (run_at - now).num_milliseconds();
    (ms > 0).then(|| ms.to_string())
}

fn int_header(headers: Option<&FieldTable>, key: &str) -> Option<u64> {
    let value = headers?.inner().get(key)?;
    match value {
        AMQPValue::ShortShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::LongUInt(n) => Some(u64::from(*n)),
        AMQPValue::Timestamp(n) => Some(*n),
        AMQPValue::ShortShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// A string header (`x-filegate-error`), as RabbitMQ or we may have typed it.
pub fn string_header(properties: &BasicProperties, key: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The attempt a delivery stands for: the header's run, plus the deliveries of this very
/// message whose worker never settled them (`x-delivery-count` of quorum queues; a bare
/// `redelivered` flag counts as one when the queue does not count).
pub(crate) fn attempt_of(properties: &BasicProperties, redelivered: bool) -> u32 {
    let headers = properties.headers().as_ref();
    let published = int_header(headers, HEADER_ATTEMPT).unwrap_or(1).max(1);
    let unsettled = int_header(headers, HEADER_DELIVERY_COUNT).unwrap_or(u64::from(redelivered));
    u32::try_from(published.saturating_add(unsettled)).unwrap_or(u32::MAX)
}

/// A delivery from the work queue as the job it carries; the error says why it cannot be.
pub(crate) fn decode_job(delivery: &Delivery) -> Result<ClaimedJob, String> {
    let id = delivery
        .properties
        .message_id()
        .as_ref()
        .ok_or_else(|| "the message has no message_id (job id)".to_owned())?;
    let id = uuid::Uuid::parse_str(id.as_str())
        .map(JobId::from_uuid)
        .map_err(|_| format!("message_id {:?} is not a job id", id.as_str()))?;
    let job: Job = serde_json::from_slice(&delivery.data).map_err(|e| format!("the body is not a job: {e}"))?;
    Ok(ClaimedJob {
        id,
        job,
        attempt: attempt_of(&delivery.properties, delivery.redelivered),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use filegate_core::domain::{BucketName, FileId, FileStatus, TenantId};

    fn delivery(properties: BasicProperties, data: Vec<u8>, redelivered: bool) -> Delivery {
        let mut delivery = Delivery::mock(1, "".into(), "q".into(), redelivered, data);
        delivery.properties = properties;
        delivery
    }

    fn job() -> Job {
        Job::ProcessFile {
            tenant: TenantId::default_tenant(),
            file_id: FileId::new(),
        }
    }

    #[test]
    fn a_job_message_decodes_to_the_same_job_at_its_attempt() {
        let id = JobId::new();
        let job = job();
        let out = job_message(id, &job, 3, "", "p.jobs", &[(HEADER_ERROR, "boom".into())], "retry").unwrap();
        assert!(out.mandatory);
        assert_eq!(out.properties.delivery_mode(), &Some(2));
        assert_eq!(string_header(&out.properties, HEADER_ERROR).as_deref(), Some("boom"));
        let claimed = decode_job(&delivery(out.properties.clone(), out.body.clone(), false)).unwrap();
        assert_eq!(claimed, ClaimedJob { id, job, attempt: 3 });
        // Redelivered by a classic queue: one more; by a quorum queue: its count.
        assert_eq!(attempt_of(&out.properties, true), 4);
        let mut headers = out.properties.headers().clone().unwrap();
        headers.insert(HEADER_DELIVERY_COUNT.into(), AMQPValue::LongLongInt(2));
        assert_eq!(attempt_of(&out.properties.clone().with_headers(headers), true), 5);
    }

    #[test]
    fn a_message_without_headers_is_a_first_attempt() {
        assert_eq!(attempt_of(&BasicProperties::default(), false), 1);
    }

    #[test]
    fn undecodable_deliveries_say_why() {
        let body = serde_json::to_vec(&job()).unwrap();
        let no_id = delivery(BasicProperties::default(), body.clone(), false);
        assert!(decode_job(&no_id).unwrap_err().contains("message_id"));
        let bad_id = delivery(BasicProperties::default().with_message_id("x".into()), body, false);
        assert!(decode_job(&bad_id).unwrap_err().contains("not a job id"));
        let id = JobId::new().to_string();
        let bad_body = delivery(
            BasicProperties::default().with_message_id(id.into()),
            b"{}".to_vec(),
            false,
        );
        assert!(decode_job(&bad_body).unwrap_err().contains("not a job"));
    }

    fn ready_event() -> FileEvent {
        FileEvent {
            id: uuid::Uuid::now_v7(),
            kind: "file.ready".into(),
            tenant: TenantId::default_tenant(),
            file_id: FileId::new(),
            bucket: BucketName::default_bucket(),
            path: "a/b.txt".into(),
            status: FileStatus::Ready,
            status_reason: None,
            size: 3,
            sha256: None,
            occurred_at: Utc::now(),
            data: serde_json::Value::Null,
        }
    }

    #[test]
    fn an_event_message_is_keyed_by_type_and_identified_by_its_id() {
        let event = ready_event();
        let out = event_message(&event, "filegate.events").unwrap();
        assert_eq!(out.routing_key, "file.ready");
        assert!(!out.mandatory);
        assert_eq!(
            out.properties.message_id().as_ref().map(ShortString::as_str),
            Some(event.id.to_string().as_str())
        );
        assert_eq!(
            out.properties.content_type().as_ref().map(ShortString::as_str),
            Some(JSON)
        );
        let back: FileEvent = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn a_job_due_later_waits_in_the_retry_queue() {
        let config = AmqpConfig::from_url("amqp://127.0.0.1?prefix=p").unwrap();
        let (id, job) = (JobId::new(), job());
        let now = scheduled_job(&config, id, &job, 1, Utc::now(), &[], "process_file").unwrap();
        assert_eq!((now.exchange.as_str(), now.routing_key.as_str()), ("", "p.jobs"));
        assert_eq!(now.properties.expiration(), &None);
        let later = Utc::now() + chrono::Duration::seconds(30);
        let later = scheduled_job(&config, id, &job, 2, later, &[], "retry").unwrap();
        assert_eq!(later.routing_key, "p.jobs.retry");
        let ttl: i64 = later
            .properties
            .expiration()
            .as_ref()
            .unwrap()
            .as_str()
            .parse()
            .unwrap();
        assert!((29_000..=30_000).contains(&ttl), "{ttl}");
    }

    #[test]
    fn a_delivery_job_goes_to_the_deliveries_queue_and_retries_back_to_it() {
        let config = AmqpConfig::from_url("amqp://127.0.0.1?prefix=p").unwrap();
        let event = ready_event();
        let job = Job::SendAlertEmail { event };
        let now = scheduled_job(&config, JobId::new(), &job, 1, Utc::now(), &[], "send_alert_email").unwrap();
        assert_eq!(now.routing_key, "p.deliveries");
        let later = Utc::now() + chrono::Duration::seconds(30);
        let later = scheduled_job(&config, JobId::new(), &job, 2, later, &[], "retry").unwrap();
        assert_eq!(later.routing_key, "p.deliveries.retry");
    }

    #[test]
    fn long_errors_are_clipped_on_a_char_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(5000);
        let clipped = clip(&long);
        assert!(clipped.len() <= 4096 + "…".len());
        assert!(clipped.ends_with('…'));
    }

    #[test]
    fn expiration_is_the_remaining_delay_in_milliseconds() {
        let now = Utc::now();
        assert_eq!(
            expiration_until(now + chrono::Duration::milliseconds(1500), now).as_deref(),
            Some("1500")
        );
        assert_eq!(expiration_until(now - chrono::Duration::seconds(1), now), None);
        assert_eq!(expiration_until(now, now), None);
    }
}
