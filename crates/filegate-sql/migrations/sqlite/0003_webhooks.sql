-- Webhook subscriptions, the record of every delivery attempt, and alert recipients.

CREATE TABLE webhooks (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant      TEXT    NOT NULL REFERENCES tenants (id),
    url         TEXT    NOT NULL,
    events      TEXT    NOT NULL,  -- JSON array of event patterns
    secret      BLOB    NOT NULL,  -- sealed with a key derived from the deployment secret
    created_at  INTEGER NOT NULL
);

CREATE INDEX webhooks_by_tenant ON webhooks (tenant, created_at, id);

CREATE TABLE webhook_deliveries (
    id            TEXT    NOT NULL PRIMARY KEY,  -- UUIDv7: ordered by attempt time
    webhook_id    TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant        TEXT    NOT NULL,
    event_id      TEXT    NOT NULL,
    event_type    TEXT    NOT NULL,
    attempt       INTEGER NOT NULL CHECK (attempt >= 0),
    attempted_at  INTEGER NOT NULL,
    status_code   INTEGER,
    error         TEXT,
    duration_ms   INTEGER NOT NULL CHECK (duration_ms >= 0),
    delivered     INTEGER NOT NULL CHECK (delivered IN (0, 1))
);

CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_by_event   ON webhook_deliveries (webhook_id, event_id);

CREATE TABLE alert_recipients (
    tenant      TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id),
    emails      TEXT    NOT NULL,  -- JSON array of addresses
    updated_at  INTEGER NOT NULL
);
