#!/usr/bin/env bash
# Builds the Postgres extension in release mode and installs it into the
# system PostgreSQL 15. Run tests/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/../pg_ext"
# cargo-pgrx copies the upgrade scripts from pg_ext/sql (a link to ../sql).
cargo pgrx install --release --pg-config /usr/lib/postgresql/15/bin/pg_config
