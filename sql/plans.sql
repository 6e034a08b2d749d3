-- A long-lived session stays bounded in memory however many steps and
-- column combinations it replays: kept replay plans are cached by table,
-- user context and statement, at most 64 of them, and a table's plans go
-- when the table changes.
CREATE SCHEMA plans;
SET search_path = plans, public;
CREATE TABLE wide (id integer PRIMARY KEY,
                   c1 int, c2 int, c3 int, c4 int, c5 int, c6 int, c7 int);
SELECT undoredo_track('wide');
INSERT INTO wide SELECT g, 0, 0, 0, 0, 0, 0, 0 FROM generate_series(1, 300) g;

-- one step whose 300 row updates change 127 different column combinations
-- (bit b of the row's number picks column b + 1), so that replay needs a
-- statement per combination
CREATE FUNCTION plans.shapes(round int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE plans.wide SET
        c1 = CASE WHEN id % 128 & 1 > 0 THEN c1 + round ELSE c1 END,
        c2 = CASE WHEN id % 128 & 2 > 0 THEN c2 + round ELSE c2 END,
        c3 = CASE WHEN id % 128 & 4 > 0 THEN c3 + round ELSE c3 END,
        c4 = CASE WHEN id % 128 & 8 > 0 THEN c4 + round ELSE c4 END,
        c5 = CASE WHEN id % 128 & 16 > 0 THEN c5 + round ELSE c5 END,
        c6 = CASE WHEN id % 128 & 32 > 0 THEN c6 + round ELSE c6 END,
        c7 = CASE WHEN id % 128 & 64 > 0 THEN c7 + round ELSE c7 END;
END
$$;
CREATE VIEW plans.kept AS
    SELECT count(*) FILTER (WHERE name = 'CachedPlanSource') AS plans,
           coalesce(sum(total_bytes), 0) AS bytes
    FROM pg_backend_memory_contexts
    WHERE name IN ('CachedPlanSource', 'CachedPlan', 'CachedPlanQuery');
CREATE TEMP TABLE sizes (round int, plans bigint, bytes numeric);

DO $$
BEGIN
    FOR r IN 1..4 LOOP
        PERFORM set_config('undoredo.scope', 'plans:1', false);
        PERFORM plans.shapes(r);
        PERFORM set_config('undoredo.scope', '', false);
        PERFORM * FROM undoredo_undo('plans', 1);
        PERFORM * FROM undoredo_redo('plans', 1);
        INSERT INTO sizes SELECT r, plans, bytes FROM plans.kept;
    END LOOP;
END
$$;
-- every round replayed 127 shapes twice; the data is the redone state
SELECT count(*) FILTER (WHERE c1 + c2 + c3 + c4 + c5 + c6 + c7 > 0) AS changed_rows,
       sum(c1 + c2 + c3 + c4 + c5 + c6 + c7) AS total
FROM wide;
-- the kept plans stay under the bound (64 replay plans, a few of the
-- history's, a few of this session's own), round after round
SELECT max(plans) < 100 AS bounded_count,
       max(bytes) < 4 * 1024 * 1024 AS bounded_bytes,
       max(bytes) <= 1.1 * min(bytes) FILTER (WHERE round > 1) AS flat
FROM sizes;

-- a table's plans go with an ALTER of it
SELECT plans > 50 AS many_before FROM plans.kept;
ALTER TABLE wide ADD COLUMN c8 int;
SELECT * FROM undoredo_status('plans', 1);
SELECT plans < 20 AS few_after FROM plans.kept;
-- and the history still replays
SELECT * FROM undoredo_undo('plans', 1);
SELECT sum(c1 + c2 + c3 + c4 + c5 + c6 + c7) AS total FROM wide;

DROP SCHEMA plans CASCADE;
RESET search_path;
