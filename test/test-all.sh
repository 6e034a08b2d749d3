#!/bin/bash
# make test-all: every suite on every PostgreSQL major this machine can get,
# both Python stacks, the PGXN zip and the Debian package.  Parts, each timed:
#   pg15     Debian 12's PostgreSQL 15, from a private relocated copy
#            (test/matrix/pg15.sh): every suite of test/suites.sh, the
#            Python suite on Debian 12's and Debian 13's stacks
#   pg18     PostgreSQL 18 built from Debian sid's source package into the
#            cache (test/matrix/build-pg.sh), then the same suites
#   pg17, pg19  compile (-Werror) and link check against Debian's headers
#            and server binary (test/matrix/link-check.sh): their packages
#            need a newer glibc than Debian 12's, so they cannot run here
#   dist     the PGXN zip built, unpacked elsewhere, built and tested there
#   deb      the Debian package built and installed onto Debian's
#            PostgreSQL 15, CREATE EXTENSION and installcheck, purged
#   citus    make test-citus: Citus 13.2.2 built from ../shared/vendor into
#            the cache, a coordinator and two workers of a private copy of
#            PostgreSQL 15 (test/citus/run.sh)
#   citus18  the same with Citus 14.0.1 on the PostgreSQL 18 of pg18
# Caches (PostgreSQL builds, downloaded packages) live in UNDOREDO_CACHE
# (default /var/cache/undoredo-build); nothing is installed into the
# system's PostgreSQL but the package of the deb part, purged again.
# Ports: UNDOREDO_PORT (default 5610) and the nine above it.
# TEST_ALL_PARTS="pg15 pg18 ..." runs a subset.
set -uo pipefail
cd "$(dirname "$0")/.."
export UNDOREDO_CACHE=${UNDOREDO_CACHE:-/var/cache/undoredo-build}
base=${UNDOREDO_PORT:-5610}
parts=${TEST_ALL_PARTS:-pg15 pg18 pg17 pg19 dist deb citus citus18}
mkdir -p "$UNDOREDO_CACHE"

extra=(unzip dpkg-dev debhelper postgresql-server-dev-all build-essential
       libxml2-dev zlib1g-dev pkg-config bison flex)
missing=()
for p in "${extra[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if [ "$(id -u)" -ne 0 ]; then
    echo "make test-all runs as root (clusters as the postgres user, dpkg)" >&2
    exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing ${missing[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

total_passed=0 total_failed=0 status=0
timings=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

part() {   # NAME COMMAND...: run, count, time
    local name=$1; shift
    local start=$SECONDS p f rc
    echo
    echo "######## $name"
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if grep -qE '^suites: [0-9]+ passed, [0-9]+ failed$' "$log"; then
        read -r p f < <(sed -nE 's/^suites: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$log" | tail -1)
    else
        p=$(grep -cE ' \.\.\. ok$| \.\.\. ok ' "$log")
        f=$(grep -cE ' \.\.\. (FAIL|FAILED|ERROR)$' "$log")
    fi
    if [ "$rc" -ne 0 ]; then status=1; [ "$f" -eq 0 ] && f=1; fi
    total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
    timings+=("$(printf '%-7s %5d s  %4d passed, %d failed' "$name" $((SECONDS - start)) "$p" "$f")")
}

bash test/lint.sh || status=1

stacks() { echo "trixie=$(bash test/matrix/py-stack.sh trixie)"; }
pg15() {
    local c; c=$(bash test/matrix/pg15.sh) || return 1
    UNDOREDO_PY_STACKS=$(stacks) || return 1
    export UNDOREDO_PY_STACKS
    bash test/matrix/run-major.sh "$c" "$base"
}
pg18() {
    local c; c=$(bash test/matrix/build-pg.sh 18 sid) || return 1
    UNDOREDO_PY_STACKS=$(stacks) || return 1
    export UNDOREDO_PY_STACKS
    bash test/matrix/run-major.sh "$c" $((base + 1))
}
dist() {
    local c; c=$(bash test/matrix/pg15.sh) || return 1
    bash test/dist-test.sh "$c" $((base + 2))
}
deb() {
    bash test/deb.sh && bash test/deb-test.sh $((base + 3))
}

for p in $parts; do
    case $p in
        pg15) part pg15 pg15 ;;
        pg18) part pg18 pg18 ;;
        pg17) part pg17 bash test/matrix/link-check.sh 17 trixie ;;
        pg19) part pg19 bash test/matrix/link-check.sh 19 experimental ;;
        dist) part dist dist ;;
        deb)  part deb deb ;;
        citus) part citus bash test/citus/run.sh 15 $((base + 4)) ;;
        citus18) part citus18 bash test/citus/run.sh 18 $((base + 7)) ;;
        *) echo "unknown part $p" >&2; status=1 ;;
    esac
done

echo
echo "######## times"
printf '%s\n' "${timings[@]}"
echo "pg16: not checked (Debian serves no postgresql-16 packages for any release here)"
echo "test-all: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ] || status=1
exit $status
