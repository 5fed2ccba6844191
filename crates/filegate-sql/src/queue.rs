//! `JobQueue` over the `jobs` table: claim under a lease, retry, dead letters.
//!
//! A job is claimable when it is not dead, its `run_at` has come, and it is not under a live
//! lease (`lease_until` unset or past). A claim sets the lease and counts the attempt in one
//! statement, so two claimers never get the same job while the lease lives; which jobs it
//! takes, fairly across tenants, is the engine's (`Claims::lease_due`). "Now" is the
//! dialect's ([`Dialect::push_now`]): the caller's clock on SQLite, the database's on
//! PostgreSQL, whose processes may run on machines with different clocks.
//!
//! Every other write here is one statement on the writer, without `BEGIN … COMMIT`: a
//! single statement is atomic on its own, and on SQLite's one writer connection each extra
//! statement is a round trip while every other writer waits.
//!
//! "Holds the lease" means `leased_by` still names the worker: a worker whose lease ran out
//! but whose job nobody has claimed since may still extend or settle it (the work is not
//! repeated needlessly); once another worker claims the job, the first one gets `NotFound`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::JobId;
use filegate_core::ports::{ClaimedJob, JobQueue, Lane, NewJob, QueueStats};
use sqlx::QueryBuilder;

use crate::convert::{count, micros};
use crate::dialect::{BindExt as _, Dialect};
use crate::engine::Engine;
use crate::jobs::insert_jobs;
use crate::store::{SqlStore, commit_waking};

/// ` WHERE id = ? AND leased_by = ? AND dead_at IS NULL`: the job, if `worker` holds it.
fn push_held<DB: Dialect>(q: &mut QueryBuilder<DB>, id: JobId, worker: &str) {
    q.push(" WHERE id = ").bind_value(id.to_string());
    q.push(" AND leased_by = ").bind_value(worker.to_owned());
    q.push(" AND dead_at IS NULL");
}

#[async_trait]
impl<E: Engine> JobQueue for SqlStore<E> {
    async fn enqueue(&self, job: &NewJob) -> Result<(), StoreError> {
        let jobs = std::slice::from_ref(job);
        let mut tx = self.engine.begin_write().await?;
        insert_jobs::<E>(&mut tx, jobs).await?;
        commit_waking(&self.engine, tx, jobs).await
    }

    async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<ClaimedJob>, StoreError> {
        loop {
            // A claim whose one row did not decode was buried: look for the next job.
            let (found, mut claimed) = self.engine.lease_due(&Lane::ALL, worker, lease, 1).await?;
            if found == 0 {
                return Ok(None);
            }
            if let Some(job) = claimed.pop() {
                return Ok(Some(job));
            }
        }
    }

    async fn claim_batch(&self, worker: &str, lease: Duration, max: usize) -> Result<Vec<ClaimedJob>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        Ok(self.engine.lease_due(&Lane::ALL, worker, lease, max).await?.1)
    }

    async fn claim_lane(
        &self,
        lane: Lane,
        worker: &str,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        Ok(self.engine.lease_due(&[lane], worker, lease, max).await?.1)
    }

    async fn extend(&self, id: JobId, worker: &str, lease: Duration) -> Result<(), StoreError> {
        let mut q = QueryBuilder::new("UPDATE jobs SET lease_until = ");
        E::DB::push_lease_end(&mut q, Utc::now(), lease);
        push_held(&mut q, id, worker);
        self.write_found(q).await
    }

    async fn complete(&self, id: JobId, worker: &str) -> Result<(), StoreError> {
        let mut q = QueryBuilder::new("DELETE FROM jobs");
        push_held(&mut q, id, worker);
        self.write_found(q).await
    }

    async fn complete_batch(&self, ids: &[JobId], worker: &str) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        // One statement for the lot. The `+` keeps SQLite from walking the claim index over
        // every live job to test `dead_at`: the ids are looked up by key.
        let mut q = QueryBuilder::new("DELETE FROM jobs WHERE id");
        E::DB::push_in(&mut q, ids.iter().map(ToString::to_string).collect())?;
        q.push(" AND leased_by = ").bind_value(worker);
        q.push(" AND +dead_at IS NULL");
        self.write(q).await?;
        Ok(())
    }

    async fn retry(&self, id: JobId, worker: &str, run_at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        let mut q = QueryBuilder::new("UPDATE jobs SET leased_by = NULL, lease_until = NULL, run_at = ");
        q.bind_value(micros(run_at));
        q.push(", last_error = ").bind_value(E::DB::storable_text(error));
        push_held(&mut q, id, worker);
        self.write_found(q).await
    }

    async fn bury(&self, id: JobId, worker: &str, error: &str) -> Result<(), StoreError> {
        let mut q = QueryBuilder::new("UPDATE jobs SET dead_at = ");
        E::DB::push_now(&mut q, Utc::now());
        q.push(", leased_by = NULL, lease_until = NULL, last_error = ")
            .bind_value(E::DB::storable_text(error));
        push_held(&mut q, id, worker);
        self.write_found(q).await
    }

    async fn stats(&self) -> Result<QueueStats, StoreError> {
        let now = Utc::now();
        let mut q = QueryBuilder::new(
            "SELECT COALESCE(SUM(CASE WHEN dead_at IS NULL AND (lease_until IS NULL OR lease_until < ",
        );
        E::DB::push_now(&mut q, now);
        q.push(") THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN dead_at IS NULL AND lease_until >= ");
        E::DB::push_now(&mut q, now);
        q.push(" THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN dead_at IS NOT NULL THEN 1 ELSE 0 END), 0) FROM jobs");
        let (queued, running, dead): (i64, i64, i64) = self.read_one(q).await?;
        Ok(QueueStats {
            queued: count("queued", queued)?,
            running: count("running", running)?,
            dead: count("dead", dead)?,
        })
    }

    async fn wait_for_work(&self, max: Duration) {
        self.engine.work().wait_any(max).await;
    }

    async fn wait_for_lane(&self, lane: Lane, max: Duration) {
        self.engine.work().wait(lane, max).await;
    }
}
