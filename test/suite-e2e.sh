#!/bin/bash
# Browser suite: the demo editor (examples/editor) driven end to end in
# headless Chromium by examples/editor/e2e/editor.test.js (playwright-core).
# Runs inside the pg_virtualenv of make test (PG* name the server): creates
# the editor's schema, starts the editor on a free localhost port, runs the
# browser cases (one "<case> ... ok|FAIL" line each), takes a screenshot
# (docs/editor.png with SCREENSHOT=1), then stops the editor and drops its schema and histories.
# Needs Debian's chromium, nodejs and npm; installs playwright-core (pinned in
# e2e/package-lock.json) into e2e/node_modules with npm ci when missing.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

e2e=examples/editor/e2e
for tool in node:nodejs npm:npm /usr/bin/chromium:chromium; do
    if ! command -v "${tool%%:*}" >/dev/null; then
        echo "${tool%%:*} not found: install the Debian package ${tool##*:}" >&2
        echo "editor e2e set-up ... FAIL"
        exit 1
    fi
done
if [ ! -f "$e2e/node_modules/playwright-core/package.json" ]; then
    if ! (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error); then
        echo "npm ci in $e2e failed (is the npm registry reachable?)" >&2
        echo "editor e2e set-up ... FAIL"
        exit 1
    fi
fi
if ! out=$(psql -X -q -v ON_ERROR_STOP=1 -f examples/editor/schema.sql 2>&1); then
    echo "$out" >&2
    echo "editor e2e set-up ... FAIL"
    exit 1
fi

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port/"
log=$(mktemp)
/usr/bin/python3 examples/editor/app.py --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
app=$!
cleanup() {
    kill "$app" 2>/dev/null
    wait "$app" 2>/dev/null
    rm -f "$log"
    psql -X -q -c "SELECT undoredo_clear('document', id) FROM editor.document" \
         -c 'DROP SCHEMA editor CASCADE' >/dev/null 2>&1
}
trap cleanup EXIT

# wait up to 15 s for the editor to answer
if ! /usr/bin/python3 - "$url" <<'PY'
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
then
    cat "$log" >&2
    echo "editor e2e set-up ... FAIL"
    exit 1
fi

mkdir -p docs
# the screenshot goes to docs/editor.png only when asked (SCREENSHOT=1),
# so that a test run leaves the tree as it was
shot=$(mktemp --suffix=.png)
[ "${SCREENSHOT:-0}" = 1 ] && shot="$PWD/docs/editor.png"
EDITOR_URL="$url" node "$e2e/editor.test.js" "$shot"
status=$?
[ "$shot" = "$PWD/docs/editor.png" ] || rm -f "$shot"
[ $status -eq 0 ] || { echo "---- editor log" >&2; cat "$log" >&2; }
exit $status
