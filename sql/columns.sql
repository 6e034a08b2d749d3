-- Recorded columns are found by attnum in the table that recorded them, and
-- by name in another one: pg_dump does not keep dropped columns, so a
-- restored table numbers its columns otherwise (test/dump.sh restores into
-- another database).  Here a table is re-created as pg_dump would create
-- it and the history pointed at it.
CREATE SCHEMA cols;
SET search_path = cols, public;
CREATE TABLE t (id integer PRIMARY KEY, a text, b text);
INSERT INTO t VALUES (1, 'a1', 'b1'), (2, 'a2', 'b2');
SELECT undoredo_track('t');
ALTER TABLE t DROP COLUMN a;
ALTER TABLE t ADD COLUMN c text;
SET undoredo.scope = 'cols:1';
UPDATE t SET b = 'B' || id, c = 'C' || id;
DELETE FROM t WHERE id = 2;
RESET undoredo.scope;
SELECT * FROM t ORDER BY id;
-- the steps of this test (other tests leave histories behind)
CREATE TEMP VIEW steps AS
SELECT step FROM undo_action a JOIN undoredo_scope s USING (scope_id)
WHERE s.object_type = 'cols'
UNION ALL
SELECT step FROM redo_action a JOIN undoredo_scope s USING (scope_id)
WHERE s.object_type = 'cols';

-- what a chunk keeps: the tables' oids and column names, and its origin
SELECT relids, reloids = relids::oid[] AS same_oids, relcolumns,
       origin = (SELECT system_identifier FROM pg_control_system()) || ':' ||
                (SELECT oid FROM pg_database WHERE datname = current_database())
       AS origin_here
FROM undoredo_change WHERE step IN (SELECT step FROM steps) ORDER BY step, seq;

-- the table that recorded the steps: a renamed column is the same column
ALTER TABLE t RENAME b TO bb;
SELECT * FROM undoredo_undo('cols', 1, 2);
SELECT * FROM t ORDER BY id;
SELECT * FROM undoredo_redo('cols', 1, 2);
SELECT * FROM t ORDER BY id;
ALTER TABLE t RENAME bb TO b;

-- the same table as a restore makes it: id, b, c numbered 1, 2, 3
CREATE TABLE t_restored (id integer PRIMARY KEY, b text, c text);
INSERT INTO t_restored SELECT id, b, c FROM t;
SELECT undoredo_track('t_restored');
UPDATE undoredo_change SET relids = '{cols.t_restored}'
WHERE step IN (SELECT step FROM steps);
UPDATE undoredo_scope SET relids = '{cols.t_restored}'
WHERE object_type = 'cols';
SELECT * FROM undoredo_undo('cols', 1);
SELECT * FROM t_restored ORDER BY id;
SELECT * FROM undoredo_undo('cols', 1);
SELECT * FROM t_restored ORDER BY id;
SELECT * FROM undoredo_redo('cols', 1, 2);
SELECT * FROM t_restored ORDER BY id;
-- overwrite writes the recorded values without comparing: into the right
-- columns too
SET undoredo.on_conflict = 'overwrite';
UPDATE t_restored SET c = 'changed' WHERE id = 1;
SELECT * FROM undoredo_undo('cols', 1, 2);
SELECT * FROM t_restored ORDER BY id;
SELECT * FROM undoredo_redo('cols', 1, 2);
SELECT * FROM t_restored ORDER BY id;
RESET undoredo.on_conflict;

-- a column of the restored table renamed since counts as dropped: only
-- b comes back
ALTER TABLE t_restored RENAME c TO cc;
SELECT * FROM undoredo_undo('cols', 1, 2);
SELECT * FROM t_restored ORDER BY id;
ALTER TABLE t_restored RENAME cc TO c;
UPDATE t_restored SET c = NULL;
SELECT * FROM undoredo_redo('cols', 1, 2);
SELECT * FROM t_restored ORDER BY id;

-- a column that has another type in the restored table is refused
ALTER TABLE t_restored ALTER c TYPE varchar(10);
\set VERBOSITY sqlstate
SELECT undoredo_test_try($$SELECT undoredo_undo('cols', 1)$$);
\set VERBOSITY default
ALTER TABLE t_restored ALTER c TYPE text;

-- chunks recorded before the names were kept use the attnums: fine on the
-- table that recorded them
UPDATE undoredo_change
SET relids = '{cols.t}', reloids = NULL, relcolumns = NULL, origin = NULL
WHERE step IN (SELECT step FROM steps);
UPDATE undoredo_scope SET relids = '{cols.t,cols.t_restored}'
WHERE object_type = 'cols';
ALTER TABLE t RENAME b TO bb;
SELECT * FROM undoredo_undo('cols', 1, 2);
SELECT * FROM t ORDER BY id;

SELECT undoredo_clear('cols', 1);
DROP SCHEMA cols CASCADE;
