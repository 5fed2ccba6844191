//! The job queue: leases, retries, dead letters, concurrency and wake-ups.

use filegate_core::ports::Effects;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use filegate_core::StoreError;
use filegate_core::domain::{FileEvent, FileId, FileStatus, JobId, TriggerCall, TriggerName, WebhookId};
use filegate_core::ports::{Job, Lane, NewJob, QueueStats};

use super::{Queue, START, Store, eventually, new_file, now, secs, tenant, tid};

const LEASE: Duration = Duration::from_secs(60);
const DEADLINE: Duration = Duration::from_secs(10);

fn job() -> NewJob {
    NewJob::now(Job::ProcessFile {
        tenant: tid("a"),
        file_id: FileId::new(),
    })
}

fn stats(queued: u64, running: u64, dead: u64) -> QueueStats {
    QueueStats { queued, running, dead }
}

pub async fn claimed_jobs_are_leased_then_completed(_store: Store, queue: Queue) {
    assert_eq!(queue.stats().await.unwrap(), stats(0, 0, 0));
    let j = NewJob::now(Job::RemoveBlob {
        tenant: tid("a"),
        file_id: FileId::new(),
        blob_key: "t/a/x".into(),
        multipart_upload_id: Some("mp-1".into()),
        appending: false,
        thumbnail_sizes: vec![64, 256],
    });
    queue.enqueue(&j).await.unwrap();
    assert!(
        matches!(queue.enqueue(&j).await, Err(StoreError::Conflict(_))),
        "job ids are unique"
    );
    assert_eq!(queue.stats().await.unwrap(), stats(1, 0, 0));

    let claimed = queue.claim("w1", LEASE).await.unwrap().unwrap();
    assert_eq!((claimed.id, &claimed.job, claimed.attempt), (j.id, &j.job, 1));
    assert_eq!(queue.stats().await.unwrap(), stats(0, 1, 0));
    // Under a live lease nobody else gets it.
    assert_eq!(queue.claim("w2", LEASE).await.unwrap(), None);

    queue.extend(j.id, "w1", LEASE).await.unwrap();
    queue.complete(j.id, "w1").await.unwrap();
    assert!(
        matches!(queue.complete(j.id, "w1").await, Err(StoreError::NotFound)),
        "done means gone"
    );
    assert_eq!(queue.stats().await.unwrap(), stats(0, 0, 0));
    assert_eq!(queue.claim("w1", LEASE).await.unwrap(), None);
}

pub async fn jobs_are_claimed_oldest_due_first(_store: Store, queue: Queue) {
    let t = now();
    let mut jobs = Vec::new();
    for offset in [-10, -30, 3600, -20] {
        let j = NewJob {
            run_at: t + secs(offset),
            ..job()
        };
        queue.enqueue(&j).await.unwrap();
        jobs.push(j.id);
    }
    let mut order = Vec::new();
    while let Some(c) = queue.claim("w", LEASE).await.unwrap() {
        order.push(c.id);
        assert!(
            order.len() <= jobs.len(),
            "a leased job was handed out again: {order:?}"
        );
    }
    assert_eq!(order, [jobs[1], jobs[3], jobs[0]], "by run_at; the future one waits");
    assert_eq!(queue.stats().await.unwrap(), stats(1, 3, 0));
}

pub async fn an_ended_lease_makes_the_job_claimable_again(_store: Store, queue: Queue) {
    let j = job();
    queue.enqueue(&j).await.unwrap();
    let first = queue.claim("w1", Duration::from_millis(20)).await.unwrap().unwrap();
    assert_eq!(first.attempt, 1);

    // w1 "dies": once its lease ends, w2 claims the job, counted as a second attempt.
    let second = eventually(DEADLINE, || async { queue.claim("w2", LEASE).await.unwrap() }).await;
    assert_eq!((second.id, second.attempt), (j.id, 2));

    // w1 no longer holds the lease: whatever it says is NotFound.
    assert!(matches!(
        queue.extend(j.id, "w1", LEASE).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(queue.complete(j.id, "w1").await, Err(StoreError::NotFound)));
    assert!(matches!(
        queue.retry(j.id, "w1", now(), "x").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(queue.bury(j.id, "w1", "x").await, Err(StoreError::NotFound)));
    queue.complete(j.id, "w2").await.unwrap();
    assert_eq!(queue.stats().await.unwrap(), stats(0, 0, 0));
}

pub async fn retried_jobs_wait_until_due(_store: Store, queue: Queue) {
    let later = job();
    let soon = job();
    queue.enqueue(&later).await.unwrap();
    queue.enqueue(&soon).await.unwrap();
    let c1 = queue.claim("w", LEASE).await.unwrap().unwrap();
    let c2 = queue.claim("w", LEASE).await.unwrap().unwrap();
    assert_eq!((c1.id, c2.id), (later.id, soon.id));

    queue
        .retry(later.id, "w", now() + secs(3600), "storage down")
        .await
        .unwrap();
    queue.retry(soon.id, "w", now() - secs(1), "flaky").await.unwrap();
    assert_eq!(
        queue.stats().await.unwrap(),
        stats(2, 0, 0),
        "retries not yet due count as queued"
    );

    let again = queue.claim("w", LEASE).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempt), (soon.id, 2));
    assert_eq!(
        queue.claim("w", LEASE).await.unwrap(),
        None,
        "the other retry is not due for an hour"
    );
    queue.complete(soon.id, "w").await.unwrap();
    assert_eq!(queue.stats().await.unwrap(), stats(1, 0, 0));
}

pub async fn buried_jobs_are_dead_letters(_store: Store, queue: Queue) {
    let j = job();
    queue.enqueue(&j).await.unwrap();
    let c = queue.claim("w", LEASE).await.unwrap().unwrap();
    queue.bury(c.id, "w", "corrupt input").await.unwrap();
    assert_eq!(queue.stats().await.unwrap(), stats(0, 0, 1));
    assert_eq!(queue.claim("w", LEASE).await.unwrap(), None);
    assert!(matches!(queue.complete(j.id, "w").await, Err(StoreError::NotFound)));
    assert!(matches!(
        queue.retry(j.id, "w", now(), "x").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        queue.extend(j.id, "w", LEASE).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(queue.stats().await.unwrap(), stats(0, 0, 1));
}

pub async fn only_the_lease_holder_may_settle_a_job(_store: Store, queue: Queue) {
    let j = job();
    queue.enqueue(&j).await.unwrap();
    queue.claim("w1", LEASE).await.unwrap().unwrap();
    assert!(matches!(
        queue.extend(j.id, "w2", LEASE).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(queue.complete(j.id, "w2").await, Err(StoreError::NotFound)));
    assert!(matches!(
        queue.retry(j.id, "w2", now(), "x").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(queue.bury(j.id, "w2", "x").await, Err(StoreError::NotFound)));
    assert!(matches!(
        queue.complete(JobId::new(), "w1").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(queue.stats().await.unwrap(), stats(0, 1, 0), "the job is still w1's");
    queue.extend(j.id, "w1", LEASE).await.unwrap();
    queue.complete(j.id, "w1").await.unwrap();
}

pub async fn concurrent_claimers_never_share_a_job(_store: Store, queue: Queue) {
    let mut all = HashSet::new();
    for _ in 0..200 {
        let j = job();
        all.insert(j.id);
        queue.enqueue(&j).await.unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let queue = queue.clone();
        tasks.spawn(async move {
            let worker = format!("w{w}");
            let mut mine = Vec::new();
            while let Some(c) = queue.claim(&worker, LEASE).await.unwrap() {
                assert_eq!(c.attempt, 1, "a job claimed once is never handed out again");
                assert!(mine.len() < 200, "more claims than jobs");
                queue.complete(c.id, &worker).await.unwrap();
                mine.push(c.id);
            }
            mine
        });
    }
    let mut claimed = Vec::new();
    while let Some(mine) = tasks.join_next().await {
        claimed.extend(mine.unwrap());
    }
    assert_eq!(claimed.len(), 200, "each job claimed exactly once");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), all);
    assert_eq!(queue.stats().await.unwrap(), stats(0, 0, 0));
}

/// A busy worker claims several jobs in one call: the oldest due ones, each leased and
/// counted like a single claim, never one under a live lease or not yet due.
pub async fn a_batch_claims_the_due_jobs_once(_store: Store, queue: Queue) {
    let t = now();
    let mut due = Vec::new();
    for offset in [-50, -40, -30, -20, -10] {
        let j = NewJob {
            run_at: t + secs(offset),
            ..job()
        };
        queue.enqueue(&j).await.unwrap();
        due.push(j.id);
    }
    let future = NewJob {
        run_at: t + secs(3600),
        ..job()
    };
    queue.enqueue(&future).await.unwrap();
    let held = queue.claim("w0", LEASE).await.unwrap().unwrap();
    assert_eq!(held.id, due[0], "the oldest, taken on its own");

    assert_eq!(queue.claim_batch("w1", LEASE, 0).await.unwrap(), Vec::new());
    let first = queue.claim_batch("w1", LEASE, 3).await.unwrap();
    let ids: HashSet<JobId> = first.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        HashSet::from([due[1], due[2], due[3]]),
        "the three oldest unleased due jobs"
    );
    assert!(first.iter().all(|c| c.attempt == 1));
    let rest = queue.claim_batch("w2", LEASE, 10).await.unwrap();
    assert_eq!(
        rest.iter().map(|c| c.id).collect::<Vec<_>>(),
        [due[4]],
        "what is left and due"
    );
    assert_eq!(queue.claim_batch("w3", LEASE, 10).await.unwrap(), Vec::new());
    assert_eq!(queue.stats().await.unwrap(), stats(1, 5, 0));
}

/// Completing a batch removes the jobs the worker holds and skips, without failing, one
/// another worker took over and one that does not exist.
pub async fn a_batch_completes_only_what_the_worker_holds(_store: Store, queue: Queue) {
    let jobs: Vec<NewJob> = (0..3).map(|_| job()).collect();
    for j in &jobs {
        queue.enqueue(j).await.unwrap();
    }
    let mine = queue.claim_batch("w1", LEASE, 2).await.unwrap();
    let theirs = queue.claim("w2", LEASE).await.unwrap().unwrap();
    let mut ids: Vec<JobId> = mine.iter().map(|c| c.id).collect();
    ids.extend([theirs.id, JobId::new()]);
    queue.complete_batch(&ids, "w1").await.unwrap();
    queue.complete_batch(&[], "w1").await.unwrap();
    assert_eq!(queue.stats().await.unwrap(), stats(0, 1, 0), "only w2's job is left");
    for c in &mine {
        assert!(matches!(queue.complete(c.id, "w1").await, Err(StoreError::NotFound)));
    }
    queue.complete(theirs.id, "w2").await.unwrap();
    assert_eq!(queue.stats().await.unwrap(), stats(0, 0, 0));
}

/// Batch claimers racing each other and single claimers: every job handed out once.
pub async fn concurrent_batch_claimers_never_share_a_job(_store: Store, queue: Queue) {
    let mut all = HashSet::new();
    for _ in 0..300 {
        let j = job();
        all.insert(j.id);
        queue.enqueue(&j).await.unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..6 {
        let queue = queue.clone();
        tasks.spawn(async move {
            let worker = format!("w{w}");
            let mut mine = Vec::new();
            loop {
                let batch = if w % 2 == 0 {
                    queue.claim_batch(&worker, LEASE, 7).await.unwrap()
                } else {
                    queue.claim(&worker, LEASE).await.unwrap().into_iter().collect()
                };
                if batch.is_empty() {
                    return mine;
                }
                assert!(
                    batch.iter().all(|c| c.attempt == 1),
                    "a job claimed once is never handed out again"
                );
                let ids: Vec<JobId> = batch.iter().map(|c| c.id).collect();
                queue.complete_batch(&ids, &worker).await.unwrap();
                mine.extend(ids);
                assert!(mine.len() <= 300, "more claims than jobs");
            }
        });
    }
    let mut claimed = Vec::new();
    while let Some(mine) = tasks.join_next().await {
        claimed.extend(mine.unwrap());
    }
    assert_eq!(claimed.len(), 300, "each job claimed exactly once");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), all);
    assert_eq!(queue.stats().await.unwrap(), stats(0, 0, 0));
}

/// Uploads (row + job in one transaction) and claims racing each other: every upload's job
/// is run exactly once, and every write got its own change_seq.
pub async fn concurrent_uploads_and_claims(store: Store, queue: Queue) {
    let a = tenant(&store, "a").await;
    let producers_done = Arc::new(AtomicBool::new(false));
    let mut consumers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let queue = queue.clone();
        let done = producers_done.clone();
        consumers.spawn(async move {
            let worker = format!("w{w}");
            let mut mine = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                match queue.claim(&worker, LEASE).await.unwrap() {
                    Some(c) => {
                        queue.complete(c.id, &worker).await.unwrap();
                        mine.push(c.job);
                        assert!(mine.len() <= 120, "more claims than jobs");
                    }
                    None if finished => return mine,
                    None => queue.wait_for_work(Duration::from_millis(50)).await,
                }
            }
        });
    }
    let mut producers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        let a = a.clone();
        producers.spawn(async move {
            let mut jobs = Vec::new();
            for i in 0..15 {
                let pending = store
                    .insert_file(&new_file(&a, &format!("up/{i}")), &Effects::NONE)
                    .await
                    .unwrap();
                let mut uploaded = pending.clone();
                uploaded.status = FileStatus::Uploaded;
                let job = NewJob::now(Job::ProcessFile {
                    tenant: a.clone(),
                    file_id: pending.id,
                });
                store
                    .update_file(&uploaded, &[FileStatus::Pending], &Effects::jobs([job.clone()]))
                    .await
                    .unwrap();
                jobs.push(job.job);
            }
            jobs
        });
    }
    let mut enqueued = Vec::new();
    while let Some(jobs) = producers.join_next().await {
        enqueued.extend(jobs.unwrap());
    }
    producers_done.store(true, Ordering::SeqCst);
    let mut ran = Vec::new();
    while let Some(mine) = consumers.join_next().await {
        ran.extend(mine.unwrap());
    }
    assert_eq!(ran.len(), 120, "every job ran exactly once");
    let key = |j: &Job| format!("{j:?}");
    let ran: HashSet<String> = ran.iter().map(key).collect();
    assert_eq!(ran, enqueued.iter().map(key).collect::<HashSet<_>>());

    let feed = eventually(DEADLINE, || async {
        let feed = store.changed_files(&a, START, 1000).await.unwrap().items;
        (feed.len() == 120 && feed.iter().all(|f| f.status == FileStatus::Uploaded)).then_some(feed)
    })
    .await;
    // Concurrent writers: each file once, at its last change (the order is the feed's own
    // test, `change_feed_followers_miss_no_write`).
    assert_eq!(feed.iter().map(|f| f.id).collect::<HashSet<_>>().len(), 120);
}

pub async fn waiting_workers_wake_on_new_work(store: Store, queue: Queue) {
    let a = tenant(&store, "a").await;
    // Nothing enqueued: the wait ends at its maximum.
    tokio::time::timeout(DEADLINE, queue.wait_for_work(Duration::from_millis(10)))
        .await
        .expect("wait is bounded");

    // An enqueue wakes a worker waiting for up to a minute, whether it began waiting just
    // before or just after the enqueue.
    let waiter = tokio::spawn({
        let queue = queue.clone();
        async move { queue.wait_for_work(Duration::from_secs(60)).await }
    });
    queue.enqueue(&job()).await.unwrap();
    tokio::time::timeout(DEADLINE, waiter)
        .await
        .expect("woken by enqueue")
        .unwrap();

    // So does an update that commits a job.
    let waiter = tokio::spawn({
        let queue = queue.clone();
        async move { queue.wait_for_work(Duration::from_secs(60)).await }
    });
    let pending = store.insert_file(&new_file(&a, "x"), &Effects::NONE).await.unwrap();
    let mut uploaded = pending.clone();
    uploaded.status = FileStatus::Uploaded;
    let j = NewJob::now(Job::ProcessFile {
        tenant: a,
        file_id: pending.id,
    });
    store
        .update_file(&uploaded, &[FileStatus::Pending], &Effects::jobs([j.clone()]))
        .await
        .unwrap();
    tokio::time::timeout(DEADLINE, waiter)
        .await
        .expect("woken by update_file with a job")
        .unwrap();
}

fn job_of(tenant: &str, run_at: chrono::DateTime<chrono::Utc>) -> NewJob {
    NewJob {
        run_at,
        ..NewJob::now(Job::ProcessFile {
            tenant: tid(tenant),
            file_id: FileId::new(),
        })
    }
}

fn ids(claimed: &[filegate_core::ports::ClaimedJob]) -> Vec<JobId> {
    claimed.iter().map(|c| c.id).collect()
}

/// Tenant A queued a long backlog before tenant B's one job: a claim for fewer slots than
/// A's backlog still takes B's job (round robin), and once A holds more slots than B, B's
/// next job gets the next free slot although A's older jobs wait (the tenant with the
/// fewest jobs running goes first). Each tenant's own jobs go oldest first.
pub async fn claims_are_fair_across_tenants(_store: Store, queue: Queue) {
    let t = now();
    let backlog: Vec<NewJob> = (0..20).map(|i| job_of("a", t - secs(100 - i))).collect();
    for j in &backlog {
        queue.enqueue(j).await.unwrap();
    }
    let b1 = job_of("b", t - secs(1));
    queue.enqueue(&b1).await.unwrap();

    let first = queue.claim_lane(Lane::Pipeline, "w", LEASE, 3).await.unwrap();
    assert_eq!(
        ids(&first).into_iter().collect::<HashSet<_>>(),
        HashSet::from([b1.id, backlog[0].id, backlog[1].id]),
        "B's job in the first batch, with A's two oldest"
    );

    let b2 = job_of("b", t);
    queue.enqueue(&b2).await.unwrap();
    let next = queue.claim_lane(Lane::Pipeline, "w", LEASE, 1).await.unwrap();
    assert_eq!(ids(&next), [b2.id], "A runs two, B one: B's newer job goes first");
    let next = queue.claim_lane(Lane::Pipeline, "w", LEASE, 2).await.unwrap();
    assert_eq!(
        ids(&next).into_iter().collect::<HashSet<_>>(),
        HashSet::from([backlog[2].id, backlog[3].id]),
        "then A's, oldest first"
    );
    assert_eq!(queue.stats().await.unwrap(), stats(16, 6, 0));
}

/// A delivery job (a webhook call, an email, a trigger call) is never claimed into a
/// pipeline slot, however long it has waited, and a pipeline job never into a delivery slot;
/// `claim` and `claim_batch` (the outbox relay) still take both.
pub async fn a_delivery_job_never_takes_a_pipeline_slot(store: Store, queue: Queue) {
    let a = tenant(&store, "a").await;
    let file = new_file(&a, "in/a.txt");
    let t = now();
    let deliveries = [
        Job::SendAlertEmail {
            event: FileEvent::about("alert.test", &file, serde_json::Value::Null),
        },
        Job::DeliverWebhook {
            webhook_id: WebhookId::new(),
            event: FileEvent::of_change(FileStatus::Processing, &file),
        },
        Job::CallTrigger {
            call: TriggerCall {
                id: uuid::Uuid::new_v4(),
                trigger: TriggerName::parse("nightly").unwrap(),
                tenant: None,
                subject: None,
                data: serde_json::Value::Null,
                requested_at: t,
            },
        },
    ]
    .map(|job| NewJob {
        run_at: t - secs(60),
        ..NewJob::now(job)
    });
    for j in &deliveries {
        queue.enqueue(j).await.unwrap();
    }
    let process = job_of("a", t);
    queue.enqueue(&process).await.unwrap();

    let pipeline = queue.claim_lane(Lane::Pipeline, "w", LEASE, 10).await.unwrap();
    assert_eq!(ids(&pipeline), [process.id], "only the pipeline job");
    let delivery = queue.claim_lane(Lane::Delivery, "w", LEASE, 10).await.unwrap();
    assert_eq!(
        ids(&delivery).into_iter().collect::<HashSet<_>>(),
        deliveries.iter().map(|j| j.id).collect::<HashSet<_>>(),
        "every delivery job, the platform's trigger call included"
    );
    assert_eq!(queue.claim_lane(Lane::Pipeline, "w", LEASE, 10).await.unwrap(), []);

    // Released, both lanes are claimable again through the lane-blind calls.
    for c in pipeline.iter().chain(&delivery) {
        queue.retry(c.id, "w", t, "again").await.unwrap();
    }
    let any = queue.claim_batch("relay", LEASE, 10).await.unwrap();
    assert_eq!(any.len(), 4, "claim_batch takes every lane");
}
