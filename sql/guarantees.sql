-- Guarantees: scopes are independent; TRUNCATE under a scope is refused;
-- schema changes and dropped tables; untrack; max_steps; what makes and
-- what discards a step; undoredo.replaying.
CREATE SCHEMA guarantees;
SET search_path = guarantees, public;
\set SHOW_CONTEXT never

-- Runs a statement and shows its outcome: 'ok', or SQLSTATE, message and
-- detail (step ids and table OIDs depend on what ran before: masked).
CREATE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL;
    RETURN st || ': ' || regexp_replace(regexp_replace(msg, 'step \d+', 'step N', 'g'),
                                        'OID \d+', 'OID N', 'g')
        || CASE WHEN det IS NULL OR det = '' THEN '' ELSE ' | ' || det END;
END
$$;
-- step ids relative to this point
SELECT nextval('public.undoredo_step_seq') AS base \gset

CREATE TABLE g (id int PRIMARY KEY, v text);
SELECT undoredo_track('g');

-------------------------------------------------------------------------
-- Two scopes on one table, disjoint rows: independent histories.
-------------------------------------------------------------------------
SET undoredo.scope = 'guar:1';
INSERT INTO g VALUES (1, 'one'), (2, 'two');
UPDATE g SET v = 'ONE' WHERE id = 1;
SET undoredo.scope = 'guar:2';
INSERT INTO g VALUES (11, 'eleven'), (12, 'twelve');
UPDATE g SET v = 'ELEVEN' WHERE id = 11;
DELETE FROM g WHERE id = 12;
RESET undoredo.scope;
SELECT * FROM g ORDER BY id;
SELECT * FROM undoredo_status('guar', 1);
SELECT * FROM undoredo_status('guar', 2);
-- undoing all of scope 1 leaves scope 2's rows and counts alone
SELECT * FROM undoredo_undo('guar', 1, 10);
SELECT * FROM g ORDER BY id;
SELECT * FROM undoredo_status('guar', 2);
SELECT state, changes FROM undoredo_history('guar', 2);
-- a new step in scope 2 discards scope 2's redo history, not scope 1's
SELECT * FROM undoredo_undo('guar', 2);
SET undoredo.scope = 'guar:2';
UPDATE g SET v = 'Eleven' WHERE id = 11;
RESET undoredo.scope;
SELECT * FROM undoredo_status('guar', 1);
SELECT * FROM undoredo_status('guar', 2);
SELECT * FROM undoredo_redo('guar', 1, 10);
SELECT * FROM g ORDER BY id;
SELECT * FROM undoredo_status('guar', 2);
-- another object type with the same id is another scope
SET undoredo.scope = 'guarx:1';
INSERT INTO g VALUES (21, 'other type');
RESET undoredo.scope;
SELECT * FROM undoredo_status('guarx', 1);
SELECT * FROM undoredo_status('guar', 1);
SELECT * FROM undoredo_undo('guar', 1);
SELECT * FROM undoredo_status('guarx', 1);
SELECT * FROM undoredo_undo('guarx', 1);
SELECT * FROM undoredo_status('guar', 1);
SELECT * FROM undoredo_redo('guar', 1);
SELECT * FROM g ORDER BY id;
SELECT undoredo_clear('guarx', 1);
-- clearing scope 1 leaves scope 2 alone
SELECT undoredo_clear('guar', 1);
SELECT * FROM undoredo_status('guar', 1);
SELECT * FROM undoredo_status('guar', 2);
SELECT * FROM undoredo_undo('guar', 2, 10);
SELECT * FROM g ORDER BY id;
SELECT undoredo_clear('guar', 2);
DELETE FROM g;

-------------------------------------------------------------------------
-- TRUNCATE: refused on a tracked table under a scope, fine otherwise.
-------------------------------------------------------------------------
INSERT INTO g VALUES (1, 'one'), (2, 'two');
SET undoredo.scope = 'guar:trunc';
SELECT try('TRUNCATE g');
SELECT count(*) FROM g;
SELECT * FROM undoredo_status('guar', 'trunc');
BEGIN;
SET LOCAL undoredo.scope = 'guar:trunc';
TRUNCATE g;
ROLLBACK;
SELECT count(*) FROM g;
-- an untracked table may be truncated under a scope
CREATE TABLE plain (id int PRIMARY KEY);
INSERT INTO plain VALUES (1);
TRUNCATE plain;
SELECT count(*) FROM plain;
-- without a scope, TRUNCATE of the tracked table is allowed
RESET undoredo.scope;
TRUNCATE g;
SELECT count(*) FROM g;
SELECT * FROM undoredo_status('guar', 'trunc');

-------------------------------------------------------------------------
-- Dropped tables: undo and redo of their steps error out, no change
-- at all.
-------------------------------------------------------------------------
CREATE TABLE keep (id int PRIMARY KEY, v text);
CREATE TABLE gone (id int PRIMARY KEY, v text);
SELECT undoredo_track('keep');
SELECT undoredo_track('gone');
INSERT INTO keep VALUES (1, 'k1');
INSERT INTO gone VALUES (1, 'g1');
SET undoredo.scope = 'guar:drop';
-- step 1 changes gone, then keep; step 2 changes keep only
BEGIN;
UPDATE gone SET v = 'G1' WHERE id = 1;
UPDATE keep SET v = 'K1' WHERE id = 1;
COMMIT;
INSERT INTO keep VALUES (2, 'k2');
RESET undoredo.scope;
DROP TABLE gone;
SELECT * FROM undoredo_status('guar', 'drop');
-- undoing both: step 2 and keep's part of step 1 would succeed, gone's
-- part fails: nothing changes
SELECT try($$SELECT undoredo_undo('guar', 'drop', 2)$$);
SELECT * FROM keep ORDER BY id;
SELECT * FROM undoredo_status('guar', 'drop');
-- step 2 alone is fine
SELECT * FROM undoredo_undo('guar', 'drop');
SELECT * FROM keep ORDER BY id;
SELECT try($$SELECT undoredo_undo('guar', 'drop')$$);
SELECT * FROM keep ORDER BY id;
SELECT * FROM undoredo_status('guar', 'drop');
SELECT undoredo_clear('guar', 'drop');

-- re-creating a table with the old name does not revive its history
CREATE TABLE gone (id int PRIMARY KEY, v text);
SELECT undoredo_track('gone');
SET undoredo.scope = 'guar:recreate';
INSERT INTO gone VALUES (1, 'old');
RESET undoredo.scope;
DROP TABLE gone;
CREATE TABLE gone (id int PRIMARY KEY, v text);
SELECT undoredo_track('gone');
INSERT INTO gone VALUES (1, 'old');
SELECT try($$SELECT undoredo_undo('guar', 'recreate')$$);
SELECT * FROM gone ORDER BY id;
SELECT * FROM undoredo_status('guar', 'recreate');
-- and redo of a step on the old table fails the same way
SET undoredo.scope = 'guar:recreate2';
INSERT INTO gone VALUES (2, 'two');
RESET undoredo.scope;
SELECT * FROM undoredo_undo('guar', 'recreate2');
ALTER TABLE gone RENAME TO gone_old;
CREATE TABLE gone (id int PRIMARY KEY, v text);
SELECT undoredo_track('gone');
DROP TABLE gone_old;
SELECT try($$SELECT undoredo_redo('guar', 'recreate2')$$);
SELECT count(*) FROM gone;
SELECT * FROM undoredo_status('guar', 'recreate2');
SELECT undoredo_clear('guar', 'recreate');
SELECT undoredo_clear('guar', 'recreate2');

-------------------------------------------------------------------------
-- ADD COLUMN and DROP COLUMN after capture: the history still replays.
-------------------------------------------------------------------------
CREATE TABLE ac (id int PRIMARY KEY, a text, b text, c int);
SELECT undoredo_track('ac');
INSERT INTO ac VALUES (1, 'a1', 'b1', 1), (2, 'a2', 'b2', 2);
SET undoredo.scope = 'guar:cols';
DELETE FROM ac WHERE id = 1;                      -- step 1
UPDATE ac SET b = 'B2', c = 20 WHERE id = 2;      -- step 2
UPDATE ac SET c = 200 WHERE id = 2;               -- step 3
INSERT INTO ac VALUES (3, 'a3', 'b3', 3);         -- step 4
RESET undoredo.scope;
ALTER TABLE ac ADD COLUMN d int DEFAULT 7;
ALTER TABLE ac ADD COLUMN e text;
ALTER TABLE ac DROP COLUMN c;
SELECT * FROM ac ORDER BY id;
-- step 4: the inserted row is deleted (its dropped c is not compared)
SELECT * FROM undoredo_undo('guar', 'cols');
SELECT * FROM ac ORDER BY id;
-- step 3 changed only the dropped column: nothing to do
SELECT * FROM undoredo_undo('guar', 'cols');
SELECT * FROM ac ORDER BY id;
-- step 2: b is restored, c is ignored
SELECT * FROM undoredo_undo('guar', 'cols');
SELECT * FROM ac ORDER BY id;
-- step 1: the deleted row comes back with the new columns' defaults
SELECT * FROM undoredo_undo('guar', 'cols');
SELECT * FROM ac ORDER BY id;
SELECT * FROM undoredo_status('guar', 'cols');
-- redo all: the re-inserted row 3 gets the defaults too
SELECT * FROM undoredo_redo('guar', 'cols', 4);
SELECT * FROM ac ORDER BY id;
SELECT undoredo_clear('guar', 'cols');

-------------------------------------------------------------------------
-- ALTER COLUMN TYPE after capture: undo errors out, no change.
-------------------------------------------------------------------------
CREATE TABLE ty (id int PRIMARY KEY, n int, t text);
SELECT undoredo_track('ty');
INSERT INTO ty VALUES (1, 1, 'x');
SET undoredo.scope = 'guar:type';
UPDATE ty SET n = 2, t = 'y' WHERE id = 1;
RESET undoredo.scope;
ALTER TABLE ty ALTER COLUMN n TYPE bigint;
SELECT try($$SELECT undoredo_undo('guar', 'type')$$);
SELECT * FROM ty;
SELECT * FROM undoredo_status('guar', 'type');
SELECT undoredo_clear('guar', 'type');

-------------------------------------------------------------------------
-- A changed type modifier: a recorded value that the column would now
-- round or cut is refused, and nothing changes; values that fit exactly
-- replay.
-------------------------------------------------------------------------
CREATE TABLE tm (id int PRIMARY KEY, n numeric, s varchar(20));
SELECT undoredo_track('tm');
INSERT INTO tm VALUES (1, 1.5, 'a long enough value'), (2, 3, 'short');
SET undoredo.scope = 'guar:typmod';
UPDATE tm SET n = 20, s = 'x';
RESET undoredo.scope;
-- undo would write 1.5 into numeric(10,0)
ALTER TABLE tm ALTER COLUMN n TYPE numeric(10,0);
SELECT try($$SELECT undoredo_undo('guar', 'typmod')$$);
-- undo would write 'a long enough value' into varchar(5)
ALTER TABLE tm ALTER COLUMN n TYPE numeric, ALTER COLUMN s TYPE varchar(5);
SELECT try($$SELECT undoredo_undo('guar', 'typmod')$$);
SELECT * FROM tm ORDER BY id;
SELECT * FROM undoredo_status('guar', 'typmod');
-- where every recorded value fits, undo and redo are exact
ALTER TABLE tm ALTER COLUMN s TYPE varchar(30);
SELECT * FROM undoredo_undo('guar', 'typmod');
SELECT * FROM tm ORDER BY id;
SELECT * FROM undoredo_redo('guar', 'typmod');
SELECT * FROM tm ORDER BY id;
SELECT undoredo_clear('guar', 'typmod');

-------------------------------------------------------------------------
-- Untracking ends capture; the steps recorded before still replay.
-------------------------------------------------------------------------
SET undoredo.scope = 'guar:untrack';
INSERT INTO g VALUES (1, 'one');
UPDATE g SET v = 'ONE' WHERE id = 1;
RESET undoredo.scope;
SELECT undoredo_untrack('g');
SET undoredo.scope = 'guar:untrack';
INSERT INTO g VALUES (2, 'two');
RESET undoredo.scope;
SELECT * FROM undoredo_status('guar', 'untrack');
SELECT state, changes FROM undoredo_history('guar', 'untrack');
SELECT * FROM undoredo_undo('guar', 'untrack');
SELECT * FROM g ORDER BY id;
SELECT * FROM undoredo_undo('guar', 'untrack');
SELECT * FROM g ORDER BY id;
SELECT * FROM undoredo_redo('guar', 'untrack', 2);
SELECT * FROM g ORDER BY id;
-- tracking again resumes capture into the same history
SELECT undoredo_track('g');
SET undoredo.scope = 'guar:untrack';
DELETE FROM g WHERE id = 2;
RESET undoredo.scope;
SELECT * FROM undoredo_status('guar', 'untrack');
SELECT * FROM undoredo_undo('guar', 'untrack', 3);
SELECT * FROM g ORDER BY id;
SELECT undoredo_clear('guar', 'untrack');
DELETE FROM g;

-------------------------------------------------------------------------
-- undoredo.max_steps: beyond it, the oldest steps go.
-------------------------------------------------------------------------
SHOW undoredo.max_steps;
SET undoredo.max_steps = 2;
SET undoredo.scope = 'guar:max';
INSERT INTO g VALUES (1, 's1');
UPDATE g SET v = 's2' WHERE id = 1;
SELECT * FROM undoredo_status('guar', 'max');
UPDATE g SET v = 's3' WHERE id = 1;
SELECT * FROM undoredo_status('guar', 'max');
UPDATE g SET v = 's4' WHERE id = 1;
RESET undoredo.scope;
SELECT * FROM undoredo_status('guar', 'max');
SELECT state, changes FROM undoredo_history('guar', 'max');
SELECT * FROM undoredo_undo('guar', 'max', 10);
SELECT * FROM g ORDER BY id;
-- steps in the redo history are not undoable steps: not forgotten by redo
SELECT * FROM undoredo_redo('guar', 'max');
SELECT * FROM undoredo_status('guar', 'max');
-- lowering the limit forgets nothing until a step is recorded
SET undoredo.max_steps = 1;
SELECT * FROM undoredo_redo('guar', 'max');
SELECT * FROM undoredo_status('guar', 'max');
SET undoredo.scope = 'guar:max';
UPDATE g SET v = 's5' WHERE id = 1;
RESET undoredo.scope;
SELECT * FROM undoredo_status('guar', 'max');
SELECT * FROM undoredo_undo('guar', 'max', 10);
SELECT * FROM g ORDER BY id;
-- 0 is unlimited
SET undoredo.max_steps = 0;
SET undoredo.scope = 'guar:max';
UPDATE g SET v = 's6' WHERE id = 1;
UPDATE g SET v = 's7' WHERE id = 1;
UPDATE g SET v = 's8' WHERE id = 1;
RESET undoredo.scope;
SELECT * FROM undoredo_status('guar', 'max');
SET undoredo.max_steps = -1;
RESET undoredo.max_steps;
SELECT undoredo_clear('guar', 'max');
DELETE FROM g;

-------------------------------------------------------------------------
-- A new step empties the scope's redo list.
-------------------------------------------------------------------------
SET undoredo.scope = 'guar:redo';
INSERT INTO g VALUES (1, 'r1');
INSERT INTO g VALUES (2, 'r2');
INSERT INTO g VALUES (3, 'r3');
RESET undoredo.scope;
SELECT * FROM undoredo_undo('guar', 'redo', 2);
SET undoredo.scope = 'guar:redo';
INSERT INTO g VALUES (4, 'r4');
RESET undoredo.scope;
SELECT * FROM undoredo_status('guar', 'redo');
SELECT state, changes FROM undoredo_history('guar', 'redo');
SELECT * FROM undoredo_redo('guar', 'redo');
SELECT * FROM g ORDER BY id;

-------------------------------------------------------------------------
-- Transactions under a scope that change no tracked row: no step, the
-- redo list stays.
-------------------------------------------------------------------------
SELECT * FROM undoredo_undo('guar', 'redo');
SELECT * FROM undoredo_status('guar', 'redo');
SET undoredo.scope = 'guar:redo';
-- reads, an untracked table, updates that match nothing or change nothing
SELECT count(*) FROM g;
INSERT INTO plain VALUES (10);
UPDATE g SET v = 'none' WHERE id = 99;
DELETE FROM g WHERE id = 99;
UPDATE g SET v = v;
UPDATE g SET id = id WHERE id = 1;
INSERT INTO g VALUES (1, 'dup') ON CONFLICT DO NOTHING;
RESET undoredo.scope;
SELECT * FROM undoredo_status('guar', 'redo');
SELECT * FROM undoredo_redo('guar', 'redo');
SELECT * FROM g ORDER BY id;
SELECT * FROM undoredo_undo('guar', 'redo');

-------------------------------------------------------------------------
-- ROLLBACK, ROLLBACK TO SAVEPOINT and exception blocks.
-------------------------------------------------------------------------
SELECT * FROM undoredo_status('guar', 'redo');
-- a rolled-back transaction: no step, redo history kept
BEGIN;
SET LOCAL undoredo.scope = 'guar:redo';
INSERT INTO g VALUES (5, 'r5');
SELECT * FROM undoredo_status('guar', 'redo');
ROLLBACK;
SELECT * FROM undoredo_status('guar', 'redo');
SELECT * FROM g ORDER BY id;
-- the step created in a rolled-back subtransaction: no step, redo kept
BEGIN;
SET LOCAL undoredo.scope = 'guar:redo';
SAVEPOINT s;
INSERT INTO g VALUES (5, 'r5');
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT * FROM undoredo_status('guar', 'redo');
SELECT * FROM g ORDER BY id;
-- ... and captures after it make a step of their own changes only
BEGIN;
SET LOCAL undoredo.scope = 'guar:sub';
SAVEPOINT s;
INSERT INTO g VALUES (5, 'r5');
ROLLBACK TO SAVEPOINT s;
INSERT INTO g VALUES (6, 'r6');
COMMIT;
SELECT state, changes FROM undoredo_history('guar', 'sub');
-- the same through a PL/pgSQL exception block
DO $$
BEGIN
    PERFORM set_config('undoredo.scope', 'guar:sub2', true);
    BEGIN
        INSERT INTO g VALUES (7, 'r7');
        RAISE EXCEPTION 'roll back';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
END
$$;
SELECT * FROM undoredo_status('guar', 'sub2');
SELECT * FROM g ORDER BY id;
-- a step started before the savepoint keeps its other changes
BEGIN;
SET LOCAL undoredo.scope = 'guar:sub';
INSERT INTO g VALUES (7, 'r7');
SAVEPOINT s;
INSERT INTO g VALUES (8, 'r8');
UPDATE g SET v = 'R7' WHERE id = 7;
ROLLBACK TO SAVEPOINT s;
INSERT INTO g VALUES (9, 'r9');
SAVEPOINT t;
UPDATE g SET v = 'R9' WHERE id = 9;
RELEASE SAVEPOINT t;
COMMIT;
SELECT * FROM g ORDER BY id;
SELECT state, changes FROM undoredo_history('guar', 'sub');
SELECT * FROM undoredo_undo('guar', 'sub');
SELECT * FROM g ORDER BY id;
SELECT * FROM undoredo_redo('guar', 'sub');
SELECT * FROM g ORDER BY id;
SELECT undoredo_clear('guar', 'sub');

-- An undo rolled back with its subtransaction leaves nothing behind: the
-- change captured after the ROLLBACK TO joins the transaction's step.
BEGIN;
SET LOCAL undoredo.scope = 'guar:sub3';
INSERT INTO g VALUES (20, 'a');
SAVEPOINT s;
SELECT * FROM undoredo_undo('guar', 'sub3');
ROLLBACK TO SAVEPOINT s;
INSERT INTO g VALUES (21, 'b');
COMMIT;
SELECT state, changes FROM undoredo_history('guar', 'sub3');
SELECT undoredo_clear('guar', 'sub3');
DELETE FROM g WHERE id IN (20, 21);

-------------------------------------------------------------------------
-- Undo and redo inside the capturing transaction, and what is captured
-- after them.
-------------------------------------------------------------------------
DELETE FROM g;
BEGIN;
SET LOCAL undoredo.scope = 'guar:xact';
INSERT INTO g VALUES (1, 'x1');
UPDATE g SET v = 'X1' WHERE id = 1;
SELECT * FROM undoredo_status('guar', 'xact');
SELECT * FROM undoredo_undo('guar', 'xact');
SELECT * FROM g ORDER BY id;
SELECT * FROM undoredo_redo('guar', 'xact');
SELECT * FROM g ORDER BY id;
INSERT INTO g VALUES (2, 'x2');
SELECT * FROM undoredo_status('guar', 'xact');
COMMIT;
SELECT step - :base > 0 AS after_base, state, changes
FROM undoredo_history('guar', 'xact');
SELECT count(DISTINCT step) FROM undoredo_history('guar', 'xact');
-- step ids stay the same across undo and redo
CREATE TEMP TABLE ids AS SELECT step FROM undoredo_history('guar', 'xact');
SELECT * FROM undoredo_undo('guar', 'xact', 2);
SELECT * FROM g ORDER BY id;
SELECT h.state, h.changes, i.step IS NOT NULL AS same_id
FROM undoredo_history('guar', 'xact') h LEFT JOIN ids i USING (step);
SELECT * FROM undoredo_redo('guar', 'xact', 2);
SELECT h.state, h.changes, i.step IS NOT NULL AS same_id
FROM undoredo_history('guar', 'xact') h LEFT JOIN ids i USING (step);
SELECT * FROM g ORDER BY id;
-- an undo inside the transaction, then a capture: the undone step's redo
-- history is discarded by the new step
BEGIN;
SET LOCAL undoredo.scope = 'guar:xact';
UPDATE g SET v = 'x2!' WHERE id = 2;
SELECT * FROM undoredo_undo('guar', 'xact');
UPDATE g SET v = 'X2' WHERE id = 2;
SELECT * FROM undoredo_status('guar', 'xact');
COMMIT;
SELECT * FROM g ORDER BY id;
SELECT state, changes FROM undoredo_history('guar', 'xact');
SELECT undoredo_clear('guar', 'xact');

-------------------------------------------------------------------------
-- Labels: the value current when a step records its first change wins.
-------------------------------------------------------------------------
BEGIN;
SET LOCAL undoredo.scope = 'guar:label';
SET LOCAL undoredo.label = 'before any change';
SELECT count(*) FROM g;
SET LOCAL undoredo.label = 'Rename';
UPDATE g SET v = 'l1' WHERE id = 1;
SET LOCAL undoredo.label = 'changed later';
UPDATE g SET v = 'l2' WHERE id = 2;
COMMIT;
-- no label: NULL
SET undoredo.scope = 'guar:label';
UPDATE g SET v = 'L1' WHERE id = 1;
-- a label set before the scope counts
BEGIN;
SET LOCAL undoredo.scope = '';
SET LOCAL undoredo.label = 'set first';
SET LOCAL undoredo.scope = 'guar:label';
UPDATE g SET v = 'L2' WHERE id = 2;
COMMIT;
-- after an undo in the transaction, the new step takes the label now
BEGIN;
SET LOCAL undoredo.label = 'undone';
UPDATE g SET v = 'LL1' WHERE id = 1;
SELECT * FROM undoredo_undo('guar', 'label');
SET LOCAL undoredo.label = 'after undo';
UPDATE g SET v = 'LLL1' WHERE id = 1;
COMMIT;
RESET undoredo.scope;
SELECT state, label, label IS NULL AS no_label, changes
FROM undoredo_history('guar', 'label');
SELECT * FROM g ORDER BY id;
SELECT undoredo_clear('guar', 'label');

-------------------------------------------------------------------------
-- undoredo.replaying as application triggers see it.
-------------------------------------------------------------------------
CREATE FUNCTION show_replaying() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE '% % % row %: replaying = %', TG_WHEN, TG_OP, TG_TABLE_NAME,
        CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
        current_setting('undoredo.replaying');
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER show_after AFTER INSERT OR UPDATE OR DELETE ON g
    FOR EACH ROW EXECUTE FUNCTION show_replaying();
CREATE TRIGGER show_before BEFORE INSERT OR UPDATE OR DELETE ON g
    FOR EACH ROW EXECUTE FUNCTION show_replaying();
SELECT current_setting('undoredo.replaying');
SET undoredo.scope = 'guar:replay';
INSERT INTO g VALUES (30, 'p');
UPDATE g SET v = 'P' WHERE id = 30;
DELETE FROM g WHERE id = 30;
RESET undoredo.scope;
SELECT * FROM undoredo_undo('guar', 'replay', 3);
SELECT current_setting('undoredo.replaying');
SELECT * FROM undoredo_redo('guar', 'replay', 3);
SELECT current_setting('undoredo.replaying');
-- it is off again after a failed undo, and cannot be set
INSERT INTO g VALUES (30, 'p');
SELECT try($$SELECT undoredo_undo('guar', 'replay')$$);
SELECT current_setting('undoredo.replaying');
SET undoredo.replaying = on;
SELECT try($$SELECT set_config('undoredo.replaying', 'on', true)$$);
SELECT current_setting('undoredo.replaying');
DROP TRIGGER show_after ON g;
DROP TRIGGER show_before ON g;
SELECT undoredo_clear('guar', 'replay');

-- clean up
\set VERBOSITY terse
SELECT undoredo_clear('guar', x)
FROM unnest(ARRAY['trunc', 'redo', 'sub', 'sub2']) x;
DROP SCHEMA guarantees CASCADE;
