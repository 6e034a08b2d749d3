-- The extension's objects live in the schema given to CREATE EXTENSION
-- (by default the first schema in search_path), and work from there with
-- any search_path; the shared library is undoredo.
DROP EXTENSION undoredo;
CREATE SCHEMA "Undo Redo";
SET search_path = "Undo Redo", public;
CREATE EXTENSION undoredo;
SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'undoredo';
SELECT DISTINCT probin FROM pg_proc
WHERE pronamespace = '"Undo Redo"'::regnamespace AND prolang = 13;
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = '"Undo Redo"'::regnamespace AND c.relkind = 'r' ORDER BY 1;

-- used with a search_path that does not hold the extension's schema
CREATE SCHEMA app;
SET search_path = app;
CREATE TABLE app.doc (id int PRIMARY KEY, title text);
SELECT "Undo Redo".undoredo_track('app.doc');
SET undoredo.scope = 'doc:1';
INSERT INTO doc VALUES (1, 'one');
UPDATE doc SET title = 'ONE';
RESET undoredo.scope;
SELECT state, changes FROM "Undo Redo".undoredo_history('doc', 1);
SELECT * FROM "Undo Redo".undoredo_undo('doc', 1, 2);
SELECT * FROM doc;
SELECT * FROM "Undo Redo".undoredo_redo('doc', 1, 2);
SELECT * FROM doc;
SELECT "Undo Redo".undoredo_clear('doc', 1);

-- in one session, with the history's statements run before and after each:
-- the extension made again in the same schema, then its schema renamed
DROP EXTENSION undoredo CASCADE;
CREATE EXTENSION undoredo SCHEMA "Undo Redo";
SELECT "Undo Redo".undoredo_track('app.doc');
SET undoredo.scope = 'doc:2';
INSERT INTO doc VALUES (2, 'two');
RESET undoredo.scope;
SELECT * FROM "Undo Redo".undoredo_undo('doc', 2);
ALTER SCHEMA "Undo Redo" RENAME TO "Undo Redo 2";
SELECT * FROM "Undo Redo 2".undoredo_redo('doc', 2);
SELECT state, changes FROM "Undo Redo 2".undoredo_history('doc', 2);
ALTER SCHEMA "Undo Redo 2" RENAME TO "Undo Redo";
SELECT * FROM doc ORDER BY id;
SELECT "Undo Redo".undoredo_untrack('app.doc');

-- back to the default: the first schema in search_path
RESET search_path;
DROP EXTENSION undoredo;
DROP SCHEMA "Undo Redo";
DROP SCHEMA app CASCADE;
CREATE EXTENSION undoredo;
SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'undoredo';
