CREATE SCHEMA partitions;
SET search_path = partitions, public;

-- Partitioned tables are tracked as a whole; partitions attached later to
-- a tracked partitioned table are tracked too.

-- A list-partitioned table, primary key including the partition key.
CREATE TABLE doc (region text, id integer, body text, n numeric,
                  PRIMARY KEY (region, id)) PARTITION BY LIST (region);
CREATE TABLE doc_eu PARTITION OF doc FOR VALUES IN ('eu');
CREATE TABLE doc_us PARTITION OF doc FOR VALUES IN ('us');
SELECT undoredo_track('doc');
-- tracking one of its partitions again is no error and adds nothing
SELECT undoredo_track('doc_eu');
-- created after undoredo_track
CREATE TABLE doc_asia PARTITION OF doc FOR VALUES IN ('asia');
-- attached after undoredo_track, with another column order and a dropped column
CREATE TABLE doc_af (junk integer, n numeric, body text, id integer NOT NULL,
                     region text NOT NULL);
ALTER TABLE doc_af DROP COLUMN junk;
ALTER TABLE doc ATTACH PARTITION doc_af FOR VALUES IN ('af');
-- a default partition created after undoredo_track
CREATE TABLE doc_other PARTITION OF doc DEFAULT;
SELECT attrelid::regclass, attnum, attname FROM pg_attribute
WHERE attrelid IN ('doc'::regclass, 'doc_af'::regclass) AND attnum > 0
ORDER BY attrelid::regclass::text, attnum;

CREATE VIEW doc_rows AS
  SELECT tableoid::regclass AS part, region, id, body, n::text FROM doc;

-- step 1: rows in every partition
SET undoredo.scope = 'partitions:1';
INSERT INTO doc VALUES ('eu', 1, 'eu one', 1.50), ('eu', 2, 'eu two', NULL),
  ('us', 1, 'us one', 1), ('asia', 1, 'asia one', 2), ('af', 1, 'af one', 3.0),
  ('af', 2, 'af two', 4), ('xx', 1, 'xx one', 5);
-- step 2: updates, on the root and directly on partitions
BEGIN;
UPDATE doc SET body = 'eu one*' WHERE region = 'eu' AND id = 1;
UPDATE doc_af SET n = 3.00, body = 'af one*' WHERE id = 1;
UPDATE doc_asia SET n = n + 1;
INSERT INTO doc_af (id, region, body) VALUES (3, 'af', 'af three');
DELETE FROM doc_us;
COMMIT;
-- step 3: rows moved between partitions, including to and from the
-- partition with another column order
BEGIN;
UPDATE doc SET region = 'af', id = 10 WHERE region = 'eu' AND id = 1;
UPDATE doc SET region = 'us' WHERE region = 'af' AND id = 2;
UPDATE doc SET region = 'zz', body = 'moved to default' WHERE region = 'asia';
UPDATE doc SET region = 'eu', n = -1 WHERE region = 'xx';
COMMIT;
-- step 4: deletes
DELETE FROM doc WHERE region IN ('af', 'zz');
RESET undoredo.scope;
SELECT state, changes FROM undoredo_history('partitions', 1) ORDER BY step;
SELECT * FROM doc_rows ORDER BY region, id;

-- undo step by step: rows come back into their original partitions
SELECT * FROM undoredo_undo('partitions', 1);
SELECT * FROM doc_rows ORDER BY region, id;
SELECT * FROM undoredo_undo('partitions', 1);
SELECT * FROM doc_rows ORDER BY region, id;
SELECT * FROM undoredo_undo('partitions', 1);
SELECT * FROM doc_rows ORDER BY region, id;
SELECT * FROM undoredo_undo('partitions', 1);
SELECT count(*) FROM doc;
-- redo everything, then step by step back
SELECT * FROM undoredo_redo('partitions', 1, 2);
SELECT * FROM doc_rows ORDER BY region, id;
SELECT * FROM undoredo_redo('partitions', 1);
SELECT * FROM doc_rows ORDER BY region, id;
SELECT * FROM undoredo_redo('partitions', 1);
SELECT * FROM doc_rows ORDER BY region, id;
SELECT * FROM undoredo_undo('partitions', 1, 2);
SELECT * FROM doc_rows ORDER BY region, id;
SELECT state, changes FROM undoredo_history('partitions', 1) ORDER BY step;

-- An UPDATE that moves a row to another partition reaches row triggers as a
-- delete and an insert, and is recorded so: undo checks the whole moved
-- row, so a column changed outside the history since is a conflict;
-- overwrite forces the row back, as it was before the step.
SET undoredo.scope = 'partitions:3';
UPDATE doc SET region = 'us' WHERE region = 'eu' AND id = 2;
RESET undoredo.scope;
UPDATE doc SET body = 'changed outside' WHERE region = 'us' AND id = 2;
\set VERBOSITY sqlstate
SELECT * FROM undoredo_undo('partitions', 3);
SELECT * FROM doc_rows WHERE id = 2 AND region IN ('eu', 'us');
SET undoredo.on_conflict = 'overwrite';
SELECT * FROM undoredo_undo('partitions', 3);
SELECT * FROM doc_rows WHERE id = 2 AND region IN ('eu', 'us');
RESET undoredo.on_conflict;
SELECT * FROM undoredo_redo('partitions', 3);
\set VERBOSITY default
SELECT * FROM doc_rows WHERE id = 2 AND region IN ('eu', 'us');

-- A table tracked on its own cannot be attached to a tracked table while
-- it is tracked (its trigger would be there twice); untracked, it can, its
-- history stays usable, and its rows are captured once, through the root.
CREATE TABLE doc_sa (region text NOT NULL, id integer NOT NULL, body text, n numeric,
                     PRIMARY KEY (region, id));
SELECT undoredo_track('doc_sa');
SET undoredo.scope = 'partitions:4';
INSERT INTO doc_sa VALUES ('sa', 1, 'sa one', 1);
RESET undoredo.scope;
\set VERBOSITY terse
ALTER TABLE doc ATTACH PARTITION doc_sa FOR VALUES IN ('sa');
\set VERBOSITY default
SELECT undoredo_untrack('doc_sa');
ALTER TABLE doc ATTACH PARTITION doc_sa FOR VALUES IN ('sa');
SET undoredo.scope = 'partitions:4';
UPDATE doc SET body = 'sa one*' WHERE region = 'sa';
RESET undoredo.scope;
SELECT state, changes FROM undoredo_history('partitions', 4) ORDER BY step;
SELECT * FROM undoredo_undo('partitions', 4, 2);
SELECT count(*) FROM doc_sa;
SELECT * FROM undoredo_redo('partitions', 4, 2);
SELECT * FROM doc_rows WHERE region = 'sa';

-- TRUNCATE of a tracked table, including partitions created or attached
-- later, is refused while a scope is set
SET undoredo.scope = 'partitions:1';
TRUNCATE doc_eu;
TRUNCATE doc_asia;
TRUNCATE doc_af;
TRUNCATE doc_other;
RESET undoredo.scope;
SELECT count(*) FROM doc;

-- A sub-partitioned table: list, then range; a sub-partition with another
-- column order attached after undoredo_track.
CREATE TABLE ev (kind text, at date, id integer, v text, PRIMARY KEY (kind, at, id))
  PARTITION BY LIST (kind);
CREATE TABLE ev_a PARTITION OF ev FOR VALUES IN ('a') PARTITION BY RANGE (at);
CREATE TABLE ev_a_2023 PARTITION OF ev_a FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE ev_b PARTITION OF ev FOR VALUES IN ('b');
SELECT undoredo_track('ev');
CREATE TABLE ev_a_2024 (v text, id integer NOT NULL, at date NOT NULL, kind text NOT NULL);
ALTER TABLE ev_a ATTACH PARTITION ev_a_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE ev_c PARTITION OF ev FOR VALUES IN ('c') PARTITION BY RANGE (at);
CREATE TABLE ev_c_all PARTITION OF ev_c FOR VALUES FROM (MINVALUE) TO (MAXVALUE);
CREATE VIEW ev_rows AS SELECT tableoid::regclass AS part, * FROM ev;
SET undoredo.scope = 'partitions:2';
INSERT INTO ev VALUES ('a', '2023-05-01', 1, 'a1'), ('a', '2024-05-01', 2, 'a2'),
                      ('b', '2023-05-01', 3, 'b3'), ('c', '2020-01-01', 4, 'c4');
BEGIN;
UPDATE ev SET at = '2024-06-01' WHERE id = 1;
UPDATE ev SET kind = 'b', v = 'a2 -> b' WHERE id = 2;
UPDATE ev_a_2024 SET v = 'a1 direct' WHERE id = 1;
UPDATE ev SET kind = 'c' WHERE id = 3;
UPDATE ev SET kind = 'a', at = '2023-01-01' WHERE id = 4;
COMMIT;
DELETE FROM ev_a_2024;
RESET undoredo.scope;
SELECT state, changes FROM undoredo_history('partitions', 2) ORDER BY step;
SELECT * FROM ev_rows ORDER BY id;
SELECT * FROM undoredo_undo('partitions', 2);
SELECT * FROM ev_rows ORDER BY id;
SELECT * FROM undoredo_undo('partitions', 2);
SELECT * FROM ev_rows ORDER BY id;
SELECT * FROM undoredo_redo('partitions', 2);
SELECT * FROM ev_rows ORDER BY id;
SELECT * FROM undoredo_undo('partitions', 2, 2);
SELECT count(*) FROM ev;
SELECT * FROM undoredo_redo('partitions', 2, 3);
SELECT * FROM ev_rows ORDER BY id;
SELECT * FROM undoredo_history('partitions', 2) WHERE state <> 'undo';

RESET search_path;
DROP SCHEMA partitions CASCADE;
