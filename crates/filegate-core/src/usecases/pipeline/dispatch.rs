//! The long-running worker loop: keeps up to `concurrency` pipeline jobs and
//! `delivery_concurrency` delivery jobs in flight, each lane in slots of its own, claiming as
//! many as there are free slots in one call, and settles finished jobs in batches.
//!
//! Why lanes: a delivery may wait its whole timeout on a receiver that never answers; in
//! shared slots a tenant with such receivers held every tenant's files back. Which tenant's
//! job fills a free slot is the queue's choice (`JobQueue::claim_lane`, fair across tenants).
//!
//! Why batches: on the embedded engine every queue call is a statement on SQLite's one
//! writer, and a small file costs several jobs (its processing and the announcement of each
//! status change). Claiming one job per call and completing each on its own made those calls
//! most of a small file's cost; now a burst of work shares them.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::worker::{Worker, backoff};
use crate::domain::JobId;
use crate::ports::{JobQueue, Lane};

/// The most finished jobs one completion call removes.
const MAX_COMPLETIONS: usize = 256;

/// Where a finished job's completion goes.
#[derive(Clone, Copy)]
pub(super) enum Completion<'a> {
    /// Completed on the queue before the job counts as done (tests, one-shot tools).
    Now,
    /// Handed to the batcher, which completes whatever has gathered while its previous
    /// call ran.
    Batched(&'a mpsc::Sender<JobId>),
}

/// Runs jobs until `shutdown` fires, then lets the jobs in hand finish and flushes their
/// completions.
pub(super) async fn run(worker: &Worker, shutdown: &CancellationToken) {
    let settings = worker.settings();
    let slots = |lane| match lane {
        Lane::Pipeline => settings.concurrency.max(1),
        Lane::Delivery => settings.delivery_concurrency.max(1),
    };
    let all_slots = slots(Lane::Pipeline).saturating_add(slots(Lane::Delivery));
    let (completions, finished) = mpsc::channel(all_slots.saturating_mul(2));
    let batcher = tokio::spawn(complete_batches(
        worker.services().queue.clone(),
        worker.id().to_owned(),
        finished,
    ));
    futures::future::join_all(Lane::ALL.map(|lane| run_lane(worker, lane, slots(lane), &completions, shutdown))).await;
    drop(completions);
    if let Err(e) = batcher.await {
        tracing::error!(error = %e, "the completion batcher failed");
    }
}

/// Keeps up to `slots` jobs of `lane` in flight until `shutdown` fires, then lets them finish.
async fn run_lane(
    worker: &Worker,
    lane: Lane,
    slots: usize,
    completions: &mpsc::Sender<JobId>,
    shutdown: &CancellationToken,
) {
    let queue = &worker.services().queue;
    let mut running = JoinSet::new();
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        let free = slots.saturating_sub(running.len());
        let claimed = match free {
            0 => Ok(Vec::new()),
            n => queue.claim_lane(lane, worker.id(), worker.settings().lease, n).await,
        };
        match claimed {
            Ok(jobs) => {
                failures = 0;
                for job in jobs {
                    let (worker, completions) = (worker.clone(), completions.clone());
                    running.spawn(async move {
                        // A queue that fails while settling leaves the job leased: it runs
                        // again when the lease ends. Nothing more to do here.
                        if let Err(e) = worker.run_claimed(job, Completion::Batched(&completions)).await {
                            tracing::warn!(error = %e, "could not settle a job");
                        }
                    });
                }
                let full = running.len() >= slots;
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    Some(done) = running.join_next(), if !running.is_empty() => {
                        reap(done);
                        while let Some(done) = running.try_join_next() {
                            reap(done);
                        }
                    }
                    () = queue.wait_for_lane(lane, worker.settings().idle_wait), if !full => {}
                }
            }
            Err(e) => {
                // The queue itself is unreachable: back off, keep trying, never exit.
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, lane = lane.as_str(), "job queue unavailable");
                let wait = backoff(worker.settings().backoff_base, worker.settings().backoff_max, failures);
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    while let Some(done) = running.join_next().await {
        reap(done);
    }
}

/// A job task that panicked left its job leased; it runs again when the lease ends.
fn reap(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        tracing::error!(error = %e, "a job task failed");
    }
}

/// Completes finished jobs, as many per call as have gathered, until every sender is gone.
async fn complete_batches(queue: std::sync::Arc<dyn JobQueue>, worker: String, mut finished: mpsc::Receiver<JobId>) {
    let mut batch = Vec::with_capacity(MAX_COMPLETIONS);
    while finished.recv_many(&mut batch, MAX_COMPLETIONS).await > 0 {
        let mut failures = 0u32;
        while let Err(e) = queue.complete_batch(&batch, &worker).await {
            // Keep the batch and try again: completing late only delays removing done jobs,
            // while giving up would run them all again once their leases end.
            failures = failures.saturating_add(1);
            tracing::warn!(error = %e, jobs = batch.len(), "could not complete finished jobs");
            if failures >= 5 {
                break;
            }
            tokio::time::sleep(backoff(Duration::from_millis(100), Duration::from_secs(5), failures)).await;
        }
        batch.clear();
    }
}
