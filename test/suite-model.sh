#!/bin/bash
# The model-based randomized test (test/model_test.py) with its fixed CI
# seeds, both modes: one "model seed N mode M: ... ... ok" line per run.
# Run by test/suites.sh inside pg_virtualenv (PG* name the server).
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 test/model_test.py
