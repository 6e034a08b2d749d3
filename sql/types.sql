CREATE SCHEMA types;
SET search_path = types, public;

-- Values round-trip exactly for every column type.

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a integer, b text, f float8);
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN intlist AS integer[];
CREATE DOMAIN pairdom AS pair;
CREATE DOMAIN span AS int4range;

CREATE TABLE v (
    id  integer PRIMARY KEY,
    t   text,
    b   bytea,
    n   numeric,
    f4  real,
    f8  double precision,
    ts  timestamptz,
    iv  interval,
    jb  jsonb,
    js  json,
    a2  integer[],
    ta  text[],
    fa  float8[],
    e   mood,
    ea  mood[],
    d   posint,
    dl  intlist,
    c   pair,
    cd  pairdom,
    ca  pair[],
    r   int4range,
    nr  numrange,
    tr  tstzrange,
    mr  int4multirange,
    dr  span,
    u   uuid,
    ip  inet,
    bits varbit,
    bp  char(5),
    x   xml,
    tsv tsvector,
    m   money,
    dt  date,
    tt  timetz
);
SELECT undoredo_track('v');

-- Snapshots compare whole rows by their binary send form (record_send
-- sends every column with its type's send function), so 1.50 <> 1.5,
-- -0 <> 0, json whitespace and array bounds all count.
CREATE TABLE snap (tag integer, id integer, r bytea);
CREATE FUNCTION take_snap(tag integer) RETURNS void LANGUAGE sql AS
$$ INSERT INTO types.snap SELECT tag, v.id, record_send(v) FROM types.v $$;
CREATE FUNCTION same_as(tag integer) RETURNS boolean LANGUAGE sql AS
$$ SELECT NOT EXISTS (
     (SELECT id, r FROM types.snap s WHERE s.tag = $1
      EXCEPT SELECT v.id, record_send(v) FROM types.v)
     UNION ALL
     (SELECT v.id, record_send(v) FROM types.v
      EXCEPT SELECT id, r FROM types.snap s WHERE s.tag = $1)) $$;

-- the comparison can fail: it tells these apart
SELECT record_send(ROW(1.50::numeric)) = record_send(ROW(1.5::numeric)) AS numeric_scale,
       record_send(ROW('-0'::float8)) = record_send(ROW('0'::float8)) AS minus_zero,
       record_send(ROW('{"a":1}'::json)) = record_send(ROW('{"a": 1}'::json)) AS json_space,
       record_send(ROW('[0:1]={1,2}'::int[])) = record_send(ROW('{1,2}'::int[])) AS lower_bound,
       record_send(ROW(ROW(NULL, NULL, NULL)::pair)) = record_send(ROW(NULL::pair)) AS null_composite;

SELECT take_snap(0);

-- step 1: insert odd values, an all-NULL row, empty values, TOASTed values
SET undoredo.scope = 'types:1';
BEGIN;
INSERT INTO v VALUES
 (1, E'quote '' dq " bs \\ nl\n tab\t cr\r \u00e9 \u00df \u65e5\u672c \U0001F600',
  '\x00ff0000de00ad00'::bytea, 1.50, '-0', 'NaN',
  '2024-02-29 23:59:59.123456+05:30', '1 year 2 mons -3 days 04:05:06.789',
  '{"b": [1, 2.50, null], "a": "\u00e9\"", "n": 1e2}',
  E'{ "a" : 1,\n  "a":2 ,"z" :[ 1.50 ,1e2] }  ',
  '[0:1][-1:0]={{1,2},{NULL,4}}', '{"a,b","c\"d",NULL,"","NULL"}',
  '{-0,NaN,Infinity,-Infinity,1.1}',
  'happy', '{happy,NULL,sad}', 7, '[5:6]={1,NULL}',
  ROW(1, NULL, '-0'), ROW(NULL, NULL, NULL), ARRAY[ROW(1, 'x', 1.5), NULL]::pair[],
  '[1,10)', '(1.50,2.500]', '[2024-01-01 00:00+00,infinity)', '{[1,3),[5,7)}', '[3,4)',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', B'10110', 'ab',
  '<a x="1">b &amp; c</a>', 'fat:1 cat:2', 12.34, '2024-02-29', '12:34:56.789+09'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, '', '', 'NaN', 'Infinity', '-Infinity', '-infinity', '-00:00:00.000001',
  'null', E'"\\u0000 \\ud83d\\ude00"', '{}', '{}', '{}', 'sad', '{}', 1, '{}',
  ROW(NULL, '', NULL), ROW(0, NULL, 'NaN'), '{}', 'empty', 'empty', 'empty', '{}',
  'empty', '00000000-0000-0000-0000-000000000000', '::1', B'', '', '', '', 0,
  '-infinity', '00:00+00');
INSERT INTO v (id, t, b, n, f4, f8)
SELECT 4, string_agg(md5(i::text), ''), decode(string_agg(md5((-i)::text), ''), 'hex'),
       'Infinity', 'NaN', '-0'
FROM generate_series(1, 8000) i;
COMMIT;
RESET undoredo.scope;
-- the large values are stored out of line, uncompressed
SELECT id, octet_length(t), pg_column_size(t) > 8192 AS t_out_of_line,
       octet_length(b), pg_column_size(b) > 8192 AS b_out_of_line
FROM v WHERE id = 4;
SELECT take_snap(1);

-- step 2: every column of rows 1-3 gets another row's values (1<-2<-3<-1)
SET undoredo.scope = 'types:1';
UPDATE v SET (t, b, n, f4, f8, ts, iv, jb, js, a2, ta, fa, e, ea, d, dl, c, cd, ca,
              r, nr, tr, mr, dr, u, ip, bits, bp, x, tsv, m, dt, tt)
  = (SELECT s.t, s.b, s.n, s.f4, s.f8, s.ts, s.iv, s.jb, s.js, s.a2, s.ta, s.fa, s.e,
            s.ea, s.d, s.dl, s.c, s.cd, s.ca, s.r, s.nr, s.tr, s.mr, s.dr, s.u, s.ip,
            s.bits, s.bp, s.x, s.tsv, s.m, s.dt, s.tt
     FROM v s WHERE s.id = v.id % 3 + 1)
WHERE id <= 3;
RESET undoredo.scope;
SELECT take_snap(2);

-- step 3: changes only of the stored form (1.50 -> 1.5, -0 -> 0, json
-- whitespace), and the large text changed while the large bytea is kept
SET undoredo.scope = 'types:1';
BEGIN;
UPDATE v SET n = 1.5, f4 = 0, fa = '{0,NaN,Infinity,-Infinity,1.1}',
             jb = '{"b": [1, 2.5, null], "a": "\u00e9\"", "n": 100}',
             js = '{"a":1,"a":2,"z":[1.50,1e2]}', a2 = '{{1,2},{NULL,4}}',
             nr = '(1.5,2.5]', bp = 'ab   '
WHERE id = 3;
UPDATE v SET t = t || 'x', f8 = 0 WHERE id = 4;
COMMIT;
RESET undoredo.scope;
SELECT take_snap(3);
-- the changes really happened, but to values equal by '='
SELECT id, n::text, float4send(f4), js::text, array_lower(a2, 1), nr::text
FROM v WHERE id = 3;

-- step 4: delete everything; vacuum drops the out-of-line originals
SET undoredo.scope = 'types:1';
DELETE FROM v;
RESET undoredo.scope;
SELECT take_snap(4);
VACUUM v;
SELECT state, changes FROM undoredo_history('types', 1) ORDER BY step;

-- undo step by step: each position is exactly as it was
SELECT * FROM undoredo_undo('types', 1);
SELECT same_as(3);
SELECT * FROM undoredo_undo('types', 1);
SELECT same_as(2);
SELECT * FROM undoredo_undo('types', 1);
SELECT same_as(1);
SELECT * FROM undoredo_undo('types', 1);
SELECT same_as(0);
-- redo step by step
SELECT * FROM undoredo_redo('types', 1);
SELECT same_as(1);
SELECT id, t, encode(b, 'hex') AS b, n::text, float4send(f4), float8send(f8)
FROM v WHERE id < 4 ORDER BY id;
SELECT id, md5(t), octet_length(t), md5(b), octet_length(b), n::text,
       float4send(f4), float8send(f8)
FROM v WHERE id = 4;
SELECT id, js::text, jb::text, array_dims(a2), a2::text, ta::text, fa::text,
       dl::text, array_dims(dl)
FROM v ORDER BY id;
SELECT id, c::text, c IS NULL AS c_null, cd::text, cd IS NULL AS cd_null,
       ca::text, e, ea::text
FROM v ORDER BY id;
SELECT id, r, nr, mr, dr, u, ip, bits, '"' || bp::text || '"' AS bp, x::text,
       tsv, m::numeric, d
FROM v ORDER BY id;
SET TimeZone = 'UTC';
SELECT id, ts, iv, tr, dt, tt FROM v ORDER BY id;
RESET TimeZone;
SELECT * FROM undoredo_redo('types', 1);
SELECT same_as(2);
SELECT * FROM undoredo_redo('types', 1);
SELECT same_as(3);
SELECT * FROM undoredo_redo('types', 1);
SELECT same_as(4);
-- several steps in one call
SELECT * FROM undoredo_undo('types', 1, 4);
SELECT same_as(0);
SELECT * FROM undoredo_redo('types', 1, 3);
SELECT same_as(3);
SELECT * FROM undoredo_undo('types', 1, 2);
SELECT same_as(1);
SELECT * FROM undoredo_redo('types', 1, 10);
SELECT same_as(4);

-- "Changed column means a different stored form": 1.50 -> 1.5 is a
-- recorded change, and undo brings back 1.50
CREATE TABLE num (id integer PRIMARY KEY, n numeric, f float8);
SELECT undoredo_track('num');
INSERT INTO num VALUES (1, 1.50, 0);
SET undoredo.scope = 'types:2';
UPDATE num SET n = 1.5;
UPDATE num SET f = '-0';
RESET undoredo.scope;
SELECT state, changes FROM undoredo_history('types', 2) ORDER BY step;
SELECT n::text, float8send(f) FROM num;
SELECT * FROM undoredo_undo('types', 2);
SELECT n::text, float8send(f) FROM num;
SELECT * FROM undoredo_undo('types', 2);
SELECT n::text, float8send(f) FROM num;
SELECT * FROM undoredo_redo('types', 2, 2);
SELECT n::text, float8send(f) FROM num;

-- Session settings do not matter: capture under unusual DateStyle,
-- TimeZone, extra_float_digits and IntervalStyle, replay under defaults.
CREATE TABLE sess (id integer PRIMARY KEY, f8 float8, f4 real, ts timestamptz,
                   tsl timestamp, dt date, iv interval, tr tstzrange);
SELECT undoredo_track('sess');
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Asia/Tokyo';
SET extra_float_digits = -3;
SET IntervalStyle = 'sql_standard';
CREATE FUNCTION sess_snap(tag integer) RETURNS void LANGUAGE sql AS
$$ INSERT INTO types.snap SELECT tag, s.id, record_send(s) FROM types.sess s $$;
CREATE FUNCTION sess_same(tag integer) RETURNS boolean LANGUAGE sql AS
$$ SELECT NOT EXISTS (
     (SELECT id, r FROM types.snap s WHERE s.tag = $1
      EXCEPT SELECT s.id, record_send(s) FROM types.sess s)
     UNION ALL
     (SELECT s.id, record_send(s) FROM types.sess s
      EXCEPT SELECT id, r FROM types.snap s WHERE s.tag = $1)) $$;
SELECT sess_snap(10);
SET undoredo.scope = 'types:3';
INSERT INTO sess VALUES
 (1, 0.1::float8 + 0.2::float8, 1.1::real / 3, '2024-03-04 05:06:07.891234',
  '2024-03-04 05:06:07.891234', '03/04/2024', '-1 2:03:04',
  '[2024-03-04 05:06:07.891234,2024-03-05)');
SELECT sess_snap(11);
UPDATE sess SET f8 = f8 * 3, f4 = f4 * 7, ts = ts + '1 microsecond', dt = '05/06/2024',
                iv = '1-2 3 4:05:06.7';
RESET undoredo.scope;
SELECT sess_snap(12);
RESET DateStyle;
RESET TimeZone;
RESET extra_float_digits;
RESET IntervalStyle;
SELECT * FROM undoredo_undo('types', 3);
SELECT sess_same(11);
SELECT * FROM sess;
SELECT f8 = 0.1::float8 + 0.2::float8 AS f8_exact, f4 = 1.1::real / 3 AS f4_exact,
       ts = '2024-03-04 05:06:07.891234+09' AS ts_tokyo,
       tsl = '2024-03-04 05:06:07.891234' AS tsl_exact,
       dt = '2024-04-03' AS dt_dmy, iv = '-1 day -02:03:04' AS iv_sql_standard
FROM sess;
SELECT * FROM undoredo_undo('types', 3);
SELECT sess_same(10);
SELECT * FROM undoredo_redo('types', 3, 2);
SELECT sess_same(12);
SELECT f8 = (0.1::float8 + 0.2::float8) * 3 AS f8_exact, dt = '2024-06-05' AS dt_dmy,
       iv = '1 year 2 mons 3 days 04:05:06.7' AS iv_sql_standard
FROM sess;

-- A type without binary send/receive (aclitem) round-trips by its text form.
CREATE TABLE acl (id integer PRIMARY KEY, a aclitem);
SELECT undoredo_track('acl');
SET undoredo.scope = 'types:5';
INSERT INTO acl VALUES (1, 'postgres=arw/postgres');
UPDATE acl SET a = '=r/postgres';
RESET undoredo.scope;
SELECT * FROM acl;
SELECT * FROM undoredo_undo('types', 5);
SELECT * FROM acl;
SELECT * FROM undoredo_undo('types', 5);
SELECT count(*) FROM acl;
SELECT * FROM undoredo_redo('types', 5, 2);
SELECT * FROM acl;

-- An array of such a type (its send function fails at run time).
CREATE TABLE acla (id integer PRIMARY KEY, aa aclitem[]);
SELECT undoredo_track('acla');
SET undoredo.scope = 'types:6';
INSERT INTO acla VALUES (1, '{=r/postgres,postgres=X*/postgres}');
RESET undoredo.scope;
SELECT * FROM undoredo_undo('types', 6);
SELECT count(*) FROM acla;
SELECT * FROM undoredo_redo('types', 6);
SELECT * FROM acla;

-- Values are compared by their exact stored form: a composite whose fields
-- are all NULL is a value, not NULL, so changing NULL to (,,) outside the
-- history is a conflict.
CREATE TABLE cn (id integer PRIMARY KEY, c pair);
SELECT undoredo_track('cn');
INSERT INTO cn VALUES (1, ROW(1, 'x', 0));
SET undoredo.scope = 'types:4';
UPDATE cn SET c = NULL;
RESET undoredo.scope;
UPDATE cn SET c = ROW(NULL, NULL, NULL);
-- NULL and a row of nulls (,,) are different values: a conflict
\set VERBOSITY sqlstate
SELECT * FROM undoredo_undo('types', 4);
\set VERBOSITY default
SELECT c::text FROM cn;

RESET search_path;
DROP SCHEMA types CASCADE;
