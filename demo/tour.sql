-- The five-minute tour of undoredo (make demo runs this file).
CREATE EXTENSION undoredo;

-- An application table, opted in to capture.
CREATE TABLE paragraph (
    id       bigint PRIMARY KEY,
    document bigint NOT NULL,
    position int NOT NULL,
    body     text NOT NULL
);
SELECT undoredo_track('paragraph');

-- Name the object being edited; every transaction under it is one step.
SET undoredo.scope = 'document:42';

SET undoredo.label = 'Write two paragraphs';
INSERT INTO paragraph VALUES (1, 42, 1, 'Hello'), (2, 42, 2, 'World');

SET undoredo.label = 'Fix greeting';
UPDATE paragraph SET body = 'Hello, undo!' WHERE id = 1;

SET undoredo.label = 'Delete second paragraph';
DELETE FROM paragraph WHERE id = 2;

SELECT * FROM paragraph ORDER BY position;
SELECT step, state, label, changes FROM undoredo_history('document', 42);

-- Undo the newest step: returns what can still be undone and redone.
SELECT * FROM undoredo_undo('document', 42);
SELECT * FROM paragraph ORDER BY position;

-- Undo two more.
SELECT * FROM undoredo_undo('document', 42, 2);
SELECT * FROM paragraph ORDER BY position;

-- Redo one: the paragraphs come back.
SELECT * FROM undoredo_redo('document', 42);
SELECT * FROM paragraph ORDER BY position;
SELECT step, state, label, changes FROM undoredo_history('document', 42);

-- Someone changes a row outside the history: undo refuses to overwrite it.
RESET undoredo.scope;
SELECT * FROM undoredo_redo('document', 42);
UPDATE paragraph SET body = 'Edited elsewhere' WHERE id = 1;
\set ON_ERROR_STOP 0
SELECT * FROM undoredo_undo('document', 42, 2);
\set ON_ERROR_STOP 1
SELECT * FROM undoredo_status('document', 42);

-- Or force the recorded state.
SET undoredo.on_conflict = 'overwrite';
SELECT * FROM undoredo_undo('document', 42, 2);
SELECT * FROM paragraph ORDER BY position;

-- Forget the history of the document.
SELECT undoredo_clear('document', 42);
SELECT * FROM undoredo_status('document', 42);
