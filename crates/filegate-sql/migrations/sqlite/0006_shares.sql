-- Share links (issue 6): a random token lets whoever holds it see one file. Only the
-- token's SHA-256 is stored, and a password only as an Argon2id PHC string.
CREATE TABLE shares (
    id                 TEXT    NOT NULL PRIMARY KEY,
    tenant             TEXT    NOT NULL REFERENCES tenants (id),
    file_id            TEXT    NOT NULL REFERENCES files (id),
    token_hash         BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    permission         TEXT    NOT NULL CHECK (permission IN ('view', 'download')),
    created_by         TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    recipient_email    TEXT,
    password_hash      TEXT,
    max_downloads      INTEGER CHECK (max_downloads > 0),
    -- Never past the limit: the access that would pass it is refused by its UPDATE.
    download_count     INTEGER NOT NULL DEFAULT 0
                       CHECK (download_count >= 0 AND (max_downloads IS NULL OR download_count <= max_downloads)),
    access_count       INTEGER NOT NULL DEFAULT 0 CHECK (access_count >= 0),
    last_accessed_at   INTEGER,
    revoked_at         INTEGER,
    -- Password attempts since the last right one, and when the next one may be made.
    password_failures  INTEGER NOT NULL DEFAULT 0 CHECK (password_failures >= 0),
    locked_until       INTEGER
);

CREATE INDEX shares_by_file ON shares (tenant, file_id, created_at);
