#!/bin/bash
# Many scopes in one transaction: linear time, and a clear error when the
# lock table is full.  Makes and removes clusters of its own (the PG* server
# of pg_virtualenv is not used); prints one "<case> ... ok" per test.
set -uo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 test/scopes_test.py -v
