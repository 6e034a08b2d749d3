#!/bin/bash
# make dist: the PGXN release zip, build/undoredo-VERSION.zip (git archive
# of HEAD, every file under undoredo-VERSION/), after validating META.json:
# the fields PGXN requires, its version and the provided extension's version
# equal to undoredo.control's default_version (as a semantic version: 1.2
# is 1.2.0), the provided file present.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" undoredo.control)
python3 - "$version" <<'PY'
import json, os, re, sys
version = sys.argv[1]
errors = []
try:
    meta = json.load(open("META.json"))
except ValueError as e:
    sys.exit("META.json is not valid JSON: %s" % e)
for field in ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"):
    if not meta.get(field):
        errors.append("required field %s missing" % field)
semver = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z-]+)?$")
# PGXN wants three numbers; an extension version of two (1.2) is x.y.0
semantic = version if version.count(".") >= 2 else version + ".0"
if meta.get("version") != semantic:
    errors.append("version %s, undoredo.control has %s" % (meta.get("version"), version))
if not semver.match(str(meta.get("version", ""))):
    errors.append("version %s is not a semantic version" % meta.get("version"))
if meta.get("meta-spec", {}).get("version") != "1.0.0":
    errors.append("meta-spec version must be 1.0.0")
if meta.get("release_status", "stable") not in ("stable", "testing", "unstable"):
    errors.append("release_status %s" % meta.get("release_status"))
ext = meta.get("provides", {}).get("undoredo")
if not ext:
    errors.append("provides has no undoredo")
else:
    if ext.get("version") != semantic:
        errors.append("provides.undoredo.version %s, undoredo.control has %s" % (ext.get("version"), version))
    for key in ("file", "docfile"):
        if ext.get(key) and not os.path.exists(ext[key]):
            errors.append("provides.undoredo.%s %s does not exist" % (key, ext[key]))
    if ext.get("file") != "sql/undoredo--%s.sql" % version:
        errors.append("provides.undoredo.file should be sql/undoredo--%s.sql" % version)
if errors:
    sys.exit("META.json: " + "; ".join(errors))
PY
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "note: uncommitted changes are not in the zip (git archive of HEAD)" >&2
fi
mkdir -p build
zip=build/undoredo-$version.zip
git archive --format zip --prefix="undoredo-$version/" -o "$zip" HEAD
echo "$zip"
