-- Bad input: every misuse listed in README's table "Misuse and the errors
-- it gets" gets that error, with that SQLSTATE, and changes nothing.
-- After each failing statement psql prints the SQLSTATE of the error
-- (\echo :LAST_ERROR_SQLSTATE), so the expected output pins the code as
-- well as the message (the few messages holding an OID are shown from
-- :LAST_ERROR_MESSAGE with the OID masked).  Runs in a database of its own, so that step ids in
-- messages are stable and DROP EXTENSION (part 10) touches nothing else.
SELECT current_database() AS regress_db \gset
CREATE DATABASE undoredo_badinput;
\c undoredo_badinput
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE EXTENSION undoredo;
CREATE TABLE doc (id int PRIMARY KEY, title text NOT NULL);
SELECT undoredo_track('doc');
INSERT INTO doc VALUES (1, 'one');

-------------------------------------------------------------------------
-- 1. Malformed scope: rejected when set, in every form of setting it.
-------------------------------------------------------------------------
SET undoredo.scope = 'no-colon';
\echo :LAST_ERROR_SQLSTATE
SET undoredo.scope = ':1';
\echo :LAST_ERROR_SQLSTATE
SET undoredo.scope = 'doc:';
\echo :LAST_ERROR_SQLSTATE
SET undoredo.scope = ':';
\echo :LAST_ERROR_SQLSTATE
BEGIN;
SET LOCAL undoredo.scope = 'doc';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT set_config('undoredo.scope', 'doc', false);
\echo :LAST_ERROR_SQLSTATE
-- the setting keeps its previous (empty) value: nothing is captured
SHOW undoredo.scope;
-- split at the first colon: 'doc:1:2' is object type doc, id '1:2'
SET undoredo.scope = 'doc:1:2';
UPDATE doc SET title = 'One' WHERE id = 1;
RESET undoredo.scope;
SELECT * FROM undoredo_status('doc', '1:2');

-- set before the library was loaded in the session: PostgreSQL only warns
-- when the library loads, and the first write to a tracked table raises
-- the error instead of capturing nothing
\c undoredo_badinput
\set VERBOSITY default
\set SHOW_CONTEXT never
SET undoredo.scope = 'no-colon';
UPDATE doc SET title = 'ONE' WHERE id = 1;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM doc;
RESET undoredo.scope;

-------------------------------------------------------------------------
-- 2. Malformed object type or id in the function arguments.
-------------------------------------------------------------------------
SELECT * FROM undoredo_undo('', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_redo('doc:x', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_status('doc', '');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_history('', '1');
\echo :LAST_ERROR_SQLSTATE
SELECT undoredo_clear('doc', '');
\echo :LAST_ERROR_SQLSTATE

-------------------------------------------------------------------------
-- 3. steps < 1, for undo and redo, both id forms; nothing changes.
-------------------------------------------------------------------------
SET undoredo.scope = 'doc:1';
UPDATE doc SET title = 'uno' WHERE id = 1;
RESET undoredo.scope;
SELECT * FROM undoredo_undo('doc', 1, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_undo('doc', '1', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_redo('doc', 1, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_redo('doc', '1', -2147483648);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM doc;
SELECT * FROM undoredo_status('doc', 1);

-------------------------------------------------------------------------
-- 4. NULL for every argument of every function.
-------------------------------------------------------------------------
SELECT undoredo_track(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT undoredo_untrack(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_undo(NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_undo('doc', NULL::bigint);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_undo('doc', NULL::text);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_undo('doc', 1, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_undo('doc', '1', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_redo(NULL, '1');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_redo('doc', NULL::bigint);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_redo('doc', NULL::text);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_redo('doc', 1, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_status(NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_status('doc', NULL::bigint);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_status('doc', NULL::text);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_history(NULL, '1');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_history('doc', NULL::bigint);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_history('doc', NULL::text);
\echo :LAST_ERROR_SQLSTATE
SELECT undoredo_clear(NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT undoredo_clear('doc', NULL::bigint);
\echo :LAST_ERROR_SQLSTATE
SELECT undoredo_clear('doc', NULL::text);
\echo :LAST_ERROR_SQLSTATE
-- the history is intact
SELECT * FROM undoredo_status('doc', 1);

-------------------------------------------------------------------------
-- 5. Tables that cannot be tracked.
-------------------------------------------------------------------------
-- no primary key (a unique constraint is not enough)
CREATE TABLE "No Key" (id int UNIQUE NOT NULL, note text);
SELECT undoredo_track('"No Key"');
\echo :LAST_ERROR_SQLSTATE
-- a view
CREATE VIEW doc_view AS SELECT * FROM doc;
SELECT undoredo_track('doc_view');
\echo :LAST_ERROR_SQLSTATE
-- a foreign table
CREATE FOREIGN DATA WRAPPER dummy;
CREATE SERVER s FOREIGN DATA WRAPPER dummy;
CREATE FOREIGN TABLE doc_ft (id int, title text) SERVER s;
SELECT undoredo_track('doc_ft');
\echo :LAST_ERROR_SQLSTATE
-- a temporary table
CREATE TEMP TABLE scratch (id int PRIMARY KEY);
SELECT undoredo_track('scratch');
\echo :LAST_ERROR_SQLSTATE
-- a materialized view
CREATE MATERIALIZED VIEW doc_mv AS SELECT * FROM doc;
SELECT undoredo_track('doc_mv');
\echo :LAST_ERROR_SQLSTATE
-- a sequence
CREATE SEQUENCE doc_seq;
SELECT undoredo_track('doc_seq');
\echo :LAST_ERROR_SQLSTATE
-- a relation that does not exist
SELECT undoredo_track('no_such_table');
\echo :LAST_ERROR_SQLSTATE
-- none of them got a trigger
SELECT count(*) FROM pg_trigger
WHERE tgrelid IN ('"No Key"'::regclass, 'doc_view'::regclass,
                  'doc_ft'::regclass, 'scratch'::regclass);

-------------------------------------------------------------------------
-- 6. An untracked table: untracking it is not an error, writing it under
--    a scope records nothing.
-------------------------------------------------------------------------
CREATE TABLE plain (id int PRIMARY KEY, v text);
SELECT undoredo_untrack('plain');
SET undoredo.scope = 'plain:1';
INSERT INTO plain VALUES (1, 'x');
RESET undoredo.scope;
SELECT * FROM undoredo_status('plain', 1);
SELECT * FROM undoredo_undo('plain', 1);
SELECT * FROM plain;

-------------------------------------------------------------------------
-- 7. TRUNCATE of a tracked table under a scope is refused.
-------------------------------------------------------------------------
SET undoredo.scope = 'doc:1';
TRUNCATE doc;
\echo :LAST_ERROR_SQLSTATE
RESET undoredo.scope;
SELECT * FROM doc;
SELECT * FROM undoredo_status('doc', 1);

-------------------------------------------------------------------------
-- 8. A step whose table was dropped (even if re-created under the same
--    name) fails and changes nothing.
-------------------------------------------------------------------------
CREATE TABLE gone (id int PRIMARY KEY, v text);
SELECT undoredo_track('gone');
-- one step changes doc and gone
BEGIN;
SET LOCAL undoredo.scope = 'gone:1';
INSERT INTO doc VALUES (2, 'two');
INSERT INTO gone VALUES (1, 'a');
COMMIT;
DROP TABLE gone;
\set VERBOSITY sqlstate
SELECT * FROM undoredo_undo('gone', 1);
\set VERBOSITY default
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate,
       regexp_replace(:'LAST_ERROR_MESSAGE', 'OID \d+', 'OID <oid>') AS message;
CREATE TABLE gone (id int PRIMARY KEY, v text);
INSERT INTO gone VALUES (1, 'a');
\set VERBOSITY sqlstate
SELECT * FROM undoredo_undo('gone', 1);
\set VERBOSITY default
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate,
       regexp_replace(:'LAST_ERROR_MESSAGE', 'OID \d+', 'OID <oid>') AS message;
-- neither doc's row nor the new table's row was touched
SELECT * FROM gone;
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_status('gone', 1);
-- the same for redo: doc and the dropped table in one undone step
CREATE TABLE gone2 (id int PRIMARY KEY, v text);
SELECT undoredo_track('gone2');
BEGIN;
SET LOCAL undoredo.scope = 'gone:2';
INSERT INTO doc VALUES (3, 'three');
INSERT INTO gone2 VALUES (1, 'a');
COMMIT;
SELECT * FROM undoredo_undo('gone', 2);
DROP TABLE gone2;
\set VERBOSITY sqlstate
SELECT * FROM undoredo_redo('gone', 2);
\set VERBOSITY default
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate,
       regexp_replace(:'LAST_ERROR_MESSAGE', 'OID \d+', 'OID <oid>') AS message;
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_status('gone', 2);

-------------------------------------------------------------------------
-- 9. A column whose type was altered since the capture.
-------------------------------------------------------------------------
CREATE TABLE ty (id int PRIMARY KEY, n int NOT NULL, t text);
SELECT undoredo_track('ty');
INSERT INTO ty VALUES (1, 1, 'a');
SET undoredo.scope = 'ty:1';
UPDATE ty SET n = 2, t = 'b' WHERE id = 1;
RESET undoredo.scope;
ALTER TABLE ty ALTER COLUMN n TYPE bigint;
SELECT * FROM undoredo_undo('ty', 1);
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE ty ALTER COLUMN n TYPE text;
SELECT * FROM undoredo_undo('ty', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM ty;
SELECT * FROM undoredo_status('ty', 1);

-------------------------------------------------------------------------
-- 10. Settings out of range.
-------------------------------------------------------------------------
SET undoredo.on_conflict = 'ignore';
\echo :LAST_ERROR_SQLSTATE
SET undoredo.max_steps = -1;
\echo :LAST_ERROR_SQLSTATE
SET undoredo.replaying = on;
\echo :LAST_ERROR_SQLSTATE
-- no SET of undoredo.replaying is accepted, not even of its value
SET undoredo.replaying = off;
\echo :LAST_ERROR_SQLSTATE
SELECT set_config('undoredo.replaying', 'off', true);
\echo :LAST_ERROR_SQLSTATE
RESET undoredo.replaying;
\echo :LAST_ERROR_SQLSTATE
ALTER ROLE CURRENT_USER SET undoredo.replaying = on;
\echo :LAST_ERROR_SQLSTATE
-- RESET, which PostgreSQL applies without asking, changes nothing of the
-- library's state: a trigger that resets it during an undo still reads on
CREATE TABLE rs (id int PRIMARY KEY, v text);
SELECT undoredo_track('rs');
SET undoredo.scope = 'rs:1';
INSERT INTO rs VALUES (1, 'a');
RESET undoredo.scope;
CREATE FUNCTION rs_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RESET undoredo.replaying;
    RAISE NOTICE 'replaying after RESET: %', current_setting('undoredo.replaying');
    RETURN OLD;
END
$$;
CREATE TRIGGER rs_reset BEFORE DELETE ON rs FOR EACH ROW EXECUTE FUNCTION rs_reset();
SELECT * FROM undoredo_undo('rs', 1);
SELECT count(*) AS rows_left FROM rs;
DROP TABLE rs;
DROP FUNCTION rs_reset();
SELECT current_setting('undoredo.on_conflict') AS on_conflict,
       current_setting('undoredo.max_steps') AS max_steps,
       current_setting('undoredo.replaying') AS replaying;

-------------------------------------------------------------------------
-- 11. Tracking a system catalog or the history itself.
-------------------------------------------------------------------------
SELECT undoredo_track('pg_catalog.pg_class');
\echo :LAST_ERROR_SQLSTATE
SELECT undoredo_track('public.undo_action');
\echo :LAST_ERROR_SQLSTATE

-------------------------------------------------------------------------
-- 12. Undo of a scope from inside a subtransaction of a statement that is
-- still capturing into it (a trigger with an exception block): refused,
-- since that statement's changes cannot be stored there yet.
-------------------------------------------------------------------------
CREATE TABLE inner_undo (id int PRIMARY KEY);
SELECT undoredo_track('inner_undo');
CREATE FUNCTION undo_inside() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM undoredo_undo('doc', 12);
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
        RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
    END;
    RETURN NULL;
END
$$;
-- (named to fire after undoredo_capture, which has then captured the row)
CREATE TRIGGER zz_undo_inside AFTER INSERT ON inner_undo
    FOR EACH ROW EXECUTE FUNCTION undo_inside();
SET undoredo.scope = 'doc:12';
INSERT INTO inner_undo VALUES (1);
RESET undoredo.scope;
-- the insert itself was captured, as one step
SELECT * FROM undoredo_status('doc', 12);
-- the same, whatever the order of the triggers: from one that fires before
-- undoredo_capture (by name), and from a BEFORE ROW trigger, neither of
-- which sees a captured change yet; the step of inner_undo stays as it is
CREATE TABLE inner_undo2 (id int PRIMARY KEY);
SELECT undoredo_track('inner_undo2');
CREATE TRIGGER aa_undo_inside AFTER INSERT ON inner_undo2
    FOR EACH ROW EXECUTE FUNCTION undo_inside();
CREATE FUNCTION undo_inside_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM undoredo_undo('doc', 12);
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
        RAISE NOTICE 'before: %: %', SQLSTATE, SQLERRM;
    END;
    RETURN NEW;
END
$$;
CREATE TRIGGER undo_inside_before BEFORE INSERT ON inner_undo2
    FOR EACH ROW EXECUTE FUNCTION undo_inside_before();
SET undoredo.scope = 'doc:12';
INSERT INTO inner_undo2 VALUES (1);
RESET undoredo.scope;
SELECT * FROM undoredo_status('doc', 12);
SELECT (SELECT count(*) FROM inner_undo) AS inner_undo,
       (SELECT count(*) FROM inner_undo2) AS inner_undo2;
-- once the statement is over, undo works again
SELECT * FROM undoredo_undo('doc', 12, 2);
SELECT * FROM undoredo_redo('doc', 12, 2);
DROP TABLE inner_undo, inner_undo2;
DROP FUNCTION undo_inside_before();

-------------------------------------------------------------------------
-- 13. DROP EXTENSION while histories exist.
-------------------------------------------------------------------------
-- tracked tables hold triggers that depend on the extension: refused,
-- and the histories stay
DROP EXTENSION undoredo;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM undoredo_status('doc', 1);
-- CASCADE drops the triggers and the histories, never the tracked tables
-- or their rows
DROP EXTENSION undoredo CASCADE;
SELECT count(*) AS undoredo_triggers FROM pg_trigger
WHERE tgname IN ('undoredo_capture', 'undoredo_guard');
SELECT to_regclass('public.undo_action') AS undo_action;
SELECT * FROM doc ORDER BY id;
SELECT * FROM ty;

\c :regress_db
DROP DATABASE undoredo_badinput;
