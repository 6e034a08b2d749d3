-- Access to histories and ownership of scopes, as ordinary roles.
--   1. A role without privileges on the tables of a scope's history can
--      neither read it (history; status of a scope with steps), clear it,
--      nor undo or redo it: 42501, nothing changes, and no scope lock is
--      left behind.
--   2. What each call needs: any privilege (a column privilege too) to
--      read, INSERT, UPDATE and DELETE to clear, SELECT, INSERT, UPDATE and
--      DELETE to undo or redo.  A table that only steps forgotten since
--      changed does not count.
--   3. Scope injection: a role that tracks a table of its own, with a
--      trigger, cannot write under another role's scope (42501); the
--      history and the role's privileges stay as they were when a
--      superuser undoes that scope.
--   4. A scope belongs to the role that records its first step; members
--      of that role may write under it, others not; after undoredo_clear
--      the next writer owns it; a savepoint rolled back forgets what it
--      claimed and added.
--   5. Writer roles share a scope through a group role.
--   6. Writes inside a SECURITY DEFINER function are its owner's; rows a
--      foreign-key action changes count as written by the session's role.
CREATE SCHEMA access;
SET search_path = access, public;
\set SHOW_CONTEXT never

-- Runs a statement and shows its outcome: 'ok', or SQLSTATE, message and
-- detail.
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
    RETURN st || ': ' || msg
        || CASE WHEN det IS NULL OR det = '' THEN '' ELSE ' | ' || det END;
END
$$;
GRANT USAGE ON SCHEMA access TO PUBLIC;

-- the scope's owner and tables, as the superuser sees them
CREATE FUNCTION scope_row(object_id text, OUT owner regrole, OUT relids regclass[])
LANGUAGE sql AS $$
    SELECT owner, relids FROM public.undoredo_scope
    WHERE object_type = 'acc' AND undoredo_scope.object_id = scope_row.object_id
$$;
-- the scope locks this session holds (field4 of their tag is 0x5552)
CREATE FUNCTION scope_locks() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_locks
    WHERE locktype = 'advisory' AND objsubid = 21842 AND pid = pg_backend_pid()
$$;
GRANT EXECUTE ON FUNCTION scope_locks() TO PUBLIC;

CREATE ROLE undoredo_test_acc_alice NOLOGIN;
CREATE ROLE undoredo_test_acc_bob NOLOGIN;
CREATE ROLE undoredo_test_acc_mallory NOLOGIN;
CREATE ROLE undoredo_test_acc_reader NOLOGIN;
CREATE ROLE undoredo_test_acc_colreader NOLOGIN;
CREATE ROLE undoredo_test_acc_clearer NOLOGIN;
CREATE ROLE undoredo_test_acc_halfclearer NOLOGIN;
CREATE ROLE undoredo_test_acc_editors NOLOGIN;
CREATE ROLE undoredo_test_acc_owner NOLOGIN;

CREATE TABLE doc (id int PRIMARY KEY, title text NOT NULL);
SELECT undoredo_track('doc');
INSERT INTO doc VALUES (1, 'Ann: 100'), (2, 'Bob: 100');
GRANT SELECT, INSERT, UPDATE, DELETE ON doc TO undoredo_test_acc_alice,
    undoredo_test_acc_bob, undoredo_test_acc_editors;
GRANT SELECT ON doc TO undoredo_test_acc_reader;
GRANT SELECT (title) ON doc TO undoredo_test_acc_colreader;
GRANT INSERT, UPDATE, DELETE ON doc TO undoredo_test_acc_clearer;
GRANT INSERT, UPDATE ON doc TO undoredo_test_acc_halfclearer;

-- alice records two steps of document 42
SET ROLE undoredo_test_acc_alice;
SET undoredo.scope = 'acc:42';
SET undoredo.label = 'raise for Ann';
UPDATE doc SET title = 'Ann: 120' WHERE id = 1;
SET undoredo.label = 'raise for Bob';
UPDATE doc SET title = 'Bob: 110' WHERE id = 2;
RESET undoredo.label;
RESET undoredo.scope;
RESET ROLE;
SELECT * FROM scope_row('42');

-------------------------------------------------------------------------
-- 1. No privilege on the history's tables: every call is refused.
-------------------------------------------------------------------------
SET ROLE undoredo_test_acc_mallory;
SELECT has_table_privilege('doc', 'SELECT, INSERT, UPDATE, DELETE') AS any_privilege;
SELECT try($$SELECT * FROM undoredo_history('acc', 42)$$);
SELECT try($$SELECT * FROM undoredo_history('acc', '42')$$);
SELECT try($$SELECT * FROM undoredo_status('acc', 42)$$);
SELECT try($$SELECT undoredo_clear('acc', 42)$$);
SELECT try($$SELECT * FROM undoredo_undo('acc', 42)$$);
SELECT try($$SELECT * FROM undoredo_redo('acc', 42)$$);
-- a scope without steps has nothing to protect
SELECT * FROM undoredo_status('acc', 'no-steps');
SELECT * FROM undoredo_history('acc', 'no-steps');
-- a redo with nothing to redo, in an open transaction, leaves no lock
BEGIN;
SELECT try($$SELECT * FROM undoredo_redo('acc', 42)$$);
SELECT scope_locks();
COMMIT;
RESET ROLE;
-- nothing changed
SELECT state, label, changes FROM undoredo_history('acc', 42);
SELECT * FROM doc ORDER BY id;

-------------------------------------------------------------------------
-- 2. What each call needs.
-------------------------------------------------------------------------
-- SELECT: read, but neither clear nor undo
SET ROLE undoredo_test_acc_reader;
SELECT state, label, changes FROM undoredo_history('acc', 42);
SELECT * FROM undoredo_status('acc', 42);
SELECT try($$SELECT undoredo_clear('acc', 42)$$);
SELECT try($$SELECT * FROM undoredo_undo('acc', 42)$$);
RESET ROLE;
-- a column privilege is a privilege on the table
SET ROLE undoredo_test_acc_colreader;
SELECT state, label, changes FROM undoredo_history('acc', 42);
RESET ROLE;
-- INSERT, UPDATE and DELETE without SELECT: no undo (its statements read)
SET ROLE undoredo_test_acc_clearer;
SELECT try($$SELECT * FROM undoredo_undo('acc', 42)$$);
SELECT try($$SELECT * FROM undoredo_redo('acc', 42)$$);
RESET ROLE;
SELECT * FROM undoredo_status('acc', 42);
-- clear needs INSERT, UPDATE and DELETE: INSERT and UPDATE are not enough
SET ROLE undoredo_test_acc_alice;
SET undoredo.scope = 'acc:clr';
INSERT INTO doc VALUES (3, 'Cid: 90');
RESET undoredo.scope;
RESET ROLE;
SET ROLE undoredo_test_acc_halfclearer;
SELECT try($$SELECT undoredo_clear('acc', 'clr')$$);
RESET ROLE;
SELECT * FROM undoredo_status('acc', 'clr');
SET ROLE undoredo_test_acc_clearer;
SELECT undoredo_clear('acc', 'clr');
RESET ROLE;
SELECT * FROM undoredo_status('acc', 'clr');
-- undo and redo with every privilege on every table
SET ROLE undoredo_test_acc_alice;
SELECT * FROM undoredo_undo('acc', 42);
SELECT * FROM undoredo_redo('acc', 42);
RESET ROLE;

-- a table that only forgotten steps changed: a step on "secret" undone,
-- then its redo history discarded by a new step on doc
CREATE TABLE secret (id int PRIMARY KEY, v text);
SELECT undoredo_track('secret');
SET undoredo.scope = 'acc:forgotten';
INSERT INTO secret VALUES (1, 'hidden');
RESET undoredo.scope;
SELECT * FROM undoredo_undo('acc', 'forgotten');
SET undoredo.scope = 'acc:forgotten';
UPDATE doc SET title = 'Cid: 95' WHERE id = 3;
RESET undoredo.scope;
SELECT * FROM scope_row('forgotten');
SET ROLE undoredo_test_acc_reader;
SELECT state, changes FROM undoredo_history('acc', 'forgotten');
RESET ROLE;
SET ROLE undoredo_test_acc_alice;
SELECT * FROM undoredo_undo('acc', 'forgotten');
RESET ROLE;
-- while the step on secret was still there, the reader was refused
SET undoredo.scope = 'acc:secret';
INSERT INTO secret VALUES (2, 'hidden');
UPDATE doc SET title = 'Cid: 96' WHERE id = 3;
RESET undoredo.scope;
SET ROLE undoredo_test_acc_reader;
SELECT try($$SELECT * FROM undoredo_history('acc', 'secret')$$);
RESET ROLE;

-------------------------------------------------------------------------
-- 3. Scope injection: mallory's table and trigger in alice's scope.
-------------------------------------------------------------------------
GRANT CREATE ON SCHEMA access TO undoredo_test_acc_mallory;
SET ROLE undoredo_test_acc_mallory;
CREATE TABLE mal (id int PRIMARY KEY);
SELECT undoredo_track('mal');
CREATE TABLE mal_log (who name, replaying text);
GRANT INSERT ON mal_log TO PUBLIC;
CREATE FUNCTION mal_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO access.mal_log VALUES (current_user, current_setting('undoredo.replaying'));
    IF current_setting('undoredo.replaying') = 'on' THEN
        EXECUTE 'ALTER ROLE undoredo_test_acc_mallory SUPERUSER';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER mal AFTER INSERT OR DELETE ON mal
    FOR EACH ROW EXECUTE FUNCTION mal_trigger();
SET undoredo.scope = 'acc:42';
SELECT try($$INSERT INTO mal VALUES (1)$$);
-- in a transaction of its own, too
BEGIN;
INSERT INTO mal VALUES (1);
ROLLBACK;
RESET undoredo.scope;
SELECT count(*) AS mal_rows FROM mal;
RESET ROLE;
-- bob may write doc, but the scope is alice's
SET ROLE undoredo_test_acc_bob;
SET undoredo.scope = 'acc:42';
SELECT try($$UPDATE doc SET title = 'Bob: 1000' WHERE id = 2$$);
RESET undoredo.scope;
RESET ROLE;
-- the history is alice's alone, and a superuser's undo runs no trigger
-- of mallory's
SELECT state, label, changes FROM undoredo_history('acc', 42);
SELECT * FROM scope_row('42');
SELECT * FROM undoredo_undo('acc', 42, 2);
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_redo('acc', 42, 2);
SELECT * FROM mal_log;
SELECT rolsuper FROM pg_roles WHERE rolname = 'undoredo_test_acc_mallory';

-------------------------------------------------------------------------
-- 4. Ownership: the first writer, again after undoredo_clear.
-------------------------------------------------------------------------
SET ROLE undoredo_test_acc_alice;
SELECT undoredo_clear('acc', 42);
RESET ROLE;
SELECT * FROM scope_row('42');
-- mallory, the first writer now, owns it; alice cannot write under it
SET ROLE undoredo_test_acc_mallory;
SET undoredo.scope = 'acc:42';
INSERT INTO mal VALUES (2);
RESET undoredo.scope;
RESET ROLE;
SELECT * FROM scope_row('42');
SET ROLE undoredo_test_acc_alice;
SET undoredo.scope = 'acc:42';
SELECT try($$UPDATE doc SET title = 'Ann: 130' WHERE id = 1$$);
RESET undoredo.scope;
RESET ROLE;
SELECT undoredo_clear('acc', 42);
SELECT * FROM scope_row('42');

-- a claim in a savepoint rolled back is forgotten, and so is a table the
-- savepoint added to the scope
CREATE TABLE extra (id int PRIMARY KEY);
SELECT undoredo_track('extra');
GRANT SELECT, INSERT, UPDATE, DELETE ON extra TO undoredo_test_acc_alice;
BEGIN;
SET LOCAL undoredo.scope = 'acc:sp';
SAVEPOINT a;
SET LOCAL ROLE undoredo_test_acc_bob;
UPDATE doc SET title = 'Bob: 111' WHERE id = 2;
ROLLBACK TO SAVEPOINT a;
SET LOCAL ROLE undoredo_test_acc_alice;
UPDATE doc SET title = 'Ann: 121' WHERE id = 1;
SAVEPOINT b;
INSERT INTO extra VALUES (1);
ROLLBACK TO SAVEPOINT b;
INSERT INTO extra VALUES (2);
COMMIT;
SELECT * FROM scope_row('sp');
SET ROLE undoredo_test_acc_bob;
SET undoredo.scope = 'acc:sp';
SELECT try($$UPDATE doc SET title = 'Bob: 112' WHERE id = 2$$);
RESET undoredo.scope;
RESET ROLE;

-------------------------------------------------------------------------
-- 5. Sharing a scope: its first step recorded as a group role.
-------------------------------------------------------------------------
GRANT undoredo_test_acc_editors TO undoredo_test_acc_alice, undoredo_test_acc_bob;
-- alice's application starts the document as the group
SET ROLE undoredo_test_acc_editors;
SET undoredo.scope = 'acc:shared';
SET undoredo.label = 'created by the editors';
INSERT INTO doc VALUES (10, 'shared');
RESET undoredo.scope;
RESET ROLE;
SELECT * FROM scope_row('shared');
-- then each member writes as itself
SET ROLE undoredo_test_acc_alice;
SET undoredo.scope = 'acc:shared';
SET undoredo.label = 'alice';
UPDATE doc SET title = 'shared by alice' WHERE id = 10;
RESET undoredo.scope;
RESET ROLE;
SET ROLE undoredo_test_acc_bob;
SET undoredo.scope = 'acc:shared';
SET undoredo.label = 'bob';
UPDATE doc SET title = 'shared by bob' WHERE id = 10;
RESET undoredo.scope;
RESET undoredo.label;
SELECT state, label, changes FROM undoredo_history('acc', 'shared');
SELECT * FROM undoredo_undo('acc', 'shared', 2);
SELECT * FROM doc WHERE id = 10;
RESET ROLE;
-- mallory is no member
SET ROLE undoredo_test_acc_mallory;
SET undoredo.scope = 'acc:shared';
SELECT try($$INSERT INTO mal VALUES (3)$$);
RESET undoredo.scope;
RESET ROLE;
-- a scope alice started is alice's, even for a fellow editor
SET ROLE undoredo_test_acc_alice;
SET undoredo.scope = 'acc:alices';
INSERT INTO doc VALUES (11, 'alice alone');
RESET undoredo.scope;
RESET ROLE;
SET ROLE undoredo_test_acc_bob;
SET undoredo.scope = 'acc:alices';
SELECT try($$UPDATE doc SET title = 'bob too' WHERE id = 11$$);
RESET undoredo.scope;
RESET ROLE;

-------------------------------------------------------------------------
-- 6. SECURITY DEFINER functions and foreign-key actions.
-------------------------------------------------------------------------
-- a SECURITY DEFINER function of alice's writes as alice, whoever calls it
CREATE FUNCTION retitle(int, text) RETURNS void LANGUAGE sql SECURITY DEFINER
    AS $$ UPDATE access.doc SET title = $2 WHERE id = $1 $$;
ALTER FUNCTION retitle(int, text) OWNER TO undoredo_test_acc_alice;
SET ROLE undoredo_test_acc_bob;
SET undoredo.scope = 'acc:alices';
SELECT retitle(11, 'through alice''s function');
RESET undoredo.scope;
RESET ROLE;
SELECT changes FROM undoredo_history('acc', 'alices');

-- tables owned by an ordinary role, written by alice: the cascaded delete
-- runs as the tables' owner, and counts as alice's
GRANT CREATE ON SCHEMA access TO undoredo_test_acc_owner;
SET ROLE undoredo_test_acc_owner;
CREATE TABLE folder (id int PRIMARY KEY);
CREATE TABLE page (id int PRIMARY KEY,
                   folder int NOT NULL REFERENCES folder ON DELETE CASCADE);
SELECT undoredo_track('folder'), undoredo_track('page');
GRANT SELECT, INSERT, UPDATE, DELETE ON folder, page TO undoredo_test_acc_alice;
RESET ROLE;
SET ROLE undoredo_test_acc_alice;
SET undoredo.scope = 'acc:fk';
INSERT INTO folder VALUES (1);
INSERT INTO page VALUES (1, 1), (2, 1);
DELETE FROM folder WHERE id = 1;
RESET undoredo.scope;
SELECT state, changes FROM undoredo_history('acc', 'fk');
SELECT * FROM undoredo_undo('acc', 'fk');
SELECT * FROM page ORDER BY id;
RESET ROLE;
SELECT * FROM scope_row('fk');

-- clean up
\set VERBOSITY terse
SELECT undoredo_clear('acc', x)
FROM unnest(ARRAY['42', 'clr', 'forgotten', 'secret', 'sp', 'shared', 'alices', 'fk', 'no-steps']) x;
DROP SCHEMA access CASCADE;
DROP OWNED BY undoredo_test_acc_alice, undoredo_test_acc_bob,
    undoredo_test_acc_mallory, undoredo_test_acc_reader,
    undoredo_test_acc_colreader, undoredo_test_acc_clearer,
    undoredo_test_acc_halfclearer, undoredo_test_acc_editors,
    undoredo_test_acc_owner;
DROP ROLE undoredo_test_acc_alice, undoredo_test_acc_bob,
    undoredo_test_acc_mallory, undoredo_test_acc_reader,
    undoredo_test_acc_colreader, undoredo_test_acc_clearer,
    undoredo_test_acc_halfclearer, undoredo_test_acc_editors,
    undoredo_test_acc_owner;
