#!/bin/bash
# test/suites.sh counts pg_regress results in both of its output formats
# (PostgreSQL 15's "test x ... ok", 16+'s TAP "ok N - x" / "not ok N - x"):
# canned outputs in test/regress-output/, with and without failing tests,
# must give the right numbers of passed and failed tests.  Prints one
# "<case> ... ok|FAIL" line per output.
set -uo pipefail
cd "$(dirname "$0")/.."
. test/count-regress.sh

status=0
check() {   # file expected-passed expected-failed
    local got
    got=$(count_regress "test/regress-output/$1")
    if [ "$got" = "$2 $3" ]; then
        echo "counting $1 ... ok"
    else
        echo "counting $1: got '$got' (passed failed), expected '$2 $3'" >&2
        echo "counting $1 ... FAIL"
        status=1
    fi
}
check pg15-passed.txt 4 0
check pg15-failed.txt 5 2
check pg18-passed.txt 4 0
check pg18-failed.txt 5 2
exit $status
