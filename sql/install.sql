-- Install: the extension, its tables and functions, in the schema given to
-- CREATE EXTENSION; not relocatable.
CREATE EXTENSION undoredo;

SELECT extname, extversion, extrelocatable, extnamespace::regnamespace
FROM pg_extension WHERE extname = 'undoredo';

-- the history tables named by the contract exist in the extension's schema
SELECT c.relname, c.relnamespace::regnamespace
FROM pg_class c
WHERE c.relname IN ('undo_action', 'redo_action') ORDER BY 1;

-- the functions of the contract, with their signatures
SELECT p.oid::regprocedure
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'undoredo'
ORDER BY p.oid::regprocedure::text;

-- pg_dump keeps the histories
SELECT unnest(extconfig)::regclass::text AS dumped FROM pg_extension
WHERE extname = 'undoredo' ORDER BY 1;

-- not relocatable
ALTER EXTENSION undoredo SET SCHEMA pg_catalog;

-- the settings exist once the library is loaded, with their defaults
LOAD 'undoredo';
SELECT name, setting, context FROM pg_settings WHERE name LIKE 'undoredo.%' ORDER BY 1;

-- For the tests that follow: the outcome of a statement, 'ok' or its
-- SQLSTATE, message, detail and hint, with step ids masked (they depend on
-- what ran before).
CREATE FUNCTION public.undoredo_test_try(sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    msg text;
    det text;
    hnt text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                            hnt = PG_EXCEPTION_HINT;
    RETURN regexp_replace(SQLSTATE || ': ' || msg
                          || coalesce(' | ' || nullif(det, ''), '')
                          || coalesce(' | ' || nullif(hnt, ''), ''),
                          'step \d+', 'step N', 'g');
END
$$;
