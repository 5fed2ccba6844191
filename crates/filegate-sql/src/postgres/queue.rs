//! PostgreSQL's fair claim, shared by every worker process: one statement picks due jobs
//! fairly across tenants ([`FAIR_CLAIM`], the same order as the SQLite claim) with
//! `FOR UPDATE SKIP LOCKED` — concurrent claimers skip the rows others are taking instead
//! of queueing behind them — and sets the lease and counts the attempt. "Now" is the
//! database's clock (`filegate_now_micros()`), so every process measures leases alike.

use std::time::Duration;

use chrono::Utc;
use filegate_core::StoreError;
use filegate_core::ports::{ClaimedJob, Lane};

use super::PgEngine;
use crate::engine::Claims;
use crate::errors::store_err;
use crate::jobs::{ClaimedRow, bury_undecodable, claimed_columns, decode_claimed};

/// Leases longer than a century are taken as a century: `now + lease` stays in range.
const MAX_LEASE: Duration = Duration::from_secs(100 * 366 * 24 * 3600);

pub(super) fn lease_micros(lease: Duration) -> i64 {
    i64::try_from(lease.min(MAX_LEASE).as_micros()).unwrap_or(i64::MAX)
}

impl Claims for PgEngine {
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
        bury_undecodable(self, undecodable, Utc::now()).await?;
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
const FAIR_CLAIM: &str = concat!(
    "\
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
RETURNING ",
    claimed_columns!()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_leases_are_capped() {
        assert_eq!(lease_micros(Duration::from_millis(1500)), 1_500_000);
        assert_eq!(lease_micros(Duration::MAX), lease_micros(MAX_LEASE));
        assert!(lease_micros(Duration::MAX) < i64::MAX / 2);
    }
}
