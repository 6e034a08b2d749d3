-- undoredo_verify(): one row per reason why a write could change tracked
-- data without being captured, and none once the reason is gone.
--   1. capture and guard triggers disabled, enabled for replica sessions
--      only, or always; on a partition, on a partitioned table (its state
--      goes to partitions made later), missing, or made by hand so that
--      they miss some writes;
--   2. a detached partition is not reported, even with a guard left over;
--   3. untracked tables holding foreign keys with actions that reference a
--      tracked table (also partitioned on either side: reported once);
--   4. session_replication_role = replica in the calling session.
-- Each reason is shown to lose a write where it can be.  Runs in a
-- database of its own: the function reports on the whole database.
SELECT current_database() AS regress_db \gset
CREATE DATABASE undoredo_verify;
\c undoredo_verify
CREATE EXTENSION undoredo;
-- nothing tracked: nothing to report
SELECT * FROM undoredo_verify();

CREATE TABLE t (id integer PRIMARY KEY, v text);
CREATE TABLE p (id integer PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);
CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (10) TO (20)
    PARTITION BY RANGE (id);
CREATE TABLE p21 PARTITION OF p2 FOR VALUES FROM (10) TO (15);
SELECT undoredo_track('t'), undoredo_track('p');
INSERT INTO t VALUES (1, 'one');
INSERT INTO p VALUES (1, 'one'), (11, 'eleven');
-- an untracked table is no concern, nor an untracked foreign key to one
CREATE TABLE free (id integer PRIMARY KEY);
CREATE TABLE free_child (id integer PRIMARY KEY,
    free_id integer REFERENCES free ON DELETE CASCADE);
SELECT * FROM undoredo_verify();

-------------------------------------------------------------------------
-- 1. Trigger states.
-------------------------------------------------------------------------
-- disabled: the write is lost
ALTER TABLE t DISABLE TRIGGER undoredo_capture;
SELECT * FROM undoredo_verify();
SET undoredo.scope = 'verify:1';
UPDATE t SET v = 'uno';
RESET undoredo.scope;
SELECT * FROM undoredo_status('verify', 1);
ALTER TABLE t ENABLE TRIGGER undoredo_capture;
SELECT * FROM undoredo_verify();
-- enabled for replica sessions only: ordinary sessions' writes are lost
ALTER TABLE t ENABLE REPLICA TRIGGER undoredo_capture;
SELECT * FROM undoredo_verify();
SET undoredo.scope = 'verify:1';
UPDATE t SET v = 'one';
RESET undoredo.scope;
SELECT * FROM undoredo_status('verify', 1);
-- enabled always: fires in every session
ALTER TABLE t ENABLE ALWAYS TRIGGER undoredo_capture;
SELECT * FROM undoredo_verify();
ALTER TABLE t ENABLE TRIGGER undoredo_capture;
-- the guard: disabled, TRUNCATE is not refused under a scope
ALTER TABLE t DISABLE TRIGGER undoredo_guard;
SELECT * FROM undoredo_verify();
BEGIN;
SET LOCAL undoredo.scope = 'verify:1';
TRUNCATE t;
ROLLBACK;
ALTER TABLE t ENABLE REPLICA TRIGGER undoredo_guard;
SELECT * FROM undoredo_verify();
ALTER TABLE t ENABLE TRIGGER undoredo_guard;
SELECT * FROM undoredo_verify();

-- a partition's clone of the capture trigger, disabled on its own
ALTER TABLE p21 DISABLE TRIGGER undoredo_capture;
SELECT * FROM undoredo_verify();
SET undoredo.scope = 'verify:2';
UPDATE p SET v = 'ELEVEN' WHERE id = 11;
UPDATE p SET v = 'ONE' WHERE id = 1;
RESET undoredo.scope;
-- one change captured, of two
SELECT step, state, changes FROM undoredo_history('verify', 2);
ALTER TABLE p21 ENABLE TRIGGER undoredo_capture;
SELECT * FROM undoredo_verify();
-- disabled on the partitioned table: PostgreSQL recurses to the clones
ALTER TABLE p DISABLE TRIGGER undoredo_capture;
SELECT * FROM undoredo_verify();
ALTER TABLE p ENABLE TRIGGER undoredo_capture;
SELECT * FROM undoredo_verify();
-- on the partitioned table only: a partition made later gets it disabled
ALTER TABLE ONLY p DISABLE TRIGGER undoredo_capture;
SELECT * FROM undoredo_verify();
CREATE TABLE p3 PARTITION OF p FOR VALUES FROM (20) TO (30);
SELECT * FROM undoredo_verify();
ALTER TABLE p ENABLE TRIGGER undoredo_capture;
SELECT * FROM undoredo_verify();

-- a partition's guard missing (made while the event trigger that adds
-- guards to new partitions was disabled): TRUNCATE is not refused
ALTER EVENT TRIGGER undoredo_guard_new_partitions DISABLE;
CREATE TABLE p4 PARTITION OF p FOR VALUES FROM (30) TO (40);
ALTER EVENT TRIGGER undoredo_guard_new_partitions ENABLE;
INSERT INTO p VALUES (31, 'thirty-one');
SELECT * FROM undoredo_verify();
BEGIN;
SET LOCAL undoredo.scope = 'verify:2';
TRUNCATE p4;
ROLLBACK;
-- any ALTER TABLE on it has the event trigger add the guard
ALTER TABLE p4 ALTER COLUMN v SET STATISTICS 100;
SELECT * FROM undoredo_verify();
-- a guard dropped by hand
DROP TRIGGER undoredo_guard ON p2;
SELECT * FROM undoredo_verify();
-- tracking the table again puts the guard back
SELECT undoredo_track('p');
SELECT * FROM undoredo_verify();
-- and so does untracking and tracking again
DROP TRIGGER undoredo_guard ON p2;
BEGIN;
SELECT undoredo_untrack('p'), undoredo_track('p');
COMMIT;
SELECT * FROM undoredo_verify();

-- a clone of the capture trigger missing: PostgreSQL clones it to every
-- partition and refuses to drop a clone, so only an edit of the catalog
-- (as superuser) loses one
DELETE FROM pg_depend
WHERE classid = 'pg_trigger'::regclass
  AND objid = (SELECT oid FROM pg_trigger
               WHERE tgrelid = 'p1'::regclass AND tgname = 'undoredo_capture');
DELETE FROM pg_trigger
WHERE tgrelid = 'p1'::regclass AND tgname = 'undoredo_capture';
SELECT * FROM undoredo_verify();
-- detaching and attaching the partition clones it again
ALTER TABLE p DETACH PARTITION p1;
ALTER TABLE p ATTACH PARTITION p1 FOR VALUES FROM (0) TO (10);
SELECT * FROM undoredo_verify();

-- a capture trigger made by hand that misses some writes, and no guard
CREATE TABLE h (id integer PRIMARY KEY, v text);
CREATE TRIGGER undoredo_capture AFTER INSERT OR UPDATE OR DELETE ON h
    FOR EACH ROW WHEN (pg_trigger_depth() < 1)
    EXECUTE FUNCTION undoredo_capture();
CREATE TRIGGER undoredo_guard BEFORE INSERT OR UPDATE ON h
    FOR EACH STATEMENT EXECUTE FUNCTION undoredo_capture();
SELECT * FROM undoredo_verify();
DROP TRIGGER undoredo_guard ON h;
SELECT * FROM undoredo_verify();
-- the table's own triggers, by any name, are found by their function
DROP TRIGGER undoredo_capture ON h;
CREATE TRIGGER h_capture AFTER INSERT ON h
    FOR EACH ROW EXECUTE FUNCTION undoredo_capture();
SELECT * FROM undoredo_verify();
DROP TRIGGER h_capture ON h;
SELECT undoredo_track('h');
SELECT * FROM undoredo_verify();

-------------------------------------------------------------------------
-- 2. A detached partition is not tracked any more: not reported, even
--    with a guard left on it (detached while the event trigger that drops
--    guards was disabled; the guard then does nothing).
-------------------------------------------------------------------------
ALTER EVENT TRIGGER undoredo_forget_detached DISABLE;
ALTER TABLE p DETACH PARTITION p3;
ALTER EVENT TRIGGER undoredo_forget_detached ENABLE;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'p3'::regclass;
ALTER TABLE p DETACH PARTITION p4;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'p4'::regclass;
SELECT * FROM undoredo_verify();

-------------------------------------------------------------------------
-- 3. Foreign keys with actions from untracked tables.
-------------------------------------------------------------------------
CREATE TABLE c (id integer PRIMARY KEY,
    t_id integer CONSTRAINT c_t REFERENCES t ON DELETE CASCADE);
INSERT INTO c VALUES (1, 1);
SELECT * FROM undoredo_verify();
-- the cascaded delete is lost: undo brings back t's row, not c's
SET undoredo.scope = 'verify:3';
DELETE FROM t WHERE id = 1;
RESET undoredo.scope;
SELECT * FROM undoredo_undo('verify', 3);
SELECT (SELECT count(*) FROM t) AS t_rows, (SELECT count(*) FROM c) AS c_rows;
-- tracking the holder too captures what its key does
SELECT undoredo_track('c');
SELECT * FROM undoredo_verify();
SELECT undoredo_untrack('c');
-- without an action the key changes nothing
ALTER TABLE c DROP CONSTRAINT c_t, ADD CONSTRAINT c_t FOREIGN KEY (t_id)
    REFERENCES t ON DELETE RESTRICT ON UPDATE NO ACTION;
SELECT * FROM undoredo_verify();
-- every action, on delete and on update
ALTER TABLE c ADD COLUMN t2 integer DEFAULT 1, ADD COLUMN t3 integer,
    ADD CONSTRAINT c_t_upd FOREIGN KEY (t2) REFERENCES t ON UPDATE SET DEFAULT,
    ADD CONSTRAINT c_t_null FOREIGN KEY (t3) REFERENCES t
        ON DELETE SET NULL ON UPDATE CASCADE;
SELECT * FROM undoredo_verify();
ALTER TABLE c DROP CONSTRAINT c_t_upd, DROP CONSTRAINT c_t_null;
SELECT * FROM undoredo_verify();
-- partitioned on both sides: one row, on the table the key was declared on
CREATE TABLE r (id integer, p_id integer, PRIMARY KEY (id, p_id))
    PARTITION BY RANGE (id);
CREATE TABLE r1 PARTITION OF r FOR VALUES FROM (0) TO (10);
CREATE TABLE r2 PARTITION OF r FOR VALUES FROM (10) TO (20);
ALTER TABLE r ADD CONSTRAINT r_p FOREIGN KEY (p_id) REFERENCES p
    ON DELETE CASCADE;
SELECT count(*) > 2 AS cloned FROM pg_constraint WHERE conname LIKE 'r_p%';
SELECT * FROM undoredo_verify();
-- a key to a partition tracked on its own, whose parent is not tracked
CREATE TABLE q (id integer PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE q1 PARTITION OF q FOR VALUES FROM (0) TO (10);
CREATE TABLE q2 PARTITION OF q FOR VALUES FROM (10) TO (20);
SELECT undoredo_track('q1');
CREATE TABLE qc (id integer PRIMARY KEY,
    q_id integer CONSTRAINT qc_q REFERENCES q ON DELETE SET NULL);
SELECT * FROM undoredo_verify();
DROP TABLE qc, r;
SELECT * FROM undoredo_verify();

-------------------------------------------------------------------------
-- 4. session_replication_role = replica: triggers enabled for origin
--    sessions (the default) do not fire.
-------------------------------------------------------------------------
SET session_replication_role = replica;
SELECT * FROM undoredo_verify();
SET undoredo.scope = 'verify:4';
UPDATE t SET v = 'lost' WHERE id = 1;
RESET undoredo.scope;
SELECT * FROM undoredo_status('verify', 4);
SET session_replication_role = local;
SELECT * FROM undoredo_verify();
-- with every trigger of the tracked tables enabled always, replica
-- sessions are captured too
DO $$
DECLARE
    tg record;
BEGIN
    FOR tg IN SELECT tgrelid::regclass AS tbl, tgname FROM pg_trigger
              WHERE tgfoid = 'undoredo_capture'::regproc AND tgparentid = 0
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', tg.tbl, tg.tgname);
    END LOOP;
END
$$;
SELECT count(*) FILTER (WHERE tgenabled = 'A') AS always, count(*) AS triggers
FROM pg_trigger WHERE tgfoid = 'undoredo_capture'::regproc;
SET session_replication_role = replica;
SELECT * FROM undoredo_verify();
SET undoredo.scope = 'verify:4';
UPDATE t SET v = 'kept' WHERE id = 1;
RESET undoredo.scope;
SELECT * FROM undoredo_status('verify', 4);
RESET session_replication_role;

\c :regress_db
DROP DATABASE undoredo_verify;
