#!/bin/bash
# Crash safety (issue 4): SIGKILL of a whole cluster during capture, during
# undo and right after an undo commits; then recovery, history and data must
# agree.  Makes and removes a cluster of its own (the PG* server of
# pg_virtualenv is not used); prints one "<case> ... ok" per test.
set -uo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 test/crash_test.py -v
