#!/bin/bash
# Every test suite, run inside pg_virtualenv (PG* variables name the server).
set -uo pipefail
cd "$(dirname "$0")/.."
. test/count-regress.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

rm -f regression.diffs output_iso/regression.diffs
if ! make -s installcheck PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$log"; then
    status=1
    for f in regression.diffs output_iso/regression.diffs; do
        [ -f "$f" ] && { echo "==== $f"; cat "$f"; }
    done
fi
read -r passed failed < <(count_regress "$log")
# a failing installcheck counts as one failure at least, whatever it printed
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1

echo "==== pg_dump keeps histories"
if bash test/dump.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi

echo "==== other clients: Python (psycopg2)"
if /usr/bin/python3 test/test_clients.py -v 2>&1 | tee "$log"; then :; else status=1; fi
passed=$((passed + $(grep -cE '\.\.\. ok$' "$log")))
failed=$((failed + $(grep -cE '\.\.\. (FAIL|ERROR)$' "$log")))

# Further suites: each test/suite-*.sh prints one "<name> ... ok" or
# "<name> ... FAIL" line per test case and exits non-zero when one failed.
for suite in test/suite-*.sh; do
    [ -e "$suite" ] || continue
    echo "==== $suite"
    bash "$suite" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    ok=$(grep -cE '\.\.\. ok$' "$log")
    bad=$(grep -cE '\.\.\. (FAIL|FAILED|ERROR)$' "$log")
    if [ "$rc" -ne 0 ]; then
        status=1
        [ "$bad" -eq 0 ] && bad=1
    fi
    passed=$((passed + ok)); failed=$((failed + bad))
done

echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
