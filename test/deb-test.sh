#!/bin/bash
# deb-test.sh PORT: the Debian package (make deb, build/deb/) installed with
# dpkg onto Debian's PostgreSQL 15, which must never have seen make install
# (undoredo files of a make install there are moved aside for the test and
# put back afterwards); a fresh cluster of that server (initdb, pg_ctl on
# PORT) runs CREATE EXTENSION and the installcheck suites against the
# packaged files; then the package is purged and must leave none of its
# files behind.  Prints "<case> ... ok|FAIL" lines.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
port=$1
major=15
bindir=/usr/lib/postgresql/$major/bin
pkg=postgresql-$major-undoredo
status=0
ok() { echo "$1 ... ok"; }
fail() { echo "$1 ... FAIL"; status=1; }

deb=$(ls build/deb/${pkg}_*_amd64.deb 2>/dev/null | sort -V | tail -1)
[ -n "$deb" ] || { echo "no $pkg .deb in build/deb: run make deb" >&2; fail "deb install"; exit 1; }

tmp=$(mktemp -d /tmp/undoredo-deb.XXXXXX)
chmod 755 "$tmp"
sharedir=/usr/share/postgresql/$major/extension
libdir=/usr/lib/postgresql/$major/lib
stash() {   # move a make install's files aside
    mkdir -p "$tmp/stash"
    for f in "$sharedir"/undoredo* "$libdir"/undoredo.so "$libdir"/bitcode/undoredo*; do
        [ -e "$f" ] || continue
        mkdir -p "$tmp/stash$(dirname "$f")"
        mv "$f" "$tmp/stash$f"
    done
}
unstash() {
    [ -d "$tmp/stash" ] && cp -a "$tmp/stash/." / 2>/dev/null
}
cleanup() {
    [ -f "$tmp/data/postmaster.pid" ] && \
        runuser -u postgres -- "$bindir/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1
    dpkg -s "$pkg" >/dev/null 2>&1 && dpkg --purge "$pkg" >/dev/null 2>&1
    unstash
    rm -rf "$tmp"
}
trap cleanup EXIT
if dpkg -s "$pkg" >/dev/null 2>&1; then
    echo "$pkg is installed already; this test installs and purges it" >&2
    dpkg --purge "$pkg" >/dev/null
fi
stash

if dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1; then ok "deb install with dpkg"
else cat "$tmp/dpkg.log"; fail "deb install with dpkg"; exit 1; fi
files=$(dpkg -L "$pkg" | while read -r f; do [ -f "$f" ] && echo "$f"; done)

mkdir -p "$tmp/data" "$tmp/sock" "$tmp/log"
chown postgres "$tmp/data" "$tmp/sock" "$tmp/log"
runuser -u postgres -- "$bindir/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 --no-sync >/dev/null 2>&1 || { fail "deb initdb"; exit 1; }
printf "port = %s\nlisten_addresses = ''\nunix_socket_directories = '%s'\nfsync = off\n" \
    "$port" "$tmp/sock" >> "$tmp/data/postgresql.conf"
runuser -u postgres -- "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/log/server.log" -w start >/dev/null \
    || { cat "$tmp/log/server.log"; fail "deb server start"; exit 1; }
export PGHOST=$tmp/sock PGPORT=$port PGUSER=postgres PGDATABASE=postgres
export PATH="$bindir:$PATH"

got=$(psql -X -At -v ON_ERROR_STOP=1 -c "CREATE DATABASE deb_check" \
      -d postgres >/dev/null 2>&1 && psql -X -q -At -v ON_ERROR_STOP=1 -d deb_check \
      -c "CREATE EXTENSION undoredo" \
      -c "SELECT extversion FROM pg_extension WHERE extname = 'undoredo'" 2>&1)
want=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" undoredo.control)
if [ "$got" = "$want" ]; then ok "deb CREATE EXTENSION (version $want)"
else echo "got: $got" >&2; fail "deb CREATE EXTENSION"; fi

# the installcheck suites from a copy of the tree with no build products,
# so that nothing but the packaged files can serve them
mkdir "$tmp/src"
tar -C "$repo" --exclude=./.git --exclude=./build --exclude='*.o' --exclude='*.so' \
    --exclude='*.bc' --exclude=./results --exclude=./output_iso \
    --exclude=./examples -cf - . | tar -C "$tmp/src" -xf -
. test/count-regress.sh
if (cd "$tmp/src" && make -s installcheck PG_CONFIG="$bindir/pg_config") >"$tmp/check.log" 2>&1; then
    read -r p f < <(count_regress "$tmp/check.log")
    ok "deb installcheck ($p tests passed)"
else
    cat "$tmp/check.log"
    for d in "$tmp/src/regression.diffs" "$tmp/src/output_iso/regression.diffs"; do
        [ -f "$d" ] && cat "$d"
    done
    fail "deb installcheck"
fi
psql -X -q -c "DROP DATABASE deb_check" >/dev/null 2>&1

if dpkg --purge "$pkg" >"$tmp/dpkg.log" 2>&1; then
    left=$(for f in $files; do [ -e "$f" ] && echo "$f"; done)
    if [ -z "$left" ] && ! dpkg -s "$pkg" >/dev/null 2>&1; then ok "deb purge leaves no file"
    else echo "left behind: $left" >&2; fail "deb purge leaves no file"; fi
else
    cat "$tmp/dpkg.log"; fail "deb purge leaves no file"
fi
if psql -X -q -d postgres -c "CREATE DATABASE deb_gone" >/dev/null 2>&1 && \
   ! psql -X -q -d deb_gone -c "CREATE EXTENSION undoredo" >/dev/null 2>&1; then
    ok "deb after purge CREATE EXTENSION fails"
else
    fail "deb after purge CREATE EXTENSION fails"
fi
exit $status
