-- A partition detached from a tracked table keeps nothing of the tracking:
-- no capture trigger (PostgreSQL drops the clones), no guard (the event
-- trigger drops it, also from the partition's own partitions), so it can be
-- truncated under a scope, its writes take no scope lock, and it can be
-- tracked on its own.  DETACH PARTITION CONCURRENTLY too.
CREATE SCHEMA detach;
SET search_path = detach, public;
CREATE TABLE doc (region text, id int, body text, PRIMARY KEY (region, id))
  PARTITION BY LIST (region);
CREATE TABLE doc_eu PARTITION OF doc FOR VALUES IN ('eu', 'ch')
  PARTITION BY LIST (region);
CREATE TABLE doc_eu_eu PARTITION OF doc_eu FOR VALUES IN ('eu');
CREATE TABLE doc_eu_ch PARTITION OF doc_eu FOR VALUES IN ('ch');
CREATE TABLE doc_us PARTITION OF doc FOR VALUES IN ('us');
CREATE TABLE doc_asia PARTITION OF doc FOR VALUES IN ('asia');
SELECT undoredo_track('doc');
CREATE VIEW triggers AS
  SELECT tgrelid::regclass AS tbl, tgname FROM pg_trigger
  WHERE tgname LIKE 'undoredo%' AND tgrelid::regclass::text LIKE 'doc%'
  ORDER BY 1, 2;
-- the scope locks this transaction holds
CREATE VIEW scope_locks AS
  SELECT count(*) AS scope_locks FROM pg_locks
  WHERE locktype = 'advisory' AND objsubid = 21842
    AND pid = pg_backend_pid();

SET undoredo.scope = 'detach:1';
INSERT INTO doc VALUES ('eu', 1, 'eu'), ('ch', 1, 'ch'), ('us', 1, 'us'),
  ('asia', 1, 'asia');
RESET undoredo.scope;
SELECT * FROM triggers;

ALTER TABLE doc DETACH PARTITION doc_eu;
ALTER TABLE doc DETACH PARTITION doc_us CONCURRENTLY;
SELECT * FROM triggers;

-- under a scope: TRUNCATE is allowed, writes take no scope lock and make
-- no step
SET undoredo.scope = 'detach:2';
BEGIN;
INSERT INTO doc_eu VALUES ('eu', 2, 'eu two');
UPDATE doc_us SET body = 'US';
SELECT * FROM scope_locks;
COMMIT;
TRUNCATE doc_eu_ch;
TRUNCATE doc_us;
SELECT * FROM undoredo_status('detach', 2);
-- the table still tracked keeps its guard
TRUNCATE doc_asia;
RESET undoredo.scope;

-- the detached partitions can be tracked on their own
SELECT undoredo_track('doc_eu');
SELECT undoredo_track('doc_us');
SELECT * FROM triggers;
SET undoredo.scope = 'detach:3';
INSERT INTO doc_eu VALUES ('ch', 3, 'ch three');
UPDATE doc_eu SET body = 'EU' WHERE id = 1;
INSERT INTO doc_us VALUES ('us', 3, 'us three');
RESET undoredo.scope;
SELECT * FROM undoredo_undo('detach', 3);
SELECT * FROM doc_eu ORDER BY region, id;
SELECT * FROM undoredo_undo('detach', 3, 2);
SELECT * FROM doc_eu ORDER BY region, id;
SELECT * FROM doc_us ORDER BY region, id;

-- a guard left behind (by an older version, or while event triggers did
-- not fire) does nothing, and tracking again takes it over
SELECT undoredo_untrack('doc_us');
SET session_replication_role = replica;
ALTER TABLE doc ATTACH PARTITION doc_us FOR VALUES IN ('us');
RESET session_replication_role;
SELECT undoredo_untrack('doc');
SELECT undoredo_track('doc');
SET session_replication_role = replica;
ALTER TABLE doc DETACH PARTITION doc_us;
RESET session_replication_role;
SELECT * FROM triggers WHERE tbl = 'doc_us'::regclass;
SET undoredo.scope = 'detach:4';
BEGIN;
INSERT INTO doc_us VALUES ('us', 4, 'us four');
SELECT * FROM scope_locks;
COMMIT;
TRUNCATE doc_us;
RESET undoredo.scope;
SELECT undoredo_track('doc_us');
SELECT * FROM triggers WHERE tbl = 'doc_us'::regclass;

SELECT undoredo_clear('detach', s) FROM generate_series(1, 4) s;
DROP SCHEMA detach CASCADE;
