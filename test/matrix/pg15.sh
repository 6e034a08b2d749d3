#!/bin/bash
# pg15.sh: a private copy of Debian 12's PostgreSQL 15 (its build is
# relocatable: pg_config and the server find their files relative to
# themselves) in $UNDOREDO_CACHE/pg/15-deb-VERSION, so that make test-all
# installs undoredo there and never into the system's PostgreSQL.  Prints its
# pg_config.  Needs postgresql-15 and postgresql-server-dev-15 (make deps).
set -euo pipefail
: "${UNDOREDO_CACHE:=/var/cache/undoredo-build}"
version=$(dpkg-query -W -f='${Version}' postgresql-15)
prefix="$UNDOREDO_CACHE/pg/15-deb-$version"
if [ ! -f "$prefix/.done" ]; then
    rm -rf "$prefix"
    mkdir -p "$prefix/usr/lib/postgresql" "$prefix/usr/share/postgresql" \
             "$prefix/usr/include"
    cp -a /usr/lib/postgresql/15 "$prefix/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/15 "$prefix/usr/share/postgresql/"
    cp -a /usr/include/postgresql "$prefix/usr/include/"
    # only Debian's own files: no extension installed in the system's copy
    rm -f "$prefix"/usr/share/postgresql/15/extension/undoredo* \
          "$prefix"/usr/lib/postgresql/15/lib/undoredo.so
    rm -rf "$prefix"/usr/lib/postgresql/15/lib/bitcode/undoredo*
    echo "$version" > "$prefix/.done"
fi
echo "$prefix/usr/lib/postgresql/15/bin/pg_config"
