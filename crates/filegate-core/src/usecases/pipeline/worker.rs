//! The worker: claims jobs under a lease, runs them, and records each outcome (done, retry
//! later with backoff, or dead letter). `run` keeps several jobs in flight until shutdown
//! (see `dispatch`) and lets the jobs in hand finish; `run_next` and `run_until_idle` drive
//! the queue one job at a time, deterministically, for tests and one-shot tools.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::dispatch::{self, Completion};
use super::process::{mark_failed, process_file};
use super::remove::{Removal, remove_blob};
use super::{StageError, archive, notify, sweep};
use crate::domain::JobId;
use crate::error::StoreError;
use crate::ports::{ClaimedJob, Clock as _, Job, SystemClock, holding_leases};
use crate::usecases::Services;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// Pipeline jobs (files, bundles, announcements) run at the same time by one process.
    pub concurrency: usize,
    /// Delivery jobs (webhooks, emails, trigger calls) run at the same time by one process,
    /// in slots of their own: a receiver that holds every call for its whole timeout takes
    /// these slots, never the ones files are processed in.
    pub delivery_concurrency: usize,
    /// How long a claim lasts without a heartbeat; a dead worker's job is claimed again after.
    pub lease: Duration,
    /// Runs of one job before it becomes a dead letter.
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long an idle worker waits before looking again (an enqueue wakes it earlier).
    pub idle_wait: Duration,
    /// How often expired uploads and ended retentions are swept.
    pub sweep_interval: Duration,
}

/// What happened to a claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Completed,
    Retried { attempt: u32, error: String },
    Dead { error: String },
}

impl JobOutcome {
    fn label(&self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Retried { .. } => "retried",
            Self::Dead { .. } => "dead",
        }
    }
}

#[derive(Clone)]
pub struct Worker {
    services: Services,
    settings: WorkerSettings,
    id: String,
}

impl Worker {
    pub fn new(services: Services, settings: WorkerSettings) -> Self {
        let id = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        Self { services, settings, id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn settings(&self) -> &WorkerSettings {
        &self.settings
    }

    pub(super) fn services(&self) -> &Services {
        &self.services
    }

    /// Claims and runs one job; `None` when nothing is due.
    pub async fn run_next(&self) -> Result<Option<JobOutcome>, StoreError> {
        let Some(claimed) = self.services.queue.claim(&self.id, self.settings.lease).await? else {
            return Ok(None);
        };
        self.run_claimed(claimed, Completion::Now).await.map(Some)
    }

    /// Runs a claimed job and settles it: done, retried later, or a dead letter.
    pub(super) async fn run_claimed(
        &self,
        claimed: ClaimedJob,
        completion: Completion<'_>,
    ) -> Result<JobOutcome, StoreError> {
        let span =
            tracing::info_span!("job", job_id = %claimed.id, kind = claimed.job.kind(), attempt = claimed.attempt);
        let outcome = async {
            let result = self.run_with_heartbeat(&claimed).await;
            self.settle(&claimed, result, completion).await
        }
        .instrument(span)
        .await?;
        metrics::counter!("filegate_jobs_total", "kind" => claimed.job.kind(), "outcome" => outcome.label())
            .increment(1);
        Ok(outcome)
    }

    /// Runs jobs until none is due. For tests and one-shot tools.
    pub async fn run_until_idle(&self) -> Result<usize, StoreError> {
        let mut ran = 0;
        while self.run_next().await?.is_some() {
            ran += 1;
        }
        Ok(ran)
    }

    /// Runs up to `concurrency` jobs at a time, and the sweeper, until `shutdown` fires; the
    /// jobs in hand finish first (the caller bounds how long it waits for that).
    pub async fn run(self, shutdown: CancellationToken) {
        let sweeper = self.clone();
        let stop = shutdown.clone();
        let sweeping = tokio::spawn(async move { sweeper.sweep_loop(stop).await });
        dispatch::run(&self, &shutdown).await;
        if let Err(e) = sweeping.await {
            tracing::error!(error = %e, "the sweeper failed");
        }
        tracing::info!(worker = %self.id, "worker stopped");
    }

    async fn sweep_loop(&self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.settings.sweep_interval);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    if let Err(e) = sweep(&self.services, self.services.clock.now(), 500).await {
                        tracing::warn!(error = %e, "sweep failed");
                    }
                }
            }
        }
    }

    /// Runs the job while renewing its lease, so a long job is not claimed by another worker.
    async fn run_with_heartbeat(&self, claimed: &ClaimedJob) -> Result<(), StageError> {
        let queue = self.services.queue.as_ref();
        holding_leases(
            queue,
            &[claimed.id],
            &self.id,
            self.settings.lease,
            self.execute(claimed),
        )
        .await
    }

    async fn execute(&self, claimed: &ClaimedJob) -> Result<(), StageError> {
        match &claimed.job {
            Job::ProcessFile { tenant, file_id } => process_file(&self.services, tenant, *file_id).await,
            Job::RemoveBlob {
                tenant,
                file_id,
                blob_key,
                multipart_upload_id,
                appending,
                thumbnail_sizes,
            } => {
                let removal = Removal {
                    tenant,
                    file_id: *file_id,
                    blob_key,
                    multipart_upload_id: multipart_upload_id.as_deref(),
                    appending: *appending,
                    thumbnail_sizes,
                };
                remove_blob(&self.services, removal).await
            }
            Job::PublishEvent { event } => {
                // Webhooks and alert emails first: a failed publish retries the whole job,
                // and the fan-out is idempotent.
                notify::fan_out(&self.services, event).await?;
                Ok(self.services.events.publish(event).await?)
            }
            Job::DeliverWebhook { webhook_id, event } => {
                notify::deliver_webhook(&self.services, *webhook_id, event, claimed.attempt).await
            }
            Job::SendAlertEmail { event } => notify::send_alert_email(&self.services, event).await,
            Job::FulfilRequest {
                tenant,
                request_id,
                file_id,
            } => crate::usecases::requests::fulfil(&self.services, tenant, *request_id, *file_id).await,
            Job::SendShareEmail {
                tenant,
                share_id,
                sealed_token,
            } => crate::usecases::shares::send_email(&self.services, tenant, *share_id, sealed_token).await,
            Job::BuildArchive { tenant, archive_id } => archive::build(&self.services, tenant, *archive_id).await,
            Job::CallTrigger { call } => crate::usecases::triggers::run(&self.services, call, claimed.attempt).await,
            Job::IndexFile { tenant, file_id } => {
                Ok(crate::usecases::search::index_file(&self.services, tenant, *file_id).await?)
            }
        }
    }

    async fn settle(
        &self,
        claimed: &ClaimedJob,
        result: Result<(), StageError>,
        completion: Completion<'_>,
    ) -> Result<JobOutcome, StoreError> {
        let queue = &self.services.queue;
        let error = match result {
            Ok(()) => {
                let batched = match completion {
                    Completion::Batched(batcher) => batcher.send(claimed.id).await.is_ok(),
                    Completion::Now => false,
                };
                if !batched {
                    self.release(claimed.id, queue.complete(claimed.id, &self.id).await)?;
                }
                return Ok(JobOutcome::Completed);
            }
            Err(StageError::Fail(reason)) => return self.give_up(claimed, reason).await,
            Err(StageError::Retry(e)) => format!("{e:#}"),
        };
        if claimed.attempt >= self.settings.max_attempts {
            return self
                .give_up(claimed, format!("gave up after {} attempts: {error}", claimed.attempt))
                .await;
        }
        let delay = backoff(self.settings.backoff_base, self.settings.backoff_max, claimed.attempt);
        // The queue's time, not the use cases' clock (see `NewJob::now`).
        let run_at = SystemClock.now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        tracing::warn!(error = %error, retry_in = ?delay, "job failed; will retry");
        self.release(claimed.id, queue.retry(claimed.id, &self.id, run_at, &error).await)?;
        Ok(JobOutcome::Retried {
            attempt: claimed.attempt,
            error,
        })
    }

    async fn give_up(&self, claimed: &ClaimedJob, reason: String) -> Result<JobOutcome, StoreError> {
        tracing::error!(reason = %reason, "job failed for good");
        // The file first: if we die before burying the job, it runs again and fails again.
        if let Job::ProcessFile { tenant, file_id } = &claimed.job {
            mark_failed(&self.services, tenant, *file_id, &reason).await?;
        }
        if let Job::BuildArchive { tenant, archive_id } = &claimed.job {
            archive::give_up(&self.services, tenant, *archive_id, &reason).await?;
        }
        if let Job::CallTrigger { call } = &claimed.job {
            crate::usecases::triggers::gave_up(&self.services, call, &reason).await;
        }
        self.release(
            claimed.id,
            self.services.queue.bury(claimed.id, &self.id, &reason).await,
        )?;
        Ok(JobOutcome::Dead { error: reason })
    }

    /// Losing the lease meanwhile (another worker took the job over) is not an error here.
    fn release(&self, id: JobId, result: Result<(), StoreError>) -> Result<(), StoreError> {
        match result {
            Err(StoreError::NotFound) => {
                tracing::warn!(job_id = %id, "lease lost before the job was settled");
                Ok(())
            }
            other => other,
        }
    }
}

/// `base * 2^(attempt-1)`, capped.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(2), s(300), 1), s(2));
        assert_eq!(backoff(s(2), s(300), 2), s(4));
        assert_eq!(backoff(s(2), s(300), 5), s(32));
        assert_eq!(backoff(s(2), s(300), 50), s(300));
    }
}
