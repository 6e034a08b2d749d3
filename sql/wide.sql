-- Wide rows: a step that changes every column of rows of a table with up
-- to 1600 columns (PostgreSQL's maximum) undoes and redoes exactly.  Past
-- about 830 columns the set-based update, which reads old and new rows
-- side by side, would exceed the 1664 columns a query may return: such
-- tables are replayed one row at a time.
CREATE SCHEMA wide;
SET search_path = wide, public;
CREATE FUNCTION wide.make(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE wide.w%s (id int PRIMARY KEY, %s)', n,
                   (SELECT string_agg(format('c%s int', i), ', ')
                    FROM generate_series(1, n - 1) i));
    PERFORM undoredo_track(format('wide.w%s', n)::regclass);
    EXECUTE format('INSERT INTO wide.w%s SELECT g, %s FROM generate_series(1, 3) g', n,
                   (SELECT string_agg('g', ', ') FROM generate_series(1, n - 1)));
END
$$;
-- every column but the key of every row, in one statement
CREATE FUNCTION wide.change_all(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('UPDATE wide.w%s SET %s', n,
                   (SELECT string_agg(format('c%s = c%s * 10 + %s', i, i, i), ', ')
                    FROM generate_series(1, n - 1) i));
END
$$;
-- a digest of the table's content
CREATE FUNCTION wide.digest(n int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    EXECUTE format('SELECT md5(string_agg(t::text, '';'' ORDER BY id)) FROM wide.w%s t', n)
        INTO d;
    RETURN d;
END
$$;
SELECT wide.make(831), wide.make(900), wide.make(1600);
CREATE TEMP TABLE digests AS
SELECT n, wide.digest(n) AS before FROM unnest(ARRAY[831, 900, 1600]) n;

BEGIN;
SET LOCAL undoredo.scope = 'wide:1';
SELECT wide.change_all(831), wide.change_all(900), wide.change_all(1600);
COMMIT;
ALTER TABLE digests ADD COLUMN after text;
UPDATE digests SET after = wide.digest(n);
SELECT state, changes FROM undoredo_history('wide', 1);
SELECT * FROM undoredo_undo('wide', 1);
SELECT n, wide.digest(n) = before AS undone FROM digests ORDER BY n;
SELECT * FROM undoredo_redo('wide', 1);
SELECT n, wide.digest(n) = after AS redone FROM digests ORDER BY n;
-- and a conflict in the widest table is still found
UPDATE w1600 SET c1599 = 0 WHERE id = 2;
SELECT undoredo_test_try($$SELECT undoredo_undo('wide', 1)$$);
SELECT n, wide.digest(n) = after AS unchanged FROM digests WHERE n < 1600 ORDER BY n;

DROP SCHEMA wide CASCADE;
RESET search_path;
