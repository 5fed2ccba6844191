//! `AmqpQueue`: the `JobQueue` workers consume from when RabbitMQ is configured.
//!
//! A consumer with manual acknowledgements and `basic.qos(prefetch)` buffers up to
//! `prefetch` deliveries; `claim` hands the next one out and keeps its delivery by job id
//! until the worker settles it. Each lane has its queue and its consumer, on a channel of
//! its own with its own prefetch (`prefetch`, `delivery_prefetch`): `claim_lane(Pipeline)`
//! never waits behind deliveries buffered for slow receivers. Within a lane RabbitMQ hands
//! out jobs in the order they were published (the relay publishes what it claims from the
//! database fairly across tenants, but a backlog already in the broker is first in, first
//! out). Settling:
//!
//! - `complete` acknowledges it.
//! - `retry(run_at)` publishes a copy with attempt + 1 to the retry queue, whose per-message
//!   TTL (`expiration`) returns it to the work queue at `run_at`; then acknowledges the
//!   original (publish first, confirmed: a crash in between runs the job twice, never zero
//!   times).
//! - `bury` publishes a copy with the error in `x-filegate-error` to the dead-letter exchange
//!   (routed to `<prefix>.jobs.dead`), then acknowledges. A copy rather than a
//!   `reject(requeue=false)`: RabbitMQ's own dead-lettering keeps no error text.
//! - `extend` succeeds while the delivery is held: the lease is the connection. When a
//!   worker's connection dies, RabbitMQ hands its unacknowledged deliveries to another
//!   consumer, and `x-delivery-count` counts that as an attempt. The `lease` arguments are
//!   therefore unused; a delivery held longer than the broker's `consumer_timeout` (30 min
//!   by default) makes RabbitMQ close the channel and hand it out again.
//!
//! Calls naming a delivery this process no longer holds (settled, or lost with its
//! connection) answer `NotFound`, as the database queue does for a lost lease.
//!
//! A lane's consumer starts with the first claim or wait for that lane (`claim` and
//! `wait_for_work` start both), so a process that only enqueues or reads `stats` (an
//! API-only gateway) never takes deliveries it would not run.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::JobId;
use filegate_core::ports::{ClaimedJob, Job, JobQueue, Lane, NewJob, QueueStats};
use futures::StreamExt as _;
use lapin::Acker;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use tokio::sync::{Notify, watch};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::config::{AmqpConfig, DLX_KEY_DEAD};
use crate::connection::{AmqpConnection, Session};
use crate::message::{HEADER_DEAD_AT, HEADER_ERROR, clip, decode_job, job_message, scheduled_job};

/// A delivery handed to a worker and not settled yet.
struct Held {
    worker: String,
    generation: u64,
    acker: Acker,
    job: Job,
    attempt: u32,
}

/// Where a lane's buffered deliveries and arrival notices are kept.
fn slot(lane: Lane) -> usize {
    match lane {
        Lane::Pipeline => 0,
        Lane::Delivery => 1,
    }
}

#[derive(Default)]
struct Deliveries {
    /// The session the buffered deliveries and ackers belong to.
    generation: u64,
    /// By lane ([`slot`]).
    ready: [VecDeque<Delivery>; 2],
    held: HashMap<JobId, Held>,
}

#[derive(Default)]
struct Buffer {
    deliveries: Mutex<Deliveries>,
    /// By lane ([`slot`]).
    arrived: [Notify; 2],
}

impl Buffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Deliveries> {
        self.deliveries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session (or none): what the old one delivered can no longer be acknowledged,
    /// and RabbitMQ hands it out again.
    fn reset(&self, generation: u64) {
        let mut d = self.lock();
        if d.generation != generation {
            d.generation = generation;
            d.ready.iter_mut().for_each(VecDeque::clear);
            d.held.clear();
        }
    }

    fn push(&self, generation: u64, lane: Lane, delivery: Delivery) {
        let mut d = self.lock();
        if d.generation == generation {
            d.ready[slot(lane)].push_back(delivery);
            drop(d);
            self.arrived[slot(lane)].notify_waiters();
        }
    }

    fn pop(&self, lane: Lane) -> Option<Delivery> {
        let mut d = self.lock();
        while let Some(delivery) = d.ready[slot(lane)].pop_front() {
            if delivery.acker.usable() {
                return Some(delivery);
            }
        }
        None
    }

    /// Takes the delivery `worker` holds for job `id` out of the book, to settle it.
    fn take(&self, id: JobId, worker: &str) -> Result<Held, StoreError> {
        let mut d = self.lock();
        let current = d.generation;
        match d.held.get(&id) {
            Some(h) if h.worker == worker && h.generation == current && h.acker.usable() => {}
            _ => return Err(StoreError::NotFound),
        }
        d.held.remove(&id).ok_or(StoreError::NotFound)
    }
}

/// The RabbitMQ job queue for workers. See the module documentation for the semantics.
pub struct AmqpQueue {
    connection: AmqpConnection,
    buffer: Arc<Buffer>,
    stop: CancellationToken,
    /// By lane ([`slot`]).
    consumers: [OnceLock<DropGuard>; 2],
}

impl std::fmt::Debug for AmqpQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpQueue")
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

impl AmqpQueue {
    pub fn new(connection: AmqpConnection) -> Self {
        Self {
            connection,
            buffer: Arc::new(Buffer::default()),
            stop: CancellationToken::new(),
            consumers: [OnceLock::new(), OnceLock::new()],
        }
    }

    pub fn connection(&self) -> &AmqpConnection {
        &self.connection
    }

    fn config(&self) -> &AmqpConfig {
        self.connection.config()
    }

    /// Starts `lane`'s consumer once; it follows the connection's sessions until we are
    /// dropped.
    fn consume(&self, lane: Lane) {
        self.consumers[slot(lane)].get_or_init(|| {
            let task = consume_loop(
                lane,
                self.connection.sessions(),
                self.config().clone(),
                self.buffer.clone(),
                self.stop.clone(),
            );
            tokio::spawn(task);
            self.stop.clone().drop_guard()
        });
    }

    /// Deliveries this process holds: buffered, plus handed to workers and not settled.
    pub fn in_flight(&self) -> usize {
        let d = self.buffer.lock();
        d.ready.iter().map(VecDeque::len).sum::<usize>() + d.held.len()
    }

    /// The next buffered delivery of `lane` that decodes to a job this process does not run
    /// already, held for `worker`.
    async fn take_next(&self, lane: Lane, worker: &str) -> Option<ClaimedJob> {
        while let Some(delivery) = self.buffer.pop(lane) {
            let claimed = match decode_job(&delivery) {
                Ok(claimed) => claimed,
                Err(why) => {
                    // No worker can run it: RabbitMQ dead-letters it to `<prefix>.jobs.dead`.
                    tracing::error!(reason = %why, "rejecting a message that is not a job");
                    let _ = delivery.acker.reject(BasicRejectOptions { requeue: false }).await;
                    continue;
                }
            };
            let duplicate = {
                let mut d = self.buffer.lock();
                if d.held.contains_key(&claimed.id) {
                    true
                } else {
                    let generation = d.generation;
                    d.held.insert(
                        claimed.id,
                        Held {
                            worker: worker.to_owned(),
                            generation,
                            acker: delivery.acker.clone(),
                            job: claimed.job.clone(),
                            attempt: claimed.attempt,
                        },
                    );
                    false
                }
            };
            if duplicate {
                // The outbox published it twice (at least once) and this process already
                // runs it: the copy is redundant.
                tracing::info!(job_id = %claimed.id, "dropping a duplicate of a job in progress");
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
                continue;
            }
            return Some(claimed);
        }
        None
    }

    /// Publishes a copy first, then acknowledges the original. When the copy cannot be
    /// published the original goes back to the queue now (not held until the connection
    /// ends), and the caller hears why.
    async fn replace(&self, held: Held, copy: crate::message::Outgoing) -> Result<(), StoreError> {
        if let Err(e) = self.connection.publish(&copy).await {
            let _ = held
                .acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await;
            return Err(e);
        }
        if !matches!(held.acker.ack(BasicAckOptions::default()).await, Ok(true)) {
            tracing::warn!("the original delivery could not be acknowledged; the job will run once more");
        }
        Ok(())
    }
}

#[async_trait]
impl JobQueue for AmqpQueue {
    async fn enqueue(&self, job: &NewJob) -> Result<(), StoreError> {
        let message = scheduled_job(self.config(), job.id, &job.job, 1, job.run_at, &[], job.job.kind())?;
        self.connection.publish(&message).await
    }

    async fn claim(&self, worker: &str, _lease: Duration) -> Result<Option<ClaimedJob>, StoreError> {
        Lane::ALL.into_iter().for_each(|lane| self.consume(lane));
        self.connection.session()?;
        for lane in Lane::ALL {
            if let Some(claimed) = self.take_next(lane, worker).await {
                return Ok(Some(claimed));
            }
        }
        Ok(None)
    }

    async fn claim_lane(
        &self,
        lane: Lane,
        worker: &str,
        _lease: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        self.consume(lane);
        self.connection.session()?;
        let mut claimed = Vec::new();
        while claimed.len() < max {
            match self.take_next(lane, worker).await {
                Some(job) => claimed.push(job),
                None => break,
            }
        }
        Ok(claimed)
    }

    async fn extend(&self, id: JobId, worker: &str, _lease: Duration) -> Result<(), StoreError> {
        let d = self.buffer.lock();
        match d.held.get(&id) {
            Some(h) if h.worker == worker && h.generation == d.generation && h.acker.usable() => Ok(()),
            _ => Err(StoreError::NotFound),
        }
    }

    async fn complete(&self, id: JobId, worker: &str) -> Result<(), StoreError> {
        let held = self.buffer.take(id, worker)?;
        match held.acker.ack(BasicAckOptions::default()).await {
            Ok(true) => Ok(()),
            // The channel went away meanwhile: RabbitMQ hands the job out again.
            Ok(false) | Err(_) => Err(StoreError::NotFound),
        }
    }

    async fn retry(&self, id: JobId, worker: &str, run_at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        let held = self.buffer.take(id, worker)?;
        let attempt = held.attempt.saturating_add(1);
        let copy = scheduled_job(
            self.config(),
            id,
            &held.job,
            attempt,
            run_at,
            &[(HEADER_ERROR, clip(error))],
            "retry",
        )?;
        self.replace(held, copy).await
    }

    async fn bury(&self, id: JobId, worker: &str, error: &str) -> Result<(), StoreError> {
        let held = self.buffer.take(id, worker)?;
        let headers = [(HEADER_ERROR, clip(error)), (HEADER_DEAD_AT, Utc::now().to_rfc3339())];
        let dlx = self.config().dead_letter_exchange();
        let copy = job_message(id, &held.job, held.attempt, &dlx, DLX_KEY_DEAD, &headers, "dead")?;
        self.replace(held, copy).await
    }

    /// `queued`: ready in the work, deliveries and retry queues; `running`: held by this process (the
    /// broker does not count other consumers' unacknowledged messages for us); `dead`:
    /// in the dead-letter queue.
    async fn stats(&self) -> Result<QueueStats, StoreError> {
        let config = self.config();
        let mut queues: Vec<String> = Lane::ALL
            .into_iter()
            .flat_map(|lane| [config.lane_queue(lane), config.lane_retry_queue(lane)])
            .collect();
        queues.push(config.dead_queue());
        let mut counts = self.connection.ready_counts(&queues).await?;
        let dead = counts.pop().unwrap_or_default();
        Ok(QueueStats {
            queued: counts.iter().sum(),
            running: self.in_flight() as u64,
            dead,
        })
    }

    async fn wait_for_work(&self, max: Duration) {
        Lane::ALL.into_iter().for_each(|lane| self.consume(lane));
        let [pipeline, delivery] = &self.buffer.arrived;
        let (pipeline, delivery) = (pipeline.notified(), delivery.notified());
        tokio::pin!(pipeline, delivery);
        pipeline.as_mut().enable();
        delivery.as_mut().enable();
        if self.buffer.lock().ready.iter().any(|ready| !ready.is_empty()) {
            return;
        }
        // Timing out is the normal way to return when nothing arrived.
        let _ = tokio::time::timeout(max, futures::future::select(pipeline, delivery)).await;
    }

    async fn wait_for_lane(&self, lane: Lane, max: Duration) {
        self.consume(lane);
        let arrived = self.buffer.arrived[slot(lane)].notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        if !self.buffer.lock().ready[slot(lane)].is_empty() {
            return;
        }
        // Timing out is the normal way to return when nothing arrived.
        let _ = tokio::time::timeout(max, arrived).await;
    }
}

enum ConsumerEnded {
    Stopped,
    SessionChanged,
    Failed(String),
}

async fn consume_loop(
    lane: Lane,
    mut sessions: watch::Receiver<Option<Arc<Session>>>,
    config: AmqpConfig,
    buffer: Arc<Buffer>,
    stop: CancellationToken,
) {
    loop {
        let session = sessions.borrow_and_update().clone();
        buffer.reset(session.as_ref().map_or(0, |s| s.generation));
        if let Some(session) = session {
            match consume_session(lane, &session, &config, &buffer, &stop, &mut sessions).await {
                ConsumerEnded::Stopped => return,
                ConsumerEnded::SessionChanged => continue,
                ConsumerEnded::Failed(why) => session.mark_broken(why),
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            changed = sessions.changed() => if changed.is_err() { return },
        }
    }
}

async fn consume_session(
    lane: Lane,
    session: &Session,
    config: &AmqpConfig,
    buffer: &Buffer,
    stop: &CancellationToken,
    sessions: &mut watch::Receiver<Option<Arc<Session>>>,
) -> ConsumerEnded {
    let (queue, prefetch) = (config.lane_queue(lane), config.lane_prefetch(lane));
    let started = async {
        let channel = session.connection.create_channel().await?;
        channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok::<_, lapin::Error>((channel, consumer))
    };
    let (channel, mut consumer) = match started.await {
        Ok(started) => started,
        Err(e) => return ConsumerEnded::Failed(format!("could not start consuming {queue}: {e}")),
    };
    tracing::debug!(queue = %queue, prefetch, "consuming");
    loop {
        tokio::select! {
            () = stop.cancelled() => {
                // Whatever is buffered or held goes back to the queue with the channel.
                let _ = tokio::time::timeout(Duration::from_secs(2), channel.close(200, "OK".into())).await;
                return ConsumerEnded::Stopped;
            }
            changed = sessions.changed() => {
                return if changed.is_err() { ConsumerEnded::Stopped } else { ConsumerEnded::SessionChanged };
            }
            delivery = consumer.next() => match delivery {
                Some(Ok(delivery)) => buffer.push(session.generation, lane, delivery),
                Some(Err(e)) => return ConsumerEnded::Failed(format!("the consumer failed: {e}")),
                None => return ConsumerEnded::Failed("the broker cancelled the consumer".to_owned()),
            },
        }
    }
}
