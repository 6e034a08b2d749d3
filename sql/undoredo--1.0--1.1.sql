/* undoredo--1.0--1.1.sql: row changes stored in chunks */

\echo Use "ALTER EXTENSION undoredo UPDATE TO '1.1'" to load this file. \quit

/* The scope lock is a heavyweight lock now: no generation to bump. */
ALTER TABLE @extschema@.undoredo_scope DROP COLUMN generation;

/* Steps are found by scope, always: one unique index each. */
ALTER TABLE @extschema@.undo_action DROP CONSTRAINT undo_action_pkey;
DROP INDEX @extschema@.undo_action_scope_idx;
CREATE UNIQUE INDEX undo_action_scope_idx ON @extschema@.undo_action (scope_id, step);
ALTER TABLE @extschema@.redo_action DROP CONSTRAINT redo_action_pkey;
DROP INDEX @extschema@.redo_action_scope_idx;
CREATE UNIQUE INDEX redo_action_scope_idx ON @extschema@.redo_action (scope_id, step);

/*
 * Row changes move from one history row each to chunks (see
 * undoredo--1.1.sql).  Every recorded change becomes a chunk of one: its
 * table in relids, the table's position (0, 4 bytes, network order), the
 * kind of change, and the images it needs, each preceded by its length.
 * 1.0 images are valid 1.1 images.
 */
ALTER TABLE @extschema@.undoredo_change
    ADD COLUMN nchanges integer NOT NULL DEFAULT 1,
    ADD COLUMN relids pg_catalog.regclass[],
    ADD COLUMN changes bytea;

UPDATE @extschema@.undoredo_change SET relids = ARRAY[relid], changes =
    pg_catalog.int4send(0)
    OPERATOR(pg_catalog.||) pg_catalog.set_byte('\x00'::pg_catalog.bytea, 0,
                                                pg_catalog.ascii(op::pg_catalog.text))
    OPERATOR(pg_catalog.||) CASE WHEN old_image IS NULL THEN ''::pg_catalog.bytea
        ELSE pg_catalog.int4send(pg_catalog.length(old_image)) OPERATOR(pg_catalog.||) old_image END
    OPERATOR(pg_catalog.||) CASE WHEN new_image IS NULL THEN ''::pg_catalog.bytea
        ELSE pg_catalog.int4send(pg_catalog.length(new_image)) OPERATOR(pg_catalog.||) new_image END;

ALTER TABLE @extschema@.undoredo_change
    ALTER COLUMN nchanges DROP DEFAULT,
    ALTER COLUMN relids SET NOT NULL,
    ALTER COLUMN changes SET NOT NULL,
    DROP COLUMN relid,
    DROP COLUMN op,
    DROP COLUMN old_image,
    DROP COLUMN new_image,
    SET (toast_tuple_target = 8160);
