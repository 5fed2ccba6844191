-- The audit trail: append-only. The trigger makes the database itself refuse to change or
-- remove a record, whatever code (or person with a SQL shell) tries.

CREATE TABLE audit_log (
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    tenant      TEXT COLLATE "C" NOT NULL,
    actor       TEXT COLLATE "C" NOT NULL,
    action      TEXT COLLATE "C" NOT NULL,
    file_id     TEXT COLLATE "C",
    request_id  TEXT,
    client_ip   TEXT,
    user_agent  TEXT,
    at          BIGINT  NOT NULL,
    details     JSONB   NOT NULL
);

CREATE INDEX audit_by_tenant ON audit_log (tenant, seq);
CREATE INDEX audit_by_file   ON audit_log (tenant, file_id, seq);
CREATE INDEX audit_by_actor  ON audit_log (tenant, actor, seq);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only';
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
