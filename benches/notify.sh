#!/usr/bin/env bash
# Consumers woken on write (PERFORMANCE.md's "Reading beyond Message DB"), about 5
# minutes: write_message throughput with message_store.notify off and on,
# 1, 2 and 8 writers, all to one category or each to its own (pgbench -M
# prepared with benches/pg/scripts/write_ms.sql, the two settings'
# runs alternating, the median of RUNS runs of SECONDS each); then the
# wake-up latency a consumer sees from a writer's call to its reading the
# message, LISTEN beside a poll every 100 ms (benches/src/bin/notify_latency.rs).
# Writes target/bench-results/notify.md.
#
#   bash benches/notify.sh
#   NOTIFY_SECONDS=10 NOTIFY_RUNS=5 NOTIFY_MESSAGES=1000 bash benches/notify.sh
#   NOTIFY_SKIP_INSTALL=1 ...   # the cluster and the extension are set up already
#
# Writes into a database of its own, message_store_bench_notify_<pid>,
# dropped at the end. A session LISTENs on the channel during the
# throughput runs, so the notifications are queued and read as in use.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${NOTIFY_SECONDS:-5}
RUNS=${NOTIFY_RUNS:-3}
WARMUP_SECONDS=${NOTIFY_WARMUP:-2}
MESSAGES=${NOTIFY_MESSAGES:-500}
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD=postgres
DB=message_store_bench_notify_$$
results=target/bench-results
out=$results/notify.md
mkdir -p "$results"

if [ "${NOTIFY_SKIP_INSTALL:-0}" != 1 ]; then
  bash tests/setup.sh >/dev/null
  bash tests/install.sh >/dev/null
fi
cargo build --release -p message_store_benches --bin notify_latency

listener_pid=
cleanup() {
  if [ -n "$listener_pid" ]; then kill "$listener_pid" 2>/dev/null || true; fi
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
}
trap cleanup EXIT
psql -X -q -d postgres -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION message_store"

# A listener that reads what is sent, so the queue does not fill.
( printf 'LISTEN message_store;\n'; while sleep 0.1; do printf 'SELECT 1;\n'; done ) |
  psql -X -q -d "$DB" >/dev/null 2>&1 &
listener_pid=$!

bench_once() { # clients same setting seconds -> tps
  local clients=$1 same=$2 setting=$3 seconds=$4 log
  log=$(PGOPTIONS="-c message_store.notify=$setting" pgbench -n -M prepared -c "$clients" \
    -j "$clients" -T "$seconds" -D same="$same" -f benches/pg/scripts/write_ms.sql "$DB" 2>&1) ||
    { echo "$log" >&2; exit 1; }
  sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$log"
}
median() { sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }

{
  echo "### write_message with message_store.notify off and on"
  echo
  echo "pgbench -M prepared, benches/pg/scripts/write_ms.sql, median of $RUNS runs of ${SECONDS_PER_RUN} s, the settings alternating; one session LISTENs."
  echo
  echo "| writers | categories | off (tps) | on (tps) | on / off |"
  echo "|---:|---|---:|---:|---:|"
} > "$out"
for clients in 1 2 8; do
  for same in 1 0; do
    categories=$([ "$same" = 1 ] && echo "one" || echo "one each")
    if [ "$clients" = 1 ] && [ "$same" = 0 ]; then continue; fi
    bench_once "$clients" "$same" off "$WARMUP_SECONDS" >/dev/null
    bench_once "$clients" "$same" on "$WARMUP_SECONDS" >/dev/null
    off_runs=() on_runs=()
    for _ in $(seq "$RUNS"); do
      off_runs+=("$(bench_once "$clients" "$same" off "$SECONDS_PER_RUN")")
      on_runs+=("$(bench_once "$clients" "$same" on "$SECONDS_PER_RUN")")
    done
    off=$(printf '%s\n' "${off_runs[@]}" | median)
    on=$(printf '%s\n' "${on_runs[@]}" | median)
    ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a / b }')
    printf '| %s | %s | %.0f | %.0f | %s |\n' "$clients" "$categories" "$off" "$on" "$ratio" | tee -a "$out"
  done
done

{
  echo
  echo "### Wake-up latency"
  echo
  echo "One writer, $MESSAGES write_message calls with notify on, 10 to 40 ms apart; from the call sent to the consumer having read the message with get_category_messages."
  echo
  echo "| consumer | messages | p50 (ms) | p99 (ms) | max (ms) | reads |"
  echo "|---|---:|---:|---:|---:|---:|"
} >> "$out"
target/release/notify_latency \
  "host=$PGHOST port=$PGPORT user=$PGUSER password=$PGPASSWORD dbname=$DB" "$MESSAGES" | tee -a "$out"
cat "$out"
