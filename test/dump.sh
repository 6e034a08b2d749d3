#!/bin/bash
# pg_dump keeps histories: dump a database with a history, restore it into
# another database, and undo/redo there.  Runs against the PG* server.
set -euo pipefail

psql_q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

dropdb --if-exists undoredo_dump_src
dropdb --if-exists undoredo_dump_dst
createdb undoredo_dump_src
createdb undoredo_dump_dst
psql_q -d undoredo_dump_src <<'SQL'
CREATE EXTENSION undoredo;
CREATE TABLE doc (id int PRIMARY KEY, title text);
SELECT undoredo_track('doc');
SET undoredo.scope = 'doc:1';
SET undoredo.label = 'first';
INSERT INTO doc VALUES (1, 'one'), (2, 'two');
SET undoredo.label = 'second';
UPDATE doc SET title = 'TWO' WHERE id = 2;
SET undoredo.label = 'third';
DELETE FROM doc WHERE id = 1;
SELECT undo_count FROM undoredo_undo('doc', 1) \g /dev/null
SQL
pg_dump -d undoredo_dump_src | psql_q -d undoredo_dump_dst >/dev/null

check() {
    local got expected=$2
    got=$(psql_q -d undoredo_dump_dst -c "$1")
    if [ "$got" != "$expected" ]; then
        echo "dump: $1 gave '$got', expected '$expected'" >&2
        exit 1
    fi
}
check "SELECT string_agg(state || ' ' || label || ' ' || changes, ', ' ORDER BY step) FROM undoredo_history('doc', 1)" \
      "undo first 2, undo second 1, redo third 1"
check "SELECT string_agg(id || '=' || title, ',' ORDER BY id) FROM doc" "1=one,2=TWO"
# the scope's owner and tables come back by name
check "SELECT owner || ' ' || relids::text FROM undoredo_scope" "postgres {doc}"
check "SELECT undo_count || ',' || redo_count FROM undoredo_undo('doc', 1)" "1,2"
check "SELECT string_agg(id || '=' || title, ',' ORDER BY id) FROM doc" "1=one,2=two"
check "SELECT undo_count || ',' || redo_count FROM undoredo_redo('doc', 1, 2)" "3,0"
check "SELECT coalesce(string_agg(id || '=' || title, ',' ORDER BY id), '') FROM doc" "2=TWO"
# capture continues in the restored database with new step ids
check "SET undoredo.scope = 'doc:1'; INSERT INTO doc VALUES (3, 'three'); SELECT count(*) FROM undoredo_history('doc', 1)" "4"

dropdb undoredo_dump_src
dropdb undoredo_dump_dst
echo "dump: pg_dump and restore keep histories"
