-- Set-based replay: runs of similar changes (more than one batch of rows
-- here) are replayed by one statement per batch.  They must give exactly
-- what row-by-row replay gives: the same values, the same conflicts
-- (naming the first row in replay order that fails), the same refusals
-- under row-level security, the same overwrite behaviour.
CREATE SCHEMA batches;
SET search_path = batches, public;
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
CREATE TYPE pair AS (x int, y text);
CREATE TABLE bt (id int PRIMARY KEY, a text, n numeric, f float8, j jsonb,
                 arr int[], p pair, code text UNIQUE);
SELECT undoredo_track('bt');

-- three steps of 2500 rows each: insert, update (numeric scale, -0, nulls,
-- arrays, composites), delete of every other row
SET undoredo.scope = 'batches:1';
INSERT INTO bt SELECT i, 'a' || i, i / 4.0, i * 0.5, jsonb_build_object('i', i),
                      ARRAY[[i, i + 1], [i + 2, i + 3]], ROW(i, 'p' || i)::pair, 'c' || i
FROM generate_series(1, 2500) i;
CREATE TABLE snap1 AS SELECT bt::text AS r FROM bt;
UPDATE bt SET a = CASE WHEN id % 3 = 0 THEN NULL ELSE a || '!' END,
              n = n * 1.0, f = CASE WHEN id % 5 = 0 THEN '-0' ELSE -f END,
              arr = arr[1:1], p = CASE WHEN id % 7 = 0 THEN ROW(NULL, NULL)::pair END;
CREATE TABLE snap2 AS SELECT bt::text AS r FROM bt;
DELETE FROM bt WHERE id % 2 = 0;
CREATE TABLE snap3 AS SELECT bt::text AS r FROM bt;
RESET undoredo.scope;
CREATE FUNCTION same_as(snap regclass) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    differ bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((SELECT r FROM %s EXCEPT ALL SELECT bt::text FROM batches.bt)
                    UNION ALL (SELECT bt::text FROM batches.bt EXCEPT ALL SELECT r FROM %s)) d',
                   snap, snap) INTO differ;
    RETURN differ = 0;
END
$$;
SELECT * FROM undoredo_undo('batches', 1);
SELECT same_as('snap2');
SELECT * FROM undoredo_undo('batches', 1);
SELECT same_as('snap1');
SELECT * FROM undoredo_undo('batches', 1);
SELECT count(*) FROM bt;
SELECT * FROM undoredo_redo('batches', 1, 3);
SELECT same_as('snap3');
SELECT * FROM undoredo_undo('batches', 1, 2);
SELECT same_as('snap1');

-- an update undone while one row in the middle of a batch changed since:
-- UR001 names that row, and nothing changes
SET undoredo.scope = 'batches:2';
UPDATE bt SET a = 'step 2';
RESET undoredo.scope;
UPDATE bt SET a = 'outside' WHERE id = 1700;
SELECT try($$SELECT undoredo_undo('batches', 2)$$);
SELECT a, count(*) FROM bt GROUP BY a ORDER BY a;
-- with overwrite it goes through
SET undoredo.on_conflict = 'overwrite';
SELECT * FROM undoredo_undo('batches', 2);
RESET undoredo.on_conflict;
SELECT same_as('snap1');

-- deletes undone while a deleted key was taken again since: UR001
SET undoredo.scope = 'batches:3';
DELETE FROM bt WHERE id > 1000;
RESET undoredo.scope;
INSERT INTO bt (id, a) VALUES (2222, 'taken');
SELECT try($$SELECT undoredo_undo('batches', 3)$$);
SELECT count(*) FROM bt;
-- overwrite replaces the row that took the key
SET undoredo.on_conflict = 'overwrite';
SELECT * FROM undoredo_undo('batches', 3);
RESET undoredo.on_conflict;
SELECT same_as('snap1');

-- inserts undone while one row was deleted since: UR001 (no longer
-- exists); with overwrite the row is skipped and the rest removed
SET undoredo.scope = 'batches:4';
INSERT INTO bt (id, a) SELECT i, 'new' FROM generate_series(3001, 4500) i;
RESET undoredo.scope;
DELETE FROM bt WHERE id = 3999;
SELECT try($$SELECT undoredo_undo('batches', 4)$$);
SELECT count(*) FROM bt WHERE id > 3000;
SET undoredo.on_conflict = 'overwrite';
SELECT * FROM undoredo_undo('batches', 4);
RESET undoredo.on_conflict;
SELECT count(*) FROM bt WHERE id > 3000;

-- an update of a unique column is replayed row by row (a batch could
-- collide halfway): row 1 gives its code to row 3, which gives its own to
-- row 1, through a free value; undo and redo run them in exact order
BEGIN;
SET LOCAL undoredo.scope = 'batches:5';
UPDATE bt SET code = 'free' WHERE id = 1;
UPDATE bt SET code = 'c1' WHERE id = 3;
UPDATE bt SET code = 'c3' WHERE id = 1;
COMMIT;
SELECT id, code FROM bt WHERE id IN (1, 3) ORDER BY id;
SELECT * FROM undoredo_undo('batches', 5);
SELECT same_as('snap1');
SELECT * FROM undoredo_redo('batches', 5);
SELECT id, code FROM bt WHERE id IN (1, 3) ORDER BY id;
SELECT * FROM undoredo_undo('batches', 5);

-- row-level security: a role that can no longer see one row of its batch
-- is refused (42501), and nothing changes
CREATE ROLE batches_app;
CREATE TABLE rl (id int PRIMARY KEY, owner text NOT NULL, v int);
SELECT undoredo_track('rl');
ALTER TABLE rl ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON rl USING (owner = current_user);
GRANT ALL ON rl TO batches_app;
GRANT USAGE ON SCHEMA batches TO batches_app;
INSERT INTO rl SELECT i, 'batches_app', 0 FROM generate_series(1, 1500) i;
SET ROLE batches_app;
SET undoredo.scope = 'batches:6';
UPDATE rl SET v = 1;
RESET undoredo.scope;
RESET ROLE;
UPDATE rl SET owner = 'someone else' WHERE id = 1200;
SET ROLE batches_app;
SELECT try($$SELECT undoredo_undo('batches', 6)$$);
RESET ROLE;
SELECT v, count(*) FROM rl GROUP BY v ORDER BY v;

RESET search_path;
DROP SCHEMA batches CASCADE;
DROP ROLE batches_app;
