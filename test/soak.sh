#!/bin/bash
# make soak: the model-based randomized test (test/model_test.py) on many
# random seeds, both modes, against a throwaway PostgreSQL 15 cluster
# (pg_virtualenv) with the installed extension, until SEEDS seeds have run or
# DURATION_SECONDS have passed.  Stops at the first failure and prints its
# seed, the operation log tail, the differing rows and the command that
# reproduces it.
# Usage: test/soak.sh SEEDS DURATION_SECONDS
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ] || ! [[ "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ ]]; then
    echo "usage: test/soak.sh SEEDS DURATION_SECONDS" >&2
    exit 2
fi
exec pg_virtualenv -t -v 15 /usr/bin/python3 test/model_test.py --soak "$1" "$2"
