-- Privileges: roles without any grant on the history tables capture,
-- undo and redo; direct access to the history is denied to them; undo and
-- redo obey the caller's grants and policies; a hostile search_path is
-- ignored.
CREATE SCHEMA privileges;
SET search_path = privileges, public;
\set SHOW_CONTEXT never

-- Runs a statement and shows its outcome: 'ok', or SQLSTATE, message and
-- detail (step ids depend on what ran before, so they are masked).  It
-- names its operators with their schema: it also runs on the planted
-- search_path of part 5.
CREATE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL;
    RETURN st || ': ' || regexp_replace(msg, 'step \d+', 'step N', 'g')
        || CASE WHEN det IS NULL OR det OPERATOR(pg_catalog.=) '' THEN ''
                ELSE ' | ' || det END;
END
$$;
GRANT USAGE ON SCHEMA privileges TO PUBLIC;

CREATE ROLE undoredo_test_priv_writer NOLOGIN;
CREATE ROLE undoredo_test_priv_reader NOLOGIN;
CREATE ROLE undoredo_test_priv_updater NOLOGIN;
CREATE ROLE undoredo_test_priv_tenant_a NOLOGIN;
CREATE ROLE undoredo_test_priv_tenant_b NOLOGIN;
CREATE ROLE undoredo_test_priv_viewer NOLOGIN;

CREATE TABLE doc (id int PRIMARY KEY, title text NOT NULL);
SELECT undoredo_track('doc');
INSERT INTO doc VALUES (1, 'one'), (2, 'two');
GRANT SELECT, INSERT, UPDATE, DELETE ON doc TO undoredo_test_priv_writer;

-------------------------------------------------------------------------
-- 1. A role with only table privileges captures, undoes and redoes.
-------------------------------------------------------------------------
SET ROLE undoredo_test_priv_writer;
SELECT has_table_privilege('public.undo_action', 'SELECT') AS undo_sel,
       has_table_privilege('public.undo_action', 'INSERT') AS undo_ins,
       has_table_privilege('public.redo_action', 'SELECT') AS redo_sel,
       has_table_privilege('public.redo_action', 'INSERT') AS redo_ins;
SET undoredo.scope = 'priv:1';
SET undoredo.label = 'writer edit';
BEGIN;
INSERT INTO doc VALUES (3, 'three');
UPDATE doc SET title = 'ONE' WHERE id = 1;
DELETE FROM doc WHERE id = 2;
COMMIT;
SET undoredo.label = 'writer second';
UPDATE doc SET title = 'Three' WHERE id = 3;
RESET undoredo.label;
RESET undoredo.scope;
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_status('priv', 1);
SELECT state, label, changes FROM undoredo_history('priv', 1);
SELECT * FROM undoredo_undo('priv', 1);
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_undo('priv', 1);
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_redo('priv', 1, 2);
SELECT * FROM doc ORDER BY id;
SELECT state, label, changes FROM undoredo_history('priv', 1);

-- the history tables and their sequences: every direct access is denied
SELECT try('SELECT count(*) FROM public.undo_action');
SELECT try('SELECT count(*) FROM public.redo_action');
SELECT try('SELECT count(*) FROM public.undoredo_change');
SELECT try('SELECT count(*) FROM public.undoredo_scope');
SELECT try('INSERT INTO public.undo_action (step, scope_id, created_at) VALUES (-1, -1, now())');
SELECT try('INSERT INTO public.redo_action (step, scope_id, created_at) VALUES (-1, -1, now())');
SELECT try('INSERT INTO public.undoredo_change (step, seq, nchanges, changes) VALUES (-1, 1, 1, ''\\x00'')');
SELECT try('INSERT INTO public.undoredo_scope (object_type, object_id) VALUES (''priv'', ''x'')');
SELECT try('UPDATE public.undo_action SET label = ''forged''');
SELECT try('UPDATE public.redo_action SET label = ''forged''');
SELECT try('UPDATE public.undoredo_change SET nchanges = 0');
SELECT try('UPDATE public.undoredo_scope SET object_id = ''2''');
SELECT try('DELETE FROM public.undo_action');
SELECT try('DELETE FROM public.redo_action');
SELECT try('DELETE FROM public.undoredo_change');
SELECT try('DELETE FROM public.undoredo_scope');
SELECT try('TRUNCATE public.undo_action');
SELECT try('TRUNCATE public.undoredo_change');
SELECT try('SELECT nextval(''public.undoredo_step_seq'')');
SELECT try('SELECT nextval(''public.undoredo_scope_seq'')');
-- nor can it stop the capture of a table it does not own
SELECT try('SELECT undoredo_untrack(''doc'')');
RESET ROLE;
-- nothing above changed the history, and doc is still captured
SELECT state, label, changes FROM undoredo_history('priv', 1);
SET ROLE undoredo_test_priv_writer;
SET undoredo.scope = 'priv:1';
UPDATE doc SET title = 'one' WHERE id = 1;
RESET undoredo.scope;
SELECT * FROM undoredo_status('priv', 1);
SELECT * FROM undoredo_undo('priv', 1);
SELECT * FROM doc ORDER BY id;
RESET ROLE;

-- the owner of a tracked table is no better off
CREATE ROLE undoredo_test_priv_owner NOLOGIN;
GRANT CREATE ON SCHEMA privileges TO undoredo_test_priv_owner;
SET ROLE undoredo_test_priv_owner;
CREATE TABLE owned (id int PRIMARY KEY, v text);
SELECT undoredo_track('owned');
SET undoredo.scope = 'priv:owned';
INSERT INTO owned VALUES (1, 'a');
RESET undoredo.scope;
SELECT * FROM undoredo_status('priv', 'owned');
SELECT try('SELECT count(*) FROM public.undoredo_change');
SELECT try('DELETE FROM public.undo_action');
SELECT * FROM undoredo_undo('priv', 'owned');
SELECT count(*) FROM owned;
RESET ROLE;

-------------------------------------------------------------------------
-- 2. Undo and redo run with the caller's table privileges.
-------------------------------------------------------------------------
GRANT SELECT ON doc TO undoredo_test_priv_reader;
GRANT SELECT, UPDATE ON doc TO undoredo_test_priv_updater;
-- steps recorded by the superuser
SET undoredo.scope = 'priv:2';
UPDATE doc SET title = 'one!' WHERE id = 1;
RESET undoredo.scope;
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_status('priv', 2);
-- SELECT only: undo of an update is denied, nothing changes
SET ROLE undoredo_test_priv_reader;
SELECT try($$SELECT undoredo_undo('priv', 2)$$);
RESET ROLE;
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_status('priv', 2);
-- redo as well: the superuser undoes, the reader cannot redo
SELECT * FROM undoredo_undo('priv', 2);
SET ROLE undoredo_test_priv_reader;
SELECT try($$SELECT undoredo_redo('priv', 2)$$);
RESET ROLE;
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_status('priv', 2);
SELECT * FROM undoredo_redo('priv', 2);

-- SELECT and UPDATE but no DELETE: a step that updated a row and inserted
-- one cannot be undone, not even partly (the update is undone first)
SET undoredo.scope = 'priv:3';
BEGIN;
INSERT INTO doc VALUES (10, 'ten');
UPDATE doc SET title = 'Three!' WHERE id = 3;
COMMIT;
RESET undoredo.scope;
SELECT * FROM doc ORDER BY id;
SET ROLE undoredo_test_priv_updater;
SELECT try($$SELECT undoredo_undo('priv', 3)$$);
RESET ROLE;
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_status('priv', 3);
-- SELECT only: undo of a delete (an INSERT) is denied too
SET undoredo.scope = 'priv:4';
DELETE FROM doc WHERE id = 10;
RESET undoredo.scope;
SET ROLE undoredo_test_priv_reader;
SELECT try($$SELECT undoredo_undo('priv', 4)$$);
RESET ROLE;
SELECT * FROM doc ORDER BY id;
SELECT * FROM undoredo_status('priv', 4);
-- the writer may: the same calls succeed for it
SET ROLE undoredo_test_priv_writer;
SELECT * FROM undoredo_undo('priv', 4);
SELECT * FROM undoredo_undo('priv', 3);
SELECT * FROM doc ORDER BY id;
RESET ROLE;

-------------------------------------------------------------------------
-- 3. Row-level security applies to undo and redo.
-------------------------------------------------------------------------
CREATE TABLE tdoc (id int PRIMARY KEY, tenant text NOT NULL, body text);
SELECT undoredo_track('tdoc');
ALTER TABLE tdoc ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON tdoc TO undoredo_test_priv_tenant_a,
    undoredo_test_priv_tenant_b, undoredo_test_priv_viewer;
CREATE POLICY tenant_a ON tdoc TO undoredo_test_priv_tenant_a
    USING (tenant = 'a') WITH CHECK (tenant = 'a');
CREATE POLICY tenant_b ON tdoc TO undoredo_test_priv_tenant_b
    USING (tenant = 'b') WITH CHECK (tenant = 'b');
-- the viewer sees every row but may change only tenant a's
CREATE POLICY viewer_sel ON tdoc FOR SELECT TO undoredo_test_priv_viewer
    USING (true);
CREATE POLICY viewer_upd ON tdoc FOR UPDATE TO undoredo_test_priv_viewer
    USING (tenant = 'a') WITH CHECK (tenant = 'a');
CREATE POLICY viewer_del ON tdoc FOR DELETE TO undoredo_test_priv_viewer
    USING (tenant = 'a');
CREATE POLICY viewer_ins ON tdoc FOR INSERT TO undoredo_test_priv_viewer
    WITH CHECK (tenant = 'a');
INSERT INTO tdoc VALUES (1, 'a', 'a1'), (2, 'b', 'b2');

-- a step of the superuser updates both tenants' rows
SET undoredo.scope = 'priv:rls';
UPDATE tdoc SET body = body || '!';
RESET undoredo.scope;
SELECT * FROM tdoc ORDER BY id;
SET ROLE undoredo_test_priv_tenant_a;
SELECT * FROM tdoc ORDER BY id;
SELECT try($$SELECT undoredo_undo('priv', 'rls')$$);
SELECT * FROM tdoc ORDER BY id;
RESET ROLE;
SELECT * FROM tdoc ORDER BY id;
SELECT * FROM undoredo_status('priv', 'rls');
-- tenant b cannot either (tenant a's row is hidden from it)
SET ROLE undoredo_test_priv_tenant_b;
SELECT try($$SELECT undoredo_undo('priv', 'rls')$$);
RESET ROLE;
SELECT * FROM tdoc ORDER BY id;
-- the viewer sees both rows but may not update tenant b's
SET ROLE undoredo_test_priv_viewer;
SELECT try($$SELECT undoredo_undo('priv', 'rls')$$);
RESET ROLE;
SELECT * FROM tdoc ORDER BY id;
SELECT * FROM undoredo_status('priv', 'rls');
-- the superuser can
SELECT * FROM undoredo_undo('priv', 'rls');
SELECT * FROM tdoc ORDER BY id;
-- redo by tenant a is refused as well
SET ROLE undoredo_test_priv_tenant_a;
SELECT try($$SELECT undoredo_redo('priv', 'rls')$$);
RESET ROLE;
SELECT * FROM tdoc ORDER BY id;
SELECT * FROM undoredo_status('priv', 'rls');
SELECT undoredo_clear('priv', 'rls');

-- a step that inserted a row of each tenant: undo (a DELETE) by tenant a
-- or by the viewer is refused
SET undoredo.scope = 'priv:rls2';
INSERT INTO tdoc VALUES (3, 'a', 'a3'), (4, 'b', 'b4');
RESET undoredo.scope;
SET ROLE undoredo_test_priv_tenant_a;
SELECT try($$SELECT undoredo_undo('priv', 'rls2')$$);
RESET ROLE;
SET ROLE undoredo_test_priv_viewer;
SELECT try($$SELECT undoredo_undo('priv', 'rls2')$$);
RESET ROLE;
SELECT * FROM tdoc ORDER BY id;
SELECT * FROM undoredo_status('priv', 'rls2');
-- a step that deleted a row of each tenant: undo (an INSERT) by tenant a
-- is refused by the policy's WITH CHECK
SET undoredo.scope = 'priv:rls3';
DELETE FROM tdoc WHERE id IN (3, 4);
RESET undoredo.scope;
SET ROLE undoredo_test_priv_tenant_a;
SELECT try($$SELECT undoredo_undo('priv', 'rls3')$$);
RESET ROLE;
SELECT * FROM tdoc ORDER BY id;
SELECT * FROM undoredo_status('priv', 'rls3');
-- a step touching only tenant a's row: tenant a and the viewer may undo it
SET undoredo.scope = 'priv:rls4';
UPDATE tdoc SET body = 'A1' WHERE id = 1;
UPDATE tdoc SET body = 'AA1' WHERE id = 1;
RESET undoredo.scope;
SET ROLE undoredo_test_priv_tenant_a;
SELECT * FROM undoredo_undo('priv', 'rls4');
SELECT * FROM tdoc ORDER BY id;
RESET ROLE;
SET ROLE undoredo_test_priv_viewer;
SELECT * FROM undoredo_undo('priv', 'rls4');
SELECT * FROM undoredo_redo('priv', 'rls4', 2);
RESET ROLE;
SELECT * FROM tdoc ORDER BY id;

-------------------------------------------------------------------------
-- 4. Forging: a role that may not write "doc" attaches the capture
--    trigger to a table of its own, naming "doc" as the tracked table.
-------------------------------------------------------------------------
-- (An earlier build took the tracked table from the trigger's argument:
-- the forged changes were recorded as changes of "doc", and this undo
-- inserted the forged row into "doc".)
CREATE ROLE undoredo_test_priv_forger NOLOGIN;
GRANT CREATE ON SCHEMA privileges TO undoredo_test_priv_forger;
SET ROLE undoredo_test_priv_forger;
SELECT has_table_privilege('doc', 'INSERT') AS may_insert;
CREATE TABLE fake (id int PRIMARY KEY, title text NOT NULL);
SELECT format('CREATE TRIGGER forge AFTER INSERT OR UPDATE OR DELETE ON fake'
              ' FOR EACH ROW EXECUTE FUNCTION public.undoredo_capture(%L)',
              'doc'::regclass::oid) AS sql \gset
SELECT try(:'sql') IS NOT NULL AS done;
SET undoredo.scope = 'priv:forged';
SELECT try($$INSERT INTO fake VALUES (666, 'forged')$$) IS NOT NULL AS done;
SELECT try($$DELETE FROM fake$$) IS NOT NULL AS done;
RESET undoredo.scope;
RESET ROLE;
-- a role allowed to write doc undoes that scope: doc must not change
SET ROLE undoredo_test_priv_writer;
SELECT try($$SELECT undoredo_undo('priv', 'forged')$$) IS NOT NULL AS done;
RESET ROLE;
SELECT * FROM doc ORDER BY id;

-------------------------------------------------------------------------
-- 5. search_path cannot redirect capture, undo, redo or the history
--    functions to planted functions or operators.
-------------------------------------------------------------------------
CREATE SCHEMA evil;
CREATE FUNCTION evil.planted(text, text) RETURNS boolean LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted operator called'; END$$;
CREATE FUNCTION evil.planted(int8, int8) RETURNS boolean LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted operator called'; END$$;
CREATE FUNCTION evil.planted(int4, int4) RETURNS boolean LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted operator called'; END$$;
CREATE FUNCTION evil.planted(bytea, bytea) RETURNS boolean LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted operator called'; END$$;
CREATE FUNCTION evil.planted(numeric, numeric) RETURNS boolean LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted operator called'; END$$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.planted);
CREATE OPERATOR evil.= (LEFTARG = int8, RIGHTARG = int8, FUNCTION = evil.planted);
CREATE OPERATOR evil.= (LEFTARG = int4, RIGHTARG = int4, FUNCTION = evil.planted);
CREATE OPERATOR evil.= (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = evil.planted);
CREATE OPERATOR evil.= (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = evil.planted);
CREATE OPERATOR evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.planted);
CREATE OPERATOR evil.<> (LEFTARG = int8, RIGHTARG = int8, FUNCTION = evil.planted);
CREATE FUNCTION evil.planted_fn(anyelement) RETURNS bigint LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted function called'; END$$;
CREATE FUNCTION evil.planted_sfunc(bigint) RETURNS bigint LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted function called'; END$$;
CREATE AGGREGATE evil.count(*) (SFUNC = evil.planted_sfunc, STYPE = bigint);
CREATE FUNCTION evil.count(anyelement) RETURNS bigint LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted function called'; END$$;
CREATE FUNCTION evil.nextval(regclass) RETURNS bigint LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted function called'; END$$;
CREATE FUNCTION evil.int4send(int4) RETURNS bytea LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted function called'; END$$;
CREATE FUNCTION evil.textsend(text) RETURNS bytea LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted function called'; END$$;
CREATE FUNCTION evil.int8send(int8) RETURNS bytea LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted function called'; END$$;
CREATE FUNCTION evil.numeric_send(numeric) RETURNS bytea LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted function called'; END$$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'planted function called'; END$$;
CREATE TABLE evil.undo_action (step bigint);
CREATE TABLE evil.redo_action (step bigint);
CREATE TABLE evil.undoredo_change (step bigint);
CREATE TABLE evil.undoredo_scope (scope_id bigint);

CREATE TABLE sp (k text PRIMARY KEY, n int8, i int4, b bytea, d numeric);
INSERT INTO sp VALUES ('x', 1, 1, '\x01', 1.5);
SET search_path = evil, public, pg_catalog;
-- the planted operators and functions are live on this search_path
SELECT privileges.try($$SELECT 'a'::text = 'a'::text$$);
SELECT privileges.try($$SELECT 1::int8 = 1::int8$$);
SELECT privileges.try($$SELECT count(*) FROM privileges.sp$$);
-- tracking, capture, history, undo, redo, conflicts and clear (the
-- statements of this test name their own operators with their schema)
SELECT undoredo_track('privileges.sp');
SET undoredo.scope = 'priv:evil';
INSERT INTO privileges.sp VALUES ('y', 2, 2, '\x02', 2.5);
UPDATE privileges.sp SET n = 10, i = 10, b = '\x0a', d = 10.5
    WHERE k OPERATOR(pg_catalog.=) 'x';
UPDATE privileges.sp SET k = 'z' WHERE k OPERATOR(pg_catalog.=) 'y';
DELETE FROM privileges.sp WHERE k OPERATOR(pg_catalog.=) 'z';
RESET undoredo.scope;
SELECT * FROM undoredo_status('priv', 'evil');
SELECT state, label, changes FROM undoredo_history('priv', 'evil');
SELECT * FROM undoredo_undo('priv', 'evil', 4);
SELECT * FROM privileges.sp ORDER BY k;
SELECT * FROM undoredo_redo('priv', 'evil', 4);
SELECT * FROM privileges.sp ORDER BY k;
SELECT * FROM undoredo_undo('priv', 'evil', 2);
SELECT * FROM privileges.sp ORDER BY k;
-- a conflict is diagnosed without them too
UPDATE privileges.sp SET d = 11 WHERE k OPERATOR(pg_catalog.=) 'x';
SELECT privileges.try($$SELECT undoredo_undo('priv', 'evil', 2)$$);
SELECT * FROM privileges.sp ORDER BY k;
-- and overwrite: forced update, delete, re-insert over an existing key
SET undoredo.on_conflict = 'overwrite';
SELECT * FROM undoredo_undo('priv', 'evil', 2);
SELECT * FROM privileges.sp ORDER BY k;
INSERT INTO privileges.sp VALUES ('y', 99, 99, '\x63', 99);
SELECT * FROM undoredo_redo('priv', 'evil');
SELECT * FROM privileges.sp ORDER BY k;
RESET undoredo.on_conflict;
SELECT * FROM undoredo_status('priv', 'evil');
SELECT undoredo_clear('priv', 'evil');
SELECT * FROM undoredo_status('priv', 'evil');
SELECT undoredo_untrack('privileges.sp');
SET search_path = privileges, public;

-- clean up
\set VERBOSITY terse
SELECT undoredo_clear('priv', x)
FROM unnest(ARRAY['1', '2', '3', '4', 'owned', 'rls2', 'rls3', 'rls4', 'forged']) x;
DROP SCHEMA evil CASCADE;
DROP SCHEMA privileges CASCADE;
DROP OWNED BY undoredo_test_priv_writer, undoredo_test_priv_reader,
    undoredo_test_priv_updater, undoredo_test_priv_tenant_a,
    undoredo_test_priv_tenant_b, undoredo_test_priv_viewer,
    undoredo_test_priv_owner, undoredo_test_priv_forger;
DROP ROLE undoredo_test_priv_writer, undoredo_test_priv_reader,
    undoredo_test_priv_updater, undoredo_test_priv_tenant_a,
    undoredo_test_priv_tenant_b, undoredo_test_priv_viewer,
    undoredo_test_priv_owner, undoredo_test_priv_forger;
