#!/bin/bash
# make soak: the randomized tests, longer, against a throwaway PostgreSQL 15
# cluster (pg_virtualenv) with the installed extension.
# 1. The concurrency fuzz (test/fuzz_concurrent.py) for half of
#    DURATION_SECONDS: runs of FUZZ_RUN seconds (default 60) with WORKERS
#    sessions (default 8), cycling through its modes own, cross and shared,
#    each run with a new seed (from FUZZ_SEED, default random).
# 2. The model-based test (test/model_test.py) on up to SEEDS random seeds,
#    both modes, for the rest of the time.
# Each stops at its first failure and prints the seed, what failed and the
# command that reproduces it (inside pg_virtualenv, or against any server
# named by PG* variables).
# Usage: test/soak.sh SEEDS DURATION_SECONDS
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ] || ! [[ "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ ]]; then
    echo "usage: test/soak.sh SEEDS DURATION_SECONDS" >&2
    exit 2
fi
if [ -z "${UNDOREDO_SOAK_SERVER:-}" ]; then
    exec pg_virtualenv -t -v 15 env UNDOREDO_SOAK_SERVER=1 bash "$0" "$@"
fi

seeds=$1
duration=$2
run=${FUZZ_RUN:-60}
workers=${WORKERS:-8}
seed=${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}
start=$(date +%s)
fuzz_end=$((start + duration / 2))
modes=(own cross shared)
i=0
while :; do
    left=$((fuzz_end - $(date +%s)))
    # every mode runs once, however short the time
    [ "$left" -le 0 ] && [ "$i" -ge 3 ] && break
    [ "$left" -lt 5 ] && left=5
    secs=$(( left < run ? left : run ))
    mode=${modes[i % 3]}
    /usr/bin/python3 test/fuzz_concurrent.py --mode "$mode" --seed "$seed" \
        --duration "$secs" --workers "$workers"
    seed=$((seed + 1))
    i=$((i + 1))
done
left=$((start + duration - $(date +%s)))
[ "$left" -lt 10 ] && left=10
exec /usr/bin/python3 test/model_test.py --soak "$seeds" "$left"
