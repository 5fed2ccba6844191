//! The RabbitMQ engine against a real broker: `FILEGATE_TEST_AMQP_URL`, e.g.
//! `amqp://guest:guest@127.0.0.1:5672/%2f`. Unset: skipped with a note, except under
//! `CI=true`, where that fails. Each test names its own queues and exchanges (a fresh
//! prefix) and deletes them when it ends, passed or not.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use filegate_amqp::{
    AmqpConfig, AmqpConnection, AmqpEventSink, AmqpQueue, HEADER_DEAD_AT, HEADER_ERROR, Relay, RelaySettings,
    string_header,
};
use filegate_core::StoreError;
use filegate_core::domain::{BucketName, FileEvent, FileId, FileStatus, JobId, TenantId};
use filegate_core::ports::{ClaimedJob, EventSink, Job, JobQueue, NewJob};
use filegate_sql::SqliteStore;
use futures::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, ExchangeDeclareOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, ExchangeKind};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long any awaited condition may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);
const LEASE: Duration = Duration::from_secs(60);

fn amqp_url() -> Option<String> {
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
struct Broker {
    url: String,
    config: AmqpConfig,
    admin: lapin::Connection,
    observers: Vec<String>,
}

impl Broker {
    async fn new() -> Option<Self> {
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

    fn config_with(&self, change: impl FnOnce(&mut AmqpConfig)) -> AmqpConfig {
        let mut config = self.config.clone();
        change(&mut config);
        config
    }

    /// A process's connection to the broker (declares the topology).
    async fn connect(&self) -> AmqpConnection {
        AmqpConnection::connect(self.config.clone()).await.expect("connects")
    }

    async fn channel(&self) -> lapin::Channel {
        self.admin.create_channel().await.expect("admin channel")
    }

    /// Ready messages in `queue`.
    async fn ready(&self, queue: &str) -> u64 {
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
    async fn observe(&mut self, pattern: &str) -> lapin::Consumer {
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
                let queues = [config.jobs_queue(), config.retry_queue(), config.dead_queue()];
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
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
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

/// The next job `worker` can claim, waiting for deliveries (not polling) up to `WAIT`.
async fn next_job(queue: &AmqpQueue, worker: &str) -> ClaimedJob {
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

async fn next_delivery(consumer: &mut lapin::Consumer) -> lapin::message::Delivery {
    let delivery = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("a delivery before the deadline")
        .expect("consumer open")
        .expect("delivery");
    delivery.ack(BasicAckOptions::default()).await.unwrap();
    delivery
}

fn process_file() -> Job {
    Job::ProcessFile {
        tenant: TenantId::default_tenant(),
        file_id: FileId::new(),
    }
}

fn remove_blob() -> Job {
    Job::RemoveBlob {
        tenant: TenantId::default_tenant(),
        file_id: FileId::new(),
        blob_key: format!("objects/{}", uuid::Uuid::new_v4()),
        multipart_upload_id: None,
        thumbnail_sizes: Vec::new(),
    }
}

fn event(kind: &str) -> FileEvent {
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

async fn database() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("filegate.db")).await.unwrap();
    (dir, Arc::new(store))
}

fn message_id(delivery: &lapin::message::Delivery) -> String {
    delivery
        .properties
        .message_id()
        .as_ref()
        .map(ToString::to_string)
        .expect("message_id")
}

#[tokio::test]
async fn the_relay_moves_every_outbox_job_to_the_workers_once() {
    let Some(broker) = Broker::new().await else { return };
    let (_dir, db) = database().await;
    let relay_side = broker.connect().await;
    let relay = Relay::new(
        db.clone(),
        relay_side.clone(),
        RelaySettings {
            batch: 7,
            ..RelaySettings::default()
        },
    );

    let mut enqueued = Vec::new();
    for i in 0..25 {
        let job = NewJob::now(if i % 3 == 0 { remove_blob() } else { process_file() });
        db.enqueue(&job).await.unwrap();
        enqueued.push(job);
    }
    assert_eq!(relay.run_until_idle().await.unwrap(), 25);
    let outbox = db.stats().await.unwrap();
    assert_eq!(
        (outbox.queued, outbox.running, outbox.dead),
        (0, 0, 0),
        "the outbox is empty"
    );

    // A worker process, with a connection of its own.
    let worker = AmqpQueue::new(broker.connect().await);
    let mut seen = BTreeSet::new();
    for _ in 0..25 {
        let claimed = next_job(&worker, "w1").await;
        let sent = enqueued.iter().find(|j| j.id == claimed.id).expect("a job we enqueued");
        assert_eq!(claimed.job, sent.job);
        assert_eq!(claimed.attempt, 1);
        assert!(seen.insert(claimed.id), "{} delivered twice", claimed.id);
        worker.complete(claimed.id, "w1").await.unwrap();
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(worker.claim("w1", LEASE).await.unwrap(), None);
    assert_eq!(worker.in_flight(), 0);
    assert_eq!(broker.ready(&broker.config.jobs_queue()).await, 0);
    assert_eq!(relay.run_until_idle().await.unwrap(), 0, "nothing is relayed twice");
}

#[tokio::test]
async fn the_relay_runs_until_shutdown_and_wakes_on_new_outbox_jobs() {
    let Some(broker) = Broker::new().await else { return };
    let (_dir, db) = database().await;
    let relay = Relay::new(db.clone(), broker.connect().await, RelaySettings::default());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(relay.run(shutdown.clone()));

    let worker = AmqpQueue::new(broker.connect().await);
    let job = NewJob::now(process_file());
    db.enqueue(&job).await.unwrap();
    let claimed = next_job(&worker, "w").await;
    assert_eq!(claimed.id, job.id);
    worker.complete(claimed.id, "w").await.unwrap();

    shutdown.cancel();
    tokio::time::timeout(WAIT, running)
        .await
        .expect("the relay stops")
        .unwrap();
}

#[tokio::test]
async fn a_failed_publish_stays_in_the_outbox_and_goes_out_once_the_topology_is_back() {
    let Some(broker) = Broker::new().await else { return };
    let (_dir, db) = database().await;
    let conn = broker.connect().await;
    let relay = Relay::new(
        db.clone(),
        conn.clone(),
        RelaySettings {
            backoff_base: Duration::from_millis(100),
            ..RelaySettings::default()
        },
    );
    // Someone deletes the work queue: the publish comes back unroutable.
    broker
        .channel()
        .await
        .queue_delete(
            broker.config.jobs_queue().as_str().into(),
            QueueDeleteOptions::default(),
        )
        .await
        .unwrap();
    let job = NewJob::now(process_file());
    db.enqueue(&job).await.unwrap();
    assert_eq!(relay.run_next().await.unwrap(), 1);
    let outbox = db.stats().await.unwrap();
    assert_eq!((outbox.queued, outbox.running), (1, 0), "kept for a retry");

    // The returned message made the connection start over, declaring the queue again.
    eventually("a reconnection", || async {
        (conn.reconnects() >= 1 && conn.is_connected()).then_some(())
    })
    .await;
    eventually("the retry to be relayed", || async {
        (relay.run_next().await.ok()? == 1).then_some(())
    })
    .await;
    let worker = AmqpQueue::new(broker.connect().await);
    assert_eq!(next_job(&worker, "w").await.id, job.id);
    assert_eq!(db.stats().await.unwrap().queued, 0);
}

#[tokio::test]
async fn complete_acknowledges_and_an_unsettled_delivery_comes_back_after_a_reconnect() {
    let Some(broker) = Broker::new().await else { return };
    let conn = broker.connect().await;
    let queue = AmqpQueue::new(conn.clone());
    let (a, b) = (NewJob::now(process_file()), NewJob::now(process_file()));
    queue.enqueue(&a).await.unwrap();
    queue.enqueue(&b).await.unwrap();
    let first = next_job(&queue, "w").await;
    let second = next_job(&queue, "w").await;
    assert_eq!((first.id, second.id), (a.id, b.id));
    queue.extend(a.id, "w", LEASE).await.unwrap();
    assert!(matches!(
        queue.extend(a.id, "other", LEASE).await,
        Err(StoreError::NotFound)
    ));
    queue.complete(a.id, "w").await.unwrap();
    assert!(
        matches!(queue.complete(a.id, "w").await, Err(StoreError::NotFound)),
        "settled once"
    );

    // The connection drops with `b` in hand: the lease is lost, and `b` comes back.
    conn.drop_connection().await;
    eventually("a reconnection", || async {
        (conn.reconnects() == 1 && conn.is_connected()).then_some(())
    })
    .await;
    assert!(
        matches!(queue.complete(b.id, "w").await, Err(StoreError::NotFound)),
        "lease lost"
    );
    let again = next_job(&queue, "w").await;
    assert_eq!(again.id, b.id);
    assert_eq!(again.attempt, 2, "an unsettled delivery counts as an attempt");
    queue.complete(b.id, "w").await.unwrap();

    // `a` was acknowledged: it is neither in the queue nor on its way to us.
    eventually("an empty work queue", || async {
        (broker.ready(&broker.config.jobs_queue()).await == 0).then_some(())
    })
    .await;
    assert_eq!(queue.in_flight(), 0);
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.queued, stats.running, stats.dead), (0, 0, 0));
}

#[tokio::test]
async fn retry_brings_the_job_back_after_its_delay_as_attempt_two() {
    let Some(broker) = Broker::new().await else { return };
    let queue = AmqpQueue::new(broker.connect().await);
    let job = NewJob::now(remove_blob());
    queue.enqueue(&job).await.unwrap();
    let claimed = next_job(&queue, "w").await;
    assert_eq!(claimed.attempt, 1);

    let delay = Duration::from_millis(800);
    let retried_at = Instant::now();
    let run_at = Utc::now() + chrono::Duration::from_std(delay).unwrap();
    queue.retry(job.id, "w", run_at, "the store was busy").await.unwrap();
    assert_eq!(queue.claim("w", LEASE).await.unwrap(), None, "not before its time");
    assert_eq!(
        broker.ready(&broker.config.retry_queue()).await,
        1,
        "waiting in the retry queue"
    );
    assert_eq!(queue.stats().await.unwrap().queued, 1);

    let again = next_job(&queue, "w").await;
    assert!(
        retried_at.elapsed() >= delay - Duration::from_millis(50),
        "came back after {:?}",
        retried_at.elapsed()
    );
    assert_eq!((again.id, again.attempt), (job.id, 2));
    assert_eq!(again.job, job.job);
    queue.complete(job.id, "w").await.unwrap();

    // A retry already due goes straight back to the work queue.
    queue.enqueue(&NewJob::now(process_file())).await.unwrap();
    let next = next_job(&queue, "w").await;
    queue.retry(next.id, "w", Utc::now(), "again").await.unwrap();
    let back = next_job(&queue, "w").await;
    assert_eq!((back.id, back.attempt), (next.id, 2));
}

#[tokio::test]
async fn bury_puts_the_job_in_the_dead_letter_queue_with_its_error() {
    let Some(broker) = Broker::new().await else { return };
    let queue = AmqpQueue::new(broker.connect().await);
    let job = NewJob::now(process_file());
    queue.enqueue(&job).await.unwrap();
    let claimed = next_job(&queue, "w").await;
    queue
        .bury(claimed.id, "w", "the scanner refused the file")
        .await
        .unwrap();
    assert_eq!(queue.stats().await.unwrap().dead, 1);
    assert!(matches!(
        queue.complete(claimed.id, "w").await,
        Err(StoreError::NotFound)
    ));

    let channel = broker.channel().await;
    let dead = channel
        .basic_get(broker.config.dead_queue().as_str().into(), BasicGetOptions::default())
        .await
        .unwrap()
        .expect("a dead letter");
    assert_eq!(message_id(&dead), job.id.to_string());
    assert_eq!(
        string_header(&dead.properties, HEADER_ERROR).as_deref(),
        Some("the scanner refused the file")
    );
    assert!(string_header(&dead.properties, HEADER_DEAD_AT).is_some());
    assert_eq!(serde_json::from_slice::<Job>(&dead.data).unwrap(), job.job);

    // A message no worker can read is dead-lettered by RabbitMQ through the exchange.
    channel
        .basic_publish(
            "".into(),
            broker.config.jobs_queue().as_str().into(),
            BasicPublishOptions::default(),
            b"not a job",
            BasicProperties::default().with_message_id(JobId::new().to_string().into()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    eventually("the unreadable message in the dead-letter queue", || async {
        let _ = queue.claim("w", LEASE).await;
        (broker.ready(&broker.config.dead_queue()).await == 1).then_some(())
    })
    .await;
    assert_eq!(broker.ready(&broker.config.jobs_queue()).await, 0);
}

#[tokio::test]
async fn a_worker_that_dies_holding_a_job_loses_it_to_another_worker() {
    let Some(broker) = Broker::new().await else { return };
    let first = AmqpQueue::new(broker.connect().await);
    let job = NewJob::now(process_file());
    first.enqueue(&job).await.unwrap();
    let claimed = next_job(&first, "first").await;
    assert_eq!((claimed.id, claimed.attempt), (job.id, 1));

    let second = AmqpQueue::new(broker.connect().await);
    second.wait_for_work(Duration::from_millis(1)).await; // starts consuming
    // The first worker's process dies: its connection ends without an acknowledgement.
    first.connection().close().await;

    let taken_over = next_job(&second, "second").await;
    assert_eq!((taken_over.id, taken_over.attempt), (job.id, 2));
    assert_eq!(taken_over.job, job.job);
    second.complete(job.id, "second").await.unwrap();
    assert!(
        first.complete(job.id, "first").await.is_err(),
        "the dead worker's lease is gone"
    );
}

#[tokio::test]
async fn events_reach_subscribers_and_a_relay_that_crashed_before_completing_publishes_again() {
    let Some(mut broker) = Broker::new().await else { return };
    let mut subscriber = broker.observe("file.#").await;
    let (_dir, db) = database().await;
    let relay = Relay::new(db.clone(), broker.connect().await, RelaySettings::default());

    let events = [event("file.uploaded"), event("file.ready"), event("file.deleted")];
    for e in &events {
        db.enqueue(&NewJob::now(Job::PublishEvent { event: e.clone() }))
            .await
            .unwrap();
    }
    assert_eq!(relay.run_until_idle().await.unwrap(), 3);
    for sent in &events {
        let delivery = next_delivery(&mut subscriber).await;
        assert_eq!(delivery.routing_key.as_str(), sent.kind, "routing key = event type");
        assert_eq!(message_id(&delivery), sent.id.to_string(), "message_id = event id");
        assert_eq!(
            delivery.properties.content_type().as_ref().map(|c| c.as_str()),
            Some("application/json")
        );
        assert_eq!(delivery.properties.delivery_mode(), &Some(2), "persistent");
        assert_eq!(&serde_json::from_slice::<FileEvent>(&delivery.data).unwrap(), sent);
    }

    // A relay publishes an event, then dies before completing the outbox job.
    let last = event("file.ready");
    db.enqueue(&NewJob::now(Job::PublishEvent { event: last.clone() }))
        .await
        .unwrap();
    let crashed = db
        .claim("crashed-relay", Duration::from_millis(300))
        .await
        .unwrap()
        .unwrap();
    relay.publish(&crashed).await.unwrap();
    assert_eq!(message_id(&next_delivery(&mut subscriber).await), last.id.to_string());

    // Its lease ends, another relay publishes the event again: at least once, same id.
    let other = Relay::new(db.clone(), broker.connect().await, RelaySettings::default());
    eventually("the orphaned event relayed again", || async {
        (other.run_next().await.ok()? == 1).then_some(())
    })
    .await;
    let again = next_delivery(&mut subscriber).await;
    assert_eq!(
        message_id(&again),
        last.id.to_string(),
        "the consumer can drop it by id"
    );
    assert_eq!(db.stats().await.unwrap().queued, 0);

    // Workers can publish events too, with the same shape.
    let sink = AmqpEventSink::new(broker.connect().await);
    let from_worker = event("file.processing");
    sink.publish(&from_worker).await.unwrap();
    let delivery = next_delivery(&mut subscriber).await;
    assert_eq!(
        (delivery.routing_key.as_str(), message_id(&delivery)),
        ("file.processing", from_worker.id.to_string())
    );
}

#[tokio::test]
async fn a_worker_holds_at_most_prefetch_unacknowledged_jobs() {
    let Some(broker) = Broker::new().await else { return };
    let queue = AmqpQueue::new(
        AmqpConnection::connect(broker.config_with(|c| c.prefetch = 3))
            .await
            .unwrap(),
    );
    for _ in 0..10 {
        queue.enqueue(&NewJob::now(process_file())).await.unwrap();
    }
    let jobs = broker.config.jobs_queue();
    eventually("three deliveries in hand and seven left", || async {
        queue.wait_for_work(Duration::from_millis(50)).await;
        (queue.in_flight() == 3 && broker.ready(&jobs).await == 7).then_some(())
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(queue.claim("w", LEASE).await.unwrap().expect("a buffered job"));
    }
    assert_eq!(
        queue.claim("w", LEASE).await.unwrap(),
        None,
        "no fourth while three are unsettled"
    );
    assert_eq!(broker.ready(&jobs).await, 7);

    queue.complete(held[0].id, "w").await.unwrap();
    let fourth = next_job(&queue, "w").await;
    assert!(held.iter().all(|h| h.id != fourth.id));
    assert_eq!(broker.ready(&jobs).await, 6);
}

#[tokio::test]
async fn the_connection_comes_back_after_the_broker_closes_it() {
    let Some(broker) = Broker::new().await else { return };
    if broker_connection_pid("-").is_none() {
        eprintln!("note: rabbitmqctl is not usable here; the client-side drop test covers reconnection");
        return;
    }
    let conn = broker.connect().await;
    let queue = AmqpQueue::new(conn.clone());
    let job = NewJob::now(process_file());
    queue.enqueue(&job).await.unwrap();
    let claimed = next_job(&queue, "w").await;

    let pid = eventually("the connection listed by rabbitmqctl", || async {
        broker_connection_pid(&broker.config.connection_name).flatten()
    })
    .await;
    let closed = std::process::Command::new("rabbitmqctl")
        .args(["close_connection", &pid, "filegate test: forced close"])
        .output()
        .expect("rabbitmqctl runs");
    assert!(closed.status.success(), "{}", String::from_utf8_lossy(&closed.stderr));

    eventually("a reconnection", || async {
        (conn.reconnects() == 1 && conn.is_connected()).then_some(())
    })
    .await;
    assert!(matches!(
        queue.complete(claimed.id, "w").await,
        Err(StoreError::NotFound)
    ));
    let again = next_job(&queue, "w").await;
    assert_eq!((again.id, again.attempt), (job.id, 2));
    queue.complete(again.id, "w").await.unwrap();
    queue.enqueue(&NewJob::now(process_file())).await.unwrap();
    let after = next_job(&queue, "w").await;
    queue.complete(after.id, "w").await.unwrap();
}

/// The broker's pid for the connection named `name`: `None` when rabbitmqctl cannot run,
/// `Some(None)` when no such connection is listed.
fn broker_connection_pid(name: &str) -> Option<Option<String>> {
    let out = std::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "-q",
            "--no-table-headers",
            "pid",
            "client_properties",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let listing = String::from_utf8_lossy(&out.stdout);
    let quoted = format!("{{\"connection_name\",\"{name}\"}}");
    Some(
        listing
            .lines()
            .find(|line| line.contains(&quoted))
            .and_then(|line| line.split('\t').next())
            .map(str::to_owned),
    )
}

#[tokio::test]
async fn calls_fail_fast_while_the_broker_is_unreachable() {
    // Nothing listens on port 1: no broker needed for this one.
    let mut config = AmqpConfig::from_url("amqp://guest:guest@127.0.0.1:1/%2f?prefix=fgtest-unreachable").unwrap();
    config.connect_timeout = Duration::from_millis(300);
    assert!(AmqpConnection::connect(config.clone()).await.is_err());

    let conn = AmqpConnection::start(config);
    let queue = AmqpQueue::new(conn.clone());
    let started = Instant::now();
    assert!(matches!(
        queue.enqueue(&NewJob::now(process_file())).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(queue.claim("w", LEASE).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(queue.stats().await, Err(StoreError::Unavailable(_))));
    assert!(matches!(
        AmqpEventSink::new(conn.clone()).publish(&event("file.ready")).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(conn.ping().await, Err(StoreError::Unavailable(_))));

    // The relay leaves the outbox alone rather than claiming what it cannot publish.
    let (_dir, db) = database().await;
    db.enqueue(&NewJob::now(process_file())).await.unwrap();
    let relay = Relay::new(db.clone(), conn.clone(), RelaySettings::default());
    assert!(matches!(relay.run_next().await, Err(StoreError::Unavailable(_))));
    let outbox = db.stats().await.unwrap();
    assert_eq!((outbox.queued, outbox.running), (1, 0));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered without waiting on the broker"
    );
    conn.close().await;
}
