-- The change feed orders by (change_xid, change_seq), as on PostgreSQL, where change_xid is
-- the writing transaction's id (see the PostgreSQL migration of the same number). SQLite has
-- one writer at a time and numbers changes in commit order from `change_counter`, so
-- change_xid stays 0 and the order is change_seq's, as before.

ALTER TABLE files ADD COLUMN change_xid INTEGER NOT NULL DEFAULT 0;
CREATE INDEX files_feed ON files (tenant, change_xid, change_seq);
DROP INDEX files_changes;
