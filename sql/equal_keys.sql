-- A primary key changed to a value that is '=' to the old one (numeric
-- 1.50 -> 1.5, float8 0 -> -0, citext 'abc' -> 'ABC') undoes and redoes
-- exactly: the "key taken by another row?" check compares stored forms, so
-- it does not find the row being changed.  A key really taken by another
-- row is still a conflict.
CREATE SCHEMA equal_keys;
SET search_path = equal_keys, public;
CREATE EXTENSION citext SCHEMA equal_keys;
CREATE TABLE n (k numeric PRIMARY KEY, v text);
CREATE TABLE f (k float8 PRIMARY KEY, v text);
CREATE TABLE c (k citext PRIMARY KEY, v text);
SELECT undoredo_track('n'), undoredo_track('f'), undoredo_track('c');
INSERT INTO n VALUES (1.50, 'x');
INSERT INTO f VALUES (0, 'x');
INSERT INTO c VALUES ('abc@example.org', 'x');

BEGIN;
SET LOCAL undoredo.scope = 'equal_keys:1';
UPDATE n SET k = 1.5;
UPDATE f SET k = '-0';
UPDATE c SET k = 'ABC@example.org';
COMMIT;
SELECT k::text FROM n UNION ALL SELECT k::text FROM f UNION ALL SELECT k::text FROM c;
SELECT * FROM undoredo_undo('equal_keys', 1);
SELECT k::text FROM n UNION ALL SELECT k::text FROM f UNION ALL SELECT k::text FROM c;
SELECT * FROM undoredo_redo('equal_keys', 1);
SELECT k::text FROM n UNION ALL SELECT k::text FROM f UNION ALL SELECT k::text FROM c;

-- a key another row took since is still refused, and nothing changes
BEGIN;
SET LOCAL undoredo.scope = 'equal_keys:2';
UPDATE n SET k = 7 WHERE k = 1.5;
COMMIT;
INSERT INTO n VALUES (1.500, 'someone else');
SELECT undoredo_test_try($$SELECT undoredo_undo('equal_keys', 2)$$);
SELECT k::text, v FROM n ORDER BY k, v;

DROP SCHEMA equal_keys CASCADE;
RESET search_path;
