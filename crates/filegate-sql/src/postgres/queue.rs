//! `JobQueue` over the `jobs` table, shared by every worker process.
//!
//! A job is claimable when it is not dead, its `run_at` has come, and it is not under a live
//! lease (`lease_until` unset or past). A claim picks such jobs fairly across tenants
//! ([`FAIR_CLAIM`], the same order as the SQLite queue) with `FOR UPDATE SKIP LOCKED` —
//! concurrent claimers skip the rows others are taking instead of queueing behind them — and
//! sets the lease and counts the attempt in the same statement.
//! "Now" is the database's clock (`filegate_now_micros()`), so every process measures leases
//! alike; `run_at` is the caller's, as given.
//!
//! "Holds the lease" means `leased_by` still names the worker: a worker whose lease ran out
//! but whose job nobody has claimed since may still extend or settle it; once another worker
//! claims the job, the first one gets `NotFound`. The same rules as the SQLite queue.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::JobId;
use filegate_core::ports::{ClaimedJob, JobQueue, Lane, NewJob, QueueStats};
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;

use super::{PostgresStore, insert_job, notify_workers};
use crate::errors::store_err;
use crate::rows::{ClaimedRow, count, decode_claimed, micros};

/// Leases longer than a century are taken as a century: `now + lease` stays in range.
const MAX_LEASE: Duration = Duration::from_secs(100 * 366 * 24 * 3600);

fn lease_micros(lease: Duration) -> i64 {
    i64::try_from(lease.min(MAX_LEASE).as_micros()).unwrap_or(i64::MAX)
}

/// PostgreSQL text cannot hold NUL; an error message is for people, so replace it.
fn error_text(error: &str) -> String {
    error.replace('\0', "\u{fffd}")
}

impl PostgresStore {
    /// Runs a statement that names a job and the worker holding its lease; `NotFound` when
    /// no row matched (no such job, dead, or leased to someone else).
    async fn held(&self, query: Query<'_, Postgres, PgArguments>) -> Result<(), StoreError> {
        let done = query.execute(&self.pool).await.map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Leases up to `max` due jobs of `lanes` to `worker` ([`FAIR_CLAIM`]), and says how many
    /// rows it leased; the rows that do not decode are buried (`decode_claimed`) and left out
    /// of the jobs.
    async fn lease_due(
        &self,
        lanes: &[Lane],
        worker: &str,
        lease: Duration,
        max: usize,
    ) -> Result<(usize, Vec<ClaimedJob>), StoreError> {
        let lanes: Vec<&str> = lanes.iter().map(|lane| lane.as_str()).collect();
        // One statement: atomic without a transaction, and one round trip for the lot.
        let rows = sqlx::query_as::<_, ClaimedRow>(FAIR_CLAIM)
            .bind(worker)
            .bind(lease_micros(lease))
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .bind(&lanes)
            .fetch_all(&self.pool)
            .await
            .map_err(store_err)?;
        let found = rows.len();
        let (claimed, undecodable) = decode_claimed(rows);
        for (id, error) in undecodable {
            // Leased to us already: burying it now cannot race another claimer.
            sqlx::query(
                "UPDATE jobs SET dead_at = filegate_now_micros(), leased_by = NULL, lease_until = NULL, \
                 last_error = $1 WHERE id = $2",
            )
            .bind(error_text(&error))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(store_err)?;
        }
        Ok((found, claimed))
    }
}

/// Leases up to $3 due jobs of the lanes $4 to worker $1 for $2 microseconds. Per lane,
/// `tenants` skips from one tenant with live jobs to the next (one index seek each, however
/// many jobs a tenant has); `busy` counts each tenant's jobs under a live lease; each tenant
/// offers its $3 oldest due jobs not locked by another claimer, numbered from its running
/// count + 1; the lowest numbers win, the oldest first among equals. So the tenant with the
/// fewest jobs running gets the next slot, and a batch is shared round robin. The offered
/// rows a claim does not take stay locked only until the statement ends.
const FAIR_CLAIM: &str = "\
WITH RECURSIVE tenants(lane, tenant) AS ( \
    SELECT l.lane, (SELECT min(tenant) FROM jobs WHERE lane = l.lane AND dead_at IS NULL) \
    FROM unnest($4::text[]) AS l(lane) \
    UNION ALL \
    SELECT t.lane, (SELECT min(tenant) FROM jobs WHERE lane = t.lane AND dead_at IS NULL AND tenant > t.tenant) \
    FROM tenants AS t WHERE t.tenant IS NOT NULL \
), \
busy AS ( \
    SELECT t.lane, t.tenant, \
        (SELECT count(*) FROM jobs WHERE lane = t.lane AND tenant = t.tenant \
            AND lease_until >= filegate_now_micros()) AS running \
    FROM tenants AS t WHERE t.tenant IS NOT NULL \
), \
offered AS ( \
    SELECT o.id, o.run_at, o.created_at, \
        b.running + row_number() OVER (PARTITION BY b.lane, b.tenant ORDER BY o.run_at, o.created_at, o.id) AS turn \
    FROM busy AS b CROSS JOIN LATERAL ( \
        SELECT id, run_at, created_at FROM jobs \
        WHERE lane = b.lane AND tenant = b.tenant AND dead_at IS NULL AND run_at <= filegate_now_micros() \
            AND (lease_until IS NULL OR lease_until < filegate_now_micros()) \
        ORDER BY run_at, created_at, id LIMIT $3 \
        FOR UPDATE SKIP LOCKED) AS o \
) \
UPDATE jobs SET leased_by = $1, lease_until = filegate_now_micros() + $2, attempts = attempts + 1 \
WHERE id IN (SELECT id FROM offered ORDER BY turn, run_at, created_at, id LIMIT $3) \
RETURNING id, payload::text AS payload, attempts";

#[async_trait]
impl JobQueue for PostgresStore {
    async fn enqueue(&self, job: &NewJob) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        insert_job(&mut tx, job).await?;
        notify_workers(&mut tx).await?;
        tx.commit().await.map_err(store_err)?;
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
            sqlx::query(
                "UPDATE jobs SET lease_until = filegate_now_micros() + $1 \
                 WHERE id = $2 AND leased_by = $3 AND dead_at IS NULL",
            )
            .bind(lease_micros(lease))
            .bind(id.to_string())
            .bind(worker.to_owned()),
        )
        .await
    }

    async fn complete(&self, id: JobId, worker: &str) -> Result<(), StoreError> {
        self.held(
            sqlx::query("DELETE FROM jobs WHERE id = $1 AND leased_by = $2 AND dead_at IS NULL")
                .bind(id.to_string())
                .bind(worker.to_owned()),
        )
        .await
    }

    async fn complete_batch(&self, ids: &[JobId], worker: &str) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        sqlx::query("DELETE FROM jobs WHERE id = ANY($1) AND leased_by = $2 AND dead_at IS NULL")
            .bind(&ids)
            .bind(worker)
            .execute(&self.pool)
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn retry(&self, id: JobId, worker: &str, run_at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        self.held(
            sqlx::query(
                "UPDATE jobs SET leased_by = NULL, lease_until = NULL, run_at = $1, last_error = $2 \
                 WHERE id = $3 AND leased_by = $4 AND dead_at IS NULL",
            )
            .bind(micros(run_at))
            .bind(error_text(error))
            .bind(id.to_string())
            .bind(worker.to_owned()),
        )
        .await
    }

    async fn bury(&self, id: JobId, worker: &str, error: &str) -> Result<(), StoreError> {
        self.held(
            sqlx::query(
                "UPDATE jobs SET dead_at = filegate_now_micros(), leased_by = NULL, lease_until = NULL, \
                 last_error = $1 WHERE id = $2 AND leased_by = $3 AND dead_at IS NULL",
            )
            .bind(error_text(error))
            .bind(id.to_string())
            .bind(worker.to_owned()),
        )
        .await
    }

    async fn stats(&self) -> Result<QueueStats, StoreError> {
        let (queued, running, dead): (i64, i64, i64) = sqlx::query_as(
            "SELECT \
               count(*) FILTER (WHERE dead_at IS NULL AND (lease_until IS NULL OR lease_until < now.t)), \
               count(*) FILTER (WHERE dead_at IS NULL AND lease_until >= now.t), \
               count(*) FILTER (WHERE dead_at IS NOT NULL) \
             FROM jobs, (SELECT filegate_now_micros() AS t) AS now",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(QueueStats {
            queued: count("queued", queued)?,
            running: count("running", running)?,
            dead: count("dead", dead)?,
        })
    }

    async fn wait_for_work(&self, max: Duration) {
        self.wakeups.wait(max).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_leases_are_capped_and_nul_is_replaced() {
        assert_eq!(lease_micros(Duration::from_millis(1500)), 1_500_000);
        assert_eq!(lease_micros(Duration::MAX), lease_micros(MAX_LEASE));
        assert!(lease_micros(Duration::MAX) < i64::MAX / 2);
        assert_eq!(error_text("a\0b"), "a\u{fffd}b");
    }
}
