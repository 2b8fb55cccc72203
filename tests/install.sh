#!/usr/bin/env bash
# Builds the Postgres extension in release mode and installs it into the
# system PostgreSQL 15, with the frozen install scripts of the releases
# before this one. Run tests/setup.sh first.
set -euo pipefail
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
cd "$(dirname "$0")/../pg_ext"
# cargo-pgrx writes the current version's install script (from
# sql/schema.sql) and copies the upgrade scripts (message_store--A--B.sql)
# from pg_ext/sql, a link to ../sql; it copies no frozen install script,
# so the script the Debian package's builder uses too installs those.
cargo pgrx install --release --pg-config "$PG_CONFIG"
bash debian/install-frozen-scripts.sh "$("$PG_CONFIG" --sharedir)/extension"

# The library built with pg_ext's test-only `panic_probe` feature (its
# functions panic on demand, for tests/pg_client/tests/panics.rs), installed
# beside the shipped one as message_store_panic_probe.so, which no script
# names. Same profile and dependencies as the shipped build, so only the
# crate itself is compiled again, into a package directory of its own. It
# comes after the shipped install: each cargo build links the crate's
# target/release library anew, so each install copies its own build.
probe_dir="$(cd .. && pwd)/target/panic-probe-pg"
cargo pgrx package --features panic_probe --pg-config "$PG_CONFIG" --out-dir "$probe_dir"
pkglibdir="$("$PG_CONFIG" --pkglibdir)"
install -m 755 "$probe_dir$pkglibdir/message_store.so" "$pkglibdir/message_store_panic_probe.so"
