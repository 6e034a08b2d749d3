#!/bin/bash
# Every test suite, run inside pg_virtualenv (PG* variables name the server).
set -uo pipefail
cd "$(dirname "$0")/.."

status=0
rm -f regression.diffs output_iso/regression.diffs
if ! make -s installcheck PG_CONFIG="$PG_CONFIG"; then
    status=1
    for f in regression.diffs output_iso/regression.diffs; do
        [ -f "$f" ] && { echo "==== $f"; cat "$f"; }
    done
fi

echo "==== pg_dump keeps histories"
bash test/dump.sh || status=1

echo "==== other clients: Python (psycopg2)"
/usr/bin/python3 test/test_clients.py -v || status=1

if [ $status -eq 0 ]; then
    echo "all suites passed"
else
    echo "some suites failed" >&2
fi
exit $status
