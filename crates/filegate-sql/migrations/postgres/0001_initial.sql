-- filegate's PostgreSQL schema: metadata and the job queue share one database, so a file's
-- state change and the job it causes commit in one transaction (transactional outbox).
--
-- Conventions (the same values as the SQLite schema, so both engines share one row mapping):
--   * ids are UUIDs as lowercase hyphenated TEXT;
--   * timestamps are BIGINT microseconds since the Unix epoch (sort correctly, compare exactly
--     with the cursors core builds from `timestamp_micros`); `to_timestamp(x / 1e6)` shows one;
--   * structured values (policy, roles, metadata, processing, upload plan, job) are JSONB;
--   * every text column that is compared or sorted is `COLLATE "C"`: byte order, as SQLite
--     compares, whatever the database's locale — listing by name, prefix ranges and the id
--     tie-breaker depend on it.

-- The database's clock in microseconds. Leases and due times are measured against it, so
-- every process agrees on them whatever its own clock says. STABLE: the transaction's start.
CREATE FUNCTION filegate_now_micros() RETURNS BIGINT
    LANGUAGE SQL STABLE PARALLEL SAFE
    AS $$ SELECT (extract(epoch FROM now()) * 1000000)::BIGINT $$;

CREATE TABLE tenants (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    created_at  BIGINT           NOT NULL
);

CREATE TABLE buckets (
    tenant      TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    name        TEXT COLLATE "C" NOT NULL,
    policy      JSONB            NOT NULL,  -- BucketPolicy
    created_at  BIGINT           NOT NULL,
    updated_at  BIGINT           NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE api_keys (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant       TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    name         TEXT             NOT NULL,
    roles        JSONB            NOT NULL,  -- array of role names
    secret_hash  BYTEA            NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    created_at   BIGINT           NOT NULL,
    revoked_at   BIGINT
);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at, id);

CREATE TABLE files (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant             TEXT COLLATE "C" NOT NULL,
    bucket             TEXT COLLATE "C" NOT NULL,
    path               TEXT COLLATE "C" NOT NULL,
    name               TEXT COLLATE "C" NOT NULL,  -- last segment of path, the `name` sort key
    size               BIGINT           NOT NULL CHECK (size >= 0),
    content_type       TEXT             NOT NULL,  -- as declared, parameters included
    content_essence    TEXT COLLATE "C" NOT NULL,  -- `type/subtype`, what filters compare
    declared_sha256    TEXT,
    sha256             TEXT,
    etag               TEXT,
    status             TEXT             NOT NULL,
    status_reason      TEXT,
    previous_status    TEXT,
    owner              TEXT             NOT NULL,
    external_id        TEXT,
    metadata           JSONB            NOT NULL,  -- object of strings
    processing         JSONB            NOT NULL,  -- Processing
    download_count     BIGINT           NOT NULL CHECK (download_count >= 0),
    blob_key           TEXT             NOT NULL,
    upload             JSONB            NOT NULL,  -- UploadPlan
    upload_expires_at  BIGINT           NOT NULL,
    created_at         BIGINT           NOT NULL,
    updated_at         BIGINT           NOT NULL,
    deleted_at         BIGINT,
    purge_after        BIGINT,
    change_seq         BIGINT           NOT NULL UNIQUE,
    FOREIGN KEY (tenant, bucket) REFERENCES buckets (tenant, name)
);

-- Listing inside a bucket, one index per sort key, the id breaking ties.
CREATE INDEX files_by_created ON files (tenant, bucket, created_at, id);
CREATE INDEX files_by_name    ON files (tenant, bucket, name, id);
CREATE INDEX files_by_size    ON files (tenant, bucket, size, id);
-- Prefix listing (a range over path) and listing across buckets.
CREATE INDEX files_by_path    ON files (tenant, bucket, path);
CREATE INDEX files_by_tenant_created ON files (tenant, created_at, id);
-- The change feed.
CREATE INDEX files_changes    ON files (tenant, change_seq);
-- The sweeper: only the rows it looks for.
CREATE INDEX files_sweep_expired ON files (upload_expires_at) WHERE status = 'pending';
CREATE INDEX files_sweep_purge   ON files (purge_after) WHERE status = 'deleted';

-- One row: the last change_seq handed out. A writer increments it inside its transaction and
-- holds the row lock until it commits, so the next writer gets the next number only after
-- that: change_seq increases in commit order, and a change-feed reader that has seen n has
-- seen everything below n. (A SEQUENCE hands numbers out in call order, not commit order.)
CREATE TABLE change_counter (
    id     INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value  BIGINT  NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (1, 0);

CREATE TABLE jobs (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    kind         TEXT             NOT NULL,  -- Job::kind(), for people and stats
    payload      JSONB            NOT NULL,  -- Job
    run_at       BIGINT           NOT NULL,
    attempts     BIGINT           NOT NULL DEFAULT 0,
    leased_by    TEXT,
    lease_until  BIGINT,
    last_error   TEXT,
    dead_at      BIGINT,                     -- set when buried: a dead letter, never claimed again
    created_at   BIGINT           NOT NULL
);

-- Claiming walks the live jobs in due order.
CREATE INDEX jobs_claim ON jobs (run_at, created_at, id) WHERE dead_at IS NULL;
