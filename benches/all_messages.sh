#!/usr/bin/env bash
# get_all_messages on Postgres (PERFORMANCE.md's "Reading every category",
# about 6 minutes): what a reader polling get_all_messages costs the
# writers, and the reader's own latency at the tail while they write.
#
# 1. write_message throughput (pgbench -M prepared, benches/pg/scripts/
#    write_ms.sql) with 1 and 2 clients, different and the same category,
#    alone and while one reader polls get_all_messages from
#    the head of the store (all_reader_ms.sql), READER_RATE calls a second
#    — and, for comparison, while one reader polls a plain
#    `global_position >=` query the same way (all_reader_floor.sql), which
#    skips late commits and waits for nobody.
#    The three sides alternate, median of RUNS runs of SECONDS each.
# 2. The reader's latency per call (p50, p99, max) while 2 writers write,
#    get_all_messages beside the plain query, from pgbench's per-call log.
#
#   bash benches/all_messages.sh
#   SECONDS_PER_RUN=10 RUNS=5 bash benches/all_messages.sh
#   ALL_SKIP_INSTALL=1 ...   # the cluster and the extension are set up already
#
# Writes into a database of its own (200,000 messages to start from),
# dropped at the end. Results: target/bench-results/all_messages.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
RUNS=${RUNS:-3}
SYNC=${SYNC:-off}
# Polls a second of the reader beside the writers: a consumer polling every
# 10 ms. (Polling back to back, a reader takes one of this machine's two
# cores from the writers, whatever it reads.)
READER_RATE=${READER_RATE:-100}
MESSAGES=200000
DB=message_store_bench_all_$$
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD=postgres
if [ "${ALL_SKIP_INSTALL:-0}" != 1 ]; then
  bash tests/setup.sh >/dev/null
  bash tests/install.sh >/dev/null
fi
scripts=benches/pg/scripts
out=target/bench-results
work=target/bench-data/all-$$
mkdir -p "$out" "$work"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<SQL
CREATE EXTENSION message_store;
SELECT count(message_store.write_message(gen_random_uuid()::text,
  'cat' || (i % 10) || '-' || (i / 10 % 1000), 'Generated', '{"amount": 1}'))
FROM generate_series(1, $MESSAGES) AS i;
VACUUM ANALYZE;
SQL

# One pgbench run: prints its tps. Extra arguments go to pgbench.
pgbench_tps() {
  local log
  log=$(PGOPTIONS="-c synchronous_commit=$SYNC" pgbench -n -M prepared -D messages="$MESSAGES" "$@" "$DB" 2>&1) ||
    { echo "$log" >&2; exit 1; }
  sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$log"
}

# Writers for SECONDS, with a reader (script) polling beside them, or none.
writers_tps() { # clients same reader-script|none seconds
  local clients=$1 same=$2 reader=$3 seconds=$4 pid=
  if [ "$reader" != none ]; then
    pgbench -n -M prepared -c 1 -R "$READER_RATE" -T "$((seconds + 2))" -f "$scripts/$reader" "$DB" >/dev/null 2>&1 &
    pid=$!
    sleep 0.5
  fi
  pgbench_tps -c "$clients" -j "$clients" -T "$seconds" -D same="$same" -f "$scripts/write_ms.sql"
  if [ -n "$pid" ]; then wait "$pid"; fi
}

median() { sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }

rows=()
for config in "1 0 one client" "2 0 2 clients, different categories" "2 1 2 clients, same category"; do
  read -r clients same name <<<"$config"
  writers_tps "$clients" "$same" none 2 >/dev/null
  alone=() with_all=() with_plain=()
  for _ in $(seq "$RUNS"); do
    alone+=("$(writers_tps "$clients" "$same" none "$SECONDS_PER_RUN")")
    with_all+=("$(writers_tps "$clients" "$same" all_reader_ms.sql "$SECONDS_PER_RUN")")
    with_plain+=("$(writers_tps "$clients" "$same" all_reader_floor.sql "$SECONDS_PER_RUN")")
  done
  a=$(printf '%s\n' "${alone[@]}" | median)
  b=$(printf '%s\n' "${with_all[@]}" | median)
  c=$(printf '%s\n' "${with_plain[@]}" | median)
  line=$(awk -v n="$name" -v a="$a" -v b="$b" -v c="$c" 'BEGIN {
    printf "| write_message, %s | %.0f | %.0f | %.2f | %.0f | %.2f |", n, a, b, b / a, c, c / a }')
  echo "$line" >&2
  rows+=("$line")
  psql -X -q -d "$DB" -c "DELETE FROM message_store.messages WHERE global_position > $MESSAGES" -c "VACUUM ANALYZE message_store.messages"
done

# The reader's latency per call while 2 writers write (different categories).
latency_row() { # name script
  local name=$1 script=$2 seconds=$((SECONDS_PER_RUN * 2))
  rm -f "$work"/reader.*
  PGOPTIONS="-c synchronous_commit=$SYNC" pgbench -n -M prepared -c 2 -j 2 -T "$((seconds + 2))" -D same=0 \
    -f "$scripts/write_ms.sql" "$DB" >/dev/null 2>&1 &
  local writers=$!
  sleep 0.5
  (cd "$work" && pgbench -n -M prepared -c 1 -T "$seconds" -l --log-prefix=reader \
    -f "$OLDPWD/$scripts/$script" "$DB" >/dev/null 2>&1)
  wait "$writers"
  # Column 3 of pgbench's log is the call's latency in microseconds.
  cat "$work"/reader.* | awk '{ print $3 }' | sort -n | awk -v n="$name" '
    { v[NR] = $1 }
    END {
      p50 = v[int(NR * 0.50) + 1]; p99 = v[int(NR * 0.99) + 1]; max = v[NR];
      printf "| %s | %d | %.3f | %.3f | %.3f |", n, NR, p50 / 1000, p99 / 1000, max / 1000 }'
}
lat=()
lat+=("$(latency_row "get_all_messages, 100 from the head" all_reader_ms.sql)")
echo "${lat[0]}" >&2
lat+=("$(latency_row "plain global_position >= query, 100 from the head (skips late commits)" all_reader_floor.sql)")
echo "${lat[1]}" >&2

{
  echo "Postgres $(psql -X -Atq -d postgres -c 'SHOW server_version'), $MESSAGES messages to start, synchronous_commit $SYNC, pgbench -M prepared, median of $RUNS alternating runs of ${SECONDS_PER_RUN}s"
  echo
  echo "Writers alone and beside one reader polling $READER_RATE times a second:"
  echo
  echo "| writers | tps alone | tps beside a get_all_messages reader | ratio | tps beside a plain-query reader | ratio |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Reader latency per call, polling back to back while 2 writers write ($((SECONDS_PER_RUN * 2)) s):"
  echo
  echo "| reader | calls | p50 ms | p99 ms | max ms |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${lat[@]}"
} | tee "$out/all_messages.md"
