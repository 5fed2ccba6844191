-- Exchange passphrases and file requests (seed 000), and what an upload declares about them.
-- The same shapes as the SQLite migration of the same number.

-- Every version of a tenant's exchange passphrase. `sealed` is the passphrase encrypted
-- (AES-256-GCM) under a key derived from the deployment secret: never stored in clear.
CREATE TABLE exchange_passphrases (
    tenant      TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    version     BIGINT           NOT NULL CHECK (version > 0),
    sealed      BYTEA            NOT NULL,
    created_at  BIGINT           NOT NULL,
    created_by  TEXT             NOT NULL,
    retired_at  BIGINT,                     -- when a newer version replaced it
    PRIMARY KEY (tenant, version)
);

CREATE TABLE file_requests (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant      TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    parameters  JSONB            NOT NULL,  -- object, free-form (patients, units, time window)
    note        TEXT             NOT NULL,
    status      TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'fulfilled', 'cancelled')),
    due_at      BIGINT,
    file_id     TEXT,                       -- the file that fulfilled it
    created_by  TEXT             NOT NULL,
    created_at  BIGINT           NOT NULL,
    updated_at  BIGINT           NOT NULL
);

-- Exchange clients poll the pending ones, oldest first.
CREATE INDEX file_requests_by_status ON file_requests (tenant, status, created_at, id);
CREATE INDEX file_requests_by_tenant ON file_requests (tenant, created_at, id);

ALTER TABLE files ADD COLUMN encryption TEXT;   -- 'age' when the bytes arrive encrypted
ALTER TABLE files ADD COLUMN request_id TEXT;   -- the file request the upload answers
