-- `GET /v1/files?metadata.KEY=VALUE&external_id=…` (issue 21): the list finds a patient's
-- files by their number (seed 001) through an index, not a scan of the tenant's files.
-- (0011 is PostgreSQL's search index; the embedded engine searches with its own index.)
--
-- SQLite keeps metadata as JSON text, which no index looks into for any key. So each
-- (key, value) of a file's metadata is also a row of `file_metadata`, kept by triggers on
-- `files` (whatever statement writes the row), and a filter reads the files that have a
-- pair from there.

-- The external id first: a list filtered by it names the tenant with `+tenant` (see
-- `Dialect::NOT_BY_INDEX`), which keeps SQLite off the tenant's indexes, this one included
-- were the tenant its first column.
CREATE INDEX files_by_external_id ON files (external_id, tenant) WHERE external_id IS NOT NULL;

CREATE TABLE file_metadata (
    tenant   TEXT NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    file_id  TEXT NOT NULL,
    PRIMARY KEY (tenant, key, value, file_id)
) WITHOUT ROWID;

INSERT INTO file_metadata (tenant, key, value, file_id)
    SELECT files.tenant, m.key, m.value, files.id FROM files, json_each(files.metadata) AS m
    WHERE m.type = 'text';

CREATE TRIGGER file_metadata_on_insert AFTER INSERT ON files BEGIN
    INSERT INTO file_metadata (tenant, key, value, file_id)
        SELECT NEW.tenant, m.key, m.value, NEW.id FROM json_each(NEW.metadata) AS m WHERE m.type = 'text';
END;

-- Most updates leave the metadata as it was: only a change rewrites its rows.
CREATE TRIGGER file_metadata_on_update AFTER UPDATE OF metadata ON files
    WHEN NEW.metadata IS NOT OLD.metadata
BEGIN
    DELETE FROM file_metadata WHERE (tenant, key, value, file_id) IN
        (SELECT OLD.tenant, m.key, m.value, OLD.id FROM json_each(OLD.metadata) AS m WHERE m.type = 'text');
    INSERT INTO file_metadata (tenant, key, value, file_id)
        SELECT NEW.tenant, m.key, m.value, NEW.id FROM json_each(NEW.metadata) AS m WHERE m.type = 'text';
END;

CREATE TRIGGER file_metadata_on_delete AFTER DELETE ON files BEGIN
    DELETE FROM file_metadata WHERE (tenant, key, value, file_id) IN
        (SELECT OLD.tenant, m.key, m.value, OLD.id FROM json_each(OLD.metadata) AS m WHERE m.type = 'text');
END;
