#!/usr/bin/env bash
# Builds the Postgres extension in release mode and installs it into the
# system PostgreSQL 15, with the frozen install scripts of the releases
# before this one. Run tests/setup.sh first.
set -euo pipefail
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
cd "$(dirname "$0")/../pg_ext"
# cargo-pgrx writes the current version's install script (from
# sql/schema.sql) and copies the upgrade scripts (message_store--A--B.sql)
# from pg_ext/sql, a link to ../sql; it copies no frozen install script.
cargo pgrx install --release --pg-config "$PG_CONFIG"
extension_dir="$("$PG_CONFIG" --sharedir)/extension"
current="$(sed -n 's/^version = "\(.*\)"$/\1/p' ../Cargo.toml | head -1)"
for script in ../sql/message_store--*.sql; do
  name="$(basename "$script")"
  case "$name" in
    message_store--*--*.sql) ;;                  # upgrade scripts: copied by cargo-pgrx
    "message_store--$current.sql") ;;           # the current version: generated above
    *) install -m 644 "$script" "$extension_dir/$name" ;;
  esac
done
