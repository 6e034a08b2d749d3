#!/bin/bash
# link-check.sh MAJOR SUITE: compile-and-link check of undoredo against a
# PostgreSQL major whose Debian packages need a newer glibc than this
# machine's (so its server cannot run here).  postgresql-server-dev-MAJOR
# postgresql-MAJOR and postgresql-client-MAJOR are fetched from SUITE with the private apt
# configuration and unpacked with dpkg-deb -x into $UNDOREDO_CACHE/deb-root/;
# every src/*.c is compiled with that major's headers and compiler warning
# flags (from its Makefile.global), with -Werror, linked into undoredo.so,
# and every symbol that undoredo.so leaves undefined must be exported by
# that major's postgres binary (nm -D), or by the C library.
# Prints "<check> ... ok|FAIL" lines; exits non-zero on a failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/apt.sh"
major=$1 suite=$2

fail() { echo "$1" >&2; echo "pg$major $3 ... FAIL"; exit 1; }

papt_fresh "$suite" >/dev/null 2>&1 || true
debs="$UNDOREDO_CACHE/debs/$major"
mkdir -p "$debs"
# keep the newest version only: a newer one replaces the unpacked tree
version=$(cd "$debs" && { papt "$suite" download "postgresql-server-dev-$major" \
    "postgresql-$major" "postgresql-client-$major" >/dev/null 2>&1 || true; } \
    && ls postgresql-"$major"_*.deb 2>/dev/null | sort -V | tail -1 \
    | sed "s/^postgresql-${major}_\(.*\)_amd64\.deb$/\1/")
[ -n "$version" ] || fail "postgresql-$major not found in $suite" "" "fetch"
root="$UNDOREDO_CACHE/deb-root/$major-$version"
if [ ! -f "$root/.done" ]; then
    rm -rf "$root"; mkdir -p "$root"
    # pgxs (Makefile.global) is in postgresql-client-MAJOR since Debian 13
    for p in "postgresql-server-dev-$major" "postgresql-$major" "postgresql-client-$major"; do
        deb=$(ls "$debs/${p}_${version}"_*.deb 2>/dev/null | head -1)
        [ -n "$deb" ] || fail "$p $version not downloaded" "" "fetch"
        dpkg-deb -x "$deb" "$root"
    done
    touch "$root/.done"
fi
inc="$root/usr/include/postgresql/$major/server"
postgres="$root/usr/lib/postgresql/$major/bin/postgres"
mkglobal="$root/usr/lib/postgresql/$major/lib/pgxs/src/Makefile.global"
[ -d "$inc" ] && [ -x "$postgres" ] || fail "no headers or no postgres binary in $root" "" "fetch"
echo "pg$major: Debian $version from $suite (headers $inc)"
if "$postgres" --version >/dev/null 2>&1; then
    echo "pg$major: its postgres runs here"
else
    need=$(objdump -T "$postgres" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
    echo "pg$major: its postgres does not run here (needs $need; this machine has GLIBC_$(ldd --version | head -1 | grep -o '[0-9.]*$'))"
fi

# the warning flags that major builds extensions with (its Makefile.global),
# minus Debian's hardening and path-mapping flags
cflags=$(sed -n 's/^CFLAGS = //p' "$mkglobal" | tr ' ' '\n' \
    | grep -E '^-(W|f(wrapv|excess|no-strict|visibility))' | grep -v 'Wdate-time' \
    | while read -r f; do   # those this machine's gcc knows (19 adds newer ones)
          gcc -Werror "$f" -x c -fsyntax-only /dev/null 2>/dev/null && echo "$f"
      done | tr '\n' ' ')
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
status=0
objs=()
for c in "$repo"/src/*.c; do
    o="$build/$(basename "${c%.c}").o"
    # shellcheck disable=SC2086
    if out=$(gcc -std=gnu99 $cflags -O2 -fPIC -Werror -I "$repo/src" -I "$inc" \
            -D_GNU_SOURCE -c "$c" -o "$o" 2>&1); then
        objs+=("$o")
    else
        echo "$out" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "pg$major compile without warnings ... ok" \
    || fail "compile errors or warnings above" "" "compile without warnings"
gcc -shared -o "$build/undoredo.so" "${objs[@]}" || fail "link failed" "" "link"
# undefined symbols (U; weak ones, w, may stay undefined): those of the
# C library carry a GLIBC_ version tag
needed() { nm -D --undefined-only "$build/undoredo.so" | awk '$1 == "U" {print $2}' | grep -v '@'; }
missing=$(comm -23 <(needed | sort -u) \
    <(nm -D --defined-only "$postgres" | awk '{print $3}' | sort -u))
if [ -n "$missing" ]; then
    echo "pg$major: undefined in undoredo.so, not exported by postgres $version:" >&2
    echo "$missing" >&2
    echo "pg$major every undefined symbol exported by postgres ... FAIL"
    exit 1
fi
n=$(needed | wc -l)
echo "pg$major: $n symbols undoredo.so needs from the server, all exported"
echo "pg$major every undefined symbol exported by postgres ... ok"
