#!/bin/bash
# pg_dump keeps histories: dump a database with a history, restore it into
# another database, and undo/redo there.  Runs against the PG* server.
set -euo pipefail

psql_q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

dropdb --if-exists undoredo_dump_src
dropdb --if-exists undoredo_dump_dst
createdb undoredo_dump_src
createdb undoredo_dump_dst
psql_q -d undoredo_dump_src <<'SQL'
CREATE EXTENSION undoredo;
CREATE TABLE doc (id int PRIMARY KEY, title text);
SELECT undoredo_track('doc');
SET undoredo.scope = 'doc:1';
SET undoredo.label = 'first';
INSERT INTO doc VALUES (1, 'one'), (2, 'two');
SET undoredo.label = 'second';
UPDATE doc SET title = 'TWO' WHERE id = 2;
SET undoredo.label = 'third';
DELETE FROM doc WHERE id = 1;
SELECT undo_count FROM undoredo_undo('doc', 1) \g /dev/null
SQL
pg_dump -d undoredo_dump_src | psql_q -d undoredo_dump_dst >/dev/null

check() {
    local got expected=$2
    got=$(psql_q -d undoredo_dump_dst -c "$1")
    if [ "$got" != "$expected" ]; then
        echo "dump: $1 gave '$got', expected '$expected'" >&2
        exit 1
    fi
}
check "SELECT string_agg(state || ' ' || label || ' ' || changes, ', ' ORDER BY step) FROM undoredo_history('doc', 1)" \
      "undo first 2, undo second 1, redo third 1"
check "SELECT string_agg(id || '=' || title, ',' ORDER BY id) FROM doc" "1=one,2=TWO"
# the scope's owner and tables come back by name
check "SELECT owner || ' ' || relids::text FROM undoredo_scope" "postgres {doc}"
check "SELECT undo_count || ',' || redo_count FROM undoredo_undo('doc', 1)" "1,2"
check "SELECT string_agg(id || '=' || title, ',' ORDER BY id) FROM doc" "1=one,2=two"
check "SELECT undo_count || ',' || redo_count FROM undoredo_redo('doc', 1, 2)" "3,0"
check "SELECT coalesce(string_agg(id || '=' || title, ',' ORDER BY id), '') FROM doc" "2=TWO"
# capture continues in the restored database with new step ids
check "SET undoredo.scope = 'doc:1'; INSERT INTO doc VALUES (3, 'three'); SELECT count(*) FROM undoredo_history('doc', 1)" "4"

dropdb undoredo_dump_src
dropdb undoredo_dump_dst

# Every column type survives a restore into a database whose oids differ:
# enums, domains, composites (nested), ranges, arrays of them, a type of
# another extension (citext), and values of oid alias types (regclass,
# regtype, regproc, ...), which must come back naming the same objects.
# The source records three steps and keeps, in a table that is dumped too,
# the text of every row after each step (written under fixed settings);
# the restored database undoes and redoes them and must show the same text.
createdb undoredo_dump_src
createdb undoredo_dump_dst
psql_q -d undoredo_dump_src <<'SQL'
CREATE EXTENSION undoredo;
SELECT count(*) > 0 AS has_citext FROM pg_available_extensions WHERE name = 'citext' \gset
\if :has_citext
CREATE EXTENSION citext;
\else
CREATE DOMAIN citext AS text;
\endif
CREATE SCHEMA types;
SET search_path = types, public;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a integer, b text, f float8);
CREATE TYPE nest AS (p pair, m mood, ps pair[], rc regclass);
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN intlist AS integer[];
CREATE DOMAIN pairdom AS pair;
CREATE DOMAIN span AS int4range;
CREATE TYPE floatrange AS RANGE (subtype = float8);
CREATE TABLE v (
    id  integer PRIMARY KEY,
    t text, b bytea, n numeric, f4 real, f8 double precision, ts timestamptz,
    iv interval, jb jsonb, js json, a2 integer[], ta text[], fa float8[],
    e mood, ea mood[], d posint, dl intlist, c pair, cd pairdom, ca pair[],
    r int4range, nr numrange, tr tstzrange, mr int4multirange, dr span,
    u uuid, ip inet, bits varbit, bp char(5), x xml, tsv tsvector, m money,
    dt date, tt timetz,
    ne nest, nea nest[], da posint[], fr floatrange, fra floatrange[],
    ci citext, cia citext[], rc regclass, rca regclass[], rt regtype,
    rta regtype[], rp regproc, rpd regprocedure, rn regnamespace, rr regrole
);
SELECT undoredo_track('v');
CREATE TABLE snap (tag integer, id integer, md5 text);
CREATE FUNCTION take_snap(tag integer) RETURNS void LANGUAGE sql
    SET search_path = pg_catalog SET DateStyle = 'ISO, YMD' SET TimeZone = 'UTC'
    SET IntervalStyle = 'postgres' SET extra_float_digits = 1 SET lc_monetary = 'C'
AS $$ INSERT INTO types.snap SELECT tag, v.id, md5(v::text) FROM types.v $$;
CREATE FUNCTION same_as(tag integer) RETURNS boolean LANGUAGE sql
    SET search_path = pg_catalog SET DateStyle = 'ISO, YMD' SET TimeZone = 'UTC'
    SET IntervalStyle = 'postgres' SET extra_float_digits = 1 SET lc_monetary = 'C'
AS $$ SELECT NOT EXISTS (
     (SELECT id, md5 FROM types.snap s WHERE s.tag = $1
      EXCEPT SELECT v.id, md5(v::text) FROM types.v)
     UNION ALL
     (SELECT v.id, md5(v::text) FROM types.v
      EXCEPT SELECT id, md5 FROM types.snap s WHERE s.tag = $1)) $$;
SELECT take_snap(0);

SET undoredo.scope = 'types:1';
INSERT INTO v VALUES
 (1, E'quote '' dq " bs \\ nl\n \u00e9', '\x00ff00'::bytea, 1.50, '-0', 'NaN',
  '2024-02-29 23:59:59.123456+05:30', '1 year 2 mons -3 days 04:05:06.789',
  '{"b": [1, 2.50, null], "a": "x"}', E'{ "a" : 1,\n  "a":2 }  ',
  '[0:1][-1:0]={{1,2},{NULL,4}}', '{"a,b","c\"d",NULL,"","NULL"}',
  '{-0,NaN,Infinity,-Infinity,1.1}',
  'happy', '[2:4]={happy,NULL,sad}', 7, '[5:6]={1,NULL}',
  ROW(1, NULL, '-0'), ROW(NULL, NULL, NULL), ARRAY[ROW(1, 'x', 1.5), NULL]::pair[],
  '[1,10)', '(1.50,2.500]', '[2024-01-01 00:00+00,infinity)', '{[1,3),[5,7)}', '[3,4)',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', B'10110', 'ab',
  '<a x="1">b &amp; c</a>', 'fat:1 cat:2', 12.34, '2024-02-29', '12:34:56.789+09',
  ROW(ROW(2, 'y', '-0'), 'ok', ARRAY[ROW(3, NULL, 'NaN')]::pair[], 'types.snap'),
  ARRAY[ROW(NULL, NULL, NULL, NULL), NULL, ROW(ROW(NULL, NULL, NULL), 'sad', '{}', 'pg_class')]::nest[],
  '{1,NULL,3}', '[1.5,2.5)', '{"[1,2)",empty}',
  'MiXeD Case', '{Abc,NULL,dEF}', 'types.v', '{types.v,types.snap,pg_class}',
  'types.pair', '{types.mood,integer,types.nest[]}', 'types.take_snap',
  'types.same_as(integer)', 'types', 'postgres'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, '', '', 'NaN', 'Infinity', '-Infinity', '-infinity', '-00:00:00.000001',
  'null', E'"\\u0000"', '{}', '{}', '{}', 'sad', '{}', 1, '{}',
  ROW(NULL, '', NULL), ROW(0, NULL, 'NaN'), '{}', 'empty', 'empty', 'empty', '{}',
  'empty', '00000000-0000-0000-0000-000000000000', '::1', B'', '', '', '', 0,
  '-infinity', '00:00+00',
  ROW(NULL, NULL, NULL, NULL), '{}', '{}', 'empty', '{}', '', '{}', 'types.snap',
  '{}', 'types.mood[]', '{}', 'pg_catalog.now', 'types.take_snap(integer)',
  'pg_catalog', 'postgres');
RESET undoredo.scope;
SELECT take_snap(1);
SET undoredo.scope = 'types:1';
UPDATE v SET (t, b, n, f4, f8, ts, iv, jb, js, a2, ta, fa, e, ea, d, dl, c, cd, ca,
              r, nr, tr, mr, dr, u, ip, bits, bp, x, tsv, m, dt, tt, ne, nea, da,
              fr, fra, ci, cia, rc, rca, rt, rta, rp, rpd, rn, rr)
  = (SELECT s.t, s.b, s.n, s.f4, s.f8, s.ts, s.iv, s.jb, s.js, s.a2, s.ta, s.fa, s.e,
            s.ea, s.d, s.dl, s.c, s.cd, s.ca, s.r, s.nr, s.tr, s.mr, s.dr, s.u, s.ip,
            s.bits, s.bp, s.x, s.tsv, s.m, s.dt, s.tt, s.ne, s.nea, s.da, s.fr, s.fra,
            s.ci, s.cia, s.rc, s.rca, s.rt, s.rta, s.rp, s.rpd, s.rn, s.rr
     FROM v s WHERE s.id = v.id % 3 + 1);
RESET undoredo.scope;
SELECT take_snap(2);
SET undoredo.scope = 'types:1';
DELETE FROM v WHERE id <> 1;
RESET undoredo.scope;
SELECT take_snap(3);

-- values that cannot be mapped: a regclass naming a table that the target
-- drops, and a step written as before 1.1.1 (no type dictionary: its
-- images name the enum by its oid in the source)
CREATE TABLE old (id integer PRIMARY KEY, e mood, rc regclass);
CREATE TABLE gone (id integer);
SELECT undoredo_track('old');
SET undoredo.scope = 'types:2';
INSERT INTO old VALUES (1, 'ok', 'types.gone');
DELETE FROM old;
SET undoredo.scope = 'types:3';
INSERT INTO old VALUES (2, 'sad', NULL);
RESET undoredo.scope;
UPDATE undoredo_change SET typoids = NULL, types = NULL
WHERE step = (SELECT max(step) FROM undo_action);
SQL
# shift the oids of the target: what the restore creates gets other oids
# than in the source, and old oids may name other objects there
psql_q -d undoredo_dump_dst <<'SQL' >/dev/null
DO $$
BEGIN
    FOR i IN 1..150 LOOP
        EXECUTE format('CREATE TYPE shift_e%s AS ENUM (''x'')', i);
        EXECUTE format('CREATE TABLE shift_t%s (a int)', i);
    END LOOP;
    FOR i IN 1..150 BY 2 LOOP
        EXECUTE format('DROP TYPE shift_e%s', i);
        EXECUTE format('DROP TABLE shift_t%s', i);
    END LOOP;
END $$;
SQL
pg_dump -d undoredo_dump_src | psql_q -d undoredo_dump_dst >/dev/null
# a name recorded unqualified is pg_catalog's, whatever search_path says
psql_q -d undoredo_dump_dst -c "CREATE TABLE public.pg_class (a int)" \
    -c "ALTER DATABASE undoredo_dump_dst SET search_path = public, pg_catalog"
check "SELECT (SELECT oid FROM pg_type WHERE typname = 'mood') <> $(psql_q -d undoredo_dump_src -c "SELECT oid FROM pg_type WHERE typname = 'mood'")" "t"
check "SELECT 'types.v'::regclass::oid <> $(psql_q -d undoredo_dump_src -c "SELECT 'types.v'::regclass::oid")" "t"
check "SELECT types.same_as(3)" "t"
check "SELECT undo_count || ',' || redo_count FROM undoredo_undo('types', 1)" "2,1"
check "SELECT types.same_as(2)" "t"
check "SELECT string_agg(id || '=' || coalesce(rc::text, '-') || '/' || coalesce(rca::text, '-'), ' ' ORDER BY id) FROM types.v" \
      "1=-/- 2=types.snap/{} 3=types.v/{types.v,types.snap,pg_catalog.pg_class}"
check "SELECT undo_count || ',' || redo_count FROM undoredo_undo('types', 1)" "1,2"
check "SELECT types.same_as(1)" "t"
check "SELECT undo_count || ',' || redo_count FROM undoredo_undo('types', 1)" "0,3"
check "SELECT types.same_as(0)" "t"
check "SELECT undo_count || ',' || redo_count FROM undoredo_redo('types', 1)" "1,2"
check "SELECT types.same_as(1)" "t"
check "SELECT undo_count || ',' || redo_count FROM undoredo_redo('types', 1)" "2,1"
check "SELECT types.same_as(2)" "t"
check "SELECT undo_count || ',' || redo_count FROM undoredo_redo('types', 1)" "3,0"
check "SELECT types.same_as(3)" "t"
# and exactly, by send form, within the restored database
check "CREATE TABLE types.sent AS SELECT id, record_send(v) AS r FROM types.v; SELECT count(*) FROM types.sent" "1"
check "SELECT undo_count || ',' || redo_count FROM undoredo_undo('types', 1, 2)" "1,2"
check "SELECT undo_count || ',' || redo_count FROM undoredo_redo('types', 1, 2)" "3,0"
check "SELECT count(*) FROM types.v JOIN types.sent s USING (id) WHERE record_send(v) = s.r" "1"
# a value that cannot be mapped is a clear error, never an internal one
check_error() {
    local got
    got=$(psql -X -q -At -d undoredo_dump_dst -c '\set VERBOSITY sqlstate' -c "$1" 2>&1 || true)
    if [ "$got" != "ERROR:  $2" ]; then
        echo "dump: $1 gave '$got', expected SQLSTATE $2" >&2
        exit 1
    fi
}
check "DROP TABLE types.gone; SELECT count(*) FROM types.old" "1"
check_error "SELECT * FROM undoredo_undo('types', 2)" "42P01"
check_error "SELECT * FROM undoredo_undo('types', 3)" "42804"
check "SELECT count(*) FROM types.old" "1"
# new steps recorded in the restored database replay too
check "SET undoredo.scope = 'types:1'; UPDATE types.v SET ne = ROW(NULL, 'ok', '{\"(1,a,2)\"}', 'types.sent'), rc = 'types.sent', ca = '{\"(3,b,4)\"}', e = 'sad'; SELECT count(*) FROM undoredo_history('types', 1)" "4"
check "SELECT ne::text || ' ' || ca::text || ' ' || e FROM types.v" '(,ok,"{""(1,a,2)""}",types.sent) {"(3,b,4)"} sad'
check "SELECT types::text FROM undoredo_change WHERE step = (SELECT max(step) FROM undoredo_change)" "{types.mood,types.pair[],types.nest,types.pair}"
check "SELECT undo_count || ',' || redo_count FROM undoredo_undo('types', 1)" "3,1"
check "SELECT types.same_as(3)" "t"

dropdb undoredo_dump_src
dropdb undoredo_dump_dst

# Columns are found by name after a restore: pg_dump does not keep dropped
# columns, so the restored tables number their columns otherwise than the
# tables that recorded the steps.  t had a column dropped and one added
# before the steps were recorded; u has one dropped after them.  Undo and
# redo in the restored database (also with on_conflict = 'overwrite', which
# writes without comparing) must give exactly the source's states.
createdb undoredo_dump_src
createdb undoredo_dump_dst
psql_q -d undoredo_dump_src <<'SQL'
CREATE EXTENSION undoredo;
CREATE SCHEMA cols;
SET search_path = cols, public;
CREATE TABLE t (id integer PRIMARY KEY, a text, b text);
INSERT INTO t VALUES (1, 'a1', 'b1'), (2, 'a2', 'b2');
SELECT undoredo_track('t');
ALTER TABLE t DROP COLUMN a;
ALTER TABLE t ADD COLUMN c text;
CREATE TABLE u (id integer PRIMARY KEY, a text, b text, c integer);
INSERT INTO u VALUES (1, 'a1', 'b1', 1), (2, 'a2', 'b2', 2);
SELECT undoredo_track('u');
SET undoredo.scope = 'cols:1';
BEGIN;
UPDATE t SET b = 'B' || id, c = 'C' || id;
UPDATE u SET a = 'A' || id, b = 'B' || id, c = 10 * id;
COMMIT;
BEGIN;
INSERT INTO t VALUES (3, 'b3', 'c3');
INSERT INTO u VALUES (3, 'a3', 'b3', 3);
COMMIT;
BEGIN;
DELETE FROM t WHERE id = 1;
DELETE FROM u WHERE id = 1;
COMMIT;
RESET undoredo.scope;
ALTER TABLE u DROP COLUMN a;
-- a partitioned table whose key moves: replay goes through the root
CREATE TABLE p (junk integer, id integer, region text, v text,
                PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE p_eu PARTITION OF p FOR VALUES IN ('eu');
CREATE TABLE p_us PARTITION OF p FOR VALUES IN ('us');
ALTER TABLE p DROP COLUMN junk;
SELECT undoredo_track('p');
INSERT INTO p VALUES (1, 'eu', 'one'), (2, 'us', 'two');
SET undoredo.scope = 'cols:2';
UPDATE p SET v = upper(v);
UPDATE p SET region = 'us' WHERE id = 1;
DELETE FROM p WHERE id = 2;
RESET undoredo.scope;
SQL
# the same shift of oids as above
psql_q -d undoredo_dump_dst <<'SQL' >/dev/null
DO $$
BEGIN
    FOR i IN 1..50 LOOP
        EXECUTE format('CREATE TABLE shift_t%s (a int)', i);
    END LOOP;
END $$;
SQL
pg_dump -d undoredo_dump_src | psql_q -d undoredo_dump_dst >/dev/null
cols_state() {
    check "SELECT (SELECT string_agg(id || '=' || coalesce(b, '-') || '/' || coalesce(c, '-'), ' ' ORDER BY id) FROM cols.t) || ' | ' || (SELECT string_agg(id || '=' || coalesce(b, '-') || '/' || coalesce(c::text, '-'), ' ' ORDER BY id) FROM cols.u)" "$1"
}
s0="1=b1/- 2=b2/- | 1=b1/1 2=b2/2"
s1="1=B1/C1 2=B2/C2 | 1=B1/10 2=B2/20"
s2="1=B1/C1 2=B2/C2 3=b3/c3 | 1=B1/10 2=B2/20 3=b3/3"
s3="2=B2/C2 3=b3/c3 | 2=B2/20 3=b3/3"
check "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'cols.t'::regclass AND attnum > 0" "id,b,c"
cols_state "$s3"
for mode in error overwrite; do
    export PGOPTIONS="-c undoredo.on_conflict=$mode"
    check "SELECT undo_count || ',' || redo_count FROM undoredo_undo('cols', 1)" "2,1"
    cols_state "$s2"
    check "SELECT undo_count || ',' || redo_count FROM undoredo_undo('cols', 1)" "1,2"
    cols_state "$s1"
    check "SELECT undo_count || ',' || redo_count FROM undoredo_undo('cols', 1)" "0,3"
    cols_state "$s0"
    check "SELECT undo_count || ',' || redo_count FROM undoredo_redo('cols', 1)" "1,2"
    cols_state "$s1"
    check "SELECT undo_count || ',' || redo_count FROM undoredo_redo('cols', 1, 2)" "3,0"
    cols_state "$s3"
    unset PGOPTIONS
done
check "SELECT string_agg(id || region || v, ' ' ORDER BY id) FROM cols.p" "1usONE"
check "SELECT undo_count || ',' || redo_count FROM undoredo_undo('cols', 2, 3)" "0,3"
check "SELECT string_agg(tableoid::regclass || ':' || id || region || v, ' ' ORDER BY id) FROM cols.p" "cols.p_eu:1euone cols.p_us:2ustwo"
check "SELECT undo_count || ',' || redo_count FROM undoredo_redo('cols', 2, 3)" "3,0"
check "SELECT string_agg(tableoid::regclass || ':' || id || region || v, ' ' ORDER BY id) FROM cols.p" "cols.p_us:1usONE"
# steps recorded in the restored database use its own column numbers
check "SET undoredo.scope = 'cols:1'; UPDATE cols.t SET b = 'x', c = 'y' WHERE id = 2; SELECT count(*) FROM undoredo_history('cols', 1)" "4"
check "ALTER TABLE cols.t ADD COLUMN d text; ALTER TABLE cols.t DROP COLUMN d; SELECT undo_count || ',' || redo_count FROM undoredo_undo('cols', 1, 2)" "2,2"
cols_state "$s2"
check "SELECT undo_count || ',' || redo_count FROM undoredo_redo('cols', 1, 2)" "4,0"
check "SELECT string_agg(id || '=' || b || '/' || c, ' ' ORDER BY id) FROM cols.t" "2=x/y 3=b3/c3"

[ -n "${KEEP:-}" ] && exit 0
dropdb undoredo_dump_src
dropdb undoredo_dump_dst
echo "dump: pg_dump and restore keep histories"
