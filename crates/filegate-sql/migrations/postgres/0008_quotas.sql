-- Storage quotas per tenant (issue 6).
--
-- A tenant without a row is unlimited; a NULL limit is unlimited too. New tenants get a row
-- with the configured defaults (`[quotas]`); a superadmin changes it. Inserting a file of a
-- tenant with a row locks the row (`FOR UPDATE`) until commit, so concurrent inserts of one
-- tenant are checked one after the other against the usage.
CREATE TABLE tenant_quotas (
    tenant      TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES tenants (id),
    max_bytes   BIGINT CHECK (max_bytes >= 0),
    max_files   BIGINT CHECK (max_files >= 0),
    updated_at  BIGINT NOT NULL
);

-- The usage (what a quota is checked against) sums the sizes of the tenant's files that
-- still hold storage; this index covers that sum (an index-only scan).
CREATE INDEX files_usage ON files (tenant, bucket, size) WHERE status NOT IN ('expired', 'purged');
