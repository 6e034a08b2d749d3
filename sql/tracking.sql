-- Tracking: undoredo_track / undoredo_untrack
CREATE SCHEMA tracking;
SET search_path = tracking, public;

CREATE TABLE doc (id bigint PRIMARY KEY, title text);
SELECT undoredo_track('doc');
-- the C row trigger and the statement guard (scope lock, TRUNCATE refusal)
SELECT pg_get_triggerdef(oid) FROM pg_trigger
WHERE tgrelid = 'doc'::regclass ORDER BY tgname;
-- tracking a tracked table again is not an error and adds nothing
SELECT undoredo_track('doc');
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'doc'::regclass;

-- the table must have a primary key; the error names the table and says why
CREATE TABLE "No Key" (id int, note text);
SELECT undoredo_track('"No Key"');
CREATE TABLE uniq_only (id int UNIQUE NOT NULL);
SELECT undoredo_track('uniq_only');

-- only tables: not a view, a materialized view, a sequence, a temporary table
CREATE VIEW doc_view AS SELECT * FROM doc;
SELECT undoredo_track('doc_view');
CREATE MATERIALIZED VIEW doc_mv AS SELECT * FROM doc;
SELECT undoredo_track('doc_mv');
CREATE SEQUENCE doc_seq;
SELECT undoredo_track('doc_seq');
CREATE TEMP TABLE scratch (id int PRIMARY KEY);
SELECT undoredo_track('scratch');
SELECT undoredo_track('pg_catalog.pg_class');
SELECT undoredo_track('public.undo_action');
SELECT undoredo_track(NULL);
SELECT undoredo_track('no_such_table');

-- a tracked table's changes are captured under a scope
SET undoredo.scope = 'doc:1';
INSERT INTO doc VALUES (1, 'one');
SELECT undo_count, redo_count FROM undoredo_status('doc', 1);

-- untrack stops capturing; the history recorded so far stays
SELECT undoredo_untrack('doc');
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'doc'::regclass;
INSERT INTO doc VALUES (2, 'two');
SELECT undo_count, redo_count FROM undoredo_status('doc', 1);
SELECT * FROM undoredo_undo('doc', 1);
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_redo('doc', 1);
SELECT * FROM doc ORDER BY id;
-- untracking an untracked table only says so
SELECT undoredo_untrack('doc');

-- tracking again resumes capture
SELECT undoredo_track('doc');
UPDATE doc SET title = 'TWO' WHERE id = 2;
SELECT undo_count, redo_count FROM undoredo_status('doc', 1);

-- a partitioned table: the row trigger is cloned to every partition, the
-- guard is put on every partition, including those created or attached
-- after tracking
CREATE TABLE part (id int, k int, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
CREATE TABLE part_1 PARTITION OF part FOR VALUES IN (1);
SELECT undoredo_track('part');
CREATE TABLE part_2 PARTITION OF part FOR VALUES IN (2);
CREATE TABLE part_3 (id int, k int, PRIMARY KEY (id, k));
ALTER TABLE part ATTACH PARTITION part_3 FOR VALUES IN (3);
SELECT tgrelid::regclass, tgname FROM pg_trigger
WHERE tgrelid IN (SELECT relid FROM pg_partition_tree('part'))
ORDER BY tgrelid::regclass::text, tgname;
SET undoredo.scope = 'part:1';
TRUNCATE part_3;
TRUNCATE part;
RESET undoredo.scope;
-- untracking the partitioned table removes them all
SELECT undoredo_untrack('part');
SELECT count(*) FROM pg_trigger
WHERE tgrelid IN (SELECT relid FROM pg_partition_tree('part'));

-- a role without TRIGGER privilege on the table can neither track nor untrack it
RESET undoredo.scope;
CREATE ROLE undoredo_test_tracker;
GRANT USAGE ON SCHEMA tracking TO undoredo_test_tracker;
CREATE TABLE other (id int PRIMARY KEY);
SET ROLE undoredo_test_tracker;
SELECT undoredo_track('other');
SELECT undoredo_untrack('other');
RESET ROLE;

SELECT undoredo_clear('doc', 1);
DROP SCHEMA tracking CASCADE;
DROP OWNED BY undoredo_test_tracker;
DROP ROLE undoredo_test_tracker;
