-- History: undoredo_status, undoredo_history, undoredo_clear
CREATE SCHEMA history;
SET search_path = history, public;
CREATE TABLE note (id uuid PRIMARY KEY, body text);
SELECT undoredo_track('note');

-- objects keyed by UUID or text use the text forms
BEGIN;
SET LOCAL undoredo.scope = 'note:6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10';
SET LOCAL undoredo.label = 'Create note';
INSERT INTO note VALUES ('6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10', 'hello');
SELECT now() AS first_start \gset
COMMIT;
BEGIN;
SET LOCAL undoredo.scope = 'note:6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10';
UPDATE note SET body = 'hello, world';
UPDATE note SET body = 'hello, world!';
SELECT now() AS second_start \gset
COMMIT;
BEGIN;
SET LOCAL undoredo.scope = 'note:6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10';
SET LOCAL undoredo.label = 'Delete';
DELETE FROM note;
COMMIT;

-- one row per step, oldest first: state, label (NULL when none), when the
-- capturing transaction started, how many row changes it recorded
SELECT step > 0 AS has_id, state, label, changes
FROM undoredo_history('note', '6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10');
SELECT (SELECT created_at FROM undoredo_history('note', '6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10') ORDER BY step LIMIT 1) = :'first_start'::timestamptz AS first_created_at,
       (SELECT created_at FROM undoredo_history('note', '6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10') ORDER BY step OFFSET 1 LIMIT 1) = :'second_start'::timestamptz AS second_created_at;
CREATE TABLE before_undo AS
    SELECT * FROM undoredo_history('note', '6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10');

-- a step keeps its id across undo and redo; only its state changes
SELECT * FROM undoredo_undo('note', '6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10', 2);
SELECT h.state, h.step = b.step AS same_id, h.label IS NOT DISTINCT FROM b.label AS same_label,
       h.created_at = b.created_at AS same_time, h.changes = b.changes AS same_changes
FROM undoredo_history('note', '6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10') h
JOIN before_undo b USING (step) ORDER BY step;
SELECT * FROM note;

-- status reports the counts and changes nothing
SELECT * FROM undoredo_status('note', '6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10');
SELECT * FROM undoredo_status('note', '6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10');
-- unknown scopes: zero counts, empty history
SELECT * FROM undoredo_status('note', 'no such note');
SELECT * FROM undoredo_history('note', 'no such note');
SELECT * FROM undoredo_history('note', 12345);
-- NULL and malformed arguments are errors
SELECT * FROM undoredo_status(NULL, 1);
SELECT * FROM undoredo_history('note', NULL::text);
SELECT undoredo_clear('note', NULL::bigint);
SELECT undoredo_clear('a:b', 1);

-- clear forgets the whole history of that scope, undo and redo, and no other
SET undoredo.scope = 'note:other';
INSERT INTO note VALUES ('00000000-0000-0000-0000-000000000001', 'other');
RESET undoredo.scope;
SELECT undoredo_clear('note', '6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10');
SELECT * FROM undoredo_status('note', '6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10');
SELECT count(*) FROM undoredo_history('note', '6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10');
SELECT * FROM undoredo_redo('note', '6f1c2b1e-6f3a-4c8e-9d7a-0e6a1c9b2f10');
SELECT * FROM note ORDER BY id;
SELECT * FROM undoredo_status('note', 'other');
-- the recorded row changes are gone too
SELECT count(*) FROM undoredo_change c
WHERE NOT EXISTS (SELECT FROM undo_action a WHERE a.step = c.step)
  AND NOT EXISTS (SELECT FROM redo_action r WHERE r.step = c.step);
-- clearing an unknown or empty scope is fine
SELECT undoredo_clear('note', 'no such note');

-- a bigint id and its text form are one history for all three functions
SET undoredo.scope = 'note:7';
INSERT INTO note VALUES ('00000000-0000-0000-0000-000000000007', 'seven');
RESET undoredo.scope;
SELECT * FROM undoredo_status('note', 7);
SELECT state, changes FROM undoredo_history('note', 7);
SELECT undoredo_clear('note', 7);
SELECT * FROM undoredo_status('note', '7');

SELECT undoredo_clear('note', 'other');
DROP SCHEMA history CASCADE;
