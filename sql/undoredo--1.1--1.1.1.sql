/* undoredo--1.1--1.1.1.sql: hardening (scope ownership, replay checks) */

\echo Use "ALTER EXTENSION undoredo UPDATE TO '1.1.1'" to load this file. \quit

/*
 * Types by name (histories survive pg_dump and restore for every column
 * type): each chunk gets a type dictionary, the user-defined types whose
 * oids its images hold, as oids and as regtype[], which pg_dump writes by
 * name.  Chunks recorded before stay null and replay as they did.
 */
ALTER TABLE @extschema@.undoredo_change
    ADD COLUMN typoids oid[],
    ADD COLUMN types regtype[];
