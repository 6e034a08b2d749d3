/* undoredo--1.1.2--1.2.sql: upgrade from 1.1.2 */

\echo Use "ALTER EXTENSION undoredo UPDATE TO '1.2'" to load this file. \quit

/*
 * Who made a step, the step a revert reverted, and the order of the steps
 * to redo.  Steps recorded before have no actor.  Before 1.2 redo took the
 * lowest step id among the steps to redo (the most recently undone, as
 * undo went newest first): undone = -step keeps that order, and the steps
 * undone from now on get higher numbers.
 */
ALTER TABLE @extschema@.undo_action ADD COLUMN actor text, ADD COLUMN reverts bigint;
ALTER TABLE @extschema@.redo_action ADD COLUMN actor text, ADD COLUMN reverts bigint,
    ADD COLUMN undone bigint;
UPDATE @extschema@.redo_action SET undone = OPERATOR(pg_catalog.-) step;
ALTER TABLE @extschema@.redo_action ALTER COLUMN undone SET NOT NULL;
CREATE UNIQUE INDEX redo_action_undone_idx ON @extschema@.redo_action (scope_id, undone);

/*
 * Undo, redo and status take an actor; the history lists actor and
 * reverts.  A new argument or result column needs a new function: the old
 * ones go (an extra overload would make every call with defaults
 * ambiguous).
 */
DROP FUNCTION @extschema@.undoredo_undo(text, bigint, integer);
DROP FUNCTION @extschema@.undoredo_undo(text, text, integer);
DROP FUNCTION @extschema@.undoredo_redo(text, bigint, integer);
DROP FUNCTION @extschema@.undoredo_redo(text, text, integer);
DROP FUNCTION @extschema@.undoredo_status(text, bigint);
DROP FUNCTION @extschema@.undoredo_status(text, text);
DROP FUNCTION @extschema@.undoredo_history(text, bigint);
DROP FUNCTION @extschema@.undoredo_history(text, text);

CREATE FUNCTION @extschema@.undoredo_undo(object_type text, object_id bigint,
    steps integer DEFAULT 1, actor text DEFAULT NULL,
    OUT undo_count integer, OUT redo_count integer)
AS 'MODULE_PATHNAME', 'undoredo_undo'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.undoredo_undo(object_type text, object_id text,
    steps integer DEFAULT 1, actor text DEFAULT NULL,
    OUT undo_count integer, OUT redo_count integer)
AS 'MODULE_PATHNAME', 'undoredo_undo'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.undoredo_redo(object_type text, object_id bigint,
    steps integer DEFAULT 1, actor text DEFAULT NULL,
    OUT undo_count integer, OUT redo_count integer)
AS 'MODULE_PATHNAME', 'undoredo_redo'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.undoredo_redo(object_type text, object_id text,
    steps integer DEFAULT 1, actor text DEFAULT NULL,
    OUT undo_count integer, OUT redo_count integer)
AS 'MODULE_PATHNAME', 'undoredo_redo'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.undoredo_status(object_type text, object_id bigint,
    actor text DEFAULT NULL, OUT undo_count integer, OUT redo_count integer)
AS 'MODULE_PATHNAME', 'undoredo_status'
LANGUAGE C STABLE;

CREATE FUNCTION @extschema@.undoredo_status(object_type text, object_id text,
    actor text DEFAULT NULL, OUT undo_count integer, OUT redo_count integer)
AS 'MODULE_PATHNAME', 'undoredo_status'
LANGUAGE C STABLE;

CREATE FUNCTION @extschema@.undoredo_history(object_type text, object_id bigint)
RETURNS TABLE (step bigint, state text, label text, created_at timestamptz,
               changes bigint, actor text, reverts bigint)
AS 'MODULE_PATHNAME', 'undoredo_history'
LANGUAGE C STABLE ROWS 10;

CREATE FUNCTION @extschema@.undoredo_history(object_type text, object_id text)
RETURNS TABLE (step bigint, state text, label text, created_at timestamptz,
               changes bigint, actor text, reverts bigint)
AS 'MODULE_PATHNAME', 'undoredo_history'
LANGUAGE C STABLE ROWS 10;

CREATE FUNCTION @extschema@.undoredo_changes(object_type text, object_id bigint,
    step bigint)
RETURNS TABLE (seq integer, tbl regclass, op text, key jsonb, old jsonb,
               new jsonb)
AS 'MODULE_PATHNAME', 'undoredo_changes'
LANGUAGE C STABLE ROWS 100;

CREATE FUNCTION @extschema@.undoredo_changes(object_type text, object_id text,
    step bigint)
RETURNS TABLE (seq integer, tbl regclass, op text, key jsonb, old jsonb,
               new jsonb)
AS 'MODULE_PATHNAME', 'undoredo_changes'
LANGUAGE C STABLE ROWS 100;

CREATE FUNCTION @extschema@.undoredo_revert(object_type text, object_id bigint,
    step bigint, OUT undo_count integer, OUT redo_count integer)
AS 'MODULE_PATHNAME', 'undoredo_revert'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.undoredo_revert(object_type text, object_id text,
    step bigint, OUT undo_count integer, OUT redo_count integer)
AS 'MODULE_PATHNAME', 'undoredo_revert'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.undoredo_verify()
RETURNS TABLE (tbl regclass, problem text)
AS 'MODULE_PATHNAME', 'undoredo_verify'
LANGUAGE C STABLE;
