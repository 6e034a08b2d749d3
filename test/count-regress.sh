#!/bin/bash
# Sourced by test/suites.sh: count_regress FILE prints "PASSED FAILED", the
# number of passed and failed tests in pg_regress / pg_isolation_regress
# output, in both of its formats:
#   PostgreSQL 15:   "test name ... ok", "     name ... ok" (parallel group),
#                    "test name ... FAILED", "     name ... FAILED"
#   PostgreSQL 16+:  "ok 1 - name", "ok 3 + name" (parallel group),
#                    "not ok 2 - name"  (TAP)
# A test marked "failed (ignored)" counts as neither.
count_regress() {
    local passed failed
    passed=$(grep -cE '^(test| ) *[A-Za-z0-9_-]+ +\.\.\. ok( |$)|^ok [0-9]+ +[-+] ' "$1")
    failed=$(grep -cE '^(test| ) *[A-Za-z0-9_-]+ +\.\.\. FAILED( |$)|^not ok [0-9]+ +[-+] ' "$1")
    echo "$passed $failed"
}
