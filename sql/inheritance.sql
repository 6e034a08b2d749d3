-- Plain inheritance (INHERITS): replay touches only rows of the table a
-- change was recorded on; a table that other tables inherit from is not
-- tracked (its statements change its children's rows uncaptured), and a
-- tracked table that gains children refuses writes under a scope.  A child
-- table can be tracked on its own: its rows are captured however they are
-- reached.
CREATE SCHEMA inh;
SET search_path = inh, public;

-- a parent with a child cannot be tracked, nor the parent after its child
CREATE TABLE parent (id integer PRIMARY KEY, v text);
CREATE TABLE child (PRIMARY KEY (id)) INHERITS (parent);
SELECT undoredo_test_try($$SELECT undoredo_track('inh.parent')$$);
SELECT undoredo_track('child');
SELECT undoredo_test_try($$SELECT undoredo_track('inh.parent')$$);

-- the tracked child's rows are captured when reached through the parent
INSERT INTO parent VALUES (1, 'p');
INSERT INTO child VALUES (1, 'c');
BEGIN;
SET LOCAL undoredo.scope = 'inh:1';
UPDATE parent SET v = v || ' edited';
COMMIT;
SELECT tableoid::regclass, * FROM parent ORDER BY 1, 2;
SELECT state, changes FROM undoredo_history('inh', 1);
SELECT * FROM undoredo_undo('inh', 1);
-- the child's row is back; the untracked parent's own row is not history
SELECT tableoid::regclass, * FROM parent ORDER BY 1, 2;
SELECT * FROM undoredo_redo('inh', 1);
SELECT tableoid::regclass, * FROM parent ORDER BY 1, 2;

-- A tracked table that later gains a child: steps recorded before replay
-- on that table only, never on an identical row of the child.
CREATE TABLE base (id integer PRIMARY KEY, v text);
SELECT undoredo_track('base');
BEGIN;
SET LOCAL undoredo.scope = 'inh:2';
INSERT INTO base VALUES (1, 'same'), (2, 'same');
UPDATE base SET v = 'changed' WHERE id = 2;
COMMIT;
CREATE TABLE sub (PRIMARY KEY (id)) INHERITS (base);
INSERT INTO sub VALUES (1, 'same'), (2, 'changed');
SELECT * FROM undoredo_undo('inh', 2);
SELECT tableoid::regclass, * FROM base ORDER BY 1, 2;
SELECT * FROM undoredo_redo('inh', 2);
SELECT tableoid::regclass, * FROM base ORDER BY 1, 2;
-- and a write to it under a scope is refused, changing nothing
BEGIN;
SET LOCAL undoredo.scope = 'inh:2';
SELECT undoredo_test_try($$UPDATE inh.base SET v = 'x'$$);
COMMIT;
SELECT tableoid::regclass, * FROM base ORDER BY 1, 2;
-- without a scope it is an ordinary table
UPDATE base SET v = 'no scope' WHERE id = 1;
-- once the child is gone, capture works again
DROP TABLE sub;
BEGIN;
SET LOCAL undoredo.scope = 'inh:2';
UPDATE base SET v = 'captured' WHERE id = 2;
COMMIT;
SELECT * FROM undoredo_undo('inh', 2);
SELECT * FROM base ORDER BY id;

DROP SCHEMA inh CASCADE;
RESET search_path;
