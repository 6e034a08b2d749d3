/* undoredo--1.3.sql: history tables and SQL-callable functions */

\echo Use "CREATE EXTENSION undoredo" to load this file. \quit

/*
 * One row per object whose history exists, made on first use.  Capture,
 * undo, redo and clear take the scope lock (a heavyweight lock on the
 * scope's name), so one scope's history grows and shrinks in a total order.
 * owner is the role that recorded the scope's first step (NULL: none yet,
 * or cleared since), relids the tables its steps changed since it was made
 * or cleared (src/access.c); both are dumped by name.
 *
 * The history tables are heap tables whatever default_table_access_method
 * says: src/store.c writes them with heap functions.  Their indexes are
 * named here, not by default: the library finds them by these names.
 */
CREATE SEQUENCE @extschema@.undoredo_scope_seq;
CREATE TABLE @extschema@.undoredo_scope (
    scope_id    bigint
                DEFAULT pg_catalog.nextval('@extschema@.undoredo_scope_seq'),
    object_type text NOT NULL,
    object_id   text NOT NULL,
    owner       regrole,
    relids      regclass[] NOT NULL DEFAULT '{}',
    CONSTRAINT undoredo_scope_pkey PRIMARY KEY (scope_id),
    CONSTRAINT undoredo_scope_object_type_object_id_key
        UNIQUE (object_type, object_id)
) USING heap;

/*
 * Steps.  A step lives in undo_action while it can be undone and in
 * redo_action while it can be redone; undo and redo move its one row, the
 * recorded row changes stay where they are.  actor is undoredo.actor at
 * the step's first change (NULL: none), reverts the step that an
 * undoredo_revert step reverted.  undone orders the steps to redo: the
 * higher, the more recently undone (redo takes the highest, of anyone or
 * of one actor); it is taken above the scope's highest under the scope
 * lock.  Undo takes the highest step id (of anyone, or of one actor).  Step ids come from one
 * sequence and are taken under the scope lock, above every step id in the
 * history (rows replicated or restored from elsewhere may be ahead of the
 * sequence: the library then moves it past them), so within a scope a
 * higher id is always a later step.  Every access goes by scope: one index
 * each.
 */
CREATE SEQUENCE @extschema@.undoredo_step_seq;
CREATE TABLE @extschema@.undo_action (
    step       bigint NOT NULL
               DEFAULT pg_catalog.nextval('@extschema@.undoredo_step_seq'),
    scope_id   bigint NOT NULL,
    label      text,
    created_at timestamptz NOT NULL,
    actor      text,
    reverts    bigint
) USING heap;
CREATE UNIQUE INDEX undo_action_scope_idx ON @extschema@.undo_action (scope_id, step);

CREATE TABLE @extschema@.redo_action (
    step       bigint NOT NULL,
    scope_id   bigint NOT NULL,
    label      text,
    created_at timestamptz NOT NULL,
    actor      text,
    reverts    bigint,
    undone     bigint NOT NULL
) USING heap;
CREATE UNIQUE INDEX redo_action_scope_idx ON @extschema@.redo_action (scope_id, step);
CREATE UNIQUE INDEX redo_action_undone_idx ON @extschema@.redo_action (scope_id, undone);

/*
 * The history can be published for logical replication (a subscriber holds
 * a copy that it can undo and, promoted, write to): undo and redo move rows
 * between undo_action and redo_action, and a published DELETE needs a
 * replica identity.
 */
ALTER TABLE @extschema@.undo_action REPLICA IDENTITY USING INDEX undo_action_scope_idx;
ALTER TABLE @extschema@.redo_action REPLICA IDENTITY USING INDEX redo_action_scope_idx;

/*
 * Row changes of every step, in chunks: a chunk holds nchanges consecutive
 * changes numbered from seq, in capture order, each the position in relids
 * of its tracked table (the partitioned root for partitions), the kind of
 * change ('i', 'u' or 'd') and the row images it needs, in the format of
 * src/capture.c and src/image.c.  relids is a regclass[] so that pg_dump
 * writes the tables' names, and a restore finds them again.  Chunks are filled up to about 8 kB, which
 * toast_tuple_target keeps inline and uncompressed: capture writes one row
 * per chunk instead of one per change.  typoids and types are the chunk's
 * type dictionary: the user-defined types whose oids its images hold, as
 * those oids and as regtype[] (written by name by pg_dump), so that replay
 * finds the types again after a restore; null when there are none, and in
 * chunks written before 1.1.1.  reloids are the oids of relids at capture,
 * relcolumns each table's column names by attnum (a text[] literal, NULL
 * for a dropped column) and origin the recording database
 * ('<system identifier>:<database oid>'): in another database, or on
 * another table, replay finds the recorded columns by name (src/image.c).
 */
CREATE TABLE @extschema@.undoredo_change (
    step      bigint NOT NULL,
    seq       integer NOT NULL,
    nchanges  integer NOT NULL,
    relids    regclass[] NOT NULL,
    changes   bytea NOT NULL,
    typoids   oid[],
    types     regtype[],
    reloids   oid[],
    relcolumns text[],
    origin    text,
    CONSTRAINT undoredo_change_pkey PRIMARY KEY (step, seq)
) USING heap WITH (toast_tuple_target = 8160);

REVOKE ALL ON @extschema@.undoredo_scope, @extschema@.undo_action,
    @extschema@.redo_action, @extschema@.undoredo_change,
    @extschema@.undoredo_scope_seq, @extschema@.undoredo_step_seq FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.undoredo_scope', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.undoredo_scope_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.undo_action', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.redo_action', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.undoredo_step_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.undoredo_change', '');

/* The capture trigger (row events) and TRUNCATE guard (statement events). */
CREATE FUNCTION @extschema@.undoredo_capture()
RETURNS trigger
AS 'MODULE_PATHNAME', 'undoredo_capture'
LANGUAGE C;

/*
 * Row triggers of a partitioned table are cloned to partitions created or
 * attached later, statement triggers are not: this event trigger adds the
 * statement-level guard (scope lock, TRUNCATE refusal) to new partitions of
 * tracked tables.
 */
CREATE FUNCTION @extschema@.undoredo_guard_new_partitions()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part regclass;
BEGIN
    FOR part IN
        SELECT DISTINCT tree.relid
        FROM pg_event_trigger_ddl_commands() AS cmd,
             pg_partition_tree(cmd.objid::regclass) AS tree
        WHERE cmd.classid OPERATOR(pg_catalog.=) 'pg_class'::regclass
          AND cmd.objsubid OPERATOR(pg_catalog.=) 0
          AND tree.relid IN (SELECT c.oid FROM pg_class c
                             WHERE c.relkind IN ('r', 'p'))
          AND EXISTS (SELECT FROM pg_trigger t
                      WHERE t.tgrelid OPERATOR(pg_catalog.=) tree.relid
                        AND t.tgname OPERATOR(pg_catalog.=) 'undoredo_capture')
          AND NOT EXISTS (SELECT FROM pg_trigger t
                          WHERE t.tgrelid OPERATOR(pg_catalog.=) tree.relid
                            AND t.tgname OPERATOR(pg_catalog.=) 'undoredo_guard')
    LOOP
        EXECUTE format('CREATE TRIGGER undoredo_guard'
                       ' BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                       part, '@extschema@.undoredo_capture');
    END LOOP;
END
$$;

CREATE EVENT TRIGGER undoredo_guard_new_partitions ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION @extschema@.undoredo_guard_new_partitions();

/*
 * PostgreSQL drops the clones of the capture trigger from a partition that
 * ALTER TABLE ... DETACH PARTITION detaches (and from its partitions); this
 * event trigger drops their guards, so that a detached partition keeps
 * nothing of the tracking.
 */
CREATE FUNCTION @extschema@.undoredo_forget_detached()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'undoredo_forget_detached'
LANGUAGE C;

CREATE EVENT TRIGGER undoredo_forget_detached ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION @extschema@.undoredo_forget_detached();

CREATE FUNCTION @extschema@.undoredo_track(tbl regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'undoredo_track'
LANGUAGE C;

CREATE FUNCTION @extschema@.undoredo_untrack(tbl regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'undoredo_untrack'
LANGUAGE C;

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

CREATE FUNCTION @extschema@.undoredo_clear(object_type text, object_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'undoredo_clear'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.undoredo_clear(object_type text, object_id text)
RETURNS void
AS 'MODULE_PATHNAME', 'undoredo_clear'
LANGUAGE C VOLATILE;


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
