#!/usr/bin/env bash
# Moving a store: export_messages and import_messages beside their floors
# (PERFORMANCE.md, "Moving a store"), on MESSAGES messages (default
# 1,000,000, the data set of benches/src/lib.rs), each side timed RUNS times
# (default 3, the median reported), the sides alternating.
#
#   bash benches/transfer.sh
#   MESSAGES=100000 RUNS=1 bash benches/transfer.sh   # a quick check
#
# Postgres, through psql as the README's pipelines run it:
# - export: COPY (SELECT line FROM export_messages()) TO STDOUT, beside the
#   floor COPY (SELECT * FROM messages ORDER BY global_position) TO STDOUT;
# - import: import_messages of 10,000 lines per call, one psql session,
#   beside the floor COPY messages FROM STDIN of the same rows, each into an
#   empty store (the extension's table and indexes).
# SQLite, through the sqlite3 CLI with the library loaded:
# - export: SELECT line FROM export_messages(), beside the floor SELECT of
#   the eight columns in global-position order;
# - import: import_messages of 10,000 lines per call in one transaction,
#   beside the floor .import of the same rows as CSV (the CLI's prepared
#   INSERT loop in one transaction), each into an empty store file.
# Memory: the peak resident size of the process that does the work (the
# Postgres backend's VmHWM, the sqlite3 process's maximum RSS).
# Prints a markdown table and writes it to target/bench-results/transfer.md.
set -euo pipefail
cd "$(dirname "$0")/.."

MESSAGES=${MESSAGES:-1000000}
RUNS=${RUNS:-3}
CHUNK=10000
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD=postgres PGCLIENTENCODING=UTF8

if [ "${TRANSFER_SKIP_INSTALL:-0}" != 1 ]; then
  bash tests/setup.sh >/dev/null
  bash tests/install.sh >/dev/null
fi
cargo build --release -p message_store_sqlite >/dev/null 2>&1
cargo build --release -p message_store_benches --bin data_set >/dev/null 2>&1
LIB=$PWD/target/release/libmessage_store_sqlite.so

out=target/bench-results
work=$(mktemp -d "${TMPDIR:-/tmp}/message_store_transfer.XXXXXX")
trap 'rm -rf "$work"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS ms_transfer_source" -c "DROP DATABASE IF EXISTS ms_transfer_target" >/dev/null 2>&1 || true' EXIT
mkdir -p "$out"

now() { date +%s%N; }
rate() { awk -v n="$MESSAGES" -v ns="$1" 'BEGIN { printf "%d", n / (ns / 1e9) }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
psql_on() { local db=$1; shift; psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }

fresh_pg() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1 TEMPLATE template0 ENCODING 'UTF8'"
  psql_on "$1" -c "CREATE EXTENSION message_store"
}

# The source stores: the benchmarks' data set on SQLite (made through the
# extension and kept), and the same rows copied into Postgres.
echo "transfer: preparing $MESSAGES messages" >&2
source_db=$(target/release/data_set sqlite "$MESSAGES")
# (CSV has no NULL: .import would store an absent metadata as empty text,
# which the category index cannot read as JSON, so the floor's rows carry
# JSON null there, which costs the same.)
sqlite3 -csv "$source_db" "SELECT global_position, position, time, stream_name, type, data, coalesce(metadata, 'null'), id FROM messages ORDER BY global_position" > "$work/rows.csv"
# Postgres: the same rule in plain SQL (benches/src/lib.rs).
fresh_pg ms_transfer_source
psql_on ms_transfer_source -c "INSERT INTO message_store.messages (id, stream_name, type, position, data, metadata)
  SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'cat' || (i % 10) || '-' || ((i / 10) % 10000),
    'Generated', i / 100000, ('{\"amount\": ' || i || ', \"note\": \"generated\"}')::jsonb,
    CASE WHEN (i / 10) % 4 = 0 THEN ('{\"correlationStreamName\": \"origin-' || ((i / 10) % 10000) || '\"}')::jsonb END
  FROM generate_series(0, $MESSAGES - 1) AS i ORDER BY i"
psql_on ms_transfer_source -c "COPY (SELECT * FROM message_store.messages ORDER BY global_position) TO STDOUT" > "$work/rows.copy"
psql_on ms_transfer_source -At -v FETCH_COUNT=10000 -c "SELECT line FROM message_store.export_messages() AS line" > "$work/lines.ndjson"
[ "$(wc -l < "$work/lines.ndjson")" = "$MESSAGES" ] || { echo "transfer: the export has $(wc -l < "$work/lines.ndjson") lines, not $MESSAGES" >&2; exit 1; }
split -l "$CHUNK" -d -a 4 "$work/lines.ndjson" "$work/chunk."
chunks=("$work"/chunk.*)

# The import scripts: one call per chunk.
for chunk in "${chunks[@]}"; do
  printf '\\set lines `cat %s`\nSELECT message_store.import_messages(:'"'"'lines'"'"');\n' "$chunk"
done > "$work/import_pg.sql"
{
  echo ".load $LIB"
  echo "BEGIN;"
  for chunk in "${chunks[@]}"; do
    echo "SELECT import_messages(CAST(readfile('$chunk') AS TEXT));"
  done
  echo "COMMIT;"
} > "$work/import_sqlite.sql"

# Postgres: each step prints its nanoseconds, then the backend's peak KiB.
pg_backend_peak='SELECT pg_backend_pid() AS backend \gset
\setenv BACKEND :backend
\! grep VmHWM /proc/$BACKEND/status | tr -s " " | cut -d" " -f2'

pg_export_ms() {
  local start; start=$(now)
  psql_on ms_transfer_source <<SQL > "$work/out"
COPY (SELECT line FROM message_store.export_messages() AS line) TO STDOUT;
$pg_backend_peak
SQL
  echo "$(( $(now) - start )) $(tail -1 "$work/out")"
}
pg_export_floor() {
  local start; start=$(now)
  psql_on ms_transfer_source <<SQL > "$work/out"
COPY (SELECT * FROM message_store.messages ORDER BY global_position) TO STDOUT;
$pg_backend_peak
SQL
  echo "$(( $(now) - start )) $(tail -1 "$work/out")"
}
pg_import_ms() {
  fresh_pg ms_transfer_target
  local start; start=$(now)
  { cat "$work/import_pg.sql"; echo "$pg_backend_peak"; } | psql_on ms_transfer_target -At > "$work/out"
  echo "$(( $(now) - start )) $(tail -1 "$work/out")"
  [ "$(psql_on ms_transfer_target -At -c 'SELECT count(*) FROM message_store.messages')" = "$MESSAGES" ]
}
pg_import_floor() {
  fresh_pg ms_transfer_target
  local start; start=$(now)
  { echo "COPY message_store.messages FROM STDIN;"; cat "$work/rows.copy"; echo '\.'; echo "$pg_backend_peak"; } | psql_on ms_transfer_target -At > "$work/out"
  echo "$(( $(now) - start )) $(tail -1 "$work/out")"
  [ "$(psql_on ms_transfer_target -At -c 'SELECT count(*) FROM message_store.messages')" = "$MESSAGES" ]
}

# SQLite: nanoseconds, then the sqlite3 process's peak KiB.
timed_sqlite() {
  local start; start=$(now)
  /usr/bin/time -f "%M" -o "$work/peak" sqlite3 -bail "$@" > /dev/null
  echo "$(( $(now) - start )) $(cat "$work/peak")"
}
fresh_sqlite() {
  rm -f "$work/target.db" "$work/target.db-wal" "$work/target.db-shm"
  # The store's tables and indexes, then empty again.
  sqlite3 -bail "$work/target.db" ".load $LIB" "PRAGMA journal_mode = WAL" \
    "SELECT write_message('00000000-0000-4000-8000-ffffffffffff', 'setup-1', 'Setup', '{}')" \
    "DELETE FROM messages" "DELETE FROM sqlite_sequence" > /dev/null
}
sqlite_export_ms() { timed_sqlite "$source_db" ".load $LIB" "SELECT line FROM export_messages()"; }
sqlite_export_floor() {
  timed_sqlite "$source_db" "SELECT id, stream_name, type, position, global_position, data, metadata, time FROM messages ORDER BY global_position"
}
sqlite_import_ms() {
  fresh_sqlite
  timed_sqlite "$work/target.db" ".read $work/import_sqlite.sql"
  [ "$(sqlite3 "$work/target.db" 'SELECT count(*) FROM messages')" = "$MESSAGES" ]
}
sqlite_import_floor() {
  fresh_sqlite
  # .import reads its CSV into the table's columns in order.
  timed_sqlite "$work/target.db" ".import --csv $work/rows.csv messages"
  [ "$(sqlite3 "$work/target.db" 'SELECT count(*) FROM messages')" = "$MESSAGES" ]
}

measure() {
  local name=$1 ours=$2 floor=$3
  : > "$work/ours"; : > "$work/floor"
  for _ in $(seq "$RUNS"); do
    $ours >> "$work/ours"
    $floor >> "$work/floor"
  done
  local ours_ns floor_ns ours_kib floor_kib
  ours_ns=$(cut -d' ' -f1 < "$work/ours" | median)
  floor_ns=$(cut -d' ' -f1 < "$work/floor" | median)
  ours_kib=$(cut -d' ' -f2 < "$work/ours" | sort -n | tail -1)
  floor_kib=$(cut -d' ' -f2 < "$work/floor" | sort -n | tail -1)
  printf '| %s | %s | %s | %.2f | %s | %s |\n' "$name" "$(rate "$ours_ns")" "$(rate "$floor_ns")" \
    "$(awk -v a="$floor_ns" -v b="$ours_ns" 'BEGIN { print a / b }')" \
    "$(( ours_kib / 1024 ))" "$(( floor_kib / 1024 ))"
}

{
  echo "Moving $MESSAGES messages, $CHUNK lines per import call, median of $RUNS runs."
  echo
  echo "| step | message_store msg/s | floor msg/s | ratio | peak MiB | floor peak MiB |"
  echo "|---|---|---|---|---|---|"
  measure "Postgres export (psql, COPY … TO STDOUT)" pg_export_ms pg_export_floor
  measure "Postgres import (psql, 10,000 lines per call)" pg_import_ms pg_import_floor
  measure "SQLite export (sqlite3 CLI)" sqlite_export_ms sqlite_export_floor
  measure "SQLite import (sqlite3 CLI, one transaction)" sqlite_import_ms sqlite_import_floor
} | tee "$out/transfer.md"
