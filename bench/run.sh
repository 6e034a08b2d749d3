#!/bin/bash
# make bench: start a throwaway PostgreSQL 15 server pinned to one CPU
# (unix socket only, fsync on, autovacuum off, fixed shared_buffers), run
# bench/bench.py against it, stop and remove it.  Extra arguments go to
# bench.py (e.g. --quick).
set -euo pipefail
cd "$(dirname "$0")/.."

bindir=/usr/lib/postgresql/15/bin
cpu=${BENCH_CPU:-1}
dir=$(mktemp -d /tmp/undoredo-bench.XXXXXX)
chmod 755 "$dir"
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
cleanup() {
    as_postgres "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

as_postgres "$bindir/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
opts="-k $dir -c listen_addresses= -c port=5432 -c fsync=on"
opts+=" -c autovacuum=off -c shared_buffers=512MB -c max_wal_size=8GB"
opts+=" -c checkpoint_timeout=1h -c log_checkpoints=off"
as_postgres taskset -c "$cpu" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "$opts" start >/dev/null

export PGHOST=$dir PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
export BENCH_CPU=$cpu
/usr/bin/python3 bench/bench.py "$@"
