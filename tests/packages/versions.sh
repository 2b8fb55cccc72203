#!/usr/bin/env bash
# One version everywhere: the workspace's (Cargo.toml, [workspace.package])
# is the version of every package in target/dist/ (the .deb, the wheel, the
# npm tarball), of the installed Postgres control file, of META.json and of
# CHANGELOG.md's newest entry. Run after the packages' own tests, which
# build them (tests/package.sh builds them all).
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "versions.sh: FAIL: $*" >&2; exit 1; }

workspace="$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["workspace"]["package"]["version"])')"
[ -n "$workspace" ] || fail "no [workspace.package] version in Cargo.toml"

check() { # what, found
  [ "$2" = "$workspace" ] || fail "$1 is version '$2', the workspace's is '$workspace'"
  echo "versions.sh: $1: $2"
}

one() { # a glob that must match exactly one file
  local matches=($1)
  [ "${#matches[@]}" -eq 1 ] && [ -e "${matches[0]}" ] || fail "expected one file for $1, found: ${matches[*]}"
  echo "${matches[0]}"
}

deb="$(one 'target/dist/postgresql-15-message-store_*.deb')"
check "the Debian package" "$(dpkg-deb -f "$deb" Version | tr '~' '-')"

wheel="$(one 'target/dist/message_store_sqlite-*.whl')"
check "the Python wheel" "$(python3 - "$wheel" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    for line in wheel.read(name).decode().splitlines():
        if line.startswith("Version: "):
            print(line[len("Version: "):])
            break
PY
)"

tarball="$(one 'target/dist/message-store-sqlite-*.tgz')"
check "the npm package" "$(tar -xOzf "$tarball" package/package.json | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')"

check "META.json" "$(python3 -c 'import json; print(json.load(open("pg_ext/META.json"))["version"])')"
check "META.json's provides" "$(python3 -c 'import json; print(json.load(open("pg_ext/META.json"))["provides"]["message_store"]["version"])')"

control="$(pg_config --sharedir)/extension/message_store.control"
check "the installed control file" "$(sed -n "s/^default_version = '\(.*\)'$/\1/p" "$control")"

check "CHANGELOG.md's newest entry" "$(sed -n 's/^## \[\([^]]*\)\].*/\1/p' CHANGELOG.md | head -1)"
