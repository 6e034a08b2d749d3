-- Maintenance of the history tables between captures: VACUUM FULL, CLUSTER
-- and REINDEX give the tables and indexes new files, REINDEX CONCURRENTLY
-- gives the indexes' names to new indexes, and a DBA may add indexes of his
-- own (on an expression, partial, with INCLUDE, unique).  Capture, undo and
-- redo go on in this session, which knew the old files and indexes, and
-- every index holds every row of the history (amcheck).  The concurrent
-- forms, while captures run, are in specs/maintenance_concurrent.spec.
CREATE SCHEMA maintenance;
SET search_path = maintenance, public;
CREATE EXTENSION amcheck SCHEMA maintenance;
CREATE TABLE doc (id int PRIMARY KEY, v text);
SELECT undoredo_track('doc');
CREATE VIEW history_indexes_ok AS
  SELECT count(bt_index_check(i.indexrelid, true)) AS indexes_checked
  FROM pg_index i
  WHERE i.indrelid IN ('undoredo_scope'::regclass, 'undo_action'::regclass,
                       'redo_action'::regclass, 'undoredo_change'::regclass);

SET undoredo.scope = 'maintenance:1';
INSERT INTO doc VALUES (1, 'one');
UPDATE doc SET v = 'uno' WHERE id = 1;

-- indexes of the DBA's own
CREATE INDEX CONCURRENTLY dba_label_idx ON undo_action (lower(label));
CREATE INDEX CONCURRENTLY dba_labelled_idx ON undo_action (created_at)
  WHERE label IS NOT NULL;
CREATE INDEX dba_change_idx ON undoredo_change (step) INCLUDE (nchanges);
CREATE UNIQUE INDEX dba_scope_idx ON undoredo_scope (object_id, object_type);
SET undoredo.label = 'Third';
INSERT INTO doc VALUES (2, 'two');
RESET undoredo.label;
SET enable_seqscan = off;
SELECT count(*) AS labelled_third FROM undo_action WHERE lower(label) = 'third';
SELECT count(*) AS labelled FROM undo_action WHERE label IS NOT NULL
  AND created_at > '2000-01-01';
RESET enable_seqscan;

VACUUM FULL undoredo_scope, undo_action, redo_action, undoredo_change;
INSERT INTO doc VALUES (3, 'three');
SELECT * FROM undoredo_undo('maintenance', 1);
SET undoredo.scope = 'maintenance:2';
INSERT INTO doc VALUES (20, 'twenty');

CLUSTER undoredo_scope USING undoredo_scope_pkey;
CLUSTER undo_action USING undo_action_scope_idx;
CLUSTER redo_action USING redo_action_scope_idx;
CLUSTER undoredo_change USING undoredo_change_pkey;
SELECT * FROM undoredo_redo('maintenance', 1);
SET undoredo.scope = 'maintenance:3';
INSERT INTO doc VALUES (30, 'thirty');

REINDEX TABLE undoredo_scope;
REINDEX TABLE undo_action;
REINDEX TABLE redo_action;
REINDEX TABLE undoredo_change;
SELECT * FROM undoredo_undo('maintenance', 2);
SET undoredo.scope = 'maintenance:4';
INSERT INTO doc VALUES (40, 'forty');

REINDEX TABLE CONCURRENTLY undoredo_scope;
REINDEX TABLE CONCURRENTLY undo_action;
REINDEX TABLE CONCURRENTLY redo_action;
REINDEX TABLE CONCURRENTLY undoredo_change;
SELECT * FROM undoredo_redo('maintenance', 2);
SET undoredo.scope = 'maintenance:5';
INSERT INTO doc VALUES (50, 'fifty');
SET undoredo.scope = 'maintenance:1';
UPDATE doc SET v = 'one' WHERE id = 1;
RESET undoredo.scope;

SELECT * FROM doc ORDER BY id;
SELECT step > 0 AS step, state, label, changes
FROM undoredo_history('maintenance', 1) ORDER BY step;
SELECT * FROM history_indexes_ok;

-- all of it undoes
SELECT * FROM undoredo_undo('maintenance', 1, 10);
SELECT s, u.* FROM generate_series(2, 5) s, undoredo_undo('maintenance', s) u;
SELECT * FROM doc ORDER BY id;
SELECT * FROM history_indexes_ok;

SELECT undoredo_clear('maintenance', s) FROM generate_series(1, 5) s;
DROP INDEX dba_label_idx, dba_labelled_idx, dba_change_idx, dba_scope_idx;
DROP SCHEMA maintenance CASCADE;
