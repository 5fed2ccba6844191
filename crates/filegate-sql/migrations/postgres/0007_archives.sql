-- Zip bundles (issue 6, seed 001's document manifest): what was asked for, the files fixed
-- when it was asked (in zip order), and how the build went. The zip itself is an object at
-- `archives/<tenant>/<id>.zip`. The same shapes as the SQLite migration of the same number.
CREATE TABLE archives (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant      TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    status      TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'ready', 'failed', 'expired')),
    selection   JSONB            NOT NULL,  -- ArchiveSelection (ids, or the query)
    entries     JSONB            NOT NULL,  -- array of {file_id, path, name, size}
    size        BIGINT           CHECK (size >= 0),  -- of the zip, once built
    error       TEXT,                       -- why it failed
    created_by  TEXT             NOT NULL,
    created_at  BIGINT           NOT NULL,
    updated_at  BIGINT           NOT NULL,
    expires_at  BIGINT           NOT NULL
);

-- The sweeper looks for archives past their expiry that are not expired yet.
CREATE INDEX archives_due ON archives (status, expires_at);
