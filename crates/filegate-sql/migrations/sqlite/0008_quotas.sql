-- Storage quotas per tenant (issue 6).
--
-- A tenant without a row is unlimited; a NULL limit is unlimited too. New tenants get a row
-- with the configured defaults (`[quotas]`); a superadmin changes it.
CREATE TABLE tenant_quotas (
    tenant      TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id),
    max_bytes   INTEGER CHECK (max_bytes >= 0),
    max_files   INTEGER CHECK (max_files >= 0),
    updated_at  INTEGER NOT NULL
);

-- The usage (what a quota is checked against) sums the sizes of the tenant's files that
-- still hold storage; this index covers that sum without touching the rows.
CREATE INDEX files_usage ON files (tenant, bucket, size) WHERE status NOT IN ('expired', 'purged');
