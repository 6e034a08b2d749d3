#!/bin/bash
# make bench: start a throwaway PostgreSQL 15 server pinned to one CPU
# (unix socket only, fsync on, autovacuum off, fixed shared_buffers), run
# bench/bench.py against it, stop and remove it.  Extra arguments go to
# bench.py (e.g. --quick).
#
# The server's binaries are those of PG_CONFIG (make bench passes its own;
# default Debian's PostgreSQL 15), so that the bench can run against a
# private installation.  BENCH_CPU is the CPU the server and pgbench are
# pinned to (default 1); W5 widens the server to BENCH_W5_CPUS (default
# every CPU this script may use, see bench.py).  BENCH_PORT is the port
# number of the server's socket (default 5432; unix socket only, in a
# private directory).
set -euo pipefail
cd "$(dirname "$0")/.."

bindir=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
cpu=${BENCH_CPU:-1}
port=${BENCH_PORT:-5432}
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
opts="-k $dir -c listen_addresses= -c port=$port -c fsync=on"
opts+=" -c autovacuum=off -c shared_buffers=512MB -c max_wal_size=8GB"
opts+=" -c checkpoint_timeout=1h -c log_checkpoints=off"
as_postgres taskset -c "$cpu" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "$opts" start >/dev/null

export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
export BENCH_CPU=$cpu BENCH_BINDIR=$bindir BENCH_PGDATA=$dir/data
/usr/bin/python3 bench/bench.py "$@"
