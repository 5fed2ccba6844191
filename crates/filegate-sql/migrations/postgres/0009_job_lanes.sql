-- Job lanes and fair claims (issue 19).
--
-- `lane` is `Job::lane()`: 'pipeline' (files, bundles, announcements) or 'delivery'
-- (webhooks, emails, trigger calls). Workers claim each lane into slots of their own, so a
-- receiver that never answers cannot hold back any file. `tenant` is `Job::tenant()` ('' for
-- the platform's own work); a claim walks the tenants with work in the lane and takes from
-- the ones with the fewest jobs under a live lease first (postgres/queue.rs).
ALTER TABLE jobs
    ADD COLUMN lane TEXT NOT NULL DEFAULT 'pipeline',
    ADD COLUMN tenant TEXT COLLATE "C" NOT NULL DEFAULT '';

UPDATE jobs SET
    lane = CASE WHEN kind IN ('deliver_webhook', 'send_alert_email', 'send_share_email', 'call_trigger')
                THEN 'delivery' ELSE 'pipeline' END,
    tenant = COALESCE(payload ->> 'tenant', payload -> 'event' ->> 'tenant', payload -> 'call' ->> 'tenant', '');

-- A tenant's due jobs of a lane, oldest first (and the tenants with work, by skipping from
-- one tenant to the next).
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (lane, tenant, run_at, created_at, id) WHERE dead_at IS NULL;
-- A tenant's jobs under a lease, counted at each claim: only those that are running.
CREATE INDEX jobs_leased ON jobs (lane, tenant, lease_until) WHERE lease_until IS NOT NULL;
