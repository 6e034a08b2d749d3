/* undoredo--1.2--1.3.sql: upgrade from 1.2 */

\echo Use "ALTER EXTENSION undoredo UPDATE TO '1.3'" to load this file. \quit

/*
 * Citus mode (docs/citus.md): the history of an object type registered
 * here lives in tables distributed by the object id and co-located with
 * colocate_with, created by this function; only the extension's owner may
 * call it.
 */
CREATE FUNCTION @extschema@.undoredo_citus_register(object_type text,
    colocate_with regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'undoredo_citus_register'
LANGUAGE C STRICT VOLATILE;

REVOKE ALL ON FUNCTION @extschema@.undoredo_citus_register(text, regclass) FROM PUBLIC;
