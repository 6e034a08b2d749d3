-- Security: hostile search_path, an application role against the history
-- and the internal functions, row-level security between tenants, hostile
-- values in scopes and labels, and identifiers that need quoting.
--   1. Functions and operators planted in a schema ahead of pg_catalog
--      (search_path = 'evil, pg_catalog, public') never run during track,
--      capture, history, undo, redo, conflict checks, overwrite, pruning,
--      clear or untrack: each planted object logs its call to evil.calls
--      and raises a WARNING, and the log stays empty (a control statement
--      shows the planted objects are live).
--   2. An application role can neither read nor change any table or
--      sequence of the extension, nor call any function of the extension
--      outside the SPEC's API (all found through pg_depend).
--   3. Under row-level security, undo or redo of a step that touches
--      another tenant's rows is refused (also with on_conflict = overwrite)
--      and nothing changes.
--   4. object_type, object_id and label values holding quotes, backslashes,
--      LIKE wildcards, non-ASCII text and SQL fragments are data.
--   5. Schema, table and column names that need quotes.
-- Runs in a database of its own, so that step ids in messages are stable.
SELECT current_database() AS regress_db \gset
CREATE DATABASE undoredo_security;
\c undoredo_security
\set SHOW_CONTEXT never
CREATE EXTENSION undoredo;
CREATE ROLE undoredo_test_sec_app NOLOGIN;
CREATE ROLE undoredo_test_sec_tenant_a NOLOGIN;
CREATE ROLE undoredo_test_sec_tenant_b NOLOGIN;

-- Runs a statement and shows its outcome: 'ok', or SQLSTATE and message.
-- It names every operator and function with its schema, since it also
-- runs on the planted search_path of part 1.
CREATE FUNCTION public.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st OPERATOR(pg_catalog.||) ': ' OPERATOR(pg_catalog.||) msg;
END
$$;

-------------------------------------------------------------------------
-- 1. Planted functions and operators.
-------------------------------------------------------------------------
CREATE SCHEMA evil;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
CREATE TABLE evil.calls (fn text NOT NULL);
GRANT INSERT ON evil.calls TO PUBLIC;

-- A planted twin of every pg_catalog function of these names, same
-- arguments and result: it logs the call, warns, then does the real work
-- (so a call changes no result and is only seen through the log).
DO $$
DECLARE
    f record;
    args text;
BEGIN
    FOR f IN
        SELECT p.proname, p.oid, p.prorettype::regtype AS rettype,
               p.proargtypes::regtype[] AS argtypes
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace
          AND p.prokind = 'f' AND NOT p.proretset
          AND p.proname IN ('textsend', 'int4send', 'int8send', 'byteasend',
                'numeric_send', 'boolsend', 'timestamptz_send', 'jsonb_send',
                'float8send', 'textin', 'textout', 'int4eq', 'int8eq', 'texteq',
                'byteaeq', 'numeric_eq', 'nextval', 'currval', 'setval', 'now',
                'clock_timestamp', 'statement_timestamp',
                'transaction_timestamp', 'current_setting', 'set_config',
                'quote_ident', 'quote_literal', 'txid_current', 'lower',
                'length', 'octet_length', 'pg_advisory_xact_lock')
          -- PL/pgSQL takes and returns no pseudo-type (cstring, internal)
          AND (p.prorettype = 'void'::regtype
               OR (SELECT t.typtype FROM pg_catalog.pg_type t
                   WHERE t.oid = p.prorettype) <> 'p')
          AND NOT EXISTS (SELECT FROM unnest(p.proargtypes) a
                          JOIN pg_catalog.pg_type t ON t.oid = a
                          WHERE t.typtype = 'p')
    LOOP
        SELECT string_agg(format('$%s', i), ', ') INTO args
        FROM generate_subscripts(f.argtypes, 1) i;
        EXECUTE format($f$
            CREATE FUNCTION evil.%1$I(%2$s) RETURNS %3$s LANGUAGE plpgsql AS
            $b$BEGIN
                INSERT INTO evil.calls VALUES (%4$L);
                RAISE WARNING 'planted %% called', %4$L;
                %6$s pg_catalog.%1$I(%5$s);
            END$b$ $f$,
            f.proname, array_to_string(f.argtypes, ', '), f.rettype,
            f.oid::regprocedure::text, coalesce(args, ''),
            CASE WHEN f.rettype = 'void'::regtype THEN 'PERFORM' ELSE 'RETURN' END);
    END LOOP;
END
$$;
-- an = and a <> on the types of the tracked columns, and a count(*)
DO $$
DECLARE
    t regtype;
BEGIN
    FOREACH t IN ARRAY ARRAY['text', 'int4', 'int8', 'bytea', 'numeric',
                             'bool', 'jsonb']::regtype[]
    LOOP
        EXECUTE format($f$
            CREATE FUNCTION evil.planted_eq(%1$s, %1$s) RETURNS bool
            LANGUAGE plpgsql AS $b$BEGIN
                INSERT INTO evil.calls VALUES ('= on ' || %2$L);
                RAISE WARNING 'planted = on %% called', %2$L;
                RETURN $1 OPERATOR(pg_catalog.=) $2;
            END$b$ $f$, t, t);
        EXECUTE format($f$
            CREATE FUNCTION evil.planted_ne(%1$s, %1$s) RETURNS bool
            LANGUAGE plpgsql AS $b$BEGIN
                INSERT INTO evil.calls VALUES ('<> on ' || %2$L);
                RAISE WARNING 'planted <> on %% called', %2$L;
                RETURN $1 OPERATOR(pg_catalog.<>) $2;
            END$b$ $f$, t, t);
        EXECUTE format('CREATE OPERATOR evil.= (LEFTARG = %1$s, RIGHTARG = %1$s,'
                       ' FUNCTION = evil.planted_eq)', t);
        EXECUTE format('CREATE OPERATOR evil.<> (LEFTARG = %1$s, RIGHTARG = %1$s,'
                       ' FUNCTION = evil.planted_ne)', t);
    END LOOP;
END
$$;
CREATE FUNCTION evil.planted_count(bigint) RETURNS bigint LANGUAGE plpgsql AS
$$BEGIN
    INSERT INTO evil.calls VALUES ('count(*)');
    RAISE WARNING 'planted count(*) called';
    RETURN $1 OPERATOR(pg_catalog.+) 1;
END$$;
CREATE AGGREGATE evil.count(*) (SFUNC = evil.planted_count, STYPE = bigint,
                                INITCOND = '0');
-- tables named like the history tables
CREATE TABLE evil.undo_action (step bigint);
CREATE TABLE evil.redo_action (step bigint);
SELECT DISTINCT proname AS planted
FROM pg_proc WHERE pronamespace = 'evil'::regnamespace ORDER BY 1;

CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO undoredo_test_sec_app;
CREATE TABLE app.item (
    k text, n int8, i int4 NOT NULL, b bytea, d numeric, f bool, j jsonb,
    PRIMARY KEY (k, n)
);
CREATE TABLE app.tag (id int4 PRIMARY KEY, k text NOT NULL, n int8 NOT NULL,
                      FOREIGN KEY (k, n) REFERENCES app.item ON DELETE CASCADE);
INSERT INTO app.item VALUES ('x', 1, 1, '\x01', 1.50, true, '{"a": 1}');
INSERT INTO app.tag VALUES (1, 'x', 1);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.item, app.tag
    TO undoredo_test_sec_app;

SET search_path = evil, pg_catalog, public;
SHOW search_path;
-- control: on this search_path the planted objects are live
SELECT 'a'::text = 'a'::text AS planted_eq, now() IS NOT NULL AS planted_now;
SELECT fn, pg_catalog.count(*) FROM evil.calls GROUP BY fn ORDER BY fn;
TRUNCATE evil.calls;

-- track, capture (insert, update of every column type, key change,
-- cascaded delete), history and status, as the application role (the
-- scope's owner: it records the first step)
SELECT public.undoredo_track('app.item'), public.undoredo_track('app.tag');
SET undoredo.scope = 'evil:1';
SET undoredo.label = 'step 1';
SET ROLE undoredo_test_sec_app;
INSERT INTO app.item VALUES ('y', 2, 2, '\x02', 2.5, false, '[]');
SET undoredo.label = 'step 2';
UPDATE app.item SET i = 10, b = '\x0a', d = 10.50, f = false, j = '{"b": 2}'
    WHERE k OPERATOR(pg_catalog.=) 'x';
SET undoredo.label = 'step 3';
UPDATE app.item SET k = 'z', n = 3 WHERE k OPERATOR(pg_catalog.=) 'y';
SET undoredo.label = 'step 4';
DELETE FROM app.item WHERE k OPERATOR(pg_catalog.=) 'x';
RESET undoredo.scope;
RESET undoredo.label;
SELECT * FROM public.undoredo_status('evil', 1);
SELECT state, label, changes FROM public.undoredo_history('evil', 1);
-- undo and redo, several steps at once
SELECT * FROM public.undoredo_undo('evil', 1, 4);
SELECT * FROM app.item ORDER BY k;
SELECT * FROM app.tag;
SELECT * FROM public.undoredo_redo('evil', 1, 4);
SELECT * FROM app.item ORDER BY k;
SELECT * FROM public.undoredo_undo('evil', '1', 2);
SELECT * FROM app.item ORDER BY k;
SELECT * FROM app.tag;
-- conflict checks of undo and redo: a column, a re-inserted key, a row gone
UPDATE app.item SET d = 10.5 WHERE k OPERATOR(pg_catalog.=) 'x';
SELECT public.try($$SELECT public.undoredo_undo('evil', 1)$$);
UPDATE app.item SET d = 10.50 WHERE k OPERATOR(pg_catalog.=) 'x';
INSERT INTO app.item VALUES ('z', 3, 0);
SELECT public.try($$SELECT public.undoredo_redo('evil', 1)$$);
DELETE FROM app.item WHERE k OPERATOR(pg_catalog.=) 'z';
DELETE FROM app.item WHERE k OPERATOR(pg_catalog.=) 'y';
SELECT public.try($$SELECT public.undoredo_redo('evil', 1)$$);
SELECT * FROM app.item ORDER BY k;
-- overwrite: forced update and re-insert over an existing key
SET undoredo.on_conflict = 'overwrite';
INSERT INTO app.item VALUES ('y', 2, 99);
SELECT * FROM public.undoredo_undo('evil', 1, 2);
SELECT * FROM app.item ORDER BY k;
RESET undoredo.on_conflict;
RESET ROLE;
-- pruning by max_steps, then clear and untrack
SET undoredo.max_steps = 1;
SET undoredo.scope = 'evil:2';
UPDATE app.item SET i = 20 WHERE k OPERATOR(pg_catalog.=) 'x';
UPDATE app.item SET i = 21 WHERE k OPERATOR(pg_catalog.=) 'x';
RESET undoredo.scope;
RESET undoredo.max_steps;
SELECT * FROM public.undoredo_status('evil', 2);
SELECT public.undoredo_clear('evil', 1), public.undoredo_clear('evil', '2');
SELECT * FROM public.undoredo_status('evil', 1);
SELECT public.undoredo_untrack('app.tag'), public.undoredo_untrack('app.item');
-- none of the planted objects ran
RESET search_path;
SELECT count(*) AS calls FROM evil.calls;

-------------------------------------------------------------------------
-- 2. The application role against the extension's own objects.
-------------------------------------------------------------------------
-- The relations and functions of the extension, from pg_depend.
CREATE VIEW public.ext_object AS
SELECT d.classid::regclass AS catalog, d.objid
FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND e.extname = 'undoredo';
GRANT SELECT ON public.ext_object TO undoredo_test_sec_app;
-- some history to protect
SELECT undoredo_track('app.item');
SET undoredo.scope = 'sec:1';
UPDATE app.item SET i = 30 WHERE k = 'x';
RESET undoredo.scope;
SELECT state, changes FROM undoredo_history('sec', 1);

-- every table: SELECT, INSERT, UPDATE, DELETE, TRUNCATE; every sequence:
-- SELECT, nextval, setval.  Shown per kind: whether the history tables and
-- sequences were found, whether every access was refused with 42501, and
-- the accesses that were not (holes).
SET ROLE undoredo_test_sec_app;
SELECT c.relkind, count(DISTINCT c.oid) >= 2 AS found,
       bool_and(r.outcome LIKE '42501: permission denied for %') AS all_refused,
       string_agg(r.sql, '; ') FILTER (WHERE r.outcome = 'ok') AS holes
FROM public.ext_object o
JOIN pg_class c ON o.catalog = 'pg_class'::regclass AND c.oid = o.objid
CROSS JOIN LATERAL (
    SELECT sql, public.try(sql) AS outcome
    FROM unnest(CASE c.relkind
        WHEN 'r' THEN ARRAY[
            format('SELECT * FROM %s', c.oid::regclass),
            format('INSERT INTO %s DEFAULT VALUES', c.oid::regclass),
            format('UPDATE %s SET %I = %2$I', c.oid::regclass,
                   (SELECT attname FROM pg_attribute
                    WHERE attrelid = c.oid AND attnum = 1)),
            format('DELETE FROM %s', c.oid::regclass),
            format('TRUNCATE %s', c.oid::regclass)]
        WHEN 'S' THEN ARRAY[
            format('SELECT * FROM %s', c.oid::regclass),
            format('SELECT nextval(%L)', c.oid::regclass),
            format('SELECT setval(%L, 1000)', c.oid::regclass)]
        END) sql) r
WHERE c.relkind IN ('r', 'S')
GROUP BY 1 ORDER BY 1;
-- the SPEC's history tables by name too
SELECT public.try('SELECT * FROM public.undo_action');
SELECT public.try('SELECT * FROM public.redo_action');
SELECT public.try('DELETE FROM public.undo_action');
SELECT public.try('UPDATE public.redo_action SET label = NULL');

-- every function of the extension, called with NULL arguments.  Those of
-- the SPEC's API check their arguments; every other one must be refused:
-- the trigger functions (executable by PUBLIC, as trigger functions need
-- not be) refuse a direct call, anything else must not be executable by
-- the role.  Shown: SQLSTATE only, the messages name internals.  A STRICT
-- function called with NULL constants is folded to NULL by the planner,
-- neither called nor checked for privileges: its outcome is ok, and
-- executable is what shows it refused (undoredo_citus_register).
SELECT f.in_spec, f.rettype, f.executable,
       CASE WHEN f.in_spec THEN f.outcome ELSE split_part(f.outcome, ':', 1) END
           AS outcome,
       count(*)
FROM (SELECT p.proname ~ '^undoredo_(track|untrack|undo|redo|status|history|clear|changes|revert|verify)$'
                 AS in_spec,
             CASE WHEN p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype)
                  THEN p.prorettype::regtype::text ELSE 'other' END AS rettype,
             has_function_privilege(p.oid, 'EXECUTE') AS executable,
             public.try(format('SELECT %s.%I(%s)', p.pronamespace::regnamespace,
                               p.proname,
                               (SELECT string_agg(format('NULL::%s', t::regtype), ', ')
                                FROM unnest(p.proargtypes) t))) AS outcome
      FROM public.ext_object o JOIN pg_proc p
        ON o.catalog = 'pg_proc'::regclass AND p.oid = o.objid) f
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;
-- and with values: only the extension's owner may register an object type
-- for Citus mode (it creates distributed history tables)
SELECT public.try('SELECT public.undoredo_citus_register(''document'', ''pg_catalog.pg_class'')');
RESET ROLE;
-- the history is unchanged
SELECT state, changes FROM undoredo_history('sec', 1);
SELECT * FROM undoredo_undo('sec', 1);
SELECT i FROM app.item WHERE k = 'x';

-------------------------------------------------------------------------
-- 3. Tenants under row-level security.
-------------------------------------------------------------------------
CREATE TABLE app.note (id int PRIMARY KEY, tenant text NOT NULL, body text);
SELECT undoredo_track('app.note');
ALTER TABLE app.note ENABLE ROW LEVEL SECURITY;
GRANT USAGE ON SCHEMA app TO undoredo_test_sec_tenant_a,
    undoredo_test_sec_tenant_b;
GRANT SELECT, INSERT, UPDATE, DELETE ON app.note
    TO undoredo_test_sec_tenant_a, undoredo_test_sec_tenant_b;
CREATE POLICY own_a ON app.note TO undoredo_test_sec_tenant_a
    USING (tenant = 'a') WITH CHECK (tenant = 'a');
CREATE POLICY own_b ON app.note TO undoredo_test_sec_tenant_b
    USING (tenant = 'b') WITH CHECK (tenant = 'b');
INSERT INTO app.note VALUES (1, 'a', 'a1'), (2, 'b', 'b2'), (3, 'b', 'b3');
-- tenant b records a step on its own rows: update, insert, delete
SET ROLE undoredo_test_sec_tenant_b;
BEGIN;
SET LOCAL undoredo.scope = 'note:b';
UPDATE app.note SET body = 'B2' WHERE id = 2;
INSERT INTO app.note VALUES (4, 'b', 'b4');
DELETE FROM app.note WHERE id = 3;
COMMIT;
RESET ROLE;
SELECT * FROM app.note ORDER BY id;
-- tenant a cannot undo it, not even forcing with overwrite (the rows it
-- cannot see are not "missing")
SET ROLE undoredo_test_sec_tenant_a;
SELECT public.try($$SELECT undoredo_undo('note', 'b')$$);
SET undoredo.on_conflict = 'overwrite';
SELECT public.try($$SELECT undoredo_undo('note', 'b')$$);
RESET undoredo.on_conflict;
RESET ROLE;
SELECT * FROM app.note ORDER BY id;
SELECT * FROM undoredo_status('note', 'b');
-- tenant b can; then tenant a cannot redo it
SET ROLE undoredo_test_sec_tenant_b;
SELECT * FROM undoredo_undo('note', 'b');
RESET ROLE;
SELECT * FROM app.note ORDER BY id;
SET ROLE undoredo_test_sec_tenant_a;
SELECT public.try($$SELECT undoredo_redo('note', 'b')$$);
SET undoredo.on_conflict = 'overwrite';
SELECT public.try($$SELECT undoredo_redo('note', 'b')$$);
RESET undoredo.on_conflict;
RESET ROLE;
SELECT * FROM app.note ORDER BY id;
SELECT * FROM undoredo_status('note', 'b');
-- a step of a shared process touching both tenants: tenant a is refused
-- even though it may change its own row of the step
SET undoredo.scope = 'note:shared';
UPDATE app.note SET body = body || '!' WHERE id IN (1, 2);
RESET undoredo.scope;
SET ROLE undoredo_test_sec_tenant_a;
SELECT public.try($$SELECT undoredo_undo('note', 'shared')$$);
RESET ROLE;
SELECT * FROM app.note ORDER BY id;
SELECT * FROM undoredo_status('note', 'shared');

-------------------------------------------------------------------------
-- 4. Hostile values in object_type, object_id and label are data.
-------------------------------------------------------------------------
CREATE TABLE app.kv (id int PRIMARY KEY, v int NOT NULL);
SELECT undoredo_track('app.kv');
CREATE TABLE app.scope_value (n int PRIMARY KEY, object_type text,
                              object_id text, label text);
INSERT INTO app.scope_value VALUES
    (1, 'doc', '1', 'plain'),
    (2, 'doc''; DROP TABLE app.kv; --', '1', 'quote in the type'),
    (3, 'doc', '1'' OR ''1''=''1', 'Robert''); DROP TABLE app.kv;--'),
    (4, 'doc', '%', 'LIKE % _ \% wildcards'),
    (5, 'doc', '_', E'back\\slash \\x41 \\\\ E''\\n'''),
    (6, 'Doc', '1', 'case differs'),
    (7, 'doc ', '1', 'trailing space in the type'),
    (8, 'doc', ' 1', 'leading space in the id'),
    (9, 'dóc', 'ü', 'ünïcödé 文档 🙂'),
    (10, 'do' || U&'\0301' || 'c', 'u' || U&'\0308', 'decomposed forms'),
    (11, 'doc', '1:2:3', $$ $1 %s %n ${x} :'v' \gset $$),
    (12, 'doc', 'x''); SELECT pg_sleep(10); --', E'tab\there\nnew line'),
    (13, E'\\', E'\\\\', NULL);
-- scope n makes n changes to row n, under that label
DO $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT * FROM app.scope_value ORDER BY n LOOP
        PERFORM set_config('undoredo.scope', s.object_type || ':' || s.object_id, true);
        PERFORM set_config('undoredo.label', s.label, true);
        INSERT INTO app.kv VALUES (s.n, 0);
        UPDATE app.kv SET v = v + 1 WHERE id = s.n AND s.n > 1;
    END LOOP;
END
$$;
-- one step per scope, as recorded; labels come back byte for byte
SELECT s.n, h.state, h.label = s.label OR (h.label IS NULL AND s.label IS NULL)
           AS label_exact, h.changes
FROM app.scope_value s, undoredo_history(s.object_type, s.object_id) h
ORDER BY s.n, h.step;
-- undo of each scope deletes exactly its own row
SELECT s.n, u.* FROM app.scope_value s, undoredo_undo(s.object_type, s.object_id) u
WHERE s.n % 2 = 1 ORDER BY s.n;
SELECT id FROM app.kv ORDER BY id;
SELECT s.n, st.* FROM app.scope_value s, undoredo_status(s.object_type, s.object_id) st
ORDER BY s.n;
-- the bigint form matches the text '1' only
SELECT * FROM undoredo_status('doc', 1);
SELECT undoredo_clear(object_type, object_id) FROM app.scope_value;
SELECT count(*) FROM app.kv;

-------------------------------------------------------------------------
-- 5. Identifiers that need quotes.
-------------------------------------------------------------------------
CREATE SCHEMA "My ""Odd"" Schema";
CREATE TABLE "My ""Odd"" Schema"."Tab ""le""; DROP" (
    "Key Col" int, "kEy" text, "sel""ect" text, "Ünï code" numeric,
    PRIMARY KEY ("Key Col", "kEy")
);
SELECT undoredo_track('"My ""Odd"" Schema"."Tab ""le""; DROP"');
SET undoredo.scope = 'quoted:1';
INSERT INTO "My ""Odd"" Schema"."Tab ""le""; DROP" VALUES (1, 'A', 's', 1.0);
UPDATE "My ""Odd"" Schema"."Tab ""le""; DROP" SET "sel""ect" = 't', "Ünï code" = 2.0;
UPDATE "My ""Odd"" Schema"."Tab ""le""; DROP" SET "kEy" = 'B';
RESET undoredo.scope;
SELECT * FROM undoredo_undo('quoted', 1, 2);
SELECT * FROM "My ""Odd"" Schema"."Tab ""le""; DROP";
SELECT * FROM undoredo_redo('quoted', 1, 2);
SELECT * FROM "My ""Odd"" Schema"."Tab ""le""; DROP";
-- a conflict names the table and the key columns
UPDATE "My ""Odd"" Schema"."Tab ""le""; DROP" SET "kEy" = 'C';
\set VERBOSITY default
SELECT * FROM undoredo_undo('quoted', 1);
UPDATE "My ""Odd"" Schema"."Tab ""le""; DROP" SET "kEy" = 'B', "Ünï code" = 3;
SELECT * FROM undoredo_undo('quoted', 1, 2);
\set VERBOSITY terse
SELECT * FROM "My ""Odd"" Schema"."Tab ""le""; DROP";
SELECT undoredo_untrack('"My ""Odd"" Schema"."Tab ""le""; DROP"');

\c :regress_db
DROP DATABASE undoredo_security;
DROP ROLE undoredo_test_sec_app, undoredo_test_sec_tenant_a,
    undoredo_test_sec_tenant_b;
