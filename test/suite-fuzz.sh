#!/bin/bash
# The concurrency fuzz (test/fuzz_concurrent.py), short: 6 sessions on 5
# shared scopes for a few seconds in each mode, with fixed seeds (the timing
# still varies from run to run): one "fuzz <mode> seed <n> ... ok" line
# each.  Run by test/suites.sh inside pg_virtualenv (PG* name the server);
# make soak runs it longer with new seeds.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for run in "own 1 12" "cross 2 10" "shared 3 10"; do
    set -- $run
    /usr/bin/python3 test/fuzz_concurrent.py --mode "$1" --seed "$2" \
        --duration "$3" --workers 6 || status=1
done
exit $status
