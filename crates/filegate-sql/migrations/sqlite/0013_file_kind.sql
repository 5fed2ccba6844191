-- tus concatenation (issue 23): a partial upload is a pending row of `files` (it expires,
-- is counted against the quota and has its bytes freed like any pending upload), but no file
-- of its own. `kind` says so once, when the row is inserted, and the listings, the folder
-- view and the change feed show only `file` rows.
ALTER TABLE files ADD COLUMN kind TEXT NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'tus-partial'));
