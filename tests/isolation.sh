#!/usr/bin/env bash
# The Postgres extension's multi-session behaviour as isolation specs
# (tests/isolation/specs/*.spec, expected output in tests/isolation/expected),
# run by pg_isolation_regress against the running cluster on 127.0.0.1:5432
# in a database of their own, made fresh with the installed extension.
# Run tests/setup.sh and tests/install.sh first. On a difference it prints
# regression.diffs and fails.
set -euo pipefail
cd "$(dirname "$0")/isolation"

PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
regress="$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress"
# Debian ships the tool in postgresql-client-15 (tests/setup.sh installs it).
[ -x "$regress" ] || { echo "isolation: $regress is missing" >&2; exit 1; }
db=message_store_isolation
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD=postgres
# The expected output has the sessions' notices: no client_min_messages
# from the caller's environment. A step still waiting after a minute is a
# failure (the specs' waits end within milliseconds), not a six-minute stall.
unset PGOPTIONS
export PGISOLATIONTIMEOUT="${PGISOLATIONTIMEOUT:-60}"

out="$(mktemp -d)"
cleanup() {
  psql -Xq -d postgres -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  rm -rf "$out"
}
trap cleanup EXIT

psql -Xq -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" \
  -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
psql -Xq -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION message_store"

mapfile -t specs < <(find specs -name '*.spec' -printf '%f\n' | sed 's/\.spec$//' | sort)
# --use-existing: no temporary instance and no database made by the tool;
# results and regression.diffs go to the throwaway directory.
if ! "$regress" --use-existing --host="$PGHOST" --port="$PGPORT" --user="$PGUSER" \
  --dbname="$db" --bindir="$("$PG_CONFIG" --bindir)" \
  --inputdir=. --outputdir="$out" "${specs[@]}"; then
  cat "$out/regression.diffs" 2>/dev/null || true
  echo "isolation: a spec failed: its output differs from tests/isolation/expected, or it did not run" >&2
  exit 1
fi
