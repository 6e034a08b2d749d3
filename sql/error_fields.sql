-- The errors of undo and redo about a table name it in the error's
-- fields, as PostgreSQL's own errors do: SCHEMA_NAME and TABLE_NAME, and
-- COLUMN_NAME or CONSTRAINT_NAME when they are about a column or a foreign
-- key (psql shows them with \set VERBOSITY verbose).  A conflict (UR001)
-- names the table of the row, also when a run of changes is replayed by
-- one statement; a conflict with a foreign key action names the
-- referencing table and its constraint.
CREATE SCHEMA ef;
SET search_path = ef, public;

-- The outcome of a statement: 'ok', or its SQLSTATE, the fields that name
-- an object and its message (with step ids masked).
CREATE FUNCTION fields(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; sch text; tbl text; col text; con text; msg text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, sch = SCHEMA_NAME,
                            tbl = TABLE_NAME, col = COLUMN_NAME,
                            con = CONSTRAINT_NAME, msg = MESSAGE_TEXT;
    RETURN format('%s schema=%s table=%s column=%s constraint=%s: %s',
                  st, sch, tbl, col, con,
                  regexp_replace(msg, 'step \d+', 'step N', 'g'));
END
$$;

-- conflicts: a row changed, gone, or there again
CREATE TABLE doc (id int PRIMARY KEY, v text);
SELECT undoredo_track('doc');
INSERT INTO doc SELECT g, 'v' || g FROM generate_series(1, 20) g;
BEGIN;
SET LOCAL undoredo.scope = 'ef:1';
UPDATE doc SET v = 'one' WHERE id = 1;
COMMIT;
UPDATE doc SET v = 'outside' WHERE id = 1;
SELECT fields($$SELECT undoredo_undo('ef', 1)$$);
UPDATE doc SET v = 'one' WHERE id = 1;
BEGIN;
DELETE FROM doc WHERE id = 1;
SELECT fields($$SELECT undoredo_undo('ef', 1)$$);
ROLLBACK;
SELECT * FROM undoredo_undo('ef', 1);
UPDATE doc SET v = 'outside' WHERE id = 1;
SELECT fields($$SELECT undoredo_redo('ef', 1)$$);
BEGIN;
SET LOCAL undoredo.scope = 'ef:2';
DELETE FROM doc WHERE id = 2;
COMMIT;
INSERT INTO doc VALUES (2, 'again');
SELECT fields($$SELECT undoredo_undo('ef', 2)$$);
DELETE FROM doc WHERE id = 2;
SELECT * FROM undoredo_undo('ef', 2);
-- a run of twenty rows, one of them changed since
BEGIN;
SET LOCAL undoredo.scope = 'ef:3';
UPDATE doc SET v = v || '!';
COMMIT;
UPDATE doc SET v = 'outside' WHERE id = 17;
SELECT fields($$SELECT undoredo_undo('ef', 3)$$);

-- a column whose type, or type modifier, changed since
CREATE TABLE ty (id int PRIMARY KEY, n int, m numeric);
SELECT undoredo_track('ty');
INSERT INTO ty VALUES (1, 1, 1.25);
BEGIN;
SET LOCAL undoredo.scope = 'ef:4';
UPDATE ty SET n = 2;
COMMIT;
BEGIN;
SET LOCAL undoredo.scope = 'ef:5';
UPDATE ty SET m = 2.5;
COMMIT;
ALTER TABLE ty ALTER n TYPE bigint, ALTER m TYPE numeric(10, 0);
SELECT fields($$SELECT undoredo_undo('ef', 4)$$);
SELECT fields($$SELECT undoredo_undo('ef', 5)$$);

-- a GENERATED ALWAYS identity column that a step changed
CREATE TABLE ident (id int PRIMARY KEY, g int GENERATED ALWAYS AS IDENTITY);
SELECT undoredo_track('ident');
INSERT INTO ident VALUES (1);
BEGIN;
SET LOCAL undoredo.scope = 'ef:6';
UPDATE ident SET g = DEFAULT;
COMMIT;
SELECT fields($$SELECT undoredo_undo('ef', 6)$$);

-- a primary key that changed since
CREATE TABLE pk (id int PRIMARY KEY, k int NOT NULL, v text);
SELECT undoredo_track('pk');
INSERT INTO pk VALUES (1, 10, 'a');
BEGIN;
SET LOCAL undoredo.scope = 'ef:7';
UPDATE pk SET v = 'b';
COMMIT;
ALTER TABLE pk DROP CONSTRAINT pk_pkey, ADD PRIMARY KEY (k);
SELECT fields($$SELECT undoredo_undo('ef', 7)$$);

-- foreign key actions: of an untracked table, and on a key that the step
-- removes and re-creates
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY,
                    parent_id int REFERENCES parent ON DELETE CASCADE);
SELECT undoredo_track('parent');
INSERT INTO parent VALUES (5);
BEGIN;
SET LOCAL undoredo.scope = 'ef:8';
INSERT INTO parent VALUES (1);
COMMIT;
INSERT INTO child VALUES (10, 1);
SELECT fields($$SELECT undoredo_undo('ef', 8)$$);
BEGIN;
SET LOCAL undoredo.scope = 'ef:9';
DELETE FROM parent WHERE id = 5;
INSERT INTO parent VALUES (5);
COMMIT;
SELECT fields($$SELECT undoredo_undo('ef', 9)$$);

-- BEFORE ROW triggers that change what undo writes, or keep it from
-- writing; a rule
CREATE TABLE stamped (id int PRIMARY KEY, v text, rev int);
SELECT undoredo_track('stamped');
CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.rev := coalesce(OLD.rev, 0) + 1;
    RETURN NEW;
END
$$;
CREATE TRIGGER bump BEFORE UPDATE ON stamped FOR EACH ROW EXECUTE FUNCTION bump();
INSERT INTO stamped VALUES (1, 'a', 0);
BEGIN;
SET LOCAL undoredo.scope = 'ef:10';
UPDATE stamped SET v = 'b';
COMMIT;
SELECT fields($$SELECT undoredo_undo('ef', 10)$$);
CREATE TABLE kept (id int PRIMARY KEY, v text);
SELECT undoredo_track('kept');
CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN NULL;
END
$$;
INSERT INTO kept VALUES (1, 'a');
BEGIN;
SET LOCAL undoredo.scope = 'ef:11';
UPDATE kept SET v = 'b';
COMMIT;
CREATE TRIGGER keep BEFORE UPDATE ON kept FOR EACH ROW EXECUTE FUNCTION keep();
SELECT fields($$SELECT undoredo_undo('ef', 11)$$);
CREATE TABLE ruled (id int PRIMARY KEY, v text);
SELECT undoredo_track('ruled');
INSERT INTO ruled VALUES (1, 'a');
BEGIN;
SET LOCAL undoredo.scope = 'ef:12';
UPDATE ruled SET v = 'b';
COMMIT;
CREATE RULE nothing AS ON UPDATE TO ruled DO INSTEAD NOTHING;
SELECT fields($$SELECT undoredo_undo('ef', 12)$$);

-- row-level security that hides a row from the caller
CREATE ROLE undoredo_test_ef;
GRANT USAGE, CREATE ON SCHEMA ef TO undoredo_test_ef;
SET ROLE undoredo_test_ef;
CREATE TABLE hidden (id int PRIMARY KEY, v text);
SELECT undoredo_track('hidden');
INSERT INTO hidden VALUES (1, 'a');
BEGIN;
SET LOCAL undoredo.scope = 'ef:13';
UPDATE hidden SET v = 'b';
COMMIT;
ALTER TABLE hidden ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY nothing ON hidden USING (false);
SELECT fields($$SELECT undoredo_undo('ef', 13)$$);
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA ef CASCADE;
RESET client_min_messages;
DROP ROLE undoredo_test_ef;
RESET search_path;
