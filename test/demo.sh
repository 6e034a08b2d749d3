#!/bin/bash
# make demo: build, install, start a throwaway server and run the README tour.
set -euo pipefail
cd "$(dirname "$0")/.."

export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
make -s PG_CONFIG="$PG_CONFIG"
if [ "$(id -u)" -eq 0 ]; then
    make -s install PG_CONFIG="$PG_CONFIG"
else
    sudo make -s install PG_CONFIG="$PG_CONFIG"
fi
exec pg_virtualenv -t -v 15 psql -X -q -a -v ON_ERROR_STOP=1 -f demo/tour.sql
