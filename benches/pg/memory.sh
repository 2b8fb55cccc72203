#!/usr/bin/env bash
# Memory over a long session on Postgres: CALLS calls (default 1,000,000;
# writes and every reader, in turn) on one connection, printing the
# backend's private resident memory (RssAnon) every 10% of the run. Flat
# numbers mean nothing is kept per call (plans are kept once per backend).
#
#   bash benches/pg/memory.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
CALLS=${CALLS:-1000000}
MESSAGES=${MESSAGES:-1000000}
DB=message_store_bench_v2_${MESSAGES}
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD=postgres
if [ "$(psql -X -Atq -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  echo "memory: run benches/pg/run.sh first (it makes $DB)" >&2
  exit 1
fi
script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat > "$script" <<'SQL'
\set s random(0, 99999)
\set c random(0, 9)
\set p random(1, :messages - 2000)
SELECT message_store.write_message(gen_random_uuid()::text, 'mem-' || (:s % 1000), 'Written', '{"amount": 1}');
SELECT * FROM message_store.get_stream_messages('cat' || (:s % 10) || '-' || (:s / 10), 0, 10);
SELECT * FROM message_store.get_category_messages('cat' || :c, :p, 10, NULL, 0, 2);
SELECT * FROM message_store.get_last_stream_message('cat' || (:s % 10) || '-' || (:s / 10));
SQL
# Four calls per transaction of the script.
pgbench -n -M prepared -c 1 -t $((CALLS / 4)) -D messages="$MESSAGES" -f "$script" "$DB" >/dev/null 2>&1 &
bench=$!
echo "| seconds | backend private resident KiB |"
echo "|---|---|"
pid=""
for _ in $(seq 100); do
  pid=$(psql -X -Atq -d postgres -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' LIMIT 1")
  [ -n "$pid" ] && break
  sleep 0.1
done
start=$SECONDS
while kill -0 "$bench" 2>/dev/null; do
  kib=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [ -n "$kib" ] && echo "| $((SECONDS - start)) | $kib |"
  sleep "${SAMPLE_SECONDS:-15}"
done
wait "$bench"
