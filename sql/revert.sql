-- Version 1.2: undoredo_revert, the inverse of any undoable step applied
-- to the data as it is now and recorded as a new step (SPEC "Revert of
-- any step").
CREATE SCHEMA revert;
SET search_path = revert, public;
CREATE TABLE para (id integer PRIMARY KEY, body text, pos integer);
CREATE TABLE note (id integer PRIMARY KEY, para integer REFERENCES para, txt text);
SELECT undoredo_track('para');
SELECT undoredo_track('note');
-- what replay shows to application triggers, and the scope it runs under
CREATE TABLE seen (what text);
CREATE FUNCTION see() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO revert.seen VALUES (TG_OP || ' replaying=' || current_setting('undoredo.replaying'));
    RETURN NULL;
END $$;
CREATE TRIGGER see AFTER INSERT OR UPDATE OR DELETE ON para FOR EACH ROW EXECUTE FUNCTION see();
CREATE FUNCTION doc() RETURNS text LANGUAGE sql AS
$$ SELECT coalesce(string_agg(id || '=' || body || '@' || pos, ' ' ORDER BY id), '-') FROM para $$;
CREATE FUNCTION steps(d bigint)
RETURNS TABLE (n bigint, state text, label text, actor text, reverts bigint, changes bigint)
LANGUAGE sql AS
$$ SELECT row_number() OVER (ORDER BY h.step), h.state,
          regexp_replace(h.label, 'Revert step \d+', 'Revert step N', 'g'),
          h.actor,
          (SELECT count(*) FROM undoredo_history('rev', d) r WHERE r.step <= h.reverts),
          h.changes
   FROM undoredo_history('rev', d) h ORDER BY h.step $$;
-- the id of the step at a position
CREATE FUNCTION step_at(d bigint, n bigint) RETURNS bigint LANGUAGE sql AS
$$ SELECT step FROM (SELECT step, row_number() OVER (ORDER BY step) AS n
                     FROM undoredo_history('rev', d)) h WHERE h.n = step_at.n $$;
CREATE FUNCTION try(sql text, d bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
    m text[];
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL;
    msg := st || ': ' || msg || coalesce(' | ' || nullif(det, ''), '');
    FOR m IN SELECT regexp_matches(msg, '[Ss]tep (\d+)', 'g') LOOP
        msg := regexp_replace(msg, '([Ss]tep) ' || m[1] || '\M',
                              '\1 #' || coalesce((SELECT h.n FROM
                                  (SELECT step, row_number() OVER (ORDER BY step) AS n
                                   FROM undoredo_history('rev', d)) h
                                  WHERE h.step = m[1]::bigint)::text, '?'),
                              'g');
    END LOOP;
    RETURN msg;
END $$;

SET undoredo.scope = 'rev:1';
SET undoredo.actor = 'alice';
SET undoredo.label = 'add paragraphs';
INSERT INTO para VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3);
SET undoredo.label = 'edit 1';
UPDATE para SET body = 'ONE' WHERE id = 1;
SET undoredo.actor = 'bob';
SET undoredo.label = 'edit 2';
UPDATE para SET body = 'TWO', pos = 20 WHERE id = 2;
RESET undoredo.label;
DELETE FROM para WHERE id = 3;
SET undoredo.label = 'edit 1 again';
UPDATE para SET pos = 10 WHERE id = 1;
SET undoredo.label = 'edit 2 again';
UPDATE para SET body = 'Two' WHERE id = 2;
RESET undoredo.label;
RESET undoredo.actor;
RESET undoredo.scope;
SELECT * FROM steps(1);
SELECT doc();

-- revert of an older step: its rows get their state before it, the
-- other steps stay as they were, and a new step records the revert; its
-- label is 'Revert: ' and the reverted step's label, its actor the
-- caller's, its reverts the reverted step; the replay shows
-- undoredo.replaying on to application triggers
TRUNCATE seen;
SET undoredo.actor = 'carol';
SELECT * FROM undoredo_revert('rev', 1, step_at(1, 2));
RESET undoredo.actor;
SELECT doc();
SELECT * FROM steps(1);
SELECT * FROM seen;
SELECT current_setting('undoredo.replaying');
-- without a label: 'Revert step <id>'; undoredo.label wins when set
SELECT * FROM undoredo_revert('rev', 1, step_at(1, 4));
SELECT doc();
SET undoredo.label = 'Move 1 back';
SELECT * FROM undoredo_revert('rev', 1, step_at(1, 5));
RESET undoredo.label;
SELECT doc();
SELECT * FROM steps(1) WHERE n > 6;

-- a revert step is undone and redone like any other: undoing it
-- re-applies the reverted step's change
SELECT * FROM undoredo_undo('rev', 1);
SELECT doc();
SELECT * FROM undoredo_redo('rev', 1);
SELECT doc();

-- conflicts: a row the reverted step touched that a later step changed
-- (step 6 changed the body of row 2 after step 3) is refused, naming
-- that step; nothing changes
SELECT try(format('SELECT * FROM undoredo_revert(%L, 1, %s)', 'rev', step_at(1, 3)), 1);
SELECT doc();
SELECT count(*) FROM undoredo_history('rev', 1);
-- once step 6 is reverted too, it goes through
SELECT * FROM undoredo_revert('rev', 1, step_at(1, 6));
SELECT * FROM undoredo_revert('rev', 1, step_at(1, 3));
SELECT doc();
-- a row changed by a write outside the history: the 1.1 detail
SELECT * FROM undoredo_undo('rev', 1);
UPDATE para SET pos = 22 WHERE id = 2;
SELECT try(format('SELECT * FROM undoredo_revert(%L, 1, %s)', 'rev', step_at(1, 3)), 1);
-- overwrite forces it
SET undoredo.on_conflict = 'overwrite';
SELECT * FROM undoredo_revert('rev', 1, step_at(1, 3));
RESET undoredo.on_conflict;
SELECT doc();
-- a revert of a revert
SELECT * FROM undoredo_revert('rev', 1, step_at(1, 7));
SELECT doc();
SELECT * FROM steps(1) WHERE n > 9;

-- not revertable: a step undone, a step not in this scope's history, a
-- step of another scope, NULL
SELECT * FROM undoredo_undo('rev', 1);
SELECT try(format('SELECT * FROM undoredo_revert(%L, 1, %s)', 'rev', step_at(1, 12)), 1);
SELECT * FROM undoredo_redo('rev', 1);
SELECT try('SELECT * FROM undoredo_revert(''rev'', 1, -1)', 1);
SET undoredo.scope = 'rev:2';
INSERT INTO para VALUES (50, 'other', 50);
RESET undoredo.scope;
SELECT try(format('SELECT * FROM undoredo_revert(%L, 1, %s)', 'rev', step_at(2, 1)), 1);
SELECT try('SELECT * FROM undoredo_revert(''rev'', 1, NULL)', 1);
SELECT try('SELECT * FROM undoredo_revert(''rev'', NULL, 1)', 1);

-- a revert discards the redo history of its actor, and of no other
SET undoredo.scope = 'rev:3';
SET undoredo.actor = 'alice';
INSERT INTO para VALUES (60, 'a', 60);
SET undoredo.actor = 'bob';
INSERT INTO para VALUES (61, 'b', 61);
UPDATE para SET body = 'bb' WHERE id = 61;
RESET undoredo.actor;
RESET undoredo.scope;
SELECT * FROM undoredo_undo('rev', 3, 1, 'alice');
SELECT * FROM undoredo_undo('rev', 3, 1, 'bob');
SET undoredo.actor = 'bob';
SELECT * FROM undoredo_revert('rev', 3, step_at(3, 2));
RESET undoredo.actor;
SELECT * FROM steps(3);
SELECT * FROM undoredo_redo('rev', 3, 1, 'alice');
SELECT doc();

-- in a transaction: what it captured before is a step, the revert its
-- own, and what it captures after a third
BEGIN;
SET LOCAL undoredo.scope = 'rev:3';
INSERT INTO para VALUES (70, 'x', 70);
SELECT * FROM undoredo_revert('rev', 3, step_at(3, 3));
UPDATE para SET body = 'y' WHERE id = 70;
COMMIT;
SELECT * FROM steps(3);
-- the revert's rows go to its own scope whatever undoredo.scope names
BEGIN;
SET LOCAL undoredo.scope = 'rev:4';
INSERT INTO para VALUES (71, 'x', 71);
SELECT * FROM undoredo_revert('rev', 3, step_at(3, 6));
UPDATE para SET body = 'y' WHERE id = 71;
COMMIT;
SELECT * FROM steps(3);
SELECT * FROM steps(4);
-- a rolled back revert leaves nothing
BEGIN;
SELECT * FROM undoredo_revert('rev', 3, step_at(3, 1));
ROLLBACK;
SELECT * FROM steps(3);
SELECT doc();

-- a revert whose changes would not all be captured is refused: a table
-- of the step no longer tracked, a capture trigger disabled, triggers
-- off for replication
SET undoredo.scope = 'rev:5';
INSERT INTO note VALUES (1, 1, 'n1');
INSERT INTO para VALUES (80, 'p', 80);
RESET undoredo.scope;
SELECT undoredo_untrack('note');
SELECT try(format('SELECT * FROM undoredo_revert(%L, 5, %s)', 'rev', step_at(5, 1)), 5);
SELECT undoredo_track('note');
ALTER TABLE note DISABLE TRIGGER undoredo_capture;
SELECT try(format('SELECT * FROM undoredo_revert(%L, 5, %s)', 'rev', step_at(5, 1)), 5);
ALTER TABLE note ENABLE TRIGGER undoredo_capture;
SET session_replication_role = replica;
SELECT try(format('SELECT * FROM undoredo_revert(%L, 5, %s)', 'rev', step_at(5, 1)), 5);
RESET session_replication_role;
SELECT count(*) FROM note;
SELECT * FROM steps(5);
-- with every trigger in place it goes through, foreign keys in order
SELECT * FROM undoredo_revert('rev', 5, step_at(5, 1));
SELECT count(*) FROM note;
SELECT * FROM steps(5);
SELECT * FROM undoredo_undo('rev', 5);
SELECT txt FROM note;

-- atomic, in an order valid under constraints: a step that added a
-- paragraph and its note is reverted child first; when one row of a step
-- conflicts, none of its rows change
BEGIN;
SET LOCAL undoredo.scope = 'rev:7';
INSERT INTO para VALUES (100, 'parent', 100);
INSERT INTO note VALUES (100, 100, 'child');
COMMIT;
SET undoredo.scope = 'rev:7';
INSERT INTO para VALUES (101, 'p101', 101), (102, 'p102', 102);
RESET undoredo.scope;
SELECT * FROM undoredo_revert('rev', 7, step_at(7, 1));
SELECT count(*) FROM para WHERE id = 100;
SELECT count(*) FROM note WHERE id = 100;
SELECT * FROM undoredo_undo('rev', 7);
SELECT txt FROM note WHERE id = 100;
-- (undone in reverse order: 102 first, then 101, which conflicts)
UPDATE para SET body = 'outside' WHERE id = 101;
SELECT try(format('SELECT * FROM undoredo_revert(%L, 7, %s)', 'rev', step_at(7, 2)), 7);
SELECT id, body FROM para WHERE id IN (101, 102) ORDER BY id;

-- row-level security applies: a row the caller may not change is refused
-- with 42501, and nothing changes
CREATE ROLE undoredo_test_rev_tenant;
GRANT USAGE ON SCHEMA revert TO undoredo_test_rev_tenant;
GRANT SELECT, INSERT, UPDATE, DELETE ON para, note TO undoredo_test_rev_tenant;
ALTER TABLE para ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON para USING (id <> 101);
UPDATE para SET body = 'p101' WHERE id = 101;
SET ROLE undoredo_test_rev_tenant;
SELECT try(format('SELECT * FROM undoredo_revert(%L, 7, %s)', 'rev', step_at(7, 2)), 7);
RESET ROLE;
SELECT id, body FROM para WHERE id IN (101, 102) ORDER BY id;
ALTER TABLE para DISABLE ROW LEVEL SECURITY;
DROP POLICY mine ON para;

-- a revert called by a trigger while a replay runs is refused
CREATE FUNCTION nested() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM * FROM undoredo_revert('rev', 7, revert.step_at(7, 1));
    RETURN NULL;
END $$;
CREATE TRIGGER nested AFTER UPDATE ON para FOR EACH ROW
    WHEN (current_setting('undoredo.replaying') = 'on') EXECUTE FUNCTION nested();
SET undoredo.scope = 'rev:7';
UPDATE para SET pos = 1000 WHERE id = 100;
RESET undoredo.scope;
SELECT try('SELECT * FROM undoredo_undo(''rev'', 7)', 7);
DROP TRIGGER nested ON para;
SELECT * FROM undoredo_undo('rev', 7);

-- the refusals of undo speak of the revert: a foreign key action on an
-- untracked table that removing the row would fire
CREATE TABLE tag (id integer PRIMARY KEY, para integer REFERENCES para ON DELETE CASCADE);
SET undoredo.scope = 'rev:6';
INSERT INTO para VALUES (90, 'tagged', 90);
RESET undoredo.scope;
INSERT INTO tag VALUES (1, 90);
SELECT try(format('SELECT * FROM undoredo_revert(%L, 6, %s)', 'rev', step_at(6, 1)), 6);
SELECT count(*) FROM tag;

-- privileges: a role without UPDATE on a table of the step is refused
-- before the scope's lock, and nothing changes
CREATE ROLE undoredo_test_rev_reader;
GRANT USAGE ON SCHEMA revert TO undoredo_test_rev_reader;
GRANT SELECT ON para, note TO undoredo_test_rev_reader;
SET ROLE undoredo_test_rev_reader;
SELECT try(format('SELECT * FROM undoredo_revert(%L, 5, %s)', 'rev', step_at(5, 1)), 5);
RESET ROLE;
SELECT * FROM steps(5);

SELECT undoredo_clear('rev', d) FROM generate_series(1, 7) d;
RESET search_path;
DROP SCHEMA revert CASCADE;
DROP OWNED BY undoredo_test_rev_reader, undoredo_test_rev_tenant;
DROP ROLE undoredo_test_rev_reader, undoredo_test_rev_tenant;
