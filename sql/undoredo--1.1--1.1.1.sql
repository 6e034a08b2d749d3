/* undoredo--1.1--1.1.1.sql: hardening (scope ownership, replay checks) */

\echo Use "ALTER EXTENSION undoredo UPDATE TO '1.1.1'" to load this file. \quit

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
