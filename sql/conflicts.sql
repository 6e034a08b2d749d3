-- Conflicts: undo and redo refuse rows changed outside the history since
-- (SQLSTATE UR001, naming the table and the key) and change nothing;
-- values are compared by their stored form; undoredo.on_conflict.
CREATE SCHEMA conflicts;
SET search_path = conflicts, public;
\set SHOW_CONTEXT never

-- Runs a statement and shows its outcome: 'ok', or SQLSTATE and message
-- (step ids depend on what ran before, so they are masked).
CREATE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ': ' || regexp_replace(msg, 'step \d+', 'step N', 'g');
END
$$;

CREATE TABLE c (id int PRIMARY KEY, a text, b text, n numeric, f float8);
SELECT undoredo_track('c');
INSERT INTO c VALUES (1, 'a1', 'b1', 1, 1), (2, 'a2', 'b2', 2, 2);

-------------------------------------------------------------------------
-- Undo of an update: the columns it changed must be as it left them.
-------------------------------------------------------------------------
SET undoredo.scope = 'conf:upd';
UPDATE c SET a = 'A1' WHERE id = 1;
RESET undoredo.scope;
UPDATE c SET a = 'outside' WHERE id = 1;
SELECT try($$SELECT undoredo_undo('conf', 'upd')$$);
SELECT * FROM c ORDER BY id;
SELECT * FROM undoredo_status('conf', 'upd');
-- the whole error: SQLSTATE, message, detail and hint
DO $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    PERFORM undoredo_undo('conf', 'upd');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RAISE NOTICE 'sqlstate: %', st;
    RAISE NOTICE 'message: %', regexp_replace(msg, 'step \d+', 'step N');
    RAISE NOTICE 'detail: %', det;
    RAISE NOTICE 'hint: %', hnt;
END
$$;
-- it is an error that callers can catch by its SQLSTATE
DO $$
BEGIN
    PERFORM undoredo_undo('conf', 'upd');
EXCEPTION WHEN SQLSTATE 'UR001' THEN
    RAISE NOTICE 'caught UR001';
END
$$;
-- the row is gone: a conflict too
BEGIN;
DELETE FROM c WHERE id = 1;
SELECT try($$SELECT undoredo_undo('conf', 'upd')$$);
ROLLBACK;
-- a column the step did not change may have changed: no conflict, and
-- that change stays
UPDATE c SET a = 'A1', b = 'B1 outside' WHERE id = 1;
SELECT * FROM undoredo_undo('conf', 'upd');
SELECT * FROM c ORDER BY id;
-- redo of the update: the column must be as undo left it
UPDATE c SET a = 'outside again' WHERE id = 1;
SELECT try($$SELECT undoredo_redo('conf', 'upd')$$);
SELECT * FROM c ORDER BY id;
SELECT * FROM undoredo_status('conf', 'upd');
-- the row is gone: a conflict too
DELETE FROM c WHERE id = 1;
SELECT try($$SELECT undoredo_redo('conf', 'upd')$$);
SELECT * FROM undoredo_status('conf', 'upd');
INSERT INTO c VALUES (1, 'a1', 'b1', 1, 1);
SELECT * FROM undoredo_redo('conf', 'upd');
SELECT * FROM c ORDER BY id;
SELECT undoredo_clear('conf', 'upd');

-------------------------------------------------------------------------
-- Undo of an insert: the row must be as inserted.
-------------------------------------------------------------------------
SET undoredo.scope = 'conf:ins';
INSERT INTO c VALUES (3, 'a3', 'b3', 3, 3);
RESET undoredo.scope;
-- changed in any column
UPDATE c SET f = 33 WHERE id = 3;
SELECT try($$SELECT undoredo_undo('conf', 'ins')$$);
SELECT * FROM c ORDER BY id;
SELECT * FROM undoredo_status('conf', 'ins');
-- deleted
DELETE FROM c WHERE id = 3;
SELECT try($$SELECT undoredo_undo('conf', 'ins')$$);
SELECT * FROM undoredo_status('conf', 'ins');
-- as inserted again: fine
INSERT INTO c VALUES (3, 'a3', 'b3', 3, 3);
SELECT * FROM undoredo_undo('conf', 'ins');
SELECT * FROM c ORDER BY id;
-- redo of the insert: no row may hold the key again
INSERT INTO c VALUES (3, 'someone else', NULL, NULL, NULL);
SELECT try($$SELECT undoredo_redo('conf', 'ins')$$);
SELECT * FROM c ORDER BY id;
SELECT * FROM undoredo_status('conf', 'ins');
DELETE FROM c WHERE id = 3;
SELECT * FROM undoredo_redo('conf', 'ins');
SELECT * FROM c ORDER BY id;
SELECT undoredo_clear('conf', 'ins');

-------------------------------------------------------------------------
-- Undo of a delete: no row may hold the key again.
-------------------------------------------------------------------------
SET undoredo.scope = 'conf:del';
DELETE FROM c WHERE id = 3;
RESET undoredo.scope;
INSERT INTO c VALUES (3, 'a3', 'b3', 3, 3);
-- even one identical to the deleted row
SELECT try($$SELECT undoredo_undo('conf', 'del')$$);
SELECT * FROM c ORDER BY id;
SELECT * FROM undoredo_status('conf', 'del');
DELETE FROM c WHERE id = 3;
SELECT * FROM undoredo_undo('conf', 'del');
SELECT * FROM c ORDER BY id;
-- redo of the delete: the row must be as undo put it back
UPDATE c SET b = 'B3' WHERE id = 3;
SELECT try($$SELECT undoredo_redo('conf', 'del')$$);
SELECT * FROM c ORDER BY id;
DELETE FROM c WHERE id = 3;
SELECT try($$SELECT undoredo_redo('conf', 'del')$$);
SELECT * FROM undoredo_status('conf', 'del');
INSERT INTO c VALUES (3, 'a3', 'b3', 3, 3);
SELECT * FROM undoredo_redo('conf', 'del');
SELECT * FROM c ORDER BY id;
SELECT undoredo_clear('conf', 'del');

-- Undo of a primary-key change when another row took the old key since.
CREATE TABLE kc (id int PRIMARY KEY, v text);
SELECT undoredo_track('kc');
INSERT INTO kc VALUES (1, 'moved');
SET undoredo.scope = 'conf:key';
UPDATE kc SET id = 2 WHERE id = 1;
RESET undoredo.scope;
INSERT INTO kc VALUES (1, 'took the key');
SELECT try($$SELECT undoredo_undo('conf', 'key')$$);
SELECT * FROM kc ORDER BY id;
SELECT * FROM undoredo_status('conf', 'key');
DELETE FROM kc WHERE id = 1;
SELECT * FROM undoredo_undo('conf', 'key');
SELECT * FROM kc ORDER BY id;
SELECT undoredo_clear('conf', 'key');

-------------------------------------------------------------------------
-- Equal by = is not enough: 1.50 vs 1.5, -0 vs 0.
-------------------------------------------------------------------------
INSERT INTO c VALUES (4, 'a4', 'b4', 1.5, 1);
SET undoredo.scope = 'conf:exact';
UPDATE c SET n = 1.50, f = 0 WHERE id = 4;
RESET undoredo.scope;
SELECT * FROM c WHERE id = 4;
-- 1.50 = 1.5, but it is not what the step left
UPDATE c SET n = 1.5 WHERE id = 4;
SELECT n = 1.50 AS equal FROM c WHERE id = 4;
SELECT try($$SELECT undoredo_undo('conf', 'exact')$$);
SELECT * FROM c WHERE id = 4;
UPDATE c SET n = 1.50 WHERE id = 4;
-- -0 = 0, but it is not what the step left
UPDATE c SET f = '-0' WHERE id = 4;
SELECT f = 0 AS equal FROM c WHERE id = 4;
SELECT try($$SELECT undoredo_undo('conf', 'exact')$$);
SELECT * FROM c WHERE id = 4;
SELECT * FROM undoredo_status('conf', 'exact');
UPDATE c SET f = 0 WHERE id = 4;
SELECT * FROM undoredo_undo('conf', 'exact');
SELECT * FROM c WHERE id = 4;
-- the same for a row a step inserted
SET undoredo.scope = 'conf:exact2';
INSERT INTO c VALUES (5, 'a5', 'b5', 2.50, 0);
RESET undoredo.scope;
UPDATE c SET n = 2.5 WHERE id = 5;
SELECT try($$SELECT undoredo_undo('conf', 'exact2')$$);
UPDATE c SET n = 2.50, f = '-0' WHERE id = 5;
SELECT try($$SELECT undoredo_undo('conf', 'exact2')$$);
SELECT * FROM c WHERE id = 5;
SELECT * FROM undoredo_status('conf', 'exact2');
UPDATE c SET f = 0 WHERE id = 5;
SELECT * FROM undoredo_undo('conf', 'exact2');
SELECT * FROM c ORDER BY id;
SELECT undoredo_clear('conf', 'exact');
SELECT undoredo_clear('conf', 'exact2');

-------------------------------------------------------------------------
-- A composite key is named in full.
-------------------------------------------------------------------------
CREATE TABLE ck (k1 int, k2 text, v text, PRIMARY KEY (k1, k2));
SELECT undoredo_track('ck');
SET undoredo.scope = 'conf:ck';
INSERT INTO ck VALUES (1, 'x y', 'v');
RESET undoredo.scope;
UPDATE ck SET v = 'w';
SELECT try($$SELECT undoredo_undo('conf', 'ck')$$);
SELECT * FROM ck;
SELECT undoredo_clear('conf', 'ck');

-------------------------------------------------------------------------
-- Several steps in one call: each is checked against the state left by
-- undoing the newer ones, and one conflict changes nothing at all.
-------------------------------------------------------------------------
DELETE FROM c WHERE id > 2;
SET undoredo.scope = 'conf:multi';
UPDATE c SET a = 'm1', f = 10 WHERE id = 1;       -- step 1
UPDATE c SET a = 'm2' WHERE id = 1;               -- step 2
UPDATE c SET b = 'm3' WHERE id = 2;               -- step 3
INSERT INTO c VALUES (6, 'a6', 'b6', 6, 6);       -- step 4
RESET undoredo.scope;
SELECT * FROM c ORDER BY id;
-- step 1 left a = 'm1', step 2 then a = 'm2': undoing both is fine
SELECT * FROM undoredo_undo('conf', 'multi', 4);
SELECT * FROM c ORDER BY id;
SELECT * FROM undoredo_redo('conf', 'multi', 4);
SELECT * FROM c ORDER BY id;
-- only the oldest step conflicts: the newer steps are not undone either
UPDATE c SET f = 11 WHERE id = 1;
SELECT try($$SELECT undoredo_undo('conf', 'multi', 4)$$);
SELECT * FROM c ORDER BY id;
SELECT * FROM undoredo_status('conf', 'multi');
-- more steps than there are: the same
SELECT try($$SELECT undoredo_undo('conf', 'multi', 100)$$);
SELECT * FROM c ORDER BY id;
SELECT * FROM undoredo_status('conf', 'multi');
-- the newer steps alone are fine
SELECT * FROM undoredo_undo('conf', 'multi', 3);
SELECT * FROM c ORDER BY id;
-- redo of several steps: only the last one conflicts, nothing is redone
INSERT INTO c VALUES (6, 'in the way', NULL, NULL, NULL);
SELECT try($$SELECT undoredo_redo('conf', 'multi', 3)$$);
SELECT * FROM c ORDER BY id;
SELECT * FROM undoredo_status('conf', 'multi');
DELETE FROM c WHERE id = 6;
SELECT * FROM undoredo_redo('conf', 'multi', 3);
SELECT * FROM c ORDER BY id;

-------------------------------------------------------------------------
-- A deferrable primary key takes another path to the same conflicts.
-------------------------------------------------------------------------
CREATE TABLE dk (id int PRIMARY KEY DEFERRABLE, v text);
SELECT undoredo_track('dk');
INSERT INTO dk VALUES (1, 'one');
SET undoredo.scope = 'conf:dk';
DELETE FROM dk WHERE id = 1;
RESET undoredo.scope;
INSERT INTO dk VALUES (1, 'again');
SELECT try($$SELECT undoredo_undo('conf', 'dk')$$);
SELECT * FROM dk;
SELECT * FROM undoredo_status('conf', 'dk');

-------------------------------------------------------------------------
-- undoredo.on_conflict: 'error', 'overwrite', nothing else.
-------------------------------------------------------------------------
SHOW undoredo.on_conflict;
SET undoredo.on_conflict = 'bogus';
SHOW undoredo.on_conflict;
SET undoredo.on_conflict = 'overwrite';
SET undoredo.on_conflict = 'bogus';
SHOW undoredo.on_conflict;

-- the conflicting multi-step undo from above now goes through
SELECT * FROM c ORDER BY id;
SELECT * FROM undoredo_undo('conf', 'multi', 4);
SELECT * FROM c ORDER BY id;
SELECT undoredo_clear('conf', 'multi');

-- a deferrable key: the re-insert replaces the row
SELECT * FROM undoredo_undo('conf', 'dk');
SELECT * FROM dk;
SELECT undoredo_clear('conf', 'dk');

SELECT * FROM c ORDER BY id;
SET undoredo.scope = 'conf:ow';
INSERT INTO c VALUES (7, 'a7', 'b7', 7, 7);       -- step 1
UPDATE c SET a = 'ow-a', b = 'ow-b' WHERE id = 1; -- step 2
DELETE FROM c WHERE id = 2;                       -- step 3
INSERT INTO c VALUES (8, 'a8', 'b8', 8, 8);       -- step 4
UPDATE c SET a = 'A8' WHERE id = 8;               -- step 5
RESET undoredo.scope;
SELECT * FROM c ORDER BY id;
-- step 5: the updated row no longer exists: skipped
DELETE FROM c WHERE id = 8;
SELECT * FROM undoredo_undo('conf', 'ow');
SELECT * FROM c ORDER BY id;
-- step 4: the inserted row no longer exists: nothing to delete
SELECT * FROM undoredo_undo('conf', 'ow');
SELECT * FROM c ORDER BY id;
-- step 3: a row with the deleted key exists again: it is replaced
INSERT INTO c VALUES (2, 'intruder', 'x', 0, 0);
SELECT * FROM undoredo_undo('conf', 'ow');
SELECT * FROM c ORDER BY id;
-- step 2: the changed columns were changed since: forced back
UPDATE c SET a = 'outside', n = 100 WHERE id = 1;
SELECT * FROM undoredo_undo('conf', 'ow');
SELECT * FROM c ORDER BY id;
-- step 1: the inserted row was changed since: deleted anyway
UPDATE c SET b = 'changed' WHERE id = 7;
SELECT * FROM undoredo_undo('conf', 'ow');
SELECT * FROM c ORDER BY id;
SELECT * FROM undoredo_status('conf', 'ow');
-- redo in overwrite mode: a re-insert over an existing key replaces the
-- row, a forced update, a delete of a changed row; then an update of a
-- row that is gone is skipped
INSERT INTO c VALUES (7, 'intruder', 'x', 0, 0);
UPDATE c SET a = 'outside' WHERE id = 1;
UPDATE c SET f = 22 WHERE id = 2;
SELECT * FROM undoredo_redo('conf', 'ow', 4);
SELECT * FROM c ORDER BY id;
DELETE FROM c WHERE id = 8;
SELECT * FROM undoredo_redo('conf', 'ow');
SELECT * FROM c ORDER BY id;
SELECT * FROM undoredo_status('conf', 'ow');
-- back to error: the row step 5 updated is gone, a conflict again
RESET undoredo.on_conflict;
SHOW undoredo.on_conflict;
SELECT try($$SELECT undoredo_undo('conf', 'ow', 4)$$);
SELECT * FROM undoredo_status('conf', 'ow');
SELECT undoredo_clear('conf', 'ow');

-- clean up
\set VERBOSITY terse
DROP SCHEMA conflicts CASCADE;
