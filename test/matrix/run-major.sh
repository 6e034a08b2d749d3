#!/bin/bash
# run-major.sh PG_CONFIG PORT [SRCDIR [installcheck]]: every suite (test/suites.sh: regress,
# isolation, dump, clients, and each test/suite-*.sh: crash, model, limits,
# Python, browser, ...) against the PostgreSQL installation of PG_CONFIG.
# The tree is copied to a temporary directory and built and installed there
# (so the checkout keeps no objects of another major), a throwaway cluster
# is made with initdb and started with pg_ctl on PORT with its socket in a
# private directory, and stopped and removed at the end.  SRCDIR (default:
# this checkout) is the tree to copy, e.g. an unpacked PGXN zip; with
# "installcheck" only make installcheck runs (what a PGXN client runs).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export PG_CONFIG=$1
port=$2
srcdir=${3:-$repo}
only=${4:-}
bindir=$("$PG_CONFIG" --bindir)
version=$("$PG_CONFIG" --version)
echo "==== $version ($PG_CONFIG), port $port"

tmp=$(mktemp -d /tmp/undoredo-matrix.XXXXXX)
chmod 755 "$tmp"
cleanup() {
    [ -f "$tmp/data/postmaster.pid" ] && \
        runuser -u postgres -- "$bindir/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

# the checkout without git metadata and build products; node_modules of
# the browser test come along when present (npm ci otherwise)
tar -C "$srcdir" --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=./results --exclude=./output_iso --exclude=./log -cf - . \
    | { mkdir "$tmp/src" && tar -C "$tmp/src" -xf -; }
cd "$tmp/src" || exit 1
make -s PG_CONFIG="$PG_CONFIG" >/dev/null 2>"$tmp/build.log" || { cat "$tmp/build.log"; echo "build ... FAIL"; exit 1; }
if grep -q 'warning:' "$tmp/build.log"; then
    cat "$tmp/build.log"; echo "build without warnings ... FAIL"; exit 1
fi
make -s install PG_CONFIG="$PG_CONFIG" >/dev/null || { echo "install ... FAIL"; exit 1; }

mkdir -p "$tmp/data" "$tmp/sock" "$tmp/log"
chown postgres "$tmp/data" "$tmp/sock" "$tmp/log"
runuser -u postgres -- "$bindir/initdb" -D "$tmp/data" -U postgres -A trust \
    -E UTF8 --locale=C.UTF-8 --no-sync >"$tmp/initdb.log" 2>&1 \
    || { cat "$tmp/initdb.log"; echo "initdb ... FAIL"; exit 1; }
cat >> "$tmp/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$tmp/sock'
fsync = off
CONF
runuser -u postgres -- "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/log/server.log" -w start >/dev/null \
    || { cat "$tmp/log/server.log"; echo "server start ... FAIL"; exit 1; }

export PGHOST=$tmp/sock PGPORT=$port PGUSER=postgres PGDATABASE=postgres
export PATH="$bindir:$PATH"
if [ "$only" = installcheck ]; then
    . "$repo/test/count-regress.sh"
    make -s installcheck PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$tmp/check.log"
    rc=${PIPESTATUS[0]}
    [ "$rc" -ne 0 ] && cat regression.diffs output_iso/regression.diffs 2>/dev/null
    read -r p f < <(count_regress "$tmp/check.log")
    echo "installcheck: $p passed, $f failed"
    exit "$rc"
fi
bash test/suites.sh
