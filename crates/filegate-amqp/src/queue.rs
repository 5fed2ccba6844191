//! `AmqpQueue`: the `JobQueue` workers consume from when RabbitMQ is configured.
//!
//! A consumer with manual acknowledgements and `basic.qos(prefetch)` buffers up to
//! `prefetch` deliveries; `claim` hands the next one out and keeps its delivery by job id
//! until the worker settles it:
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
//! The consumer starts with the first `claim` or `wait_for_work`, so a process that only
//! enqueues or reads `stats` (an API-only gateway) never takes deliveries it would not run.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::JobId;
use filegate_core::ports::{ClaimedJob, Job, JobQueue, NewJob, QueueStats};
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

#[derive(Default)]
struct Deliveries {
    /// The session the buffered deliveries and ackers belong to.
    generation: u64,
    ready: VecDeque<Delivery>,
    held: HashMap<JobId, Held>,
}

#[derive(Default)]
struct Buffer {
    deliveries: Mutex<Deliveries>,
    arrived: Notify,
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
            d.ready.clear();
            d.held.clear();
        }
    }

    fn push(&self, generation: u64, delivery: Delivery) {
        let mut d = self.lock();
        if d.generation == generation {
            d.ready.push_back(delivery);
            drop(d);
            self.arrived.notify_waiters();
        }
    }

    fn pop(&self) -> Option<Delivery> {
        let mut d = self.lock();
        while let Some(delivery) = d.ready.pop_front() {
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
    consumer: OnceLock<DropGuard>,
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
            consumer: OnceLock::new(),
        }
    }

    pub fn connection(&self) -> &AmqpConnection {
        &self.connection
    }

    fn config(&self) -> &AmqpConfig {
        self.connection.config()
    }

    /// Starts the consumer once; it follows the connection's sessions until we are dropped.
    fn consume(&self) {
        self.consumer.get_or_init(|| {
            let task = consume_loop(
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
        d.ready.len() + d.held.len()
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
        self.consume();
        self.connection.session()?;
        while let Some(delivery) = self.buffer.pop() {
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
            return Ok(Some(claimed));
        }
        Ok(None)
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

    /// `queued`: ready in the work and retry queues; `running`: held by this process (the
    /// broker does not count other consumers' unacknowledged messages for us); `dead`:
    /// in the dead-letter queue.
    async fn stats(&self) -> Result<QueueStats, StoreError> {
        let config = self.config();
        let counts = self
            .connection
            .ready_counts(&[config.jobs_queue(), config.retry_queue(), config.dead_queue()])
            .await?;
        Ok(QueueStats {
            queued: counts[0] + counts[1],
            running: self.in_flight() as u64,
            dead: counts[2],
        })
    }

    async fn wait_for_work(&self, max: Duration) {
        self.consume();
        let arrived = self.buffer.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        if !self.buffer.lock().ready.is_empty() {
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
    mut sessions: watch::Receiver<Option<Arc<Session>>>,
    config: AmqpConfig,
    buffer: Arc<Buffer>,
    stop: CancellationToken,
) {
    loop {
        let session = sessions.borrow_and_update().clone();
        buffer.reset(session.as_ref().map_or(0, |s| s.generation));
        if let Some(session) = session {
            match consume_session(&session, &config, &buffer, &stop, &mut sessions).await {
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
    session: &Session,
    config: &AmqpConfig,
    buffer: &Buffer,
    stop: &CancellationToken,
    sessions: &mut watch::Receiver<Option<Arc<Session>>>,
) -> ConsumerEnded {
    let started = async {
        let channel = session.connection.create_channel().await?;
        channel.basic_qos(config.prefetch, BasicQosOptions::default()).await?;
        let consumer = channel
            .basic_consume(
                config.jobs_queue().as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok::<_, lapin::Error>((channel, consumer))
    };
    let (channel, mut consumer) = match started.await {
        Ok(started) => started,
        Err(e) => return ConsumerEnded::Failed(format!("could not start consuming {}: {e}", config.jobs_queue())),
    };
    tracing::debug!(queue = %config.jobs_queue(), prefetch = config.prefetch, "consuming");
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
                Some(Ok(delivery)) => buffer.push(session.generation, delivery),
                Some(Err(e)) => return ConsumerEnded::Failed(format!("the consumer failed: {e}")),
                None => return ConsumerEnded::Failed("the broker cancelled the consumer".to_owned()),
            },
        }
    }
}
