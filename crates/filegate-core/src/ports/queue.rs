//! `JobQueue`: durable, at-least-once work with leases, retries and dead letters.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{ArchiveId, FileEvent, FileId, JobId, RequestId, ShareId, TenantId, TriggerCall, WebhookId};
use crate::error::StoreError;
use crate::ports::{Clock as _, SystemClock};

/// Every kind of background work, typed. Stored as JSON with a `kind` tag; a field added
/// later must be optional (`#[serde(default)]`) so jobs already queued still decode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Run the bucket's pipeline over an uploaded file.
    ProcessFile { tenant: TenantId, file_id: FileId },
    /// A file was aborted, expired or its retention ended: remove the parts of its
    /// unfinished multipart upload, and its bytes and thumbnails unless another file still
    /// uses the blob (dedup; see `pipeline::remove`).
    RemoveBlob {
        tenant: TenantId,
        file_id: FileId,
        blob_key: String,
        #[serde(default)]
        multipart_upload_id: Option<String>,
        /// The upload is a tus upload (`BlobStore::abort_append` frees it).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        appending: bool,
        /// The thumbnail sizes the file recorded (`thumbnail_key(blob_key, size)`).
        #[serde(default)]
        thumbnail_sizes: Vec<u32>,
    },
    /// Deliver an event to the subscribers (the broker's event exchange, webhooks).
    PublishEvent { event: FileEvent },
    /// POST one event to one webhook subscription of its tenant (signed, recorded).
    DeliverWebhook { webhook_id: WebhookId, event: FileEvent },
    /// Email an alert (`alert.*`, `file.quarantined`) to the tenant's and the platform's
    /// alert recipients.
    SendAlertEmail { event: FileEvent },
    /// Mark a file request fulfilled by a file that became `ready` (and announce it).
    FulfilRequest {
        tenant: TenantId,
        request_id: RequestId,
        file_id: FileId,
    },
    /// Email a share link to its recipient. The token travels sealed (AES-256-GCM under a
    /// key of the deployment): a queued or dead job does not reveal the link.
    SendShareEmail {
        tenant: TenantId,
        share_id: ShareId,
        /// base64 of the sealed token (`usecases::shares::seal_context`).
        sealed_token: String,
    },
    /// Zip the files of a pending archive into storage and mark it ready.
    BuildArchive { tenant: TenantId, archive_id: ArchiveId },
    /// Call a trigger's target (async mode), retrying until it answers 2xx.
    CallTrigger { call: TriggerCall },
    /// Bring the file's search index entry up to date with the database: written when it
    /// is searchable, removed when it is not (any more). Enqueued with each change that
    /// affects it, so the index follows the database through the outbox.
    IndexFile { tenant: TenantId, file_id: FileId },
}

/// Which slots a job runs in. A worker keeps separate slots for each lane
/// (`WorkerSettings::concurrency` and `delivery_concurrency`), so calls to the outside that
/// may wait for their whole timeout (a webhook receiver that never answers, an SMTP server,
/// a trigger's target) never hold back the files and bundles of any tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Work on stored files and bundles, and the announcements it causes.
    Pipeline,
    /// Calls to receivers outside filegate: webhooks, emails, trigger calls.
    Delivery,
}

impl Lane {
    pub const ALL: [Lane; 2] = [Lane::Pipeline, Lane::Delivery];

    /// The name queues store and log.
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Pipeline => "pipeline",
            Lane::Delivery => "delivery",
        }
    }
}

impl Job {
    /// The slots this job runs in.
    pub fn lane(&self) -> Lane {
        match self {
            Job::ProcessFile { .. }
            | Job::RemoveBlob { .. }
            | Job::PublishEvent { .. }
            | Job::FulfilRequest { .. }
            | Job::BuildArchive { .. }
            | Job::IndexFile { .. } => Lane::Pipeline,
            Job::DeliverWebhook { .. }
            | Job::SendAlertEmail { .. }
            | Job::SendShareEmail { .. }
            | Job::CallTrigger { .. } => Lane::Delivery,
        }
    }

    /// The tenant whose work this is, which queues share their slots fairly between;
    /// `None` for the platform's own work (a trigger called without a tenant).
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            Job::ProcessFile { tenant, .. }
            | Job::RemoveBlob { tenant, .. }
            | Job::FulfilRequest { tenant, .. }
            | Job::SendShareEmail { tenant, .. }
            | Job::BuildArchive { tenant, .. }
            | Job::IndexFile { tenant, .. } => Some(tenant),
            Job::PublishEvent { event } | Job::DeliverWebhook { event, .. } | Job::SendAlertEmail { event } => {
                Some(&event.tenant)
            }
            Job::CallTrigger { call } => call.tenant.as_ref(),
        }
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::ProcessFile { .. } => "process_file",
            Job::RemoveBlob { .. } => "remove_blob",
            Job::PublishEvent { .. } => "publish_event",
            Job::DeliverWebhook { .. } => "deliver_webhook",
            Job::SendAlertEmail { .. } => "send_alert_email",
            Job::FulfilRequest { .. } => "fulfil_request",
            Job::SendShareEmail { .. } => "send_share_email",
            Job::BuildArchive { .. } => "build_archive",
            Job::CallTrigger { .. } => "call_trigger",
            Job::IndexFile { .. } => "index_file",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub id: JobId,
    pub job: Job,
    /// Not claimable before this time.
    pub run_at: DateTime<Utc>,
}

impl NewJob {
    /// A job claimable at once. Dated by the system's clock, not the use cases' `Clock`:
    /// `run_at` is the queue's time, which the queues compare with their own clock (the
    /// system's, or the database's), so a test that moves the use cases' clock ahead (or a
    /// sweep run for a later `now`) still gets its work done now.
    pub fn now(job: Job) -> Self {
        Self {
            id: JobId::new(),
            job,
            run_at: SystemClock.now(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: JobId,
    pub job: Job,
    /// 1 on the first run; counts claims, including ones whose worker died.
    pub attempt: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Waiting to run (including retries not yet due).
    pub queued: u64,
    /// Claimed under a live lease.
    pub running: u64,
    pub dead: u64,
}

/// A job is claimed under a lease owned by one worker. A worker that dies stops renewing
/// its lease, and the job becomes claimable again when the lease ends. Calls that name a job
/// and a worker answer `NotFound` when that worker no longer holds the lease.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    async fn enqueue(&self, job: &NewJob) -> Result<(), StoreError>;
    /// A due job of any lane not under a live lease (in the order of
    /// [`claim_lane`](Self::claim_lane)), leased to `worker` for `lease`, with its attempt
    /// count incremented; `None` when nothing is due.
    async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<ClaimedJob>, StoreError>;
    /// Up to `max` due jobs of any lane, each claimed as [`claim`](Self::claim) would, in as few round
    /// trips as the engine allows: a busy worker fills its free slots at once instead of
    /// asking once per slot. Empty when nothing is due. Fails only when nothing was claimed:
    /// jobs already leased are handed out even if a later claim fails, so they run now
    /// rather than after their lease ends.
    async fn claim_batch(&self, worker: &str, lease: Duration, max: usize) -> Result<Vec<ClaimedJob>, StoreError> {
        let mut claimed = Vec::new();
        while claimed.len() < max {
            match self.claim(worker, lease).await {
                Ok(Some(job)) => claimed.push(job),
                Ok(None) => break,
                Err(e) if claimed.is_empty() => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, claimed = claimed.len(), "a claim failed; running the jobs claimed so far");
                    break;
                }
            }
        }
        Ok(claimed)
    }
    /// Up to `max` due jobs of `lane`, claimed as [`claim_batch`](Self::claim_batch) would.
    /// Fair across tenants: the tenants with the fewest jobs of the lane under a live lease
    /// go first, and a tenant's own jobs oldest first, so a tenant with a long backlog
    /// cannot keep another tenant's work waiting behind it. (The RabbitMQ queue is the
    /// exception: its lanes are FIFO queues; see `filegate-amqp`.)
    async fn claim_lane(
        &self,
        lane: Lane,
        worker: &str,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError>;
    /// Extends a held lease (heartbeat for long jobs).
    async fn extend(&self, id: JobId, worker: &str, lease: Duration) -> Result<(), StoreError>;
    /// Done: the job is removed.
    async fn complete(&self, id: JobId, worker: &str) -> Result<(), StoreError>;
    /// [`complete`](Self::complete) for several jobs at once. A job whose lease `worker` no
    /// longer holds is skipped (another worker runs it now), not an error; the rest are
    /// removed.
    async fn complete_batch(&self, ids: &[JobId], worker: &str) -> Result<(), StoreError> {
        for id in ids {
            match self.complete(*id, worker).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
    /// Failed this time: released, claimable again at `run_at`; `error` is kept.
    async fn retry(&self, id: JobId, worker: &str, run_at: DateTime<Utc>, error: &str) -> Result<(), StoreError>;
    /// Failed for good: kept as a dead letter with `error`, never claimed again.
    async fn bury(&self, id: JobId, worker: &str, error: &str) -> Result<(), StoreError>;
    async fn stats(&self) -> Result<QueueStats, StoreError>;
    /// Returns when a job may have become due (an enqueue in this process) or after `max`.
    async fn wait_for_work(&self, max: Duration);
    /// [`wait_for_work`](Self::wait_for_work) for a job of `lane`; an engine that cannot
    /// tell lanes apart wakes for any job.
    async fn wait_for_lane(&self, _lane: Lane, max: Duration) {
        self.wait_for_work(max).await
    }
}

/// Runs `work` while renewing `worker`'s leases on `jobs` every third of `lease`, so work
/// slower than the lease (a long pipeline, a broker under load) keeps its jobs, and the
/// lease itself can stay short: a process that dies holding jobs loses them within `lease`.
/// A job already settled, or taken over, no longer renews; that is not an error.
pub async fn holding_leases<T>(
    queue: &dyn JobQueue,
    jobs: &[JobId],
    worker: &str,
    lease: Duration,
    work: impl Future<Output = T>,
) -> T {
    tokio::pin!(work);
    // `interval` refuses a zero period.
    let mut beat = tokio::time::interval((lease / 3).max(Duration::from_millis(1)));
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat.tick().await;
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = beat.tick() => {
                let renewals = jobs.iter().map(|id| queue.extend(*id, worker, lease));
                for (id, renewed) in jobs.iter().zip(futures::future::join_all(renewals).await) {
                    match renewed {
                        Ok(()) => {}
                        Err(StoreError::NotFound) => tracing::debug!(job_id = %id, "lease no longer held"),
                        Err(e) => tracing::warn!(job_id = %id, error = %e, "could not renew a job's lease"),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A queue whose claims answer from a script: a job, nothing, or an error.
    struct Scripted(Mutex<Vec<Result<Option<ClaimedJob>, StoreError>>>);

    fn job() -> ClaimedJob {
        ClaimedJob {
            id: JobId::new(),
            job: Job::ProcessFile {
                tenant: TenantId::default_tenant(),
                file_id: FileId::new(),
            },
            attempt: 1,
        }
    }

    #[async_trait]
    impl JobQueue for Scripted {
        async fn enqueue(&self, _: &NewJob) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn claim(&self, _: &str, _: Duration) -> Result<Option<ClaimedJob>, StoreError> {
            let mut script = self.0.lock().unwrap();
            if script.is_empty() { Ok(None) } else { script.remove(0) }
        }
        async fn claim_lane(&self, _: Lane, _: &str, _: Duration, _: usize) -> Result<Vec<ClaimedJob>, StoreError> {
            unreachable!()
        }
        async fn extend(&self, _: JobId, _: &str, _: Duration) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn complete(&self, _: JobId, _: &str) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn retry(&self, _: JobId, _: &str, _: DateTime<Utc>, _: &str) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn bury(&self, _: JobId, _: &str, _: &str) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn stats(&self) -> Result<QueueStats, StoreError> {
            unreachable!()
        }
        async fn wait_for_work(&self, _: Duration) {}
    }

    #[tokio::test]
    async fn a_failing_claim_after_some_succeeded_hands_out_the_claimed_jobs() {
        let (first, second) = (job(), job());
        let queue = Scripted(Mutex::new(vec![
            Ok(Some(first.clone())),
            Ok(Some(second.clone())),
            Err(StoreError::Unavailable(anyhow::anyhow!("connection reset"))),
        ]));
        let claimed = queue
            .claim_batch("w", Duration::from_secs(5), 10)
            .await
            .expect("claimed");
        assert_eq!(claimed, vec![first, second], "leased jobs are not dropped");

        // A failure with nothing claimed is the caller's to back off from.
        let queue = Scripted(Mutex::new(vec![Err(StoreError::Unavailable(anyhow::anyhow!("down")))]));
        assert!(queue.claim_batch("w", Duration::from_secs(5), 10).await.is_err());
    }

    #[test]
    fn a_remove_blob_job_queued_before_thumbnails_still_decodes() {
        let id = FileId::new();
        let old =
            format!(r#"{{"kind":"remove_blob","tenant":"default","file_id":"{id}","blob_key":"t/default/{id}"}}"#);
        let job: Job = serde_json::from_str(&old).expect("an older job decodes");
        assert_eq!(
            job,
            Job::RemoveBlob {
                tenant: TenantId::default_tenant(),
                file_id: id,
                blob_key: format!("t/default/{id}"),
                multipart_upload_id: None,
                appending: false,
                thumbnail_sizes: Vec::new(),
            }
        );
    }
}
