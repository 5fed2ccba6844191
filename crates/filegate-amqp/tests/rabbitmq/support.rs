//! What every RabbitMQ test shares: a corner of the broker of its own (cleaned up on drop),
//! an outbox database, sample jobs and events, and waiting with a deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use filegate_amqp::{AmqpConfig, AmqpConnection, AmqpQueue};
use filegate_core::StoreError;
use filegate_core::domain::{BucketName, FileEvent, FileId, FileStatus, TenantId};
use filegate_core::ports::{ClaimedJob, Job, JobQueue, Lane};
use filegate_sql::SqliteStore;
use futures::StreamExt as _;
use lapin::ExchangeKind;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use tokio::time::Instant;

/// How long any awaited condition may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);
pub const LEASE: Duration = Duration::from_secs(60);

pub fn amqp_url() -> Option<String> {
    match std::env::var("FILEGATE_TEST_AMQP_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("FILEGATE_TEST_AMQP_URL must point at RabbitMQ when CI=true")
        }
        _ => {
            eprintln!("note: FILEGATE_TEST_AMQP_URL is not set; skipping this RabbitMQ test");
            None
        }
    }
}

/// One test's corner of the broker: a unique prefix and events exchange, an admin
/// connection to look around with, and cleanup on drop.
pub struct Broker {
    pub url: String,
    pub config: AmqpConfig,
    pub admin: lapin::Connection,
    pub observers: Vec<String>,
}

impl Broker {
    pub async fn new() -> Option<Self> {
        let url = amqp_url()?;
        let run = uuid::Uuid::new_v4().simple().to_string();
        let mut config = AmqpConfig::from_url(&url).expect("FILEGATE_TEST_AMQP_URL is an AMQP URL");
        config.prefix = format!("fgtest-{run}");
        config.events_exchange = format!("fgtest-{run}.events");
        config.connection_name = format!("fgtest-{run}");
        config.reconnect_min = Duration::from_millis(50);
        config.reconnect_max = Duration::from_millis(500);
        let admin = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
            .await
            .expect("RabbitMQ reachable at FILEGATE_TEST_AMQP_URL");
        Some(Self {
            url,
            config,
            admin,
            observers: Vec::new(),
        })
    }

    pub fn config_with(&self, change: impl FnOnce(&mut AmqpConfig)) -> AmqpConfig {
        let mut config = self.config.clone();
        change(&mut config);
        config
    }

    /// A process's connection to the broker (declares the topology).
    pub async fn connect(&self) -> AmqpConnection {
        AmqpConnection::connect(self.config.clone()).await.expect("connects")
    }

    pub async fn channel(&self) -> lapin::Channel {
        self.admin.create_channel().await.expect("admin channel")
    }

    /// Ready messages in `queue`.
    pub async fn ready(&self, queue: &str) -> u64 {
        let declared = self
            .channel()
            .await
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("queue exists");
        u64::from(declared.message_count())
    }

    /// A queue bound to the events exchange with `pattern`, as another service would have.
    pub async fn observe(&mut self, pattern: &str) -> lapin::Consumer {
        let channel = self.channel().await;
        channel
            .exchange_declare(
                self.config.events_exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        let queue = format!("{}.observer.{}", self.config.prefix, self.observers.len());
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        channel
            .queue_bind(
                queue.as_str().into(),
                self.config.events_exchange.as_str().into(),
                pattern.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        self.observers.push(queue.clone());
        channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap()
    }
}

impl Drop for Broker {
    /// Best effort, on a runtime of its own so it also runs when the test panicked.
    fn drop(&mut self) {
        let url = self.url.clone();
        let config = self.config.clone();
        let observers = std::mem::take(&mut self.observers);
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                let Ok(conn) = lapin::Connection::connect(&url, lapin::ConnectionProperties::default()).await else {
                    return;
                };
                let lanes = Lane::ALL
                    .into_iter()
                    .flat_map(|lane| [config.lane_queue(lane), config.lane_retry_queue(lane)]);
                let queues: Vec<String> = lanes.chain([config.dead_queue()]).collect();
                for queue in queues.iter().chain(&observers) {
                    if let Ok(channel) = conn.create_channel().await {
                        let _ = channel
                            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                            .await;
                    }
                }
                for exchange in [config.dead_letter_exchange(), config.events_exchange.clone()] {
                    if let Ok(channel) = conn.create_channel().await {
                        let _ = channel
                            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                            .await;
                    }
                }
                let _ = conn.close(200, "OK".into()).await;
            });
        });
        let _ = cleanup.join();
    }
}

/// Polls `check` until it yields a value; fails the test after `WAIT`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next job of `lane` `worker` can claim, waiting for deliveries (not polling) up to
/// `WAIT`.
pub async fn next_in_lane(queue: &AmqpQueue, lane: Lane, worker: &str) -> ClaimedJob {
    let deadline = Instant::now() + WAIT;
    loop {
        match queue.claim_lane(lane, worker, LEASE, 1).await {
            Ok(mut jobs) if !jobs.is_empty() => return jobs.remove(0),
            Ok(_) | Err(StoreError::Unavailable(_)) => {}
            Err(e) => panic!("claim failed: {e}"),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {lane:?} job arrived within {WAIT:?}");
        queue.wait_for_lane(lane, left.min(Duration::from_millis(200))).await;
    }
}

/// The next job `worker` can claim, waiting for deliveries (not polling) up to `WAIT`.
pub async fn next_job(queue: &AmqpQueue, worker: &str) -> ClaimedJob {
    let deadline = Instant::now() + WAIT;
    loop {
        match queue.claim(worker, LEASE).await {
            Ok(Some(job)) => return job,
            Ok(None) | Err(StoreError::Unavailable(_)) => {}
            Err(e) => panic!("claim failed: {e}"),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no job arrived within {WAIT:?}");
        queue.wait_for_work(left.min(Duration::from_millis(200))).await;
    }
}

pub async fn next_delivery(consumer: &mut lapin::Consumer) -> lapin::message::Delivery {
    let delivery = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("a delivery before the deadline")
        .expect("consumer open")
        .expect("delivery");
    delivery.ack(BasicAckOptions::default()).await.unwrap();
    delivery
}

pub fn process_file() -> Job {
    Job::ProcessFile {
        tenant: TenantId::default_tenant(),
        file_id: FileId::new(),
    }
}

pub fn remove_blob() -> Job {
    Job::RemoveBlob {
        tenant: TenantId::default_tenant(),
        file_id: FileId::new(),
        blob_key: format!("objects/{}", uuid::Uuid::new_v4()),
        multipart_upload_id: None,
        appending: false,
        thumbnail_sizes: Vec::new(),
    }
}

pub fn event(kind: &str) -> FileEvent {
    FileEvent {
        id: uuid::Uuid::now_v7(),
        kind: kind.to_owned(),
        tenant: TenantId::default_tenant(),
        file_id: FileId::new(),
        bucket: BucketName::default_bucket(),
        path: "reports/q3.pdf".to_owned(),
        status: FileStatus::Ready,
        status_reason: None,
        size: 1234,
        sha256: None,
        occurred_at: Utc::now(),
        data: serde_json::Value::Null,
    }
}

pub async fn database() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("filegate.db")).await.unwrap();
    (dir, Arc::new(store))
}

pub fn message_id(delivery: &lapin::message::Delivery) -> String {
    delivery
        .properties
        .message_id()
        .as_ref()
        .map(ToString::to_string)
        .expect("message_id")
}
