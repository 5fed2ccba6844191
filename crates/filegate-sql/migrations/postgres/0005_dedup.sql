-- Dedup and reference-counted blobs (issue 4).
--
-- A blob is in use while any file row referencing it still needs the bytes; the RemoveBlob
-- job asks before deleting them (`blob_in_use`), and collects the thumbnail sizes recorded
-- by every row that shared the blob.
CREATE INDEX files_by_blob ON files (blob_key);
-- A create-upload looks for a `ready` file of the tenant with the sha256 we computed.
CREATE INDEX files_by_sha256 ON files (tenant, sha256) WHERE sha256 IS NOT NULL;
