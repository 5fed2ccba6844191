//! `JobQueue` over the `jobs` table: claim under a lease, retry, dead letters.
//!
//! A job is claimable when it is not dead, its `run_at` has come, and it is not under a live
//! lease (`lease_until` unset or past). Claiming sets the lease and counts the attempt in one
//! statement, so two claimers never get the same job while the lease lives. The clock is the
//! caller's (`Utc::now()` here), never the engine's, so every engine agrees on what "due"
//! means.
//!
//! Which jobs a claim takes is fair across tenants (`lease_due`): every tenant with work in
//! the lane offers its oldest due jobs, and the tenants with the fewest jobs running go
//! first. The reads touch a few index entries per tenant with work, never the backlog: a
//! tenant with ten thousand queued jobs costs a claim what a tenant with one costs.
//!
//! Every write here is one statement, run without `BEGIN … COMMIT` (a claim reads on a
//! reader connection first): a single statement is atomic on its own, and on the one writer
//! connection each extra statement is a round trip to sqlx's connection thread while every
//! other writer waits. The small-files benchmark spends most of its writer time on these
//! calls.
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

use super::{SqliteStore, insert_jobs};
use crate::errors::store_err;
use crate::rows::{ClaimedRow, count, decode_claimed, micros, to_json};

/// `now + lease` in microseconds, saturating instead of overflowing on absurd leases.
fn lease_end(now: DateTime<Utc>, lease: Duration) -> i64 {
    micros(now).saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX))
}

impl SqliteStore {
    /// Runs a statement that names a job and the worker holding its lease; `NotFound` when
    /// no row matched (no such job, dead, or leased to someone else).
    async fn held(
        &self,
        query: sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    ) -> Result<(), StoreError> {
        let done = query.execute(&self.writer).await.map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Leases up to `max` due jobs of `lanes` to `worker`, fairly across tenants, and says
    /// how many rows it leased; the rows that do not decode are buried (`decode_claimed`) and
    /// left out of the jobs.
    ///
    /// Two statements: the jobs each tenant offers ([`OFFERED`]) are read on a reader
    /// connection and ranked here ([`fair_pick`]); then the writer leases the picked ones
    /// by id, checking again that each is still claimable, so a job another claimer took
    /// meanwhile is left out, never shared. Ranking inside one statement (a window function
    /// over the offered jobs) cost the single writer about ten times the old oldest-first
    /// claim; this way the writer's part is a lookup by key.
    async fn lease_due(
        &self,
        lanes: &[Lane],
        worker: &str,
        lease: Duration,
        max: usize,
    ) -> Result<(usize, Vec<ClaimedJob>), StoreError> {
        let lanes: Vec<&str> = lanes.iter().map(|lane| lane.as_str()).collect();
        let lanes = to_json("lanes", &lanes)?;
        // A lost race leaves the batch short; a few tries find the jobs still free.
        for _ in 0..3 {
            let now = Utc::now();
            let offered = sqlx::query_as::<_, Offered>(OFFERED)
                .bind(micros(now))
                .bind(i64::try_from(max).unwrap_or(i64::MAX))
                .bind(&lanes)
                .fetch_all(&self.reader)
                .await
                .map_err(store_err)?;
            if offered.is_empty() {
                return Ok((0, Vec::new()));
            }
            let picked = fair_pick(offered, max);
            let rows = sqlx::query_as::<_, ClaimedRow>(
                "UPDATE jobs SET leased_by = ?3, lease_until = ?4, attempts = attempts + 1 \
                 WHERE id IN (SELECT value FROM json_each(?2)) \
                   AND dead_at IS NULL AND run_at <= ?1 AND (lease_until IS NULL OR lease_until < ?1) \
                 RETURNING id, payload, attempts",
            )
            .bind(micros(now))
            .bind(to_json("job ids", &picked)?)
            .bind(worker)
            .bind(lease_end(now, lease))
            .fetch_all(&self.writer)
            .await
            .map_err(store_err)?;
            if rows.is_empty() {
                continue;
            }
            let found = rows.len();
            let (claimed, undecodable) = decode_claimed(rows);
            for (id, error) in undecodable {
                sqlx::query(
                    "UPDATE jobs SET dead_at = ?, leased_by = NULL, lease_until = NULL, last_error = ? WHERE id = ?",
                )
                .bind(micros(now))
                .bind(error)
                .bind(id)
                .execute(&self.writer)
                .await
                .map_err(store_err)?;
            }
            return Ok((found, claimed));
        }
        Ok((0, Vec::new()))
    }
}

/// A due job a tenant offers to a claim, with the tenant's count of jobs under a live lease.
#[derive(sqlx::FromRow)]
struct Offered {
    id: String,
    lane: String,
    tenant: String,
    run_at: i64,
    created_at: i64,
    running: i64,
}

/// Up to ?2 oldest due jobs of each tenant with work in the lanes ?3 (a JSON array), per
/// lane and tenant oldest first; ?1 is now. `tenants` skips from one tenant with live jobs
/// to the next (one index seek each, however many jobs a tenant has), so the statement
/// reads a few index entries per tenant, never the backlog.
const OFFERED: &str = "\
WITH RECURSIVE tenants(lane, tenant) AS ( \
    SELECT l.value, (SELECT min(tenant) FROM jobs WHERE lane = l.value AND dead_at IS NULL) \
    FROM json_each(?3) AS l \
    UNION ALL \
    SELECT t.lane, (SELECT min(tenant) FROM jobs WHERE lane = t.lane AND dead_at IS NULL AND tenant > t.tenant) \
    FROM tenants AS t WHERE t.tenant IS NOT NULL \
) \
SELECT j.id, j.lane, j.tenant, j.run_at, j.created_at, \
    (SELECT count(*) FROM jobs WHERE lane = t.lane AND tenant = t.tenant AND lease_until >= ?1) AS running \
FROM tenants AS t JOIN jobs AS j ON j.id IN ( \
    SELECT id FROM jobs \
    WHERE lane = t.lane AND tenant = t.tenant AND dead_at IS NULL AND run_at <= ?1 \
        AND (lease_until IS NULL OR lease_until < ?1) \
    ORDER BY run_at, created_at, id LIMIT ?2) \
ORDER BY j.lane, j.tenant, j.run_at, j.created_at, j.id";

/// The ids of the `max` offered jobs to lease: each tenant's jobs are numbered from its
/// running count + 1, oldest first, and the lowest numbers win, the oldest first among
/// equals. So the tenant with the fewest jobs running gets the next slot, and a batch is
/// shared round robin. The PostgreSQL queue orders its claims the same way in SQL.
fn fair_pick(offered: Vec<Offered>, max: usize) -> Vec<String> {
    let mut turns = Vec::with_capacity(offered.len());
    let mut rank = 0;
    for (i, job) in offered.iter().enumerate() {
        let same_tenant = i > 0 && offered[i - 1].lane == job.lane && offered[i - 1].tenant == job.tenant;
        rank = if same_tenant { rank + 1 } else { 1 };
        turns.push((job.running.saturating_add(rank), job.run_at, job.created_at, i));
    }
    turns.sort_unstable();
    let mut offered: Vec<Option<Offered>> = offered.into_iter().map(Some).collect();
    turns
        .into_iter()
        .take(max)
        .filter_map(|(_, _, _, i)| offered[i].take().map(|job| job.id))
        .collect()
}

#[async_trait]
impl JobQueue for SqliteStore {
    async fn enqueue(&self, job: &NewJob) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await.map_err(store_err)?;
        insert_jobs(&mut conn, std::slice::from_ref(job)).await?;
        self.wake_workers();
        Ok(())
    }

    async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<ClaimedJob>, StoreError> {
        loop {
            // A claim whose one row did not decode was buried: look for the next job.
            let (found, mut claimed) = self.lease_due(&Lane::ALL, worker, lease, 1).await?;
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
        Ok(self.lease_due(&Lane::ALL, worker, lease, max).await?.1)
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
        Ok(self.lease_due(&[lane], worker, lease, max).await?.1)
    }

    async fn extend(&self, id: JobId, worker: &str, lease: Duration) -> Result<(), StoreError> {
        self.held(
            sqlx::query("UPDATE jobs SET lease_until = ? WHERE id = ? AND leased_by = ? AND dead_at IS NULL")
                .bind(lease_end(Utc::now(), lease))
                .bind(id.to_string())
                .bind(worker.to_owned()),
        )
        .await
    }

    async fn complete(&self, id: JobId, worker: &str) -> Result<(), StoreError> {
        self.held(
            sqlx::query("DELETE FROM jobs WHERE id = ? AND leased_by = ? AND dead_at IS NULL")
                .bind(id.to_string())
                .bind(worker.to_owned()),
        )
        .await
    }

    async fn complete_batch(&self, ids: &[JobId], worker: &str) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        // One statement for the lot: ids as a JSON array (no placeholder limit to mind). The
        // `+` keeps SQLite from walking the claim index over every live job to test `dead_at`:
        // the ids are looked up by key.
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        sqlx::query(
            "DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND leased_by = ? AND +dead_at IS NULL",
        )
        .bind(to_json("job ids", &ids)?)
        .bind(worker)
        .execute(&self.writer)
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn retry(&self, id: JobId, worker: &str, run_at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        self.held(
            sqlx::query(
                "UPDATE jobs SET leased_by = NULL, lease_until = NULL, run_at = ?, last_error = ? \
                 WHERE id = ? AND leased_by = ? AND dead_at IS NULL",
            )
            .bind(micros(run_at))
            .bind(error.to_owned())
            .bind(id.to_string())
            .bind(worker.to_owned()),
        )
        .await
    }

    async fn bury(&self, id: JobId, worker: &str, error: &str) -> Result<(), StoreError> {
        self.held(
            sqlx::query(
                "UPDATE jobs SET dead_at = ?, leased_by = NULL, lease_until = NULL, last_error = ? \
                 WHERE id = ? AND leased_by = ? AND dead_at IS NULL",
            )
            .bind(micros(Utc::now()))
            .bind(error.to_owned())
            .bind(id.to_string())
            .bind(worker.to_owned()),
        )
        .await
    }

    async fn stats(&self) -> Result<QueueStats, StoreError> {
        let now = micros(Utc::now());
        let (queued, running, dead): (i64, i64, i64) = sqlx::query_as(
            "SELECT \
               COALESCE(SUM(CASE WHEN dead_at IS NULL AND (lease_until IS NULL OR lease_until < ?) \
                            THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN dead_at IS NULL AND lease_until >= ? THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN dead_at IS NOT NULL THEN 1 ELSE 0 END), 0) \
             FROM jobs",
        )
        .bind(now)
        .bind(now)
        .fetch_one(&self.reader)
        .await
        .map_err(store_err)?;
        Ok(QueueStats {
            queued: count("queued", queued)?,
            running: count("running", running)?,
            dead: count("dead", dead)?,
        })
    }

    async fn wait_for_work(&self, max: Duration) {
        // Timing out is the normal way to return when nothing was enqueued.
        let _ = tokio::time::timeout(max, self.work.notified()).await;
    }
}
