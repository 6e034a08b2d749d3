-- Upgrade path: a database created at version 1.0 (with a history recorded
-- by 1.0) is updated with ALTER EXTENSION undoredo UPDATE.  Its history
-- still undoes and redoes, and the extension's objects are then the same,
-- one by one, as those of a fresh install of the new version.  Runs in a
-- database of its own.
SELECT current_database() AS regress_db \gset
CREATE DATABASE undoredo_upgrade;
\c undoredo_upgrade
-- installed while another table access method was the default (one that
-- is heap under another name): the history tables became tables of it
CREATE ACCESS METHOD heap_alias TYPE TABLE HANDLER heap_tableam_handler;
SET default_table_access_method = heap_alias;
CREATE EXTENSION undoredo VERSION '1.0';
RESET default_table_access_method;
SELECT c.relname, a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1;
-- and a setting on the database that DROP EXTENSION would leave behind
SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
WHERE d.datname = current_database();
SELECT extversion FROM pg_extension WHERE extname = 'undoredo';

-- A table tracked under 1.0 (its triggers as 1.0's undoredo_track made
-- them) with one step recorded by 1.0: the insert of (1, 'one'), in 1.0's
-- storage (one row per change, images of count, attnum, type oid, format,
-- length, value).
CREATE TABLE t (id integer PRIMARY KEY, v text);
CREATE TRIGGER undoredo_capture AFTER INSERT OR UPDATE OR DELETE ON t
    FOR EACH ROW EXECUTE FUNCTION undoredo_capture();
CREATE TRIGGER undoredo_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON t
    FOR EACH STATEMENT EXECUTE FUNCTION undoredo_capture();
INSERT INTO t VALUES (1, 'one');
INSERT INTO undoredo_scope (scope_id, object_type, object_id) VALUES (1, 'legacy', '1');
INSERT INTO undo_action (step, scope_id, label, created_at)
    VALUES (1, 1, 'recorded by 1.0', '2026-01-01 00:00:00+00');
INSERT INTO undoredo_change (step, seq, relid, op, old_image, new_image)
    VALUES (1, 1, 't', 'i', NULL,
            int2send(2::int2)
            || int2send(1::int2) || int4send(23) || '\x62'::bytea || int4send(4) || int4send(1)
            || int2send(2::int2) || int4send(25) || '\x62'::bytea || int4send(3) || 'one'::bytea);
-- A table of user-defined types with a step recorded by 1.0 in a scope of
-- its own: values in binary send form, which hold their types' oids (enum,
-- composite, array of composites, regclass), as 1.0 and 1.1 wrote them.
-- Such chunks have no type dictionary and replay in the database that
-- recorded them.
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TYPE pair AS (a integer, b text);
CREATE TABLE u (id integer PRIMARY KEY, e mood, c pair, ca pair[], r regclass);
CREATE TRIGGER undoredo_capture AFTER INSERT OR UPDATE OR DELETE ON u
    FOR EACH ROW EXECUTE FUNCTION undoredo_capture();
CREATE TRIGGER undoredo_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON u
    FOR EACH STATEMENT EXECUTE FUNCTION undoredo_capture();
INSERT INTO u VALUES (1, 'happy', ROW(1, 'x'), '[0:1]={"(2,y)",NULL}', 't');
CREATE FUNCTION pg_temp.col(attnum integer, typ regtype, v bytea) RETURNS bytea
LANGUAGE sql AS $$
SELECT int2send(attnum::int2) || int4send(typ::oid::int4) || '\x62'::bytea
       || int4send(length(v)) || v $$;
INSERT INTO undoredo_scope (scope_id, object_type, object_id) VALUES (100, 'legacy', '100');
INSERT INTO undo_action (step, scope_id, label, created_at)
    VALUES (100, 100, 'types recorded by 1.0', '2026-01-01 00:00:00+00');
INSERT INTO undoredo_change (step, seq, relid, op, old_image, new_image)
SELECT 100, 1, 'u', 'i', NULL,
       int2send(5::int2) || pg_temp.col(1, 'integer', int4send(id))
       || pg_temp.col(2, 'mood', enum_send(e)) || pg_temp.col(3, 'pair', record_send(c))
       || pg_temp.col(4, 'pair[]', array_send(ca)) || pg_temp.col(5, 'regclass', regclasssend(r))
FROM u;
SELECT setval('undoredo_scope_seq', 1), setval('undoredo_step_seq', 1);

-- the library refuses to work with 1.0's objects, clearly
SELECT * FROM undoredo_status('legacy', 1);

ALTER EXTENSION undoredo UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'undoredo';
-- heap tables now, and no setting left on the database
SELECT c.relname, a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1;
SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
WHERE d.datname = current_database();
-- the step over user-defined types undoes and redoes exactly
CREATE TEMP TABLE u_sent AS SELECT record_send(u) AS r FROM u;
SELECT * FROM undoredo_undo('legacy', 100);
SELECT count(*) FROM u;
SELECT * FROM undoredo_redo('legacy', 100);
SELECT u.*, record_send(u) = (SELECT r FROM u_sent) AS exact FROM u;
-- the scope knows the tables of its steps; it has no owner yet
SELECT object_type, object_id, owner, relids FROM undoredo_scope ORDER BY scope_id;
SELECT step, state, label, changes FROM undoredo_history('legacy', 1);
SELECT * FROM undoredo_undo('legacy', 1);
SELECT * FROM t;
SELECT * FROM undoredo_redo('legacy', 1);
SELECT * FROM t;
-- and capture goes on into the new storage
SET undoredo.scope = 'legacy:1';
UPDATE t SET v = 'uno';
RESET undoredo.scope;
-- the first role that records a step owns it
SELECT object_type, object_id, owner, relids FROM undoredo_scope ORDER BY scope_id;
SELECT step, state, label, changes FROM undoredo_history('legacy', 1);
SELECT * FROM undoredo_undo('legacy', 1, 2);
SELECT * FROM t;

-- every object of the extension, described (the view extension_objects;
-- psql reads the test from its standard input, so the path is the tree's)
\i sql/extension_objects.psql

CREATE TEMP TABLE upgraded AS SELECT * FROM extension_objects;
DROP EXTENSION undoredo CASCADE;
-- a fresh install makes heap tables whatever the default access method
SET default_table_access_method = heap_alias;
CREATE EXTENSION undoredo;
RESET default_table_access_method;
CREATE TEMP TABLE fresh AS SELECT * FROM extension_objects;
SELECT kind, count(*) FROM fresh GROUP BY kind ORDER BY kind;
-- what differs (nothing)
(SELECT 'only after the upgrade' AS side, * FROM upgraded EXCEPT SELECT 'only after the upgrade', * FROM fresh)
UNION ALL
(SELECT 'only in a fresh install', * FROM fresh EXCEPT SELECT 'only in a fresh install', * FROM upgraded)
ORDER BY 1, 2, 3;
-- DROP EXTENSION leaves nothing on the database
DROP EXTENSION undoredo CASCADE;
SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
WHERE d.datname = current_database();

\c :regress_db
DROP DATABASE undoredo_upgrade;
