#!/bin/bash
# make lint: the C sources compile without warnings under -Wall -Wextra
# (warnings inside PostgreSQL's own headers aside) and cppcheck finds nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
includedir=$(/usr/lib/postgresql/15/bin/pg_config --includedir-server)
out=$(for f in src/*.c; do
        gcc -std=gnu99 -Wall -Wextra -fPIC -I src -I "$includedir" -fsyntax-only "$f" 2>&1 \
            | grep -A3 -E '^src/.*(warning|error)'
      done
      cppcheck --quiet --error-exitcode=1 --inline-suppr \
          --enable=warning,style,performance,portability -I src src/ 2>&1)
if [ -n "$out" ]; then
    echo "$out"
    echo "lint: warnings found" >&2
    exit 1
fi
echo "lint: gcc -Wall -Wextra and cppcheck report nothing"
