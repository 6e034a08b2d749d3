-- A step whose history has chunks written in savepoints that rolled back:
-- their rows are dead in undoredo_change, between the step's live chunks.
-- Replay reads the step's chunks in order while it applies them; reading
-- past dead entries must neither crash the server nor alter the chunks it
-- has read (the concurrency fuzz of issue 15 found such a crash).
CREATE SCHEMA rbc;
SET search_path = rbc, public;
CREATE TABLE big (id int PRIMARY KEY, v text NOT NULL);
SELECT undoredo_track('big');
BEGIN;
SET LOCAL undoredo.scope = 'rbc:1';
INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 3000) g;
SAVEPOINT a;
INSERT INTO big SELECT g, repeat('y', 100) FROM generate_series(3001, 6000) g;
ROLLBACK TO a;
INSERT INTO big SELECT g, repeat('z', 100) FROM generate_series(6001, 9000) g;
SAVEPOINT b;
UPDATE big SET v = 'w' WHERE id % 2 = 0;
ROLLBACK TO b;
UPDATE big SET v = 'q' WHERE id % 3 = 0;
COMMIT;
CREATE TABLE done AS SELECT * FROM big;
SELECT count(*), count(*) FILTER (WHERE v = 'q') AS q FROM big;
SELECT changes FROM undoredo_history('rbc', 1);
-- undo reads the chunks backward, redo forward; twice each
SELECT * FROM undoredo_undo('rbc', 1);
SELECT count(*) FROM big;
SELECT * FROM undoredo_redo('rbc', 1);
SELECT count(*) AS differing FROM (TABLE big EXCEPT TABLE done) d;
SELECT * FROM undoredo_undo('rbc', 1);
SELECT count(*) FROM big;
SELECT * FROM undoredo_redo('rbc', 1);
SELECT count(*) AS differing FROM (TABLE big EXCEPT TABLE done) d;
SELECT count(*) FROM big;
-- the session is still there
SELECT 1 AS alive;
DROP SCHEMA rbc CASCADE;
RESET search_path;
