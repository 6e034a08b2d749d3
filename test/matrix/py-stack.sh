#!/bin/bash
# py-stack.sh SUITE: the pure-Python SQLAlchemy / Flask / Flask-SQLAlchemy
# stack of a newer Debian release (trixie: SQLAlchemy 2.0, Flask 3.1,
# Flask-SQLAlchemy 3.1 and the pure-Python libraries they need in newer
# versions than Debian 12's), fetched with the private apt configuration
# (apt-get download) and unpacked with dpkg-deb -x into
# $UNDOREDO_CACHE/py/SUITE-<hash of the versions>.  Prints the directory to
# put before Debian 12's packages on sys.path (test/suite-python.sh does,
# through UNDOREDO_PY_STACKS).  Compiled modules (markupsafe, greenlet,
# psycopg2) stay Debian 12's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/apt.sh"
suite=$1
pkgs=(python3-sqlalchemy python3-flask python3-flask-sqlalchemy python3-werkzeug
      python3-blinker python3-itsdangerous python3-click python3-jinja2
      python3-typing-extensions)
debs="$UNDOREDO_CACHE/debs/py-$suite"
mkdir -p "$debs"
if papt_fresh "$suite" >/dev/null 2>&1; then
    (cd "$debs" && papt "$suite" download "${pkgs[@]}" >/dev/null)
fi
files=()
for p in "${pkgs[@]}"; do
    f=$(ls "$debs/${p}"_*_all.deb 2>/dev/null | sort -V | tail -1)
    [ -n "$f" ] || { echo "py-stack: $p not downloaded from $suite" >&2; exit 1; }
    files+=("$f")
done
key=$(printf '%s\n' "${files[@]}" | md5sum | cut -c1-12)
site="$UNDOREDO_CACHE/py/$suite-$key"
if [ ! -f "$site/.done" ]; then
    rm -rf "$site.root" "$site"
    mkdir -p "$site.root"
    for f in "${files[@]}"; do dpkg-deb -x "$f" "$site.root"; done
    mv "$site.root/usr/lib/python3/dist-packages" "$site"
    rm -rf "$site.root"
    printf '%s\n' "${files[@]##*/}" > "$site/.done"
fi
echo "$site"
