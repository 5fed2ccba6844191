-- The change feed without a row that every writer locks.
--
-- Until now each writing transaction incremented the one row of `change_counter` and kept it
-- locked until it committed: change numbers followed commit order, and writes of every
-- tenant ran one at a time. Now a changed row draws `change_seq` from a sequence (no lock,
-- but not commit order) and records the 64-bit id of its transaction in `change_xid`. The
-- feed orders by (change_xid, change_seq) and shows only changes of transactions older than
-- the oldest one still running (`pg_snapshot_xmin`): every one of those has ended, so a
-- change that commits late cannot land behind a cursor already handed out.
--
-- Rows written before keep change_xid 0 and their numbers, so they come first, in their old
-- order, and a cursor of an earlier version (a plain number) stays valid. Gateways of an
-- earlier version must be stopped before this runs: they would still use the counter.

CREATE SEQUENCE files_change_seq AS BIGINT;
SELECT setval('files_change_seq', GREATEST(value, 1), value > 0) FROM change_counter WHERE id = 1;
DROP TABLE change_counter;

ALTER TABLE files ADD COLUMN change_xid BIGINT NOT NULL DEFAULT 0;
CREATE INDEX files_feed ON files (tenant, change_xid, change_seq);
DROP INDEX files_changes;
