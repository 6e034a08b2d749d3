-- Undo and redo change only the rows their steps recorded: a foreign key
-- action fired by the replay (ON DELETE CASCADE, SET NULL, ON UPDATE
-- CASCADE) that would change a row of a tracked table the replayed steps
-- did not record is a conflict (UR001, naming that row) and nothing
-- changes; with undoredo.on_conflict = 'overwrite' the action proceeds.
-- Actions on rows the step recorded itself are fine.
CREATE SCHEMA fka;
SET search_path = fka, public;
CREATE TABLE parent (id int PRIMARY KEY, v text);
CREATE TABLE child (id int PRIMARY KEY,
                    parent_id int REFERENCES parent ON DELETE CASCADE ON UPDATE CASCADE);
CREATE TABLE note (id int PRIMARY KEY,
                   parent_id int REFERENCES parent ON DELETE SET NULL);
SELECT undoredo_track('parent'), undoredo_track('child'), undoredo_track('note');

-- a step of one scope that made a parent with children, undone and redone
BEGIN;
SET LOCAL undoredo.scope = 'fka:1';
INSERT INTO parent VALUES (1, 'one');
INSERT INTO child VALUES (10, 1), (11, 1);
COMMIT;
SELECT * FROM undoredo_undo('fka', 1);
SELECT * FROM undoredo_redo('fka', 1);
-- a key change that cascaded to the children, undone and redone
BEGIN;
SET LOCAL undoredo.scope = 'fka:1';
UPDATE parent SET id = 2 WHERE id = 1;
COMMIT;
SELECT * FROM child ORDER BY id;
SELECT * FROM undoredo_undo('fka', 1);
SELECT * FROM child ORDER BY id;
SELECT * FROM undoredo_redo('fka', 1);
SELECT * FROM child ORDER BY id;

-- another scope adds a child to the parent; undoing the parent's creation
-- would delete it by ON DELETE CASCADE
BEGIN;
SET LOCAL undoredo.scope = 'fka:2';
INSERT INTO child VALUES (20, 2);
COMMIT;
SELECT undoredo_test_try($$SELECT undoredo_undo('fka', 1, 2)$$);
SELECT * FROM child ORDER BY id;
SELECT * FROM undoredo_status('fka', 1);
-- the same with nothing else in the undo: a scope's step made a parent
-- only, another scope a child of it
BEGIN;
SET LOCAL undoredo.scope = 'fka:4';
INSERT INTO parent VALUES (7, 'seven');
COMMIT;
BEGIN;
SET LOCAL undoredo.scope = 'fka:5';
INSERT INTO child VALUES (70, 7);
COMMIT;
SELECT undoredo_test_try($$SELECT undoredo_undo('fka', 4)$$);
SELECT * FROM child WHERE id = 70;
SELECT * FROM undoredo_undo('fka', 5);
SELECT * FROM undoredo_undo('fka', 4);
-- a row written outside any history would be set to null by ON DELETE SET
-- NULL when the step that made its parent is undone
BEGIN;
SET LOCAL undoredo.scope = 'fka:3';
INSERT INTO parent VALUES (5, 'five');
COMMIT;
INSERT INTO note VALUES (30, 5);
SELECT undoredo_test_try($$SELECT undoredo_undo('fka', 3)$$);
SELECT * FROM note;
SELECT * FROM undoredo_status('fka', 3);
-- overwrite lets the actions proceed
SET undoredo.on_conflict = 'overwrite';
SELECT * FROM undoredo_undo('fka', 3);
SELECT * FROM undoredo_undo('fka', 1, 2);
RESET undoredo.on_conflict;
SELECT * FROM parent;
SELECT * FROM child;
SELECT * FROM note;

-- An untracked table's rows are outside every history: an action that
-- would delete them or set them to null is a conflict too, found before
-- the replay removes the referenced row (the capture trigger cannot see
-- them); an action that reaches no row is fine.
CREATE TABLE comment (id int PRIMARY KEY,
                      parent_id int REFERENCES parent ON DELETE CASCADE);
CREATE TABLE tag (id int PRIMARY KEY,
                  parent_id int REFERENCES parent ON UPDATE SET NULL);
BEGIN;
SET LOCAL undoredo.scope = 'fka:6';
INSERT INTO parent VALUES (8, 'eight');
COMMIT;
BEGIN;
SET LOCAL undoredo.scope = 'fka:6';
UPDATE parent SET id = 9 WHERE id = 8;
COMMIT;
INSERT INTO tag VALUES (90, 9);
SELECT undoredo_test_try($$SELECT undoredo_undo('fka', 6)$$);
SELECT * FROM tag;
-- without the referencing row the key change is undone
DELETE FROM tag;
SELECT * FROM undoredo_undo('fka', 6);
SELECT * FROM parent WHERE id IN (8, 9);
-- ON DELETE CASCADE into the untracked table when undo removes a parent
BEGIN;
SET LOCAL undoredo.scope = 'fka:7';
INSERT INTO parent VALUES (10, 'ten');
COMMIT;
INSERT INTO comment VALUES (80, 10);
SELECT undoredo_test_try($$SELECT undoredo_undo('fka', 7)$$);
SELECT * FROM parent WHERE id = 10;
SELECT * FROM comment;
-- overwrite lets the action proceed
SET undoredo.on_conflict = 'overwrite';
SELECT * FROM undoredo_undo('fka', 7);
RESET undoredo.on_conflict;
SELECT * FROM parent WHERE id = 10;
SELECT * FROM comment;

DROP SCHEMA fka CASCADE;
RESET search_path;
