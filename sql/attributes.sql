-- ALTER TYPE ... ADD ATTRIBUTE / DROP ATTRIBUTE on a composite type used by
-- a tracked column is treated like adding or dropping a column: recorded
-- values come back with the new attribute NULL and the dropped one ignored.
-- Nested composites, arrays of composites and a domain over a composite.
CREATE SCHEMA attrs;
SET search_path = attrs, public;
CREATE TYPE inner_t AS (x integer, y text);
CREATE TYPE outer_t AS (i inner_t, n numeric, tags text[]);
CREATE DOMAIN outer_d AS outer_t CHECK ((VALUE).n IS NULL OR (VALUE).n >= 0);
CREATE TABLE t (id integer PRIMARY KEY, c inner_t, o outer_t, oa outer_t[],
                od outer_d, ia inner_t[]);
SELECT undoredo_track('t');

SET undoredo.scope = 'attrs:1';
INSERT INTO t VALUES
 (1, ROW(1, 'one'), ROW(ROW(2, 'two'), 1.50, '{a,b}'),
  ARRAY[ROW(ROW(3, 'three'), 3, NULL)::outer_t, NULL], ROW(ROW(4, 'four'), 4, '{}'),
  '[0:1]={"(5,five)",NULL}'),
 (2, ROW(NULL, NULL), NULL, '{}', ROW(NULL, 0, '{c}'), '{"(6,six)"}');
UPDATE t SET c = ROW(10, 'ten'), o.n = 2.5, oa[1].i.x = 30, od.i = ROW(40, 'forty'),
             ia[0] = ROW(50, 'fifty')
WHERE id = 1;
DELETE FROM t WHERE id = 2;
RESET undoredo.scope;
SELECT id, c, o, oa, od, ia FROM t ORDER BY id;
SELECT state, changes FROM undoredo_history('attrs', 1) ORDER BY step;

-- one step per statement; undo and redo all three before the types change
SELECT * FROM undoredo_undo('attrs', 1, 3);
SELECT * FROM undoredo_redo('attrs', 1, 3);

ALTER TYPE inner_t ADD ATTRIBUTE z integer, DROP ATTRIBUTE y;
ALTER TYPE outer_t DROP ATTRIBUTE tags, ADD ATTRIBUTE w text;
SELECT id, c, o, oa, od, ia FROM t ORDER BY id;

-- the deleted row comes back in the types' new shape
SELECT * FROM undoredo_undo('attrs', 1);
SELECT id, c, o, oa, od, ia FROM t ORDER BY id;
-- the update is undone (its recorded values match the current ones)
SELECT * FROM undoredo_undo('attrs', 1);
SELECT id, c, o, oa, od, ia FROM t ORDER BY id;
SELECT * FROM undoredo_undo('attrs', 1);
SELECT count(*) FROM t;
SELECT * FROM undoredo_redo('attrs', 1, 3);
SELECT id, c, o, oa, od, ia FROM t ORDER BY id;

-- a value changed outside the history is still a conflict
UPDATE t SET oa[1].i.z = 7 WHERE id = 1;
\set VERBOSITY sqlstate
SELECT * FROM undoredo_undo('attrs', 1, 2);
\set VERBOSITY default
UPDATE t SET oa[1].i.z = NULL WHERE id = 1;

-- an attribute dropped and added again with another type is another
-- attribute: the recorded value of the old one is ignored
ALTER TYPE inner_t DROP ATTRIBUTE x, ADD ATTRIBUTE x text;
SELECT id, c, o, oa, od, ia FROM t ORDER BY id;
SELECT * FROM undoredo_undo('attrs', 1);
SELECT id, c, o, oa, od, ia FROM t ORDER BY id;
SELECT * FROM undoredo_undo('attrs', 1);
SELECT id, c, o, oa, od, ia FROM t ORDER BY id;
SELECT * FROM undoredo_redo('attrs', 1, 2);
SELECT id, c, o, oa, od, ia FROM t ORDER BY id;

-- the domain's constraint is checked on the values replay builds
SET undoredo.scope = 'attrs:2';
UPDATE t SET od.n = 5 WHERE id = 1;
RESET undoredo.scope;
ALTER DOMAIN outer_d ADD CONSTRAINT big CHECK ((VALUE).n > 4) NOT VALID;
SELECT * FROM undoredo_undo('attrs', 2);
SELECT od FROM t WHERE id = 1;

RESET search_path;
DROP SCHEMA attrs CASCADE;
