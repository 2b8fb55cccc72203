#!/usr/bin/env bash
# Installs what the SQLite side's tests need on a fresh Debian 12 machine of
# this kind, and does nothing that is already done: the sqlite3 CLI and
# library headers, Debian's python3 (whose sqlite3 module can load
# extensions), a C++ toolchain and Node with npm, and better-sqlite3 for the
# Node host test (built from source by npm, about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

packages=(sqlite3 libsqlite3-dev python3 build-essential pkg-config)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

if [ ! -e tests/hosts/node/node_modules/better-sqlite3/build/Release/better_sqlite3.node ]; then
  echo "setup: installing better-sqlite3 for the Node host test"
  (cd tests/hosts/node && npm ci --no-audit --no-fund)
fi
