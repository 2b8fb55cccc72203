#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing,
# builds and installs the extension, then runs the core unit and property
# tests and the client tests against the running cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/setup.sh
bash tests/install.sh

cargo test --release -p message_store_core
cargo test --release -p message_store_pg_tests
