#!/usr/bin/env bash
# The gates every change passes: rustfmt, and clippy with warnings as
# errors on every crate the test command builds, each in its own cargo
# invocation where rusqlite's features clash (the extension and the crate
# that loads it) or pgrx builds apart (pg_ext).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
(cd core/fuzz && cargo fmt --check)
cargo clippy --release --all-targets -p message_store_core -p message_store_slt \
  -p message_store_pg_tests -p message_store_benches -- -D warnings
cargo clippy --release --all-targets -p message_store_sqlite -- -D warnings
cargo clippy --release --all-targets -p message_store_sqlite_tests -- -D warnings
cargo clippy --release --all-targets -p message_store_sqlite_rust -p message_store_sqlite_embed -- -D warnings
(cd pg_ext && cargo clippy --release --all-targets -- -D warnings)
# The fuzz targets are their own workspace (cargo fuzz builds them with its own flags).
(cd core/fuzz && cargo clippy --release --all-targets -- -D warnings)
