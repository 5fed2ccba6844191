-- Share links (issue 6): a random token lets whoever holds it see one file. Only the
-- token's SHA-256 is stored, and a password only as an Argon2id PHC string.
-- The same shapes as the SQLite migration of the same number.
CREATE TABLE shares (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant             TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    file_id            TEXT COLLATE "C" NOT NULL REFERENCES files (id),
    token_hash         BYTEA            NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    permission         TEXT COLLATE "C" NOT NULL CHECK (permission IN ('view', 'download')),
    created_by         TEXT             NOT NULL,
    created_at         BIGINT           NOT NULL,
    expires_at         BIGINT           NOT NULL,
    recipient_email    TEXT,
    password_hash      TEXT,
    max_downloads      BIGINT CHECK (max_downloads > 0),
    -- Never past the limit: the access that would pass it is refused by its UPDATE.
    download_count     BIGINT           NOT NULL DEFAULT 0
                       CHECK (download_count >= 0 AND (max_downloads IS NULL OR download_count <= max_downloads)),
    access_count       BIGINT           NOT NULL DEFAULT 0 CHECK (access_count >= 0),
    last_accessed_at   BIGINT,
    revoked_at         BIGINT,
    -- Password attempts since the last right one, and when the next one may be made.
    password_failures  BIGINT           NOT NULL DEFAULT 0 CHECK (password_failures >= 0),
    locked_until       BIGINT
);

CREATE INDEX shares_by_file ON shares (tenant, file_id, created_at);
