-- Large values stored out of line: capture reads a value stored
-- uncompressed out of line slice by slice (1 MB each) instead of
-- detoasting it whole, and compares an old and a new value the same way.
-- Every kind of storage must give the same images: uncompressed out of
-- line (EXTERNAL), compressed out of line (EXTENDED, compressible), and a
-- mix of both in one update.
CREATE SCHEMA large;
SET search_path = large, public;
CREATE TABLE blob (id int PRIMARY KEY, raw bytea, packed bytea, note text);
ALTER TABLE blob ALTER raw SET STORAGE EXTERNAL;
SELECT undoredo_track('blob');
-- 3,200,000 bytes that do not compress: three whole slices and a part
CREATE FUNCTION large.noise(seed text) RETURNS bytea LANGUAGE sql AS $$
    SELECT string_agg(decode(md5(seed || i), 'hex'), ''::bytea ORDER BY i)
    FROM generate_series(1, 200000) i
$$;
-- the same value with one byte changed at a position
CREATE FUNCTION large.poke(v bytea, pos int) RETURNS bytea LANGUAGE sql AS $$
    SELECT set_byte(v, pos, (get_byte(v, pos) + 1) % 256)
$$;
CREATE FUNCTION large.digest() RETURNS text LANGUAGE sql AS $$
    SELECT md5(string_agg(md5(raw) || md5(coalesce(packed, '')) || coalesce(note, ''),
                          ',' ORDER BY id))
    FROM large.blob
$$;
CREATE FUNCTION large.steps() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM undoredo_history('blob', 1)
$$;

SET undoredo.scope = 'blob:1';
-- insert: the whole row is imaged
INSERT INTO blob VALUES (1, large.noise('a'), convert_to(repeat('abc', 1000000), 'UTF8'), 'one');
SELECT length(raw), length(packed),
       pg_column_size(raw) = 3200000 AS raw_uncompressed,
       pg_column_size(packed) < 100000 AS packed_compressed
FROM blob;
SELECT large.digest() AS d1 \gset
-- a change in the last slice, in the first, and of the length
UPDATE blob SET raw = large.poke(raw, 3199999);
SELECT large.digest() AS d2 \gset
UPDATE blob SET raw = large.poke(raw, 0);
SELECT large.digest() AS d3 \gset
UPDATE blob SET raw = raw || '\x00'::bytea;
SELECT large.digest() AS d4 \gset
-- a new value with the same bytes is no change: no step
SELECT large.steps() AS steps_before \gset
UPDATE blob SET raw = substr(raw, 1, 1600000) || substr(raw, 1600001);
UPDATE blob SET packed = convert_to(repeat('abc', 1000000), 'UTF8');
SELECT large.steps() = :steps_before AS no_step_for_same_bytes;
SELECT large.digest() = :'d4' AS unchanged;
-- another column changed, the large ones untouched: not imaged (same
-- pointers), the step is small
UPDATE blob SET note = 'two';
SELECT large.digest() AS d5 \gset
-- a compressed old value against an uncompressed new one: the same bytes
-- (no change), then others of the same length, and back
ALTER TABLE blob ALTER packed SET STORAGE EXTERNAL;
UPDATE blob SET packed = convert_to(repeat('abc', 1000000), 'UTF8');
SELECT pg_column_size(packed) AS packed_size_now FROM blob;
SELECT large.steps() = :steps_before + 1 AS no_step_for_same_bytes_mixed;
UPDATE blob SET packed = substr(large.noise('b'), 1, 3000000);
SELECT large.digest() AS d6 \gset
ALTER TABLE blob ALTER packed SET STORAGE EXTENDED;
UPDATE blob SET packed = convert_to(repeat('xyz', 1000000), 'UTF8');
SELECT length(packed) AS packed_length, pg_column_size(packed) < 100000 AS compressed
FROM blob;
SELECT large.digest() AS d7 \gset
-- delete: the whole row again
DELETE FROM blob;
RESET undoredo.scope;

SELECT changes FROM undoredo_history('blob', 1) ORDER BY step;
-- undo every step, checking the state before each
SELECT undo_count, redo_count FROM undoredo_undo('blob', 1);
SELECT large.digest() = :'d7' AS undone_delete;
SELECT undo_count, redo_count FROM undoredo_undo('blob', 1);
SELECT large.digest() = :'d6' AS undone_packed_compressed;
SELECT undo_count, redo_count FROM undoredo_undo('blob', 1);
SELECT large.digest() = :'d5' AS undone_packed_noise;
SELECT undo_count, redo_count FROM undoredo_undo('blob', 1);
SELECT large.digest() = :'d4' AS undone_note;
SELECT undo_count, redo_count FROM undoredo_undo('blob', 1);
SELECT large.digest() = :'d3' AS undone_length;
SELECT undo_count, redo_count FROM undoredo_undo('blob', 1);
SELECT large.digest() = :'d2' AS undone_first_slice;
SELECT undo_count, redo_count FROM undoredo_undo('blob', 1);
SELECT large.digest() = :'d1' AS undone_last_slice;
SELECT undo_count, redo_count FROM undoredo_undo('blob', 1);
SELECT count(*) AS rows_after_undoing_insert FROM blob;
-- and redo them all
SELECT undo_count, redo_count FROM undoredo_redo('blob', 1, 8);
SELECT count(*) AS rows_after_redoing_all FROM blob;
SELECT undo_count, redo_count FROM undoredo_undo('blob', 1);
SELECT large.digest() = :'d7' AS redone;

DROP SCHEMA large CASCADE;
