-- Upgrade from 1.1: a database created at version 1.1, with a history that
-- 1.1 recorded (steps to undo and steps to redo), is updated with ALTER
-- EXTENSION undoredo UPDATE (1.1 -> 1.1.1 -> 1.1.2 -> 1.2 -> 1.3).  The
-- history keeps its steps, lists their changes, redoes in 1.1's order (the
-- most recently undone step first: the lowest step id, as 1.1 undid newest
-- first), and undoes and redoes back to exact values; the extension's
-- objects are then those of a fresh install.  Runs in a database of its
-- own.
SELECT current_database() AS regress_db \gset
CREATE DATABASE undoredo_upgrade_11;
\c undoredo_upgrade_11
CREATE EXTENSION undoredo VERSION '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'undoredo';

-- A table tracked as 1.1's undoredo_track made it: the row trigger and the
-- statement guard, both calling undoredo_capture.
CREATE TABLE t (id integer PRIMARY KEY, a text, b integer, c text);
CREATE TRIGGER undoredo_capture AFTER INSERT OR UPDATE OR DELETE ON t
    FOR EACH ROW EXECUTE FUNCTION undoredo_capture();
CREATE TRIGGER undoredo_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON t
    FOR EACH STATEMENT EXECUTE FUNCTION undoredo_capture();

-- 1.1's storage: a chunk row holds nchanges consecutive changes from seq
-- (numbered from 1 in each step), the tables they touch as regclass[],
-- and per change the table's position in that array (int32, from 0), the
-- kind ('i', 'u', 'd') and its images: an insert the new row, a delete the
-- old row, an update the key and the changed columns before, then after.
-- An image is int32 length (of what follows), int16 count, and per column
-- int16 attnum, int32 type oid, a format byte, int32 length, the value.
-- Values here are in binary send form ('b'), which 1.1 wrote for types
-- without a portable stored form and which reads alike on any byte order.
CREATE FUNCTION pg_temp.col(attnum integer, typ regtype, v bytea) RETURNS bytea
LANGUAGE sql AS $$
SELECT int2send(attnum::int2) || int4send(typ::oid::int4) || '\x62'::bytea
       || int4send(length(v)) || v $$;
CREATE FUNCTION pg_temp.image(VARIADIC cols bytea[]) RETURNS bytea
LANGUAGE sql AS $$
SELECT int4send(2 + sum(length(c))::int4) || int2send(count(*)::int2)
       || string_agg(c, ''::bytea ORDER BY o)
FROM unnest(cols) WITH ORDINALITY AS u(c, o) $$;
CREATE FUNCTION pg_temp.change(op "char", VARIADIC images bytea[]) RETURNS bytea
LANGUAGE sql AS $$
SELECT int4send(0) || convert_to(op::text, 'SQL_ASCII')
       || string_agg(i, ''::bytea ORDER BY o)
FROM unnest(images) WITH ORDINALITY AS u(i, o) $$;
CREATE FUNCTION pg_temp.row_image(id integer, a text, b integer, c text) RETURNS bytea
LANGUAGE sql AS $$
SELECT pg_temp.image(pg_temp.col(1, 'integer', int4send(id)),
                     pg_temp.col(2, 'text', textsend(a)),
                     pg_temp.col(3, 'integer', int4send(b)),
                     pg_temp.col(4, 'text', textsend(c))) $$;

-- The history of object doc:1, as 1.1 recorded it:
--   step 1: INSERT (1, 'one', 10, 'x'), (2, 'two', 20, 'y'), in two chunks
--   step 2: UPDATE t SET a = 'uno', b = 11 WHERE id = 1
--   step 3: DELETE FROM t WHERE id = 2
--   step 4: UPDATE t SET c = 'z' WHERE id = 1
-- then two undos: step 4, then step 3.  Steps 1 and 2 are to undo, 3 and 4
-- to redo (3 first), and the data is as after step 2.
INSERT INTO undoredo_scope (scope_id, object_type, object_id) VALUES (1, 'doc', '1');
INSERT INTO undo_action (step, scope_id, label, created_at) VALUES
    (1, 1, 'insert two rows', '2026-01-01 00:00:01+00'),
    (2, 1, 'update a and b', '2026-01-01 00:00:02+00');
INSERT INTO redo_action (step, scope_id, label, created_at) VALUES
    (3, 1, 'delete row 2', '2026-01-01 00:00:03+00'),
    (4, 1, NULL, '2026-01-01 00:00:04+00');
INSERT INTO undoredo_change (step, seq, nchanges, relids, changes) VALUES
    (1, 1, 1, '{t}', pg_temp.change('i', pg_temp.row_image(1, 'one', 10, 'x'))),
    (1, 2, 1, '{t}', pg_temp.change('i', pg_temp.row_image(2, 'two', 20, 'y'))),
    (2, 1, 1, '{t}', pg_temp.change('u',
        pg_temp.image(pg_temp.col(1, 'integer', int4send(1)),
                      pg_temp.col(2, 'text', textsend('one')),
                      pg_temp.col(3, 'integer', int4send(10))),
        pg_temp.image(pg_temp.col(1, 'integer', int4send(1)),
                      pg_temp.col(2, 'text', textsend('uno')),
                      pg_temp.col(3, 'integer', int4send(11))))),
    (3, 1, 1, '{t}', pg_temp.change('d', pg_temp.row_image(2, 'two', 20, 'y'))),
    (4, 1, 1, '{t}', pg_temp.change('u',
        pg_temp.image(pg_temp.col(1, 'integer', int4send(1)),
                      pg_temp.col(4, 'text', textsend('x'))),
        pg_temp.image(pg_temp.col(1, 'integer', int4send(1)),
                      pg_temp.col(4, 'text', textsend('z')))));
INSERT INTO t VALUES (1, 'uno', 11, 'x'), (2, 'two', 20, 'y');
SELECT setval('undoredo_scope_seq', 1), setval('undoredo_step_seq', 4);

-- the library refuses to work with 1.1's objects
SELECT * FROM undoredo_status('doc', 1);

ALTER EXTENSION undoredo UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'undoredo';
-- the table is tracked completely
SELECT * FROM undoredo_verify();
-- the steps, without actor or reverted step
SELECT * FROM undoredo_history('doc', 1);
SELECT * FROM undoredo_status('doc', 1);
-- the steps to redo keep 1.1's order
SELECT step, undone FROM redo_action ORDER BY undone DESC;
-- what each step changed
SELECT * FROM undoredo_changes('doc', 1, 1);
SELECT * FROM undoredo_changes('doc', 1, 2);
SELECT * FROM undoredo_changes('doc', 1, 3);
SELECT * FROM undoredo_changes('doc', 1, 4);

-- redo: step 3 (row 2 goes, row 1 keeps c = 'x'), then step 4
SELECT * FROM undoredo_redo('doc', 1);
SELECT * FROM t ORDER BY id;
SELECT * FROM undoredo_redo('doc', 1);
SELECT * FROM t ORDER BY id;
-- undo all four, newest first, each back to its exact values
SELECT * FROM undoredo_undo('doc', 1);
SELECT * FROM t ORDER BY id;
SELECT * FROM undoredo_undo('doc', 1);
SELECT * FROM t ORDER BY id;
SELECT * FROM undoredo_undo('doc', 1);
SELECT * FROM t ORDER BY id;
SELECT * FROM undoredo_undo('doc', 1);
SELECT * FROM t ORDER BY id;
-- and redo all four again
SELECT * FROM undoredo_redo('doc', 1, 4);
SELECT * FROM t ORDER BY id;
SELECT step, state, label, changes, actor, reverts
FROM undoredo_history('doc', 1);

-- capture goes on, with an actor, and a new step discards the redo
-- history of its own actor only
SELECT * FROM undoredo_undo('doc', 1);
BEGIN;
SELECT set_config('undoredo.scope', 'doc:1', true),
       set_config('undoredo.actor', 'alice', true);
UPDATE t SET b = 12 WHERE id = 1;
COMMIT;
SELECT step, state, label, changes, actor, reverts
FROM undoredo_history('doc', 1);
SELECT * FROM undoredo_undo('doc', 1, 1, 'alice');
SELECT * FROM undoredo_redo('doc', 1, 1);
SELECT * FROM t ORDER BY id;

-- the extension's objects are those of a fresh install
\i sql/extension_objects.psql
CREATE TEMP TABLE upgraded AS SELECT * FROM extension_objects;
DROP EXTENSION undoredo CASCADE;
CREATE EXTENSION undoredo;
CREATE TEMP TABLE fresh AS SELECT * FROM extension_objects;
SELECT count(*) > 0 AS described FROM fresh;
-- what differs (nothing)
(SELECT 'only after the upgrade' AS side, * FROM upgraded EXCEPT SELECT 'only after the upgrade', * FROM fresh)
UNION ALL
(SELECT 'only in a fresh install', * FROM fresh EXCEPT SELECT 'only in a fresh install', * FROM upgraded)
ORDER BY 1, 2, 3;

\c :regress_db
DROP DATABASE undoredo_upgrade_11;
