-- A table owner under FORCE ROW LEVEL SECURITY: a step that touched rows
-- the owner's policy hides cannot be undone or redone by the owner, with
-- or without overwrite: 42501, and nothing changes.  (The replay plans are
-- prepared in the user context they run in, so the look past the policy
-- that explains a failure is really past it.)
CREATE ROLE undoredo_test_frls;
CREATE SCHEMA frls AUTHORIZATION undoredo_test_frls;
SET search_path = frls, public;
SET ROLE undoredo_test_frls;
CREATE TABLE doc (id integer PRIMARY KEY, tenant text NOT NULL, body text);
SELECT undoredo_track('doc');
INSERT INTO doc VALUES (1, 'owner', 'mine'), (2, 'other', 'theirs'),
                       (3, 'other', 'theirs too');
ALTER TABLE doc ENABLE ROW LEVEL SECURITY;
ALTER TABLE doc FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON doc USING (tenant = current_setting('frls.tenant', true));

-- a step on all three rows, made while the policy let everything through
SET frls.tenant = 'other';
ALTER POLICY tenant ON doc USING (true);
BEGIN;
SET LOCAL undoredo.scope = 'frls:1';
UPDATE doc SET body = body || ' (edited)';
COMMIT;
ALTER POLICY tenant ON doc USING (tenant = current_setting('frls.tenant', true));
SET frls.tenant = 'owner';
SELECT * FROM doc ORDER BY id;

\set VERBOSITY terse
SELECT undoredo_test_try($$SELECT undoredo_undo('frls', 1)$$);
SET undoredo.on_conflict = 'overwrite';
SELECT undoredo_test_try($$SELECT undoredo_undo('frls', 1)$$);
RESET undoredo.on_conflict;
SELECT * FROM undoredo_status('frls', 1);
-- nothing changed: every row still has the step's value
SET frls.tenant = 'other';
ALTER TABLE doc NO FORCE ROW LEVEL SECURITY;
SELECT * FROM doc ORDER BY id;
-- without FORCE the owner bypasses its policy: undo works
SELECT * FROM undoredo_undo('frls', 1);
SELECT * FROM doc ORDER BY id;
-- and with FORCE again, redo is refused the same way, before and after
-- the plans are cached
ALTER TABLE doc FORCE ROW LEVEL SECURITY;
SET frls.tenant = 'owner';
SELECT undoredo_test_try($$SELECT undoredo_redo('frls', 1)$$);
SET undoredo.on_conflict = 'overwrite';
SELECT undoredo_test_try($$SELECT undoredo_redo('frls', 1)$$);
RESET undoredo.on_conflict;
SELECT * FROM undoredo_status('frls', 1);
\set VERBOSITY default
RESET frls.tenant;
RESET ROLE;
DROP SCHEMA frls CASCADE;
DROP ROLE undoredo_test_frls;
RESET search_path;
