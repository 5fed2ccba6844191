//! `JobQueue` over the `jobs` table: claim under a lease, retry, dead letters.
//!
//! A job is claimable when it is not dead, its `run_at` has come, and it is not under a live
//! lease (`lease_until` unset or past). Claiming sets the lease and counts the attempt in one
//! statement inside a write transaction, so two claimers never get the same job while the
//! lease lives. The clock is the caller's (`Utc::now()` here), never the engine's, so every
//! engine agrees on what "due" means.
//!
//! "Holds the lease" means `leased_by` still names the worker: a worker whose lease ran out
//! but whose job nobody has claimed since may still extend or settle it (the work is not
//! repeated needlessly); once another worker claims the job, the first one gets `NotFound`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::JobId;
use filegate_core::ports::{ClaimedJob, JobQueue, NewJob, QueueStats};

use super::{SqliteStore, insert_job};
use crate::errors::store_err;
use crate::rows::{ClaimedRow, count, micros};

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
        let mut tx = self.write_tx().await?;
        let done = query.execute(&mut *tx).await.map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(store_err)
    }
}

#[async_trait]
impl JobQueue for SqliteStore {
    async fn enqueue(&self, job: &NewJob) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        insert_job(&mut tx, job).await?;
        tx.commit().await.map_err(store_err)?;
        self.wake_workers();
        Ok(())
    }

    async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<ClaimedJob>, StoreError> {
        loop {
            let now = Utc::now();
            let mut tx = self.write_tx().await?;
            let row = sqlx::query_as::<_, ClaimedRow>(
                "UPDATE jobs SET leased_by = ?, lease_until = ?, attempts = attempts + 1 \
                 WHERE id = (SELECT id FROM jobs \
                     WHERE dead_at IS NULL AND run_at <= ? AND (lease_until IS NULL OR lease_until < ?) \
                     ORDER BY run_at, created_at, id LIMIT 1) \
                 RETURNING id, payload, attempts",
            )
            .bind(worker)
            .bind(lease_end(now, lease))
            .bind(micros(now))
            .bind(micros(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_err)?;
            let Some(row) = row else {
                return Ok(None);
            };
            let id = row.id.clone();
            match ClaimedJob::try_from(row) {
                Ok(job) => {
                    tx.commit().await.map_err(store_err)?;
                    return Ok(Some(job));
                }
                Err(e) => {
                    // A payload no worker can read would be claimed and fail forever: make it
                    // a dead letter at once, and look for the next job.
                    tracing::error!(job = %id, error = %e, "burying a job that does not decode");
                    sqlx::query(
                        "UPDATE jobs SET dead_at = ?, leased_by = NULL, lease_until = NULL, last_error = ? \
                         WHERE id = ?",
                    )
                    .bind(micros(now))
                    .bind(e.to_string())
                    .bind(&id)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_err)?;
                    tx.commit().await.map_err(store_err)?;
                }
            }
        }
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
