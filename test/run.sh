#!/bin/bash
# make test: build and install the extension, start a throwaway PostgreSQL 15
# cluster (pg_virtualenv), run every suite against it, drop the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
make -s PG_CONFIG="$PG_CONFIG"
bash test/lint.sh
if [ "$(id -u)" -eq 0 ]; then
    make -s install PG_CONFIG="$PG_CONFIG"
else
    sudo make -s install PG_CONFIG="$PG_CONFIG"
fi

exec pg_virtualenv -t -v 15 bash test/suites.sh
