#!/bin/bash
# The Python package (python/): installed the way its README says, offline,
# into a throwaway venv over Debian's python3 packages, then its unittest
# suite run with that venv's python against the server named by PG*.
# The package is copied first so that the build leaves nothing in the tree,
# and the tests run from the temporary directory so that nothing in the
# checkout (such as undoredo.so) shadows the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r python "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info

/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$tmp/venv/bin/pip" install --quiet --no-index \
    --no-build-isolation "$tmp/src"

tests=$PWD/python/tests
cd "$tmp"
where=$("$tmp/venv/bin/python" -c 'import undoredo.flask; print(undoredo.__file__)')
case "$where" in
    "$tmp/venv/"*) echo "undoredo installed in the venv: $where" ;;
    *) echo "undoredo imported from $where, not from the venv" >&2; exit 1 ;;
esac
"$tmp/venv/bin/python" -m unittest discover -s "$tests" -t "$tests" -v
