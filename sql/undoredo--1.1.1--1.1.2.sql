/* undoredo--1.1.1--1.1.2.sql: upgrade from 1.1.1 */

\echo Use "ALTER EXTENSION undoredo UPDATE TO '1.1.2'" to load this file. \quit

/*
 * Heap tables: src/store.c writes the history tables with heap functions,
 * so a table that default_table_access_method gave another access method
 * at install is rewritten as heap.  A heap table is left alone.
 */
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid FROM pg_catalog.pg_class c
        WHERE c.oid OPERATOR(pg_catalog.=) ANY (ARRAY[
                  '@extschema@.undoredo_scope'::pg_catalog.regclass,
                  '@extschema@.undo_action'::pg_catalog.regclass,
                  '@extschema@.redo_action'::pg_catalog.regclass,
                  '@extschema@.undoredo_change'::pg_catalog.regclass])
          AND c.relam OPERATOR(pg_catalog.<>)
              (SELECT a.oid FROM pg_catalog.pg_am a
               WHERE a.amname OPERATOR(pg_catalog.=) 'heap')
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s SET ACCESS METHOD heap', t);
    END LOOP;
END
$$;

/*
 * Index names: the library finds the history's indexes by name, and the
 * install scripts before 1.1.2 left three of them to default naming, which
 * picks another name when the default one is taken.  Give them the names
 * the library looks for.
 */
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT con.conrelid::pg_catalog.regclass AS tbl, con.conname, v.want
        FROM pg_catalog.pg_constraint con,
             (VALUES ('@extschema@.undoredo_scope'::pg_catalog.regclass, 'p'::"char",
                      'undoredo_scope_pkey'),
                     ('@extschema@.undoredo_scope'::pg_catalog.regclass, 'u'::"char",
                      'undoredo_scope_object_type_object_id_key'),
                     ('@extschema@.undoredo_change'::pg_catalog.regclass, 'p'::"char",
                      'undoredo_change_pkey')) AS v(tbl, contype, want)
        WHERE con.conrelid OPERATOR(pg_catalog.=) v.tbl
          AND con.contype OPERATOR(pg_catalog.=) v.contype
          AND con.conname OPERATOR(pg_catalog.<>) v.want::pg_catalog.name
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I',
                                  c.tbl, c.conname, c.want);
    END LOOP;
END
$$;

/*
 * undoredo.replaying needs no placeholder on the database: the statement
 * guard of every tracked table loads the library, which defines it, before
 * any row trigger of the table runs.  The placeholder that 1.0 to 1.1.1 set
 * outlived DROP EXTENSION; remove it.
 */
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_db_role_setting s, pg_catalog.pg_database d
               WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()
                 AND s.setdatabase OPERATOR(pg_catalog.=) d.oid
                 AND s.setrole OPERATOR(pg_catalog.=) 0
                 AND 'undoredo.replaying=off' OPERATOR(pg_catalog.=) ANY (s.setconfig)) THEN
        EXECUTE pg_catalog.format('ALTER DATABASE %I RESET undoredo.replaying',
                                  pg_catalog.current_database());
    END IF;
END
$$;
