/* undoredo--1.1--1.1.1.sql: hardening (scope ownership, replay checks) */

\echo Use "ALTER EXTENSION undoredo UPDATE TO '1.1.1'" to load this file. \quit

/*
 * Detached partitions keep nothing of the tracking: an event trigger drops
 * the guards of a partition that ALTER TABLE ... DETACH PARTITION detached
 * (PostgreSQL drops the clones of the capture trigger), and guards that
 * earlier versions left on detached partitions (a guard on a table without
 * the capture trigger) go now.
 */
CREATE FUNCTION @extschema@.undoredo_forget_detached()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'undoredo_forget_detached'
LANGUAGE C;

CREATE EVENT TRIGGER undoredo_forget_detached ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION @extschema@.undoredo_forget_detached();

DO $$
DECLARE
    tbl regclass;
BEGIN
    FOR tbl IN
        SELECT g.tgrelid::regclass FROM pg_catalog.pg_trigger g
        WHERE g.tgname OPERATOR(pg_catalog.=) 'undoredo_guard'
          AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
                          WHERE t.tgrelid OPERATOR(pg_catalog.=) g.tgrelid
                            AND t.tgname OPERATOR(pg_catalog.=) 'undoredo_capture')
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER undoredo_guard ON %s', tbl);
    END LOOP;
END
$$;

/*
 * The history can be published for logical replication: undo and redo
 * delete from undo_action and redo_action, and a published DELETE needs a
 * replica identity.  (Ids of steps and scopes that a promoted subscriber
 * records are checked against the replicated ones by the library.)
 */
ALTER TABLE @extschema@.undo_action REPLICA IDENTITY USING INDEX undo_action_scope_idx;
ALTER TABLE @extschema@.redo_action REPLICA IDENTITY USING INDEX redo_action_scope_idx;

/*
 * Scope ownership and access to histories (src/access.c): the role that
 * owns each scope, and the tables each scope's steps changed.  Scopes
 * recorded before have no owner: the first role that records a step under
 * one after the update becomes its owner.
 */
ALTER TABLE @extschema@.undoredo_scope
    ADD COLUMN owner regrole,
    ADD COLUMN relids regclass[] NOT NULL DEFAULT '{}';
UPDATE @extschema@.undoredo_scope s
SET relids = COALESCE(
    (SELECT pg_catalog.array_agg(DISTINCT r.r ORDER BY r.r)
     FROM (SELECT step FROM @extschema@.undo_action
           WHERE scope_id OPERATOR(pg_catalog.=) s.scope_id
           UNION ALL
           SELECT step FROM @extschema@.redo_action
           WHERE scope_id OPERATOR(pg_catalog.=) s.scope_id) a
     JOIN @extschema@.undoredo_change c ON c.step OPERATOR(pg_catalog.=) a.step
     CROSS JOIN LATERAL pg_catalog.unnest(c.relids) AS r(r)),
    '{}'::regclass[]);

/*
 * Types by name (histories survive pg_dump and restore for every column
 * type): each chunk gets a type dictionary, the user-defined types whose
 * oids its images hold, as oids and as regtype[], which pg_dump writes by
 * name.  Chunks recorded before stay null and replay as they did.
 */
ALTER TABLE @extschema@.undoredo_change
    ADD COLUMN typoids oid[],
    ADD COLUMN types regtype[];

/*
 * Columns by name after a restore (pg_dump does not keep dropped columns,
 * so a restored table numbers its columns otherwise): each chunk keeps its
 * tables' oids at capture, their column names by attnum and the database
 * that recorded it.  Chunks recorded before stay null and replay as they
 * did.
 */
ALTER TABLE @extschema@.undoredo_change
    ADD COLUMN reloids oid[],
    ADD COLUMN relcolumns text[],
    ADD COLUMN origin text;
