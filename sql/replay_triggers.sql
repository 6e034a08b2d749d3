-- Replay writes exactly the recorded images.  A BEFORE ROW trigger that
-- would change what undo or redo writes (an updated_at stamp, a revision
-- counter), or keep a row from being written, makes the call fail with a
-- clear error naming the trigger (27000, never UR001), and nothing
-- changes.  A trigger that leaves replays alone (WHEN on
-- undoredo.replaying) or changes nothing replays exactly.  Tables with
-- rules on INSERT, UPDATE or DELETE are refused.
CREATE SCHEMA rt;
SET search_path = rt, public;
CREATE TABLE doc (id int PRIMARY KEY, title text, updated_at timestamptz, rev int);
SELECT undoredo_track('doc');
CREATE FUNCTION rt.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    NEW.rev := coalesce(OLD.rev, 0) + 1;
    RETURN NEW;
END
$$;
CREATE TRIGGER stamp BEFORE UPDATE ON doc FOR EACH ROW EXECUTE FUNCTION rt.stamp();
INSERT INTO doc SELECT g, 'title ' || g, '2026-01-01', 1 FROM generate_series(1, 12) g;
CREATE TABLE saved AS SELECT * FROM doc;
-- the table as it was saved: true when every row is the same
CREATE FUNCTION rt.same_as_saved() RETURNS boolean LANGUAGE sql AS $$
    SELECT NOT EXISTS (SELECT * FROM rt.doc EXCEPT SELECT * FROM rt.saved)
       AND NOT EXISTS (SELECT * FROM rt.saved EXCEPT SELECT * FROM rt.doc)
$$;

-- 1. steps on one row (a single statement), six rows (set-based), and a
-- row updated twice in one step
BEGIN;
SET LOCAL undoredo.scope = 'rt:1';
UPDATE doc SET title = 'one' WHERE id = 1;
COMMIT;
BEGIN;
SET LOCAL undoredo.scope = 'rt:2';
UPDATE doc SET title = title || '!' WHERE id BETWEEN 4 AND 9;
COMMIT;
BEGIN;
SET LOCAL undoredo.scope = 'rt:3';
UPDATE doc SET title = 'twice' WHERE id = 3;
UPDATE doc SET title = 'thrice' WHERE id = 3;
COMMIT;
DELETE FROM saved; INSERT INTO saved SELECT * FROM doc;
SELECT undoredo_test_try($$SELECT undoredo_undo('rt', 1)$$);
SELECT undoredo_test_try($$SELECT undoredo_undo('rt', 2)$$);
SELECT undoredo_test_try($$SELECT undoredo_undo('rt', 3)$$);
SELECT rt.same_as_saved() AS unchanged;

-- 2. made replay-aware, the same steps undo and redo exactly: the stamp and
-- the counter come back as recorded
DROP TRIGGER stamp ON doc;
CREATE TRIGGER stamp BEFORE UPDATE ON doc FOR EACH ROW
    WHEN (current_setting('undoredo.replaying') = 'off')
    EXECUTE FUNCTION rt.stamp();
CREATE TABLE edited AS SELECT * FROM doc;
SELECT * FROM undoredo_undo('rt', 3);
SELECT * FROM undoredo_undo('rt', 2);
SELECT * FROM undoredo_undo('rt', 1);
SELECT id, title, updated_at = '2026-01-01' AS stamp_as_recorded, rev
FROM doc WHERE id IN (1, 3, 9) ORDER BY id;
SELECT * FROM undoredo_redo('rt', 1);
SELECT * FROM undoredo_redo('rt', 2);
SELECT * FROM undoredo_redo('rt', 3);
SELECT NOT EXISTS (SELECT * FROM doc EXCEPT SELECT * FROM edited) AS redone_exactly;

-- 3. a trigger that changes nothing it writes is fine
CREATE FUNCTION rt.noop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER noop BEFORE INSERT OR UPDATE OR DELETE ON doc
    FOR EACH ROW EXECUTE FUNCTION rt.noop();
SELECT * FROM undoredo_undo('rt', 2);
SELECT * FROM undoredo_redo('rt', 2);
DROP TRIGGER noop ON doc;

-- 4. triggers that keep rows from being written: undo of an insert (a
-- delete), of a delete (an insert), of an update; one row and many
BEGIN;
SET LOCAL undoredo.scope = 'rt:4';
INSERT INTO doc VALUES (20, 'new', '2026-01-02', 1), (21, 'new', '2026-01-02', 1);
DELETE FROM doc WHERE id IN (10, 11);
COMMIT;
DELETE FROM saved; INSERT INTO saved SELECT * FROM doc;
CREATE FUNCTION rt.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN NULL;
END
$$;
CREATE TRIGGER keep BEFORE DELETE ON doc FOR EACH ROW EXECUTE FUNCTION rt.refuse();
SELECT undoredo_test_try($$SELECT undoredo_undo('rt', 4)$$);
DROP TRIGGER keep ON doc;
CREATE TRIGGER keep BEFORE INSERT ON doc FOR EACH ROW EXECUTE FUNCTION rt.refuse();
SELECT undoredo_test_try($$SELECT undoredo_undo('rt', 4)$$);
DROP TRIGGER keep ON doc;
CREATE TRIGGER keep BEFORE UPDATE ON doc FOR EACH ROW EXECUTE FUNCTION rt.refuse();
SELECT undoredo_test_try($$SELECT undoredo_undo('rt', 2)$$);
SELECT undoredo_test_try($$SELECT undoredo_undo('rt', 3)$$);
DROP TRIGGER keep ON doc;
SELECT rt.same_as_saved() AS unchanged;

-- 5. a BEFORE INSERT trigger that rewrites a value: undo of a delete
CREATE FUNCTION rt.upper_title() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.title := upper(NEW.title);
    RETURN NEW;
END
$$;
CREATE TRIGGER upper_title BEFORE INSERT ON doc FOR EACH ROW
    EXECUTE FUNCTION rt.upper_title();
SELECT undoredo_test_try($$SELECT undoredo_undo('rt', 4)$$);
SELECT rt.same_as_saved() AS unchanged;
DROP TRIGGER upper_title ON doc;
SELECT * FROM undoredo_undo('rt', 4);
SELECT * FROM undoredo_redo('rt', 4);

-- 6. rules on a tracked table are refused, whatever they do
CREATE TABLE log (id int, what text);
CREATE RULE log_update AS ON UPDATE TO doc DO ALSO INSERT INTO log VALUES (NEW.id, 'update');
SELECT undoredo_test_try($$SELECT undoredo_undo('rt', 4)$$);
DROP RULE log_update ON doc;
CREATE RULE nothing AS ON DELETE TO doc DO INSTEAD NOTHING;
SELECT undoredo_test_try($$SELECT undoredo_undo('rt', 4)$$);
DROP RULE nothing ON doc;
SELECT count(*) AS logged FROM log;
SELECT rt.same_as_saved() AS unchanged;
SELECT * FROM undoredo_status('rt', 4);

-- 7. a trigger's WHEN on undoredo.replaying works in a session that has not
-- loaded the library yet (no setting on the database stands in for it):
-- the statement guard loads the library before any row trigger runs
CREATE TRIGGER replay_aware BEFORE UPDATE ON doc FOR EACH ROW
    WHEN (current_setting('undoredo.replaying') = 'off')
    EXECUTE FUNCTION rt.noop();
\c
SELECT current_setting('undoredo.replaying', true) IS NULL AS not_defined_before_any_write;
UPDATE rt.doc SET title = 'fresh session' WHERE id = 1;
SELECT current_setting('undoredo.replaying') AS after_the_write;
SET search_path = rt, public;

DROP SCHEMA rt CASCADE;
RESET search_path;
