//! SQLite's fair claim. Which jobs a claim takes is fair across tenants: every tenant with
//! work in the lane offers its oldest due jobs, and the tenants with the fewest jobs running
//! go first. The reads touch a few index entries per tenant with work, never the backlog: a
//! tenant with ten thousand queued jobs costs a claim what a tenant with one costs.
//!
//! Two statements, no `BEGIN … COMMIT`: the jobs each tenant offers ([`OFFERED`]) are read
//! on a reader connection and ranked here ([`fair_pick`]); then the writer leases the picked
//! ones by id, checking again that each is still claimable, so a job another claimer took
//! meanwhile is left out, never shared. Ranking inside one statement (a window function
//! over the offered jobs) cost the single writer about ten times the old oldest-first
//! claim; this way the writer's part is a lookup by key. The small-files benchmark spends
//! most of its writer time on claims and settlements.

use std::time::Duration;

use chrono::Utc;
use filegate_core::StoreError;
use filegate_core::ports::{ClaimedJob, Lane};

use super::SqliteEngine;
use super::dialect::lease_end;
use crate::convert::{micros, to_json};
use crate::engine::Claims;
use crate::errors::store_err;
use crate::jobs::{ClaimedRow, bury_undecodable, claimed_columns, decode_claimed};

impl Claims for SqliteEngine {
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
            let rows = sqlx::query_as::<_, ClaimedRow>(LEASE)
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
            bury_undecodable(self, undecodable, now).await?;
            return Ok((found, claimed));
        }
        Ok((0, Vec::new()))
    }
}

/// Leases the jobs ?2 (a JSON array of ids) that are still claimable at ?1 to worker ?3
/// until ?4.
const LEASE: &str = concat!(
    "UPDATE jobs SET leased_by = ?3, lease_until = ?4, attempts = attempts + 1 \
     WHERE id IN (SELECT value FROM json_each(?2)) \
       AND dead_at IS NULL AND run_at <= ?1 AND (lease_until IS NULL OR lease_until < ?1) \
     RETURNING ",
    claimed_columns!()
);

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
