-- `GET /v1/files?metadata.KEY=VALUE&external_id=…` (issue 21): the list finds a patient's
-- files by their number (seed 001) through an index, not a scan of the tenant's files.
--
-- metadata.KEY=VALUE is containment (`metadata @> '{"KEY": "VALUE"}'`), which a GIN index
-- of the metadata's paths serves for any key. Building it reads every row of `files` once
-- and holds off writes to `files` meanwhile (seconds per million files).

CREATE INDEX files_by_metadata ON files USING gin (metadata jsonb_path_ops);
CREATE INDEX files_by_external_id ON files (tenant, external_id) WHERE external_id IS NOT NULL;
