-- Capture: undoredo.scope, undoredo.label and what is captured
-- A malformed scope set before the library is loaded in a session: the
-- first write to a tracked table raises the error instead of capturing
-- nothing.  (Each \c is a new session that has not loaded the library.)
CREATE SCHEMA capture;
CREATE TABLE capture.doc (id bigint PRIMARY KEY, title text, n int DEFAULT 0);
SELECT undoredo_track('capture.doc');
\c
SET undoredo.scope = 'no-colon';
INSERT INTO capture.doc VALUES (1, 'lost?');
SELECT count(*) FROM capture.doc;
-- a valid scope set later in the session replaces it
SET undoredo.scope = 'doc:1';
INSERT INTO capture.doc VALUES (1, 'one');
SELECT undo_count, redo_count FROM undoredo_status('doc', 1);
\c
SELECT set_config('undoredo.scope', 'doc:', false);
UPDATE capture.doc SET title = 'lost?';
\c
-- a valid scope set before the library is loaded is applied
SET undoredo.scope = 'doc:1';
UPDATE capture.doc SET title = 'ONE' WHERE id = 1;
SELECT undo_count, redo_count FROM undoredo_status('doc', 1);
SET search_path = capture, public;

-- once loaded, a malformed value is rejected when it is set
SET undoredo.scope = 'doc';
SET undoredo.scope = ':1';
SET undoredo.scope = 'doc:';
SELECT set_config('undoredo.scope', ':', false);
SHOW undoredo.scope;
-- split at the first colon: the id may hold colons, the type may not
SET undoredo.scope = 'doc:a:b';
INSERT INTO doc VALUES (2, 'two');
SELECT undo_count FROM undoredo_status('doc', 'a:b');
-- other names under the undoredo prefix are reserved
SET undoredo.scoop = 'doc:1';

-- empty (the default) captures nothing
RESET undoredo.scope;
SHOW undoredo.scope;
INSERT INTO doc VALUES (3, 'three');
SET undoredo.scope = '';
UPDATE doc SET n = 3 WHERE id = 3;
SELECT undo_count FROM undoredo_status('doc', 1);

-- SET LOCAL and set_config(..., true) scope one transaction
BEGIN;
SET LOCAL undoredo.scope = 'doc:1';
UPDATE doc SET n = 1 WHERE id = 1;
COMMIT;
SHOW undoredo.scope;
BEGIN;
SELECT set_config('undoredo.scope', 'doc:1', true);
UPDATE doc SET n = 2 WHERE id = 1;
COMMIT;
SELECT undo_count FROM undoredo_status('doc', 1);

-- every statement form is captured: INSERT ... ON CONFLICT, MERGE,
-- UPDATE ... FROM, a cascaded foreign-key action, a change made by another
-- trigger
SET undoredo.scope = 'doc:7';
CREATE TABLE tag (id int PRIMARY KEY, doc_id bigint REFERENCES doc ON DELETE CASCADE ON UPDATE CASCADE, name text);
CREATE TABLE audit (id serial PRIMARY KEY, what text);
SELECT undoredo_track('tag'), undoredo_track('audit');
CREATE FUNCTION note_tag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- application triggers see replays and need not repeat themselves
    IF current_setting('undoredo.replaying') = 'on' THEN
        RETURN NEW;
    END IF;
    INSERT INTO capture.audit (what) VALUES (TG_OP || ' ' || NEW.name);
    RETURN NEW;
END $$;
CREATE TRIGGER note_tag AFTER INSERT ON tag FOR EACH ROW EXECUTE FUNCTION note_tag();
CREATE TABLE snap_doc AS SELECT * FROM doc;
CREATE TABLE snap_tag AS SELECT * FROM tag;
CREATE TABLE snap_audit AS SELECT * FROM audit;

INSERT INTO doc VALUES (70, 'seventy');
INSERT INTO tag VALUES (1, 70, 'red'), (2, 70, 'blue');
INSERT INTO doc VALUES (70, 'upserted') ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title;
MERGE INTO doc d USING (VALUES (70, 'merged'), (71, 'new by merge')) AS s(id, title)
    ON d.id = s.id
    WHEN MATCHED THEN UPDATE SET title = s.title
    WHEN NOT MATCHED THEN INSERT (id, title) VALUES (s.id, s.title);
UPDATE tag SET name = upper(d.title) FROM doc d WHERE d.id = tag.doc_id AND tag.id = 1;
UPDATE doc SET id = 700 WHERE id = 70;      -- cascades to tag.doc_id
DELETE FROM doc WHERE id = 700;             -- cascades to tag
SELECT row_number() OVER (ORDER BY step) AS nth, changes FROM undoredo_history('doc', 7);
-- an update that changes no value is no change
UPDATE doc SET title = title WHERE id = 71;
SELECT count(*) AS steps FROM undoredo_history('doc', 7);

-- undoing all seven steps restores all three tables exactly
SELECT * FROM undoredo_undo('doc', 7, 8);
SELECT (SELECT count(*) FROM (SELECT * FROM doc EXCEPT SELECT * FROM snap_doc) x) +
       (SELECT count(*) FROM (SELECT * FROM snap_doc EXCEPT SELECT * FROM doc) x) AS doc_diff,
       (SELECT count(*) FROM (SELECT * FROM tag EXCEPT SELECT * FROM snap_tag) x) +
       (SELECT count(*) FROM (SELECT * FROM snap_tag EXCEPT SELECT * FROM tag) x) AS tag_diff,
       (SELECT count(*) FROM (SELECT * FROM audit EXCEPT SELECT * FROM snap_audit) x) AS audit_diff;
SELECT * FROM undoredo_redo('doc', 7, 8);
SELECT * FROM doc WHERE id >= 70 ORDER BY id;
SELECT * FROM tag ORDER BY id;
SELECT what FROM audit ORDER BY id;

-- one transaction is one step, whatever it touches; the label is recorded
BEGIN;
SET LOCAL undoredo.scope = 'doc:8';
SET LOCAL undoredo.label = 'Rename document';
UPDATE doc SET title = 'renamed' WHERE id = 71;
INSERT INTO tag VALUES (3, 71, 'green');
COMMIT;
SELECT state, label, changes FROM undoredo_history('doc', 8);
-- a transaction that touches two scopes makes a step in each
BEGIN;
SET LOCAL undoredo.scope = 'doc:8';
UPDATE doc SET n = 8 WHERE id = 71;
SET LOCAL undoredo.scope = 'doc:9';
UPDATE doc SET n = 9 WHERE id = 71;
COMMIT;
SELECT count(*) FROM undoredo_history('doc', 8);
SELECT count(*) FROM undoredo_history('doc', 9);

-- COPY is captured too, and what it captured is written when the COPY
-- ends: an undo inside a later savepoint of the same transaction finds the
-- whole step (were it still pending at the outer level, the undo would be
-- refused)
BEGIN;
SET LOCAL undoredo.scope = 'doc:10';
COPY doc (id, title) FROM STDIN;
90	copied
91	copied too
\.
SAVEPOINT s;
SELECT * FROM undoredo_undo('doc', 10);
SELECT count(*) AS copied_rows_left FROM doc WHERE id IN (90, 91);
COMMIT;
SELECT * FROM undoredo_status('doc', 10);

RESET undoredo.scope;
SELECT undoredo_clear('doc', x) FROM unnest(ARRAY['1', 'a:b', '7', '8', '9', '10']) x;
DROP SCHEMA capture CASCADE;
