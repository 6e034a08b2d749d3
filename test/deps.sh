#!/bin/bash
# Install the Debian packages that building and testing undoredo need, when
# they are missing.  As root it runs apt-get; otherwise it prints the command.
set -euo pipefail

packages=(postgresql-15 postgresql-server-dev-15 postgresql-common
          build-essential cppcheck python3 python3-psycopg2
          python3-sqlalchemy python3-flask python3-flask-sqlalchemy
          python3-setuptools python3-pip python3-venv chromium)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
# the browser test installs playwright-core with npm; a Node.js from
# elsewhere (NodeSource) brings its own npm, which Debian's would conflict with
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "undoredo needs these Debian packages: ${missing[*]}" >&2
    echo "Run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "Installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
