#!/usr/bin/env bash
# Installs what the SQLite side's tests need on a fresh Debian 12 machine of
# this kind, and does nothing that is already done: the sqlite3 CLI and
# library headers, Debian's python3 (whose sqlite3 module can load
# extensions), a C++ toolchain and Node with npm, and better-sqlite3 for the
# Node host test (built from source by npm, about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."

source tests/lib.sh

packages=(sqlite3 libsqlite3-dev python3 build-essential pkg-config)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
install_packages "${packages[@]}"

if [ ! -e tests/hosts/node/node_modules/better-sqlite3/build/Release/better_sqlite3.node ]; then
  echo "setup: installing better-sqlite3 for the Node host test"
  (cd tests/hosts/node && npm ci --no-audit --no-fund)
fi
