//! The outbox relay: database jobs to the broker, at least once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use filegate_amqp::{AmqpEventSink, AmqpQueue, Relay, RelaySettings};
use filegate_core::StoreError;
use filegate_core::domain::{FileEvent, JobId};
use filegate_core::ports::{ClaimedJob, EventSink, Job, JobQueue, Lane, NewJob, QueueStats};
use filegate_sql::SqliteStore;
use lapin::options::QueueDeleteOptions;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::support::*;

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

/// The outbox, with its `complete` held at a gate: a relay that reaches it is stuck in the
/// middle of a batch for as long as the test wants, like one waiting on a slow broker.
struct GatedOutbox {
    db: Arc<SqliteStore>,
    reached: Notify,
    gate: Semaphore,
}

#[async_trait]
impl JobQueue for GatedOutbox {
    async fn enqueue(&self, job: &NewJob) -> Result<(), StoreError> {
        self.db.enqueue(job).await
    }
    async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<ClaimedJob>, StoreError> {
        self.db.claim(worker, lease).await
    }
    async fn claim_lane(
        &self,
        lane: Lane,
        worker: &str,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        self.db.claim_lane(lane, worker, lease, max).await
    }
    async fn extend(&self, id: JobId, worker: &str, lease: Duration) -> Result<(), StoreError> {
        self.db.extend(id, worker, lease).await
    }
    async fn complete(&self, id: JobId, worker: &str) -> Result<(), StoreError> {
        self.reached.notify_one();
        self.gate.acquire().await.expect("the gate stays open").forget();
        self.db.complete(id, worker).await
    }
    async fn retry(&self, id: JobId, worker: &str, run_at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        self.db.retry(id, worker, run_at, error).await
    }
    async fn bury(&self, id: JobId, worker: &str, error: &str) -> Result<(), StoreError> {
        self.db.bury(id, worker, error).await
    }
    async fn stats(&self) -> Result<QueueStats, StoreError> {
        self.db.stats().await
    }
    async fn wait_for_work(&self, max: Duration) {
        self.db.wait_for_work(max).await;
    }
}

#[tokio::test]
async fn a_relay_slower_than_its_lease_keeps_its_jobs_and_each_goes_out_once() {
    let Some(broker) = Broker::new().await else { return };
    let (_dir, db) = database().await;
    let lease = Duration::from_secs(1);
    let settings = RelaySettings {
        lease,
        ..RelaySettings::default()
    };
    let outbox = Arc::new(GatedOutbox {
        db: db.clone(),
        reached: Notify::new(),
        gate: Semaphore::new(0),
    });
    let slow = Relay::new(outbox.clone(), broker.connect().await, settings.clone());
    let other = Relay::new(db.clone(), broker.connect().await, settings);
    let jobs: Vec<NewJob> = (0..3).map(|_| NewJob::now(process_file())).collect();
    for job in &jobs {
        db.enqueue(job).await.unwrap();
    }

    // The slow relay claims all three, publishes them, and is held before completing any.
    let relaying = tokio::spawn(async move { slow.run_next().await });
    tokio::time::timeout(WAIT, outbox.reached.notified())
        .await
        .expect("the relay reaches the outbox's completion");

    // Three leases go by: it renews its leases, so the other relay finds nothing to take.
    let held_until = Instant::now() + 3 * lease;
    while Instant::now() < held_until {
        assert_eq!(other.run_next().await.unwrap(), 0, "a held job was taken over");
        db.wait_for_work(lease / 10).await;
    }

    outbox.gate.add_permits(jobs.len());
    let relayed = tokio::time::timeout(WAIT, relaying).await.expect("the relay finishes");
    assert_eq!(relayed.unwrap().unwrap(), 3);
    assert_eq!(db.stats().await.unwrap(), QueueStats::default(), "the outbox is empty");

    // Each job reached the work queue exactly once.
    let worker = AmqpQueue::new(broker.connect().await);
    let mut seen = BTreeSet::new();
    for _ in &jobs {
        let claimed = next_job(&worker, "w").await;
        assert!(seen.insert(claimed.id), "{} published twice", claimed.id);
        worker.complete(claimed.id, "w").await.unwrap();
    }
    let expected: BTreeSet<JobId> = jobs.iter().map(|job| job.id).collect();
    assert_eq!(seen, expected);
    assert_eq!(worker.claim("w", LEASE).await.unwrap(), None, "no duplicate in hand");
    assert_eq!(
        broker.ready(&broker.config.jobs_queue()).await,
        0,
        "no duplicate queued"
    );
}
