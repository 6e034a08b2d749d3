#!/bin/bash
# dist-test.sh PG_CONFIG PORT: the PGXN zip (make dist) unpacked in a
# temporary directory outside the checkout, built, installed and tested
# there with make installcheck against a fresh cluster (run-major.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
zip=$(bash test/dist.sh) || { echo "dist ... FAIL"; exit 1; }
echo "dist zip ($zip, META.json valid) ... ok"
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" undoredo.control)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unzip -q "$zip" -d "$tmp"
top=$(ls "$tmp")
if [ "$top" != "undoredo-$version" ]; then
    echo "zip's top directory is '$top', not undoredo-$version" >&2
    echo "dist layout ... FAIL"; exit 1
fi
echo "dist layout (undoredo-$version/) ... ok"
if bash test/matrix/run-major.sh "$1" "$2" "$tmp/$top" installcheck; then
    echo "dist build and installcheck from the unpacked zip ... ok"
else
    echo "dist build and installcheck from the unpacked zip ... FAIL"; exit 1
fi
