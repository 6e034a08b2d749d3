#!/bin/bash
# Limits (issue 4): a 1,000,000-row step with bounded backend memory, a 100 MB
# bytea value, a step over 50 tables.  Run by test/suites.sh inside
# pg_virtualenv (PG* name the server); prints one "<case> ... ok" per test.
set -uo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 test/limits_test.py -v
