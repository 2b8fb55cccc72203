#!/usr/bin/env bash
# Builds every package of the project from the checkout into target/dist/.
# Each package's builder lives beside the crate it packages.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/dist

bash pg_ext/debian/build.sh   # postgresql-15-message-store_<version>_<arch>.deb
bash sqlite_ext/node/build.sh    # message-store-sqlite-<version>.tgz (npm)
bash sqlite_ext/python/build.sh  # message_store_sqlite-<version>-py3-none-<platform>.whl
