#!/bin/bash
# make test-citus: undoredo on Citus, one coordinator and two workers on
# this machine.  run.sh [MAJOR [PORT [SRCDIR]]]: MAJOR 15 (default: Debian
# 12's PostgreSQL 15 with Citus 13.2.2) or 18 (PostgreSQL 18 built into the
# cache by test/matrix/build-pg.sh, with Citus 14.0.1); PORT (default
# UNDOREDO_PORT + 4, i.e. 5614) and the two above it are the nodes' ports,
# on Unix sockets only; SRCDIR (default: this checkout) the undoredo tree
# to build and test.  Extra arguments after them name the tests to run.
#
# Citus comes from the vendored tarballs beside the clone
# (../shared/vendor), built once and cached (test/citus/build-citus.sh).
# PostgreSQL, Citus and undoredo are installed into a throwaway copy of the
# cached PostgreSQL (never into the system's), the tree is built there as
# test/matrix/run-major.sh does, and test/citus/citus_test.py makes the
# three servers, runs the tests and removes the servers.  Output: one
# "<name> ... ok", "<name> ... xfail" (a known fault, recorded until Citus
# mode exists; not counted as passed) or "<name> ... FAIL" line per test,
# then "citus: N passed, M failed, K xfail".  CITUS_SCRIPT runs another
# script on the cluster instead (make bench-citus: bench/citus.py).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export UNDOREDO_CACHE=${UNDOREDO_CACHE:-/var/cache/undoredo-build}
major=${1:-15}
port=${2:-$(( ${UNDOREDO_PORT:-5610} + 4 ))}
srcdir=${3:-$repo}
shift $(( $# < 3 ? $# : 3 ))

if [ "$(id -u)" -ne 0 ]; then
    echo "make test-citus runs as root (servers as the postgres user)" >&2
    exit 1
fi
case $major in
    15) pgc=$(bash "$repo/test/matrix/pg15.sh") ;;
    18) pgc=$(bash "$repo/test/matrix/build-pg.sh" 18 sid) ;;
    *) echo "test-citus: PostgreSQL $major is not supported here (15, 18)" >&2; exit 1 ;;
esac
[ -n "$pgc" ] || { echo "postgresql $major ... FAIL"; exit 1; }
start=$SECONDS
files=$(bash "$here/build-citus.sh" "$pgc") || { echo "build citus ... FAIL"; exit 1; }
echo "citus build ready in $((SECONDS - start)) s"

bindir=
tmp=$(mktemp -d "${TMPDIR:-/tmp}/undoredo-citus.XXXXXX")
chmod 755 "$tmp"
cleanup() {
    # servers left running by an interrupted test run
    for pid in "$tmp"/nodes/*/data/postmaster.pid; do
        [ -f "$pid" ] || continue
        runuser -u postgres -- "$bindir/pg_ctl" -D "$(dirname "$pid")" -m immediate \
            -w stop >/dev/null 2>&1
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

# the cached PostgreSQL (a directory directly under $UNDOREDO_CACHE/pg),
# copied whole, with Citus's files laid over it; both layouts (a relocated
# Debian tree, a configure --prefix build) move as a whole
rel=${pgc#"$UNDOREDO_CACHE/pg/"}
root="$UNDOREDO_CACHE/pg/${rel%%/*}"
cp -a "$root" "$tmp/pg"
cp -a "$files/." "$tmp/pg/"
export PG_CONFIG="$tmp/pg/${pgc#"$root/"}"
bindir=$("$PG_CONFIG" --bindir)
case $("$PG_CONFIG" --pkglibdir) in
    "$tmp"/*) ;;
    *) echo "the copy of PostgreSQL is not relocatable: $PG_CONFIG"
       echo "install ... FAIL"; exit 1 ;;
esac

# undoredo, built in a copy of the tree (the checkout keeps no objects)
tar -C "$srcdir" --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=./results --exclude=./output_iso --exclude=./log \
    --exclude=./node_modules -cf - . | { mkdir "$tmp/src" && tar -C "$tmp/src" -xf -; }
if ! (cd "$tmp/src" && unset MAKELEVEL MAKEFLAGS MFLAGS &&
      make -s PG_CONFIG="$PG_CONFIG" && make -s install PG_CONFIG="$PG_CONFIG") \
        >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log"; echo "build undoredo ... FAIL"; exit 1
fi

mkdir -p "$tmp/nodes"
CITUS_NODES_DIR="$tmp/nodes" CITUS_PORT=$port \
    /usr/bin/python3 "${CITUS_SCRIPT:-$here/citus_test.py}" "$@"
