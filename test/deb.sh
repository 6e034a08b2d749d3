#!/bin/bash
# make deb: build the Debian packages (postgresql-NN-undoredo for each major
# that debian/pgversions and the installed postgresql-server-dev-NN allow)
# from a copy of the tree, with dpkg-buildpackage; the .deb files land in
# build/deb/.  Installs the build dependencies when missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

need=(debhelper postgresql-server-dev-all dpkg-dev build-essential)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "make deb needs: sudo apt-get install ${missing[*]}" >&2; exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# the package's upstream version is the extension's
control=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" undoredo.control)
deb=$(dpkg-parsechangelog -S Version)
if [ "${deb%-*}" != "$control" ]; then
    echo "debian/changelog has $deb, undoredo.control $control" >&2; exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/undoredo-$control"
tar -C "$repo" --exclude=./.git --exclude=./build --exclude='*.o' --exclude='*.so' \
    --exclude='*.bc' --exclude=./results --exclude=./output_iso \
    --exclude=./examples/editor/e2e/node_modules -cf - . \
    | tar -C "$tmp/undoredo-$control" -xf -
(
    cd "$tmp/undoredo-$control"
    # debian/control must list the packages of the majors installed here
    pg_buildext checkcontrol >/dev/null 2>&1 || pg_buildext updatecontrol
    DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1 \
        || { tail -40 "$tmp/build.log" >&2; exit 1; }
)
mkdir -p build/deb
rm -f build/deb/*.deb
cp "$tmp"/*.deb build/deb/
ls build/deb/*.deb
