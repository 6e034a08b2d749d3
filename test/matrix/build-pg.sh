#!/bin/bash
# build-pg.sh MAJOR SUITE: build a minimal PostgreSQL server of that major
# from Debian's source package in SUITE (e.g. 18 sid), with --with-libxml
# (the types test needs xml) and --enable-cassert (the extension's Asserts
# and PostgreSQL's memory checks then run in the suites), into $UNDOREDO_CACHE/pg/VERSION, keyed by the
# Debian version, and print that directory's bin/pg_config.  A finished
# build is reused; when the archive cannot be reached the newest finished
# build of the major is used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/apt.sh"
major=$1 suite=$2

log() { echo "build-pg $major: $*" >&2; }

newest_cached() {
    ls -d "$UNDOREDO_CACHE/pg/postgresql-$major".*-cassert/.done 2>/dev/null | sort -V | tail -1 | xargs -r dirname
}

version=
if papt_fresh "$suite" >/dev/null 2>&1; then
    version=$(papt "$suite" source --print-uris "postgresql-$major" 2>/dev/null \
        | sed -n "s/.*\/postgresql-${major}_\([^']*\)\.dsc'.*/\1/p" | head -1)
fi
if [ -z "$version" ]; then
    prefix=$(newest_cached)
    [ -n "$prefix" ] || { log "no source package and no cached build"; exit 1; }
    log "archive not reachable, using $prefix"
    echo "$prefix/bin/pg_config"; exit 0
fi
# "postgresql" in the prefix: configure then adds no /postgresql to its dirs
prefix="$UNDOREDO_CACHE/pg/postgresql-$(echo "$version" | tr '~' '_')-cassert"
# contrib modules the suites use (citext: equal keys and types, amcheck:
# maintenance); a build made before they were added is made again
contrib=(citext amcheck)
if [ -f "$prefix/.done" ] && [ -f "$prefix/share/extension/citext.control" ] \
        && [ -f "$prefix/share/extension/amcheck.control" ]; then
    echo "$prefix/bin/pg_config"; exit 0
fi

# build dependencies of a minimal server with xml, from bookworm
missing=()
for p in build-essential dpkg-dev libxml2-dev zlib1g-dev pkg-config bison flex; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

src="$UNDOREDO_CACHE/src/postgresql-$major-$version"
rm -rf "$src" "$prefix"
mkdir -p "$src"
start=$(date +%s)
log "fetching postgresql-$major $version from $suite"
(cd "$src" && papt "$suite" source --download-only "postgresql-$major" >/dev/null)
# the upstream tarball of Debian's source package, without Debian's patches
# (they fix the installation paths to /usr/lib/postgresql/MAJOR)
(cd "$src" && dpkg-source --no-check --skip-patches -x ./*.dsc tree >/dev/null)
log "configure and build (about 5 minutes on 2 cores)"
step() {   # NAME COMMAND...: run with its log kept in $src; stop on failure
    local name=$1; shift
    if ! (cd "$src/tree" && "$@") >"$src/$name.log" 2>&1; then
        tail -40 "$src/$name.log" >&2
        log "$name failed; log in $src/$name.log"
        exit 1
    fi
}
# run from make test-all, the outer make's MAKELEVEL would make
# PostgreSQL's build skip generating its headers (it does so at level 0)
unset MAKELEVEL MAKEFLAGS MFLAGS
step configure ./configure --prefix="$prefix" --with-libxml --without-icu \
    --without-readline --without-zstd --without-lz4 --disable-nls \
    --enable-cassert CFLAGS="-O2"
step make make -s -j"$(nproc)"
# install nowhere but into the prefix
if grep -E '^(prefix|exec_prefix|bindir|libdir|pkglibdir|datadir|includedir.*) *=' \
        "$src/tree/src/Makefile.global" | grep -E '= */(usr|etc)'; then
    log "installation paths outside $prefix: refusing to install"; exit 1
fi
step install make -s install
# pg_isolation_regress for PGXS's installcheck of ISOLATION
step install-isolation make -s -C src/test/isolation install
for m in "${contrib[@]}"; do
    step "install-$m" make -s -C "contrib/$m" install
done
for f in bin/postgres bin/pg_config bin/psql bin/pg_dump lib/pgxs/src/makefiles/pgxs.mk \
         lib/pgxs/src/test/regress/pg_regress lib/pgxs/src/test/isolation/pg_isolation_regress \
         share/extension/citext.control share/extension/amcheck.control; do
    [ -e "$prefix/$f" ] || { log "$prefix/$f missing after install"; exit 1; }
done
rm -rf "$src/tree"
echo "$version" > "$prefix/.done"
log "built in $(( $(date +%s) - start )) s into $prefix"
echo "$prefix/bin/pg_config"
