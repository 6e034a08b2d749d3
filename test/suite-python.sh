#!/bin/bash
# The Python package (python/): installed the way its README says, offline,
# into a throwaway venv over Debian's python3 packages, then its unittest
# suite run with that venv's python against the server named by PG*.
# The package is copied first so that the build leaves nothing in the tree,
# and the tests run from the temporary directory so that nothing in the
# checkout (such as undoredo.so) shadows the installed package.
# Python stacks: Debian 12's (SQLAlchemy 1.4, Flask 2.2, Flask-SQLAlchemy
# 3.0) always; UNDOREDO_PY_STACKS="NAME=DIR ..." adds one run per stack whose
# pure-Python packages in DIR come before Debian 12's in the venv (make
# test-all: Debian 13's SQLAlchemy 2.0, Flask 3.1, Flask-SQLAlchemy 3.1, from
# test/matrix/py-stack.sh).  The installed package's version must be the
# extension's (undoredo.control).
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r python "$tmp/src"
cp undoredo.control "$tmp/"   # python/setup.py takes the version from it
rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info
tests=$PWD/python/tests
control_version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" undoredo.control)

run_stack() {   # NAME [SITE]
    local name=$1 site=${2:-} venv="$tmp/venv-$1"
    /usr/bin/python3 -m venv --system-site-packages "$venv"
    if [ -n "$site" ]; then
        # a .pth of the venv's site-packages: before Debian's dist-packages
        "$venv/bin/python" -c 'import site; print(site.getsitepackages()[0])' \
            | xargs -I{} sh -c "echo '$site' > '{}/00-stack-$name.pth'"
    fi
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install --quiet --no-index \
        --no-build-isolation "$tmp/src"
    (
        cd "$tmp"
        "$venv/bin/python" - "$venv" "$site" "$control_version" "$name" <<'PY'
import sys, importlib.metadata as md
venv, site, control_version, name = sys.argv[1:]
import undoredo.flask, sqlalchemy, flask, flask_sqlalchemy
where = undoredo.__file__
if not where.startswith(venv + "/"):
    sys.exit("undoredo imported from %s, not from the venv" % where)
if site and not sqlalchemy.__file__.startswith(site + "/"):
    sys.exit("SQLAlchemy imported from %s, not from %s" % (sqlalchemy.__file__, site))
if undoredo.__version__ != control_version:
    sys.exit("undoredo %s installed, the extension is %s" % (undoredo.__version__, control_version))
print("python stack %s: undoredo %s, SQLAlchemy %s, Flask %s, Flask-SQLAlchemy %s"
      % (name, undoredo.__version__, sqlalchemy.__version__, md.version("flask"),
         md.version("flask-sqlalchemy")))
PY
        "$venv/bin/python" -m unittest discover -s "$tests" -t "$tests" -v
    )
}

run_stack debian12
for stack in ${UNDOREDO_PY_STACKS:-}; do
    run_stack "${stack%%=*}" "${stack#*=}"
done
