-- User code that runs while undo or redo replays (triggers, rules,
-- functions) cannot see or change how the history is read: it can never
-- make a call skip changes, read history rows, or crash the server.
CREATE ROLE undoredo_test_uc;
CREATE SCHEMA uc AUTHORIZATION undoredo_test_uc;
SET search_path = uc, public;
SET ROLE undoredo_test_uc;
CREATE TABLE uc_item (id integer PRIMARY KEY, v text);
CREATE TABLE uc_other (id integer PRIMARY KEY, v text);
SELECT undoredo_track('uc_item');
SELECT undoredo_track('uc_other');
CREATE TABLE uc_seen (what text, n bigint);

-- One step of 2,500 chunks (one per statement) on two tables.
BEGIN;
SET LOCAL undoredo.scope = 'uc:1';
DO $$
BEGIN
    FOR i IN 1..2500 LOOP
        INSERT INTO uc_item VALUES (i, 'item ' || i);
    END LOOP;
    INSERT INTO uc_other SELECT g, 'other ' || g FROM generate_series(1, 50) g;
END
$$;
COMMIT;
SELECT step > 0 AS recorded, state, changes FROM undoredo_history('uc', 1);

-- A trigger that, once per session, tries every name an unnamed cursor
-- of this backend could have: it reads, moves and then closes them.
CREATE FUNCTION uc_meddle() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c refcursor;
    r record;
    n bigint := 0;
BEGIN
    IF current_setting('uc.done', true) = 'yes' THEN
        RETURN CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
    END IF;
    PERFORM set_config('uc.done', 'yes', false);
    FOR i IN 1..3000 LOOP
        c := '<unnamed portal ' || i || '>';
        BEGIN
            FETCH c INTO r;
            IF FOUND THEN
                n := n + 1;
            END IF;
            MOVE FORWARD ALL IN c;
            CLOSE c;
        EXCEPTION WHEN OTHERS THEN
            NULL;
        END;
    END LOOP;
    INSERT INTO uc_seen VALUES ('rows fetched from other portals', n);
    RETURN CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
END
$$;
CREATE TRIGGER uc_meddle BEFORE DELETE ON uc_item
    FOR EACH ROW EXECUTE FUNCTION uc_meddle();

-- the undo replays every change, and the session survives
SELECT * FROM undoredo_undo('uc', 1);
SELECT 'alive' AS session;
SELECT * FROM uc_seen;
SELECT count(*) AS items_left FROM uc_item;
SELECT count(*) AS others_left FROM uc_other;
SELECT state FROM undoredo_history('uc', 1);

-- and redo too, with a trigger on insert doing the same
DELETE FROM uc_seen;
RESET uc.done;
CREATE TRIGGER uc_meddle_insert BEFORE INSERT ON uc_other
    FOR EACH ROW EXECUTE FUNCTION uc_meddle();
SELECT * FROM undoredo_redo('uc', 1);
SELECT * FROM uc_seen;
SELECT count(*) AS items, count(DISTINCT v) AS values FROM uc_item;
SELECT count(*) AS others FROM uc_other;
RESET uc.done;

-- A trigger cannot change undoredo.on_conflict for the rest of a call:
-- the setting is read once, when the call begins.  The step changed
-- column b of row 1, then column a of row 2; row 1 was changed outside the
-- history since.  Undo replays row 2 first, whose trigger asks for
-- overwrite; row 1 is still refused.
CREATE TABLE uc_k (id integer PRIMARY KEY, a text, b text);
SELECT undoredo_track('uc_k');
INSERT INTO uc_k VALUES (1, 'a1', 'b1'), (2, 'a2', 'b2');
BEGIN;
SET LOCAL undoredo.scope = 'uc:2';
UPDATE uc_k SET b = 'b1 edited' WHERE id = 1;
UPDATE uc_k SET a = 'a2 edited' WHERE id = 2;
COMMIT;
UPDATE uc_k SET b = 'b1 by someone else' WHERE id = 1;
CREATE FUNCTION uc_force() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('undoredo.on_conflict', 'overwrite', false);
    RETURN NEW;
END
$$;
CREATE TRIGGER uc_force BEFORE UPDATE ON uc_k
    FOR EACH ROW EXECUTE FUNCTION uc_force();
SELECT undoredo_test_try($$SELECT undoredo_undo('uc', 2)$$);
SHOW undoredo.on_conflict;
SELECT * FROM uc_k ORDER BY id;
DROP TRIGGER uc_force ON uc_k;

-- Undo, redo and clear called by a trigger while a replay runs are
-- refused with a clear error, and the whole call changes nothing.
CREATE FUNCTION uc_nested() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE current_setting('uc.nested');
    RETURN NEW;
END
$$;
CREATE TRIGGER uc_nested BEFORE UPDATE ON uc_k
    FOR EACH ROW EXECUTE FUNCTION uc_nested();
SET uc.nested = 'SELECT 1';
UPDATE uc_k SET b = 'b1 edited' WHERE id = 1;
SET uc.nested = 'SELECT undoredo_undo(''uc'', 2)';
SELECT undoredo_test_try($$SELECT undoredo_undo('uc', 2)$$);
SET uc.nested = 'SELECT undoredo_redo(''uc'', 1)';
SELECT undoredo_test_try($$SELECT undoredo_undo('uc', 2)$$);
SET uc.nested = 'SELECT undoredo_clear(''uc'', 1)';
SELECT undoredo_test_try($$SELECT undoredo_undo('uc', 2)$$);
SELECT * FROM undoredo_status('uc', 1);
SELECT * FROM undoredo_status('uc', 2);
SELECT * FROM uc_k ORDER BY id;
-- reading the history from such a trigger is fine
SET uc.nested = 'SELECT count(*) FROM undoredo_history(''uc'', 1)';
SELECT * FROM undoredo_undo('uc', 2);
SELECT * FROM uc_k ORDER BY id;
RESET uc.nested;

RESET ROLE;
DROP SCHEMA uc CASCADE;
DROP ROLE undoredo_test_uc;
