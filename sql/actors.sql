-- Version 1.2: undoredo.actor, undo and redo per actor (SPEC "Undo and
-- redo per actor"), and how they share one history with undo and redo of
-- anyone.
CREATE SCHEMA actors;
SET search_path = actors, public;
CREATE TABLE para (id integer PRIMARY KEY, body text, pos integer);
SELECT undoredo_track('para');
-- the data as one string, to compare states
CREATE FUNCTION doc() RETURNS text LANGUAGE sql AS
$$ SELECT coalesce(string_agg(id || '=' || body || '@' || pos, ' ' ORDER BY id), '-') FROM para $$;
-- a scope's steps by their position (#1 the oldest): step ids depend on
-- what ran before
CREATE FUNCTION steps(d bigint)
RETURNS TABLE (n bigint, state text, label text, actor text, reverts bigint)
LANGUAGE sql AS
$$ SELECT row_number() OVER (ORDER BY h.step), h.state, h.label, h.actor,
          (SELECT count(*) FROM undoredo_history('actors', d) r
           WHERE r.step <= h.reverts)
   FROM undoredo_history('actors', d) h ORDER BY h.step $$;
-- a statement's outcome: 'ok', or SQLSTATE, message and detail, with step
-- ids shown as positions in the scope's history
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
                              '\1 #' || coalesce((SELECT p.n FROM steps(d) p,
                                  (SELECT step, row_number() OVER (ORDER BY step) AS n
                                   FROM undoredo_history('actors', d)) h
                                  WHERE h.step = m[1]::bigint AND p.n = h.n)::text, '?'),
                              'g');
    END LOOP;
    RETURN msg;
END $$;

-- the actor in effect at a step's first change is recorded; empty is NULL
SET undoredo.scope = 'actors:1';
SET undoredo.actor = 'alice';
SET undoredo.label = 'alice adds 1';
INSERT INTO para VALUES (1, 'one', 1);
BEGIN;
SET LOCAL undoredo.actor = 'bob';
SET LOCAL undoredo.label = 'bob adds 2';
INSERT INTO para VALUES (2, 'two', 2);
SET LOCAL undoredo.actor = 'mallory';  -- later in the step: not recorded
UPDATE para SET pos = 20 WHERE id = 2;
COMMIT;
SET undoredo.actor = '';
SET undoredo.label = 'nobody adds 3';
INSERT INTO para VALUES (3, 'three', 3);
SET undoredo.actor = 'alice';
SET undoredo.label = 'alice edits 1';
UPDATE para SET body = 'ONE' WHERE id = 1;
SET undoredo.actor = 'bob';
SET undoredo.label = 'bob edits 2';
UPDATE para SET body = 'TWO' WHERE id = 2;
RESET undoredo.label;
RESET undoredo.actor;
RESET undoredo.scope;
SELECT * FROM steps(1);
SELECT actor IS NULL AS null_actor, reverts IS NULL AS null_reverts
FROM undoredo_history('actors', 1) ORDER BY step;
SELECT doc();

-- counts per actor; NULL is anyone, '' the steps recorded without one
SELECT 'anyone' AS who, * FROM undoredo_status('actors', 1)
UNION ALL SELECT 'alice', * FROM undoredo_status('actors', 1, 'alice')
UNION ALL SELECT 'bob', * FROM undoredo_status('actors', 1, 'bob')
UNION ALL SELECT 'none', * FROM undoredo_status('actors', 1, '')
UNION ALL SELECT 'carol', * FROM undoredo_status('actors', 1, 'carol')
UNION ALL SELECT 'null', * FROM undoredo_status('actors', 1, NULL);

-- alice undoes her newest step although bob's is newer: only her rows
-- change, the others' steps stay undoable
SELECT * FROM undoredo_undo('actors', 1, 1, 'alice');
SELECT doc();
SELECT * FROM steps(1);
SELECT * FROM undoredo_status('actors', 1);
-- undo of anyone takes the newest undoable step (bob's edit); redo of
-- anyone then takes the most recently undone one (bob's, not alice's
-- older step)
SELECT * FROM undoredo_undo('actors', 1);
SELECT doc();
SELECT * FROM undoredo_redo('actors', 1);
SELECT doc();
SELECT * FROM steps(1);
-- alice redoes her own step
SELECT * FROM undoredo_redo('actors', 1, 1, 'alice');
SELECT doc();
-- an actor with nothing to undo or redo: the counts, no change
SELECT * FROM undoredo_undo('actors', 1, 1, 'carol');
SELECT * FROM undoredo_redo('actors', 1, 1, 'alice');
SELECT doc();

-- undo n then redo n per actor, with other actors' steps in between and
-- newer, leaves the data as it was
CREATE TEMP TABLE before AS SELECT doc() AS d;
SELECT * FROM undoredo_undo('actors', 1, 2, 'alice');
SELECT doc();
SELECT * FROM undoredo_redo('actors', 1, 2, 'alice');
SELECT doc() = (SELECT d FROM before) AS same_data;
-- the same for the steps without an actor, asking for more than there is
SELECT * FROM undoredo_undo('actors', 1, 5, '');
SELECT doc();
SELECT * FROM undoredo_redo('actors', 1, 5, '');
SELECT doc() = (SELECT d FROM before) AS same_data;
-- and interleaved: alice, then bob, then alice's redo, then bob's
SELECT * FROM undoredo_undo('actors', 1, 1, 'alice');
SELECT * FROM undoredo_undo('actors', 1, 1, 'bob');
SELECT * FROM undoredo_redo('actors', 1, 1, 'alice');
SELECT * FROM undoredo_redo('actors', 1, 1, 'bob');
SELECT doc() = (SELECT d FROM before) AS same_data;

-- per-actor undo is checked against the data as it is now: a later step
-- of another actor changed the column bob's newest step changed: refused,
-- naming that step; nothing changes
SET undoredo.scope = 'actors:1';
SET undoredo.actor = 'carol';
SET undoredo.label = 'carol edits 2';
UPDATE para SET body = 'Two!' WHERE id = 2;
RESET undoredo.label;
RESET undoredo.actor;
RESET undoredo.scope;
SELECT try($$SELECT * FROM undoredo_undo('actors', 1, 1, 'bob')$$, 1);
SELECT doc();
SELECT * FROM undoredo_status('actors', 1, 'bob');
-- a write outside the history is a conflict too, with the 1.1 detail
UPDATE para SET pos = 30 WHERE id = 3;
SELECT try($$SELECT * FROM undoredo_undo('actors', 1, 1, '')$$, 1);
UPDATE para SET pos = 3 WHERE id = 3;
-- once carol's step is undone, bob's undo goes through
SELECT * FROM undoredo_undo('actors', 1, 1, 'carol');
SELECT * FROM undoredo_undo('actors', 1, 1, 'bob');
SELECT doc();

-- redo per actor is checked the same way: alice's undone edit of row 1,
-- then carol changes row 1's body; alice's redo is refused naming
-- carol's step, and undo of carol's step lets it through
SELECT * FROM undoredo_undo('actors', 1, 1, 'alice');
SET undoredo.scope = 'actors:1';
SET undoredo.actor = 'carol';
SET undoredo.label = 'carol edits 1';
UPDATE para SET body = 'One!' WHERE id = 1;
RESET undoredo.label;
RESET undoredo.actor;
RESET undoredo.scope;
SELECT try($$SELECT * FROM undoredo_redo('actors', 1, 1, 'alice')$$, 1);
SELECT doc();
SELECT * FROM undoredo_undo('actors', 1, 1, 'carol');
SELECT * FROM undoredo_redo('actors', 1, 1, 'alice');
SELECT doc();

-- a new step discards the redo history of its own actor only
SELECT * FROM undoredo_undo('actors', 1, 1, 'alice');
SELECT * FROM steps(1);
SET undoredo.scope = 'actors:1';
SET undoredo.actor = 'bob';
SET undoredo.label = 'bob moves 3';
UPDATE para SET pos = 33 WHERE id = 3;
RESET undoredo.label;
RESET undoredo.actor;
RESET undoredo.scope;
-- bob's undone step is gone; alice's and carol's can still be redone
SELECT * FROM steps(1);
SELECT * FROM undoredo_redo('actors', 1, 1, 'bob');
SELECT * FROM undoredo_redo('actors', 1, 1, 'alice');
SELECT doc();
-- a step without an actor discards the redo history of steps without
-- one, and only that
SET undoredo.scope = 'actors:1';
SET undoredo.label = 'nobody adds 4';
INSERT INTO para VALUES (4, 'four', 4);
RESET undoredo.scope;
SELECT * FROM undoredo_undo('actors', 1, 1, '');
SELECT * FROM steps(1);
SET undoredo.scope = 'actors:1';
SET undoredo.label = 'nobody moves 1';
UPDATE para SET pos = 11 WHERE id = 1;
RESET undoredo.label;
RESET undoredo.scope;
SELECT * FROM steps(1);

-- undoredo.max_steps keeps one window of the newest undoable steps: an
-- undone step of another actor older than the window goes with it
SET undoredo.scope = 'actors:2';
SET undoredo.actor = 'alice';
SET undoredo.label = 'a1';
INSERT INTO para VALUES (20, 'alice', 1);
SET undoredo.actor = 'bob';
SET undoredo.label = 'b1';
INSERT INTO para VALUES (21, 'bob', 1);
RESET undoredo.scope;
SELECT * FROM undoredo_undo('actors', 2, 1, 'alice');
SET undoredo.scope = 'actors:2';
SET undoredo.max_steps = 2;
SET undoredo.label = 'b2';
UPDATE para SET pos = 2 WHERE id = 21;
-- two undoable steps: nothing left the window, a1 stays
SELECT * FROM steps(2);
SET undoredo.label = 'b3';
UPDATE para SET pos = 3 WHERE id = 21;
RESET undoredo.label;
RESET undoredo.max_steps;
RESET undoredo.actor;
RESET undoredo.scope;
-- b1 left the window, and a1, older than the oldest kept, went too
SELECT * FROM steps(2);
SELECT * FROM undoredo_redo('actors', 2, 1, 'alice');
SELECT * FROM undoredo_status('actors', 2);

-- any role may set undoredo.actor, like undoredo.scope
CREATE ROLE undoredo_test_actor_nobody;
SET ROLE undoredo_test_actor_nobody;
SET undoredo.actor = 'someone';
SELECT current_setting('undoredo.actor');
RESET undoredo.actor;
RESET ROLE;
DROP ROLE undoredo_test_actor_nobody;

-- undoredo_clear forgets every actor's steps
SELECT undoredo_clear('actors', 1);
SELECT * FROM undoredo_status('actors', 1, 'alice');
SELECT * FROM undoredo_redo('actors', 1, 1, 'alice');

-- the text-id forms take the actor too; NULL steps is refused
SELECT * FROM undoredo_status('actors', '2', 'bob');
SELECT * FROM undoredo_undo('actors', '2', 1, 'bob');
SELECT * FROM undoredo_redo('actors', '2', 1, 'bob');
SELECT try($$SELECT * FROM undoredo_undo('actors', '2', NULL, 'bob')$$, 2);

SELECT undoredo_clear('actors', 2);
RESET search_path;
DROP SCHEMA actors CASCADE;
