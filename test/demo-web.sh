#!/bin/bash
# make demo-web: build and install the extension, start a throwaway
# PostgreSQL 15 cluster (pg_virtualenv -t: in a temporary directory, even as
# root, so it can run next to make test), create the demo editor's schema
# (examples/editor/schema.sql), run the editor (examples/editor/app.py) and
# print its URL.  Ctrl-C stops the editor and drops the cluster.
#   bash test/demo-web.sh            build, install, then all of the above
#   bash test/demo-web.sh --serve    only schema + editor, against the server
#                                    that PG* names (pg_virtualenv runs this)
# EDITOR_PORT (default 5000) picks the port; the editor listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--serve" ]; then
    port=${EDITOR_PORT:-5000}
    psql -X -q -v ON_ERROR_STOP=1 -f examples/editor/schema.sql >/dev/null
    echo
    echo "undoredo demo editor: http://127.0.0.1:$port/   (Ctrl-C stops it and drops the database)"
    echo
    exec /usr/bin/python3 examples/editor/app.py --host 127.0.0.1 --port "$port"
fi

export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
make -s PG_CONFIG="$PG_CONFIG"
if [ "$(id -u)" -eq 0 ]; then
    make -s install PG_CONFIG="$PG_CONFIG"
else
    sudo make -s install PG_CONFIG="$PG_CONFIG"
fi
exec pg_virtualenv -t -v 15 bash test/demo-web.sh --serve
