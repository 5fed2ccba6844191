-- The audit trail: append-only. The triggers make the database itself refuse to change or
-- remove a record, whatever code (or person with a SQL shell) tries.

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,  -- position; never reused
    id          TEXT    NOT NULL UNIQUE,            -- idempotency: an id is appended once
    tenant      TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    file_id     TEXT,
    request_id  TEXT,
    client_ip   TEXT,
    user_agent  TEXT,
    at          INTEGER NOT NULL,
    details     TEXT    NOT NULL  -- JSON
);

CREATE INDEX audit_by_tenant ON audit_log (tenant, seq);
CREATE INDEX audit_by_file   ON audit_log (tenant, file_id, seq);
CREATE INDEX audit_by_actor  ON audit_log (tenant, actor, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;
