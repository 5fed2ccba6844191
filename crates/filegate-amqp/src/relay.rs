//! `Relay`: moves jobs from the database outbox to RabbitMQ.
//!
//! Use cases write a state change and the jobs it causes in one database transaction, so
//! the database's job queue is the transactional outbox. The relay claims those jobs (under
//! the database's lease, so relays in several processes never relay the same job at once),
//! publishes each with a publisher confirm, and only then completes it in the database:
//!
//! - pipeline jobs (`ProcessFile`, `RemoveBlob`, …) go to the work queue `<prefix>.jobs`,
//!   delivery jobs (`DeliverWebhook`, emails, trigger calls) to `<prefix>.deliveries`,
//!   attempt 1;
//! - `PublishEvent` goes straight to the events exchange (routing key = event type,
//!   `message_id` = event id), unless [`EventRoute::Workers`] sends it through the workers'
//!   `EventSink` instead (when webhooks must see events too).
//!
//! The relay renews its leases while it publishes, so the lease can be short. A relay that
//! dies between the confirm and the completion leaves the job leased; when the lease ends
//! another relay publishes it again: at least once. Consumers drop duplicates by
//! `message_id` (the job or event id). A publish that fails is retried with backoff; the
//! relay never buries a job, since a broker that is away is no reason to give up.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use filegate_core::StoreError;
use filegate_core::domain::JobId;
use filegate_core::ports::{ClaimedJob, Job, JobQueue, holding_leases};
use tokio_util::sync::CancellationToken;

use crate::connection::{AmqpConnection, backoff};
use crate::message::{Outgoing, event_message, job_message};

/// Where the relay sends `PublishEvent` jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EventRoute {
    /// Straight to the events exchange (the default).
    #[default]
    Exchange,
    /// To the work queue, like other jobs: workers deliver them through their `EventSink`.
    Workers,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaySettings {
    /// The database lease on a job being relayed, renewed while the relay publishes it: how
    /// long the jobs of a relay that died wait before another relay takes them over.
    pub lease: Duration,
    /// Jobs claimed, published and confirmed together in one step.
    pub batch: usize,
    /// How long an idle relay waits before looking again (an enqueue in this process, or
    /// the database's notifications, wake it earlier).
    pub idle_wait: Duration,
    /// Delay before a job whose publish failed is tried again; doubles up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub events: EventRoute,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(10),
            batch: 100,
            idle_wait: Duration::from_secs(1),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            events: EventRoute::Exchange,
        }
    }
}

pub struct Relay {
    outbox: Arc<dyn JobQueue>,
    broker: AmqpConnection,
    settings: RelaySettings,
    id: String,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("id", &self.id)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// `outbox` is the database's job queue (any engine).
    pub fn new(outbox: Arc<dyn JobQueue>, broker: AmqpConnection, settings: RelaySettings) -> Self {
        let id = format!("relay-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        Self {
            outbox,
            broker,
            settings,
            id,
        }
    }

    /// The name this relay claims database jobs under.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The message a job becomes.
    fn message(&self, claimed: &ClaimedJob) -> Result<Outgoing, StoreError> {
        let config = self.broker.config();
        match (&claimed.job, self.settings.events) {
            (Job::PublishEvent { event }, EventRoute::Exchange) => event_message(event, &config.events_exchange),
            (job, _) => job_message(claimed.id, job, 1, "", &config.lane_queue(job.lane()), &[], job.kind()),
        }
    }

    /// Publishes one claimed job and waits for the broker's confirm; does not touch the
    /// database. Half of `run_next`, public so tests can stop a relay in between.
    pub async fn publish(&self, claimed: &ClaimedJob) -> Result<(), StoreError> {
        self.broker.publish(&self.message(claimed)?).await
    }

    /// Claims up to `batch` due jobs from the outbox, publishes them (confirms awaited
    /// together), completes the confirmed ones and reschedules the others. Returns how many
    /// jobs it claimed: 0 when the outbox had nothing due. Fails without claiming anything
    /// while the broker is unreachable.
    pub async fn run_next(&self) -> Result<usize, StoreError> {
        self.broker.ping().await?;
        let (lease, batch) = (self.settings.lease, self.settings.batch.max(1));
        let claimed = self.outbox.claim_batch(&self.id, lease, batch).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let ids: Vec<JobId> = claimed.iter().map(|job| job.id).collect();
        holding_leases(self.outbox.as_ref(), &ids, &self.id, lease, self.relay(&claimed)).await;
        Ok(claimed.len())
    }

    /// Publishes the claimed jobs (confirms awaited together), completes the confirmed ones
    /// (one statement for all of them) and reschedules the others.
    async fn relay(&self, claimed: &[ClaimedJob]) {
        let published = futures::future::join_all(claimed.iter().map(|job| self.publish(job))).await;
        let mut confirmed = Vec::with_capacity(claimed.len());
        for (job, result) in claimed.iter().zip(published) {
            match result {
                Ok(()) => confirmed.push(job.id),
                Err(e) => {
                    let delay = backoff(self.settings.backoff_base, self.settings.backoff_max, job.attempt);
                    let run_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                    tracing::warn!(job_id = %job.id, kind = job.job.kind(), error = %e, retry_in = ?delay, "relay publish failed");
                    match self.outbox.retry(job.id, &self.id, run_at, &e.to_string()).await {
                        Ok(()) => {}
                        // Another relay took the job over (our lease ran out): it publishes it again.
                        Err(StoreError::NotFound) => {
                            tracing::warn!(job_id = %job.id, "outbox lease lost while relaying")
                        }
                        Err(e) => tracing::warn!(job_id = %job.id, error = %e, "could not reschedule a relayed job"),
                    }
                }
            }
        }
        // A job whose lease ran out meanwhile is skipped (another relay publishes it again);
        // if the statement fails, the leases end and the jobs are relayed again: a
        // duplicate, never a loss.
        if let Err(e) = self.outbox.complete_batch(&confirmed, &self.id).await {
            tracing::warn!(jobs = confirmed.len(), error = %e, "could not settle relayed jobs");
        }
    }

    /// Relays until the outbox has nothing due. For tests and one-shot tools.
    pub async fn run_until_idle(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            match self.run_next().await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    /// Relays until `shutdown`; the batch in hand finishes first. Waits for the broker while
    /// it is away and backs off while the database is.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            if !self.broker.is_connected() {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = self.broker.wait_connected(self.settings.backoff_max) => continue,
                }
            }
            match self.run_next().await {
                Ok(0) => {
                    failures = 0;
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        () = self.outbox.wait_for_work(self.settings.idle_wait) => {}
                    }
                }
                Ok(_) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, "outbox relay step failed");
                    let wait = backoff(self.settings.backoff_base, self.settings.backoff_max, failures);
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
        tracing::info!(relay = %self.id, "outbox relay stopped");
    }
}
