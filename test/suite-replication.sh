#!/bin/bash
# A logical-replication subscriber of the history, promoted to take writes:
# new steps and scopes get ids that collide with nothing and keep each
# scope's order.  Makes and removes two clusters of its own (the PG* server
# of pg_virtualenv is not used); prints one "<case> ... ok" per test.
set -uo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 test/replication_test.py -v
