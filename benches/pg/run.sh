#!/usr/bin/env bash
# Postgres benchmarks: every operation through the extension beside its
# plain-SQL floor (the same work on an identical table, floor.messages, with
# the same indexes written in plain SQL, no function layer), in the same
# cluster and the same run; pgbench -M prepared, after a warm-up of each
# side the median of RUNS runs of SECONDS each, the two sides alternating.
# Prints one markdown table and writes it to
# target/bench-results/postgres-MESSAGES-WHICH.md.
#
#   bash benches/pg/run.sh                 # 1,000,000 messages
#   MESSAGES=10000000 bash benches/pg/run.sh reads   # reads only, on 10M
#
# Needs the cluster and the installed extension (tests/setup.sh and
# tests/install.sh, which this runs).
set -euo pipefail
cd "$(dirname "$0")/../.."

MESSAGES=${MESSAGES:-1000000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
RUNS=${RUNS:-3}
WARMUP_SECONDS=${WARMUP_SECONDS:-2}
ONLY=${1:-all}
# The data set's rule and version are benches/src/lib.rs's DATA_SET_VERSION.
DB=message_store_bench_v2_${MESSAGES}
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD=postgres

bash tests/setup.sh >/dev/null
bash tests/install.sh >/dev/null

scripts=benches/pg/scripts
out=target/bench-results
mkdir -p "$out"

psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

# The data set, made once per size: the rule of benches/src/lib.rs.
if [ "$(psql -X -Atq -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ] ||
   [ "$(psql_db -Atc "SELECT messages FROM public.bench_data_set" 2>/dev/null)" != "$MESSAGES" ]; then
  echo "bench: writing $MESSAGES messages to database $DB" >&2
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  psql_db -v messages="$MESSAGES" -f benches/pg/data_set.sql
  psql_db <<SQL
CREATE TABLE public.bench_data_set (messages bigint);
INSERT INTO public.bench_data_set VALUES ($MESSAGES);
VACUUM ANALYZE;
SQL
fi

# The write benchmarks (and benches/pg/memory.sh) add messages, to streams
# of their own categories; they are removed before a run, so every run
# reads exactly the data set and both tables are the same size.
restore() {
  psql_db <<SQL
DELETE FROM message_store.messages WHERE global_position > $MESSAGES;
DELETE FROM floor.messages WHERE global_position > $MESSAGES;
VACUUM ANALYZE message_store.messages, floor.messages;
SQL
  local counts
  counts=$(psql_db -Atc "SELECT (SELECT count(*) FROM message_store.messages) || ' ' || (SELECT count(*) FROM floor.messages)")
  if [ "$counts" != "$MESSAGES $MESSAGES" ]; then
    echo "bench: database $DB holds $counts messages, not $MESSAGES in each table: drop it to have it written again" >&2
    exit 1
  fi
}
restore

# One pgbench run of SECONDS seconds: "tps latency".
bench_once() {
  local script=$1 clients=$2 options=$3 defines=$4 seconds=$5
  local log
  # shellcheck disable=SC2086 # defines are separate words
  log=$(PGOPTIONS="$options" pgbench -n -M prepared -c "$clients" -j "$clients" -T "$seconds" \
    -D messages="$MESSAGES" $defines -f "$script" "$DB" 2>&1) || { echo "$log" >&2; exit 1; }
  local tps lat
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$log")
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$log")
  echo "$tps $lat"
}

# The run with the median tps among the lines on stdin.
median() {
  sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

rows=()
row() { # name clients script-stem message-db-figure [pgoptions] [defines] [floor-only pgoptions]
  local name=$1 clients=$2 stem=$3 mdb=$4 options=${5:-} defines=${6:-} floor_options=${7:-} dir=$scripts
  local ms_script=$dir/${stem}_ms.sql floor_script=$dir/${stem}_floor.sql
  # Both sides warm up (pages into the caches, plans made), then their
  # runs alternate, so a drift of the machine or its caches during the row
  # falls on both alike.
  bench_once "$ms_script" "$clients" "$options" "$defines" "$WARMUP_SECONDS" >/dev/null
  bench_once "$floor_script" "$clients" "$options $floor_options" "$defines" "$WARMUP_SECONDS" >/dev/null
  local run ms_runs=() floor_runs=()
  for run in $(seq "$RUNS"); do
    ms_runs+=("$(bench_once "$ms_script" "$clients" "$options" "$defines" "$SECONDS_PER_RUN")")
    floor_runs+=("$(bench_once "$floor_script" "$clients" "$options $floor_options" "$defines" "$SECONDS_PER_RUN")")
  done
  local ms floor
  ms=$(printf '%s\n' "${ms_runs[@]}" | median)
  floor=$(printf '%s\n' "${floor_runs[@]}" | median)
  local line
  line=$(awk -v n="$name" -v c="$clients" -v m="$ms" -v f="$floor" -v r="$mdb" 'BEGIN {
    split(m, a, " "); split(f, b, " ");
    printf "| %s | %d | %.0f | %.3f | %.0f | %.3f | %.2f | %s |", n, c, a[1], a[2], b[1], b[2], a[1] / b[1], r }')
  echo "$line" >&2
  rows+=("$line")
}

if [ "$ONLY" = all ] || [ "$ONLY" = reads ]; then
  # Message DB 1.3's tps on this kind of machine (1M messages), for reference.
  for c in 1 2; do
    pick() { if [ "$c" = 1 ]; then echo "$1"; else echo "$2"; fi; }
    row "get_stream_messages, 10-message stream" "$c" stream "$(pick 4,223 11,339)"
    row "get_category_messages, batch 100, random start" "$c" category "$(pick 1,863 3,307)"
    # The floor's group filter (MD5 in SQL) has no statistics, so Postgres
    # guesses it keeps 1 row in 200 and, expecting fewer rows than the
    # batch, sometimes sorts the whole rest of the category (a bitmap scan,
    # ~60 ms a call) instead of reading the index range in order (~1 ms).
    # The floor is kept to the index order: the plan the function's own
    # query gets, its filter being a function call, which Postgres
    # estimates to keep 1 row in 3.
    row "same, consumer group member of 4" "$c" group "$(pick 32 62)" "" "" "-c enable_sort=off"
    row "same, correlation filter" "$c" correlation "$(pick 2,018 3,319)"
    row "get_last_stream_message" "$c" last ""
  done
fi
if [ "$ONLY" = all ] || [ "$ONLY" = writes ]; then
  for sync in on off; do
    if [ "$sync" = on ]; then one=2,525 two=3,249; else one=6,259 two=8,643; fi
    row "write_message, synchronous_commit $sync" 1 write "$one" "-c synchronous_commit=$sync" "-D same=0"
    row "write_message, synchronous_commit $sync, different categories" 2 write "$two" "-c synchronous_commit=$sync" "-D same=0"
    row "write_message, synchronous_commit $sync, same category" 2 write "$two" "-c synchronous_commit=$sync" "-D same=1"
    row "write_message with expected_version, synchronous_commit $sync" 1 expected "" "-c synchronous_commit=$sync" "-D same=0"
  done
  row "1,000 write_message calls in one statement (tps = transactions of 1,000)" 1 bulk "28.8 (28,800 msg/s)"
fi

{
  echo "Postgres $(psql -X -Atq -d postgres -c 'SHOW server_version'), $MESSAGES messages, pgbench -M prepared, median of $RUNS alternating runs of ${SECONDS_PER_RUN}s after ${WARMUP_SECONDS}s of warm-up"
  echo
  echo "| operation | clients | message_store tps | latency ms | floor tps | floor latency ms | tps ratio to floor | Message DB tps |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$out/postgres-$MESSAGES-$ONLY.md"
