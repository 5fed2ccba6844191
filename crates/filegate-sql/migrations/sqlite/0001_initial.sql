-- filegate's SQLite schema: metadata and the job queue share one database file, so a file's
-- state change and the job it causes commit in one transaction (transactional outbox).
--
-- Conventions:
--   * ids are UUIDs as lowercase hyphenated TEXT (sorts like the UUID bytes);
--   * timestamps are INTEGER microseconds since the Unix epoch (sort correctly, compare
--     exactly with the cursors core builds from `timestamp_micros`);
--   * structured values (policy, roles, metadata, processing, upload plan, job) are JSON TEXT.

CREATE TABLE tenants (
    id          TEXT    NOT NULL PRIMARY KEY,
    created_at  INTEGER NOT NULL
);

CREATE TABLE buckets (
    tenant      TEXT    NOT NULL REFERENCES tenants (id),
    name        TEXT    NOT NULL,
    policy      TEXT    NOT NULL,  -- JSON of BucketPolicy
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant       TEXT    NOT NULL REFERENCES tenants (id),
    name         TEXT    NOT NULL,
    roles        TEXT    NOT NULL,  -- JSON array of role names
    secret_hash  BLOB    NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at, id);

CREATE TABLE files (
    id                 TEXT    NOT NULL PRIMARY KEY,
    tenant             TEXT    NOT NULL,
    bucket             TEXT    NOT NULL,
    path               TEXT    NOT NULL,
    name               TEXT    NOT NULL,  -- last segment of path, the `name` sort key
    size               INTEGER NOT NULL CHECK (size >= 0),
    content_type       TEXT    NOT NULL,  -- as declared, parameters included
    content_essence    TEXT    NOT NULL,  -- `type/subtype`, what filters compare
    declared_sha256    TEXT,
    sha256             TEXT,
    etag               TEXT,
    status             TEXT    NOT NULL,
    status_reason      TEXT,
    previous_status    TEXT,
    owner              TEXT    NOT NULL,
    external_id        TEXT,
    metadata           TEXT    NOT NULL,  -- JSON object
    processing         TEXT    NOT NULL,  -- JSON of Processing
    download_count     INTEGER NOT NULL CHECK (download_count >= 0),
    blob_key           TEXT    NOT NULL,
    upload             TEXT    NOT NULL,  -- JSON of UploadPlan
    upload_expires_at  INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    deleted_at         INTEGER,
    purge_after        INTEGER,
    change_seq         INTEGER NOT NULL UNIQUE,
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
-- The sweeper.
CREATE INDEX files_sweep_expired ON files (status, upload_expires_at);
CREATE INDEX files_sweep_purge   ON files (status, purge_after);

-- One row: the last change_seq handed out. Incremented in the writing transaction, so the
-- sequence is strictly increasing in commit order across the whole database.
CREATE TABLE change_counter (
    id     INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value  INTEGER NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (1, 0);

CREATE TABLE jobs (
    id           TEXT    NOT NULL PRIMARY KEY,
    kind         TEXT    NOT NULL,  -- Job::kind(), for people and stats
    payload      TEXT    NOT NULL,  -- JSON of Job
    run_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    leased_by    TEXT,
    lease_until  INTEGER,
    last_error   TEXT,
    dead_at      INTEGER,           -- set when buried: a dead letter, never claimed again
    created_at   INTEGER NOT NULL
);

CREATE INDEX jobs_claim ON jobs (dead_at, run_at, created_at);
