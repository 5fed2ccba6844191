-- Zip bundles (issue 6, seed 001's document manifest): what was asked for, the files fixed
-- when it was asked (in zip order), and how the build went. The zip itself is an object at
-- `archives/<tenant>/<id>.zip`.
CREATE TABLE archives (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant      TEXT    NOT NULL REFERENCES tenants (id),
    status      TEXT    NOT NULL CHECK (status IN ('pending', 'ready', 'failed', 'expired')),
    selection   TEXT    NOT NULL,  -- JSON of ArchiveSelection (ids, or the query)
    entries     TEXT    NOT NULL,  -- JSON array of {file_id, path, name, size}
    size        INTEGER CHECK (size >= 0),  -- of the zip, once built
    error       TEXT,              -- why it failed
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- The sweeper looks for archives past their expiry that are not expired yet.
CREATE INDEX archives_due ON archives (status, expires_at);
