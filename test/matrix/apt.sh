#!/bin/bash
# Sourced by the matrix scripts: a private apt configuration for one Debian
# suite (sid, trixie, ...), with its own sources.list, lists, caches and an
# empty dpkg status, so that the system's apt sources and state are never
# read or touched.  Usage (after sourcing):
#     papt SUITE update
#     papt SUITE source --download-only postgresql-18
#     papt SUITE download python3-sqlalchemy
# UNDOREDO_CACHE (default /var/cache/undoredo-build) holds everything.

: "${UNDOREDO_CACHE:=/var/cache/undoredo-build}"
: "${UNDOREDO_MIRROR:=http://deb.debian.org/debian}"

papt_dir() { echo "$UNDOREDO_CACHE/apt/$1"; }

papt() {
    local suite=$1; shift
    local d; d=$(papt_dir "$suite")
    if [ ! -f "$d/sources.list" ]; then
        mkdir -p "$d/parts" "$d/prefs" "$d/state/lists/partial" \
                 "$d/cache/archives/partial"
        : > "$d/status"
        local key=/usr/share/keyrings/debian-archive-keyring.gpg
        printf 'deb [signed-by=%s] %s %s main\ndeb-src [signed-by=%s] %s %s main\n' \
            "$key" "$UNDOREDO_MIRROR" "$suite" "$key" "$UNDOREDO_MIRROR" "$suite" \
            > "$d/sources.list"
    fi
    apt-get -q \
        -o Dir::Etc::sourcelist="$d/sources.list" \
        -o Dir::Etc::sourceparts="$d/parts" \
        -o Dir::Etc::preferences="$d/prefs/none" \
        -o Dir::Etc::preferencesparts="$d/prefs" \
        -o Dir::State="$d/state" \
        -o Dir::State::status="$d/status" \
        -o Dir::Cache="$d/cache" \
        -o APT::Sandbox::User=root \
        -o APT::Architecture=amd64 \
        -o Acquire::Languages=none \
        "$@"
}

# papt_fresh SUITE: update the suite's lists unless done in the last day
papt_fresh() {
    local d; d=$(papt_dir "$1")
    if [ -z "$(find "$d/state/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
        papt "$1" update >/dev/null || papt "$1" update
    fi
}
