-- Steps, scope locks and savepoints: a savepoint rolled back forgets the
-- locks and steps it took and reopens the steps it closed; a savepoint
-- released hands them to its parent, so that rolling back the parent
-- forgets them too.
CREATE SCHEMA savepoints;
SET search_path = savepoints, public;
CREATE TABLE t (id int PRIMARY KEY);
SELECT undoredo_track('t');
CREATE VIEW scope_locks AS
  SELECT count(*) AS scope_locks FROM pg_locks
  WHERE locktype = 'advisory' AND objsubid = 21842
    AND pid = pg_backend_pid();
SET undoredo.scope = 'savepoints:1';

-- a step started and closed (by an undo) in a released savepoint, whose
-- parent then rolls back: the step is gone, and the next change starts a
-- new one instead of going into the step that no longer exists
BEGIN;
SELECT * FROM undoredo_undo('savepoints', 1);
SAVEPOINT p;
SAVEPOINT s;
INSERT INTO t VALUES (1);
SELECT * FROM undoredo_undo('savepoints', 1);
RELEASE s;
ROLLBACK TO p;
INSERT INTO t VALUES (2);
SELECT * FROM undoredo_status('savepoints', 1);
COMMIT;
SELECT state, changes FROM undoredo_history('savepoints', 1);
SELECT * FROM undoredo_undo('savepoints', 1);
SELECT * FROM t ORDER BY id;
SELECT undoredo_clear('savepoints', 1);

-- a step closed in a savepoint that rolls back is reopened
INSERT INTO t VALUES (3);
BEGIN;
INSERT INTO t VALUES (4);
SAVEPOINT a;
SELECT * FROM undoredo_undo('savepoints', 1);
ROLLBACK TO a;
INSERT INTO t VALUES (5);
COMMIT;
SELECT state, changes FROM undoredo_history('savepoints', 1);

-- the lock taken in a savepoint that rolls back is released
RESET undoredo.scope;
BEGIN;
SAVEPOINT a;
SELECT set_config('undoredo.scope', 'savepoints:2', true) IS NOT NULL AS scoped;
INSERT INTO t VALUES (6);
SELECT * FROM scope_locks;
ROLLBACK TO a;
SELECT * FROM scope_locks;
COMMIT;
SELECT * FROM undoredo_status('savepoints', 2);

-- fifty scopes written in subtransactions (every fifth rolled back), all
-- handed up to a savepoint that then rolls back: no lock, no step is left
BEGIN;
SAVEPOINT outer_sp;
DO $$
BEGIN
  FOR i IN 1..50 LOOP
    BEGIN
      PERFORM set_config('undoredo.scope', 'savepoints:' || (100 + i), true);
      INSERT INTO t VALUES (100 + i);
      IF i % 5 = 0 THEN
        RAISE EXCEPTION 'roll back';
      END IF;
    EXCEPTION WHEN raise_exception THEN
      NULL;
    END;
  END LOOP;
END $$;
SELECT * FROM scope_locks;
SELECT count(*) AS steps FROM generate_series(101, 150) i,
  undoredo_history('savepoints', i);
ROLLBACK TO outer_sp;
SELECT * FROM scope_locks;
SELECT count(*) AS steps FROM generate_series(101, 150) i,
  undoredo_history('savepoints', i);
COMMIT;
SELECT count(*) FROM t WHERE id > 100;

RESET undoredo.scope;
SELECT undoredo_clear('savepoints', s) FROM generate_series(1, 2) s;
DROP SCHEMA savepoints CASCADE;
