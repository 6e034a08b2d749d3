#!/bin/bash
# build-citus.sh PG_CONFIG: build Citus from the vendored source tarball that
# fits the PostgreSQL of PG_CONFIG, a PostgreSQL in the cache (a directory
# directly under $UNDOREDO_CACHE/pg: test/matrix/pg15.sh or build-pg.sh),
# and print the directory of its installed files, laid out relative to that
# PostgreSQL's directory: copied over a copy of it, they install Citus
# there (run.sh).
#
# The tarballs live beside the clone, in ../shared/vendor (UNDOREDO_VENDOR
# overrides), and are checked against its SHA256SUMS; the repository holds
# no copy.  Citus 13.2.2 serves PostgreSQL 15-17, 14.0.1 serves 16-18.
# A build is cached in $UNDOREDO_CACHE/citus, keyed by the tarball's checksum
# and the PostgreSQL version, so that a second run only finds it.
#
# Citus 13.2.2 defines a static have_createdb_privilege() for PostgreSQL 15
# in its compatibility header; PostgreSQL 15.20 (Debian 12's) exports that
# function itself, so the build renames Citus's copy when the server headers
# declare it (the one caller then uses the server's function, same rules).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
: "${UNDOREDO_CACHE:=/var/cache/undoredo-build}"
: "${UNDOREDO_VENDOR:=$repo/../shared/vendor}"
PG_CONFIG=$1

log() { echo "build-citus: $*" >&2; }

pgversion=$("$PG_CONFIG" --version | awk '{print $2}')
major=${pgversion%%.*}
case $major in
    15|17) citus=13.2.2 ;;
    16|18) citus=14.0.1 ;;
    *) log "no vendored Citus for PostgreSQL $major"; exit 1 ;;
esac
[ -n "${CITUS_VERSION:-}" ] && citus=$CITUS_VERSION
tarball="$UNDOREDO_VENDOR/citus-$citus.tar.gz"
[ -f "$tarball" ] || { log "$tarball not found (the clone's ../shared/vendor)"; exit 1; }
want=$(awk -v f="citus-$citus.tar.gz" '$2 == f {print $1}' "$UNDOREDO_VENDOR/SHA256SUMS")
have=$(sha256sum "$tarball" | awk '{print $1}')
if [ -z "$want" ] || [ "$want" != "$have" ]; then
    log "checksum of $tarball does not match SHA256SUMS"; exit 1
fi

# the PostgreSQL build it is for: its directory in the cache
bindir=$(cd "$("$PG_CONFIG" --bindir)" && pwd)
case $bindir in
    "$UNDOREDO_CACHE/pg/"*) ;;
    *) log "$PG_CONFIG is not a PostgreSQL in $UNDOREDO_CACHE/pg"; exit 1 ;;
esac
rel=${bindir#"$UNDOREDO_CACHE/pg/"}
root="$UNDOREDO_CACHE/pg/${rel%%/*}"
key="citus-$citus-${have:0:16}-${root##*/}"
dir="$UNDOREDO_CACHE/citus/$key"
if [ -f "$dir/.done" ]; then
    echo "$dir/files"; exit 0
fi

# Debian 12's build dependencies of Citus (plus the server headers)
missing=()
for p in build-essential libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || { log "needs ${missing[*]}: run as root or install them"; exit 1; }
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi

rm -rf "$dir"
mkdir -p "$dir"
start=$SECONDS
log "building Citus $citus for PostgreSQL $pgversion (about 3 minutes on 2 cores)"
tar -C "$dir" -xzf "$tarball"
src="$dir/citus-$citus"
[ -d "$src" ] || { log "unexpected layout of $tarball"; exit 1; }
if [ "$citus" = 13.2.2 ] && grep -qs 'have_createdb_privilege' \
        "$("$PG_CONFIG" --includedir-server)/commands/dbcommands.h"; then
    sed -i 's/^have_createdb_privilege(void)$/citus_unused_have_createdb_privilege(void)/' \
        "$src/src/include/pg_version_compat.h"
fi
step() {   # NAME COMMAND...: run in the source tree, its log kept in $dir
    local name=$1; shift
    if ! (cd "$src" && "$@") >"$dir/$name.log" 2>&1; then
        tail -40 "$dir/$name.log" >&2
        log "$name failed; log in $dir/$name.log"
        exit 1
    fi
}
# from make test-citus, the outer make's settings must not leak in
unset MAKELEVEL MAKEFLAGS MFLAGS
step configure ./configure PG_CONFIG="$PG_CONFIG"
# no LLVM bitcode: the tests need no JIT, and it doubles the build time
step make make -j"$(nproc)" with_llvm=no
step install make install with_llvm=no DESTDIR="$dir/stage"
# keep the installed files only, relative to the PostgreSQL directory
[ -d "$dir/stage$root" ] || { log "make install put nothing under $root"; exit 1; }
mv "$dir/stage$root" "$dir/files"
rm -rf "$src" "$dir/stage"
echo "$have" > "$dir/.done"
log "built in $((SECONDS - start)) s"
echo "$dir/files"
