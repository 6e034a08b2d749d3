-- Undo and redo: semantics, counts, arguments
CREATE SCHEMA undo_redo;
SET search_path = undo_redo, public;
\set SHOW_CONTEXT never
CREATE TABLE doc (id bigint PRIMARY KEY, title text, body text, n int);
SELECT undoredo_track('doc');
INSERT INTO doc VALUES (1, 'first', 'body 1', 1), (2, 'second', 'body 2', 2);

SET undoredo.scope = 'document:42';
-- step 1: insert; step 2: update two columns; step 3: delete; step 4: key change
INSERT INTO doc VALUES (3, 'third', 'body 3', 3);
UPDATE doc SET title = 'FIRST', n = 10 WHERE id = 1;
DELETE FROM doc WHERE id = 2;
UPDATE doc SET id = 30 WHERE id = 3;
RESET undoredo.scope;
CREATE TABLE after_4 AS SELECT * FROM doc;
SELECT * FROM doc ORDER BY id;

-- undo goes newest first and returns the remaining (undo, redo) counts
SELECT * FROM undoredo_undo('document', 42);       -- the key change
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_undo('document', 42);       -- the delete
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_undo('document', '42');     -- the update, via the text id
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_undo('document', 42);       -- the insert
SELECT * FROM doc ORDER BY id;
-- nothing left to undo: the counts, no change
SELECT * FROM undoredo_undo('document', 42);
SELECT * FROM doc ORDER BY id;

-- redo puts them forward again, oldest undone first
SELECT * FROM undoredo_redo('document', 42);
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_redo('document', 42, 2);
SELECT * FROM doc ORDER BY id;
-- steps larger than what is available does what is available
SELECT * FROM undoredo_redo('document', 42, 100);
SELECT count(*) AS differences FROM (
    (SELECT * FROM doc EXCEPT SELECT * FROM after_4)
    UNION ALL (SELECT * FROM after_4 EXCEPT SELECT * FROM doc)) d;
SELECT * FROM undoredo_redo('document', 42);

-- several steps in one call
SELECT * FROM undoredo_undo('document', 42, 3);
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_redo('document', 42, 3);

-- an update restores only the columns the step changed
SET undoredo.scope = 'document:42';
UPDATE doc SET title = 'changed by step' WHERE id = 1;
RESET undoredo.scope;
UPDATE doc SET body = 'changed outside' WHERE id = 1;
SELECT * FROM undoredo_undo('document', 42);
SELECT * FROM doc WHERE id = 1;
SELECT * FROM undoredo_redo('document', 42);
SELECT * FROM doc WHERE id = 1;

-- the bigint form of an id is its decimal text form: 42 and '42' are one
-- history, '042' is another
SELECT * FROM undoredo_status('document', 42);
SELECT * FROM undoredo_status('document', '42');
SELECT * FROM undoredo_status('document', '042');
SELECT * FROM undoredo_undo('document', '042');
SET undoredo.scope = 'document:042';
UPDATE doc SET n = 42 WHERE id = 1;
RESET undoredo.scope;
SELECT * FROM undoredo_status('document', '042');
SELECT * FROM undoredo_status('document', 42);
SELECT * FROM undoredo_undo('document', '042');
SELECT n FROM doc WHERE id = 1;
-- negative and large ids
SET undoredo.scope = 'document:-9223372036854775808';
UPDATE doc SET n = -1 WHERE id = 1;
RESET undoredo.scope;
SELECT * FROM undoredo_status('document', -9223372036854775808);
SELECT * FROM undoredo_undo('document', '-9223372036854775808');

-- bad arguments are errors and change nothing
SELECT * FROM undoredo_undo('document', 42, 0);
SELECT * FROM undoredo_redo('document', 42, -1);
SELECT * FROM undoredo_undo('document', 42, NULL);
SELECT * FROM undoredo_undo(NULL, 42);
SELECT * FROM undoredo_undo('document', NULL::bigint);
SELECT * FROM undoredo_redo('document', NULL::text);
SELECT * FROM undoredo_undo('', 42);
SELECT * FROM undoredo_undo('a:b', 42);
SELECT * FROM undoredo_undo('document', '');
SELECT * FROM undoredo_status('document', 42);

-- an unknown scope has nothing to undo or redo
SELECT * FROM undoredo_undo('nothing', 1);
SELECT * FROM undoredo_redo('nothing', 'x');

-- undo and redo are atomic: a failure in the middle leaves everything
SET undoredo.scope = 'document:42';
UPDATE doc SET n = 100 WHERE id = 1;
UPDATE doc SET n = 200 WHERE id = 30;
RESET undoredo.scope;
ALTER TABLE doc ADD CONSTRAINT n_not_100 CHECK (n <> 10) NOT VALID;
SELECT * FROM undoredo_undo('document', 42, 2);
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_status('document', 42);
ALTER TABLE doc DROP CONSTRAINT n_not_100;
SELECT * FROM undoredo_undo('document', 42, 2);
SELECT * FROM doc ORDER BY id;

-- undo and redo inside the caller's transaction roll back with it
BEGIN;
SELECT * FROM undoredo_redo('document', 42, 2);
SELECT n FROM doc ORDER BY id;
ROLLBACK;
SELECT * FROM undoredo_status('document', 42);
SELECT n FROM doc ORDER BY id;

-- the changes undo and redo make are not captured, even under a scope,
-- and do not discard redo history
SET undoredo.scope = 'document:42';
SELECT * FROM undoredo_redo('document', 42);
SELECT * FROM undoredo_status('document', 42);
RESET undoredo.scope;

SELECT undoredo_clear('document', x) FROM unnest(ARRAY['42', '042', '-9223372036854775808']) x;
DROP SCHEMA undo_redo CASCADE;
