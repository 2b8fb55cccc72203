#!/usr/bin/env bash
# Scaling on one machine (SCALING.md, about 9 minutes): a throwaway primary
# and a hot standby of it (pg_basebackup -R), both in /tmp on free local
# ports, message_store installed on the primary.
#
# 1. write_message throughput with 1, 2, 4 and 8 writers, all to one
#    category or each to its own (the per-category advisory lock's ceiling),
#    beside the plain-SQL floor (benches/pg/scripts/write_floor.sql: the
#    same lock, version read and INSERT on floor.messages, a table like
#    message_store.messages with the same indexes), on the primary while the
#    standby replays; pgbench -M prepared, the two sides alternating, the
#    median of RUNS runs of SECONDS each.
# 2. Read throughput of get_category_messages and get_stream_messages
#    (benches/pg/scripts/category_ms.sql, stream_ms.sql) on the primary and
#    on the standby, 1 and 2 clients, the two servers alternating (no
#    writes meanwhile).
# 3. Replay lag under write load: while writers write for LAG_SECONDS, the
#    primary's pg_stat_replication and WAL insert position, sampled every
#    100 ms: the bytes of WAL the standby has still to replay
#    (pg_current_wal_insert_lsn() - replay_lsn) and the replay_lag Postgres
#    measures (from a commit's WAL flushed on the primary to its replay on
#    the standby).
#
#   bash benches/scaling.sh
#   SCALING_SECONDS=10 SCALING_RUNS=5 bash benches/scaling.sh
#   SCALING_MESSAGES=200000 ...   # a smaller data set to read
#   SCALING_SYNC=off ...          # the writers' synchronous_commit (default on)
#   SCALING_SKIP_INSTALL=1 ...    # the extension is installed already
#
# The extension's files are shared by every cluster of the machine: run
# tests/install.sh (which this runs, unless told not to) only under the
# install lock. Results: target/bench-results/scaling.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${SCALING_SECONDS:-5}
RUNS=${SCALING_RUNS:-3}
WARMUP_SECONDS=${SCALING_WARMUP:-2}
MESSAGES=${SCALING_MESSAGES:-1000000}
LAG_SECONDS=${SCALING_LAG_SECONDS:-10}
SYNC=${SCALING_SYNC:-on}
BIN=/usr/lib/postgresql/15/bin
scripts=benches/pg/scripts
results=target/bench-results
out=$results/scaling.md
mkdir -p "$results"

if [ "${SCALING_SKIP_INSTALL:-0}" != 1 ]; then
  bash tests/install.sh >/dev/null
fi

# Postgres refuses to run as root: the servers run as the postgres OS user.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

work=$(mktemp -d /tmp/ms_scaling.XXXXXX)
chmod 755 "$work"
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$work"; fi
primary_port=$(free_port)
standby_port=$(free_port)
sampler_pid=
cleanup() {
  if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; fi
  for node in standby primary; do
    if [ -f "$work/$node/postmaster.pid" ]; then
      as_postgres "$BIN/pg_ctl" -D "$work/$node" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

start_server() { # data-dir port [settings...]
  local dir=$1 port=$2 options
  shift 2
  options="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work"
  for setting in "$@"; do options+=" -c $setting"; done
  as_postgres "$BIN/pg_ctl" -D "$dir" -w -l "$dir.log" -o "$options" start >/dev/null
}

as_postgres "$BIN/initdb" --auth=trust --username=postgres --encoding=UTF8 --no-locale \
  -D "$work/primary" >/dev/null
start_server "$work/primary" "$primary_port"

export PGHOST=127.0.0.1 PGUSER=postgres
unset PGPASSWORD PGDATABASE
DB=message_store_scaling
psql_at() { # port, then psql arguments
  local port=$1
  shift
  psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"
}

echo "scaling: writing $MESSAGES messages on the primary (port $primary_port)" >&2
psql_at "$primary_port" -d postgres -c "CREATE DATABASE $DB"
# The data set of benches/pg/run.sh, and its floor table.
psql_at "$primary_port" -d "$DB" -v messages="$MESSAGES" -f benches/pg/data_set.sql
psql_at "$primary_port" -d "$DB" <<SQL
VACUUM ANALYZE;
CHECKPOINT;
SQL

echo "scaling: making the standby (port $standby_port)" >&2
as_postgres "$BIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -R -X stream \
  -D "$work/standby"
start_server "$work/standby" "$standby_port" hot_standby=on
for _ in $(seq 1 100); do
  streaming=$(psql_at "$primary_port" -d postgres -Atc \
    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
  [ "$streaming" = 1 ] && break
  sleep 0.1
done
if [ "$streaming" != 1 ]; then
  echo "scaling: the standby does not stream from the primary" >&2
  exit 1
fi

# Waits until the standby has replayed everything the primary has written.
catch_up() {
  local target
  target=$(psql_at "$primary_port" -d postgres -Atc "SELECT pg_current_wal_insert_lsn()")
  for _ in $(seq 1 600); do
    if [ "$(psql_at "$standby_port" -d postgres -Atc \
      "SELECT pg_last_wal_replay_lsn() >= '$target'::pg_lsn")" = t ]; then
      return
    fi
    sleep 0.1
  done
  echo "scaling: the standby has not caught up in 60 s" >&2
  exit 1
}

# One pgbench run: prints its tps. Arguments: port clients seconds script [defines...]
bench_once() {
  local port=$1 clients=$2 seconds=$3 script=$4 log
  shift 4
  log=$(PGOPTIONS="-c synchronous_commit=$SYNC" pgbench -n -M prepared -p "$port" -c "$clients" \
    -j "$clients" -T "$seconds" -D messages="$MESSAGES" "$@" -f "$script" "$DB" 2>&1) ||
    { echo "$log" >&2; exit 1; }
  sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$log"
}
median() { sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }

# The write benchmarks add messages to categories of their own (w…);
# they are removed between rows, so each row writes into the data set.
restore() {
  psql_at "$primary_port" -d "$DB" <<SQL
DELETE FROM message_store.messages WHERE global_position > $MESSAGES;
DELETE FROM floor.messages WHERE global_position > $MESSAGES;
VACUUM ANALYZE message_store.messages, floor.messages;
SQL
}

cores=$(nproc)
version=$(psql_at "$primary_port" -d postgres -Atc 'SHOW server_version')
{
  echo "### Setup"
  echo
  echo "Postgres $version, this machine's $cores cores shared by the primary, the standby and pgbench;"
  echo "$MESSAGES messages (benches/pg/run.sh's data set); initdb's default settings (shared_buffers 128MB),"
  echo "synchronous_commit $SYNC for the writers, the standby asynchronous (pg_basebackup -R, hot_standby on)."
  echo "pgbench -M prepared, after a warm-up of each side the median of $RUNS alternating runs of ${SECONDS_PER_RUN} s."
  echo
  echo "### Writers on one category and on many"
  echo
  echo "On the primary, the standby replaying. \`one\`: every writer writes to streams of one category,"
  echo "so they queue on its advisory lock; \`one each\`: each writer its own category."
  echo "The floor: benches/pg/scripts/write_floor.sql (the same lock, version read and INSERT in plain SQL)."
  echo
  echo "| writers | categories | write_message (tps) | floor (tps) | ratio to floor |"
  echo "|---:|---|---:|---:|---:|"
} > "$out"

for clients in 1 2 4 8; do
  for same in 1 0; do
    if [ "$clients" = 1 ] && [ "$same" = 0 ]; then continue; fi
    categories=$([ "$same" = 1 ] && echo "one" || echo "one each")
    restore
    bench_once "$primary_port" "$clients" "$WARMUP_SECONDS" "$scripts/write_ms.sql" -D same="$same" >/dev/null
    bench_once "$primary_port" "$clients" "$WARMUP_SECONDS" "$scripts/write_floor.sql" -D same="$same" >/dev/null
    ms_runs=() floor_runs=()
    for _ in $(seq "$RUNS"); do
      ms_runs+=("$(bench_once "$primary_port" "$clients" "$SECONDS_PER_RUN" "$scripts/write_ms.sql" -D same="$same")")
      floor_runs+=("$(bench_once "$primary_port" "$clients" "$SECONDS_PER_RUN" "$scripts/write_floor.sql" -D same="$same")")
    done
    ms=$(printf '%s\n' "${ms_runs[@]}" | median)
    floor=$(printf '%s\n' "${floor_runs[@]}" | median)
    awk -v w="$clients" -v c="$categories" -v m="$ms" -v f="$floor" \
      'BEGIN { printf "| %d | %s | %.0f | %.0f | %.2f |\n", w, c, m, f, m / f }' | tee -a "$out" >&2
  done
done
restore
catch_up

{
  echo
  echo "### Reads on the primary and on the standby"
  echo
  echo "No writes meanwhile; the two servers' runs alternate. get_category_messages: batch 100 from a random"
  echo "global position of one of 10 categories (category_ms.sql); get_stream_messages: a stream of $(( MESSAGES / 100000 )) messages"
  echo "(stream_ms.sql)."
  echo
  echo "| read | clients | primary (tps) | standby (tps) | standby / primary |"
  echo "|---|---:|---:|---:|---:|"
} >> "$out"
for read in "get_category_messages, batch 100:category_ms.sql" "get_stream_messages, $(( MESSAGES / 100000 ))-message stream:stream_ms.sql"; do
  name=${read%%:*} script=$scripts/${read##*:}
  for clients in 1 2; do
    bench_once "$primary_port" "$clients" "$WARMUP_SECONDS" "$script" >/dev/null
    bench_once "$standby_port" "$clients" "$WARMUP_SECONDS" "$script" >/dev/null
    p_runs=() s_runs=()
    for _ in $(seq "$RUNS"); do
      p_runs+=("$(bench_once "$primary_port" "$clients" "$SECONDS_PER_RUN" "$script")")
      s_runs+=("$(bench_once "$standby_port" "$clients" "$SECONDS_PER_RUN" "$script")")
    done
    p=$(printf '%s\n' "${p_runs[@]}" | median)
    s=$(printf '%s\n' "${s_runs[@]}" | median)
    awk -v n="$name" -v c="$clients" -v p="$p" -v s="$s" \
      'BEGIN { printf "| %s | %d | %.0f | %.0f | %.2f |\n", n, c, p, s, s / p }' | tee -a "$out" >&2
  done
done

{
  echo
  echo "### Replay lag under write load"
  echo
  echo "write_message for $LAG_SECONDS s on the primary; every 100 ms the primary's WAL insert position minus the"
  echo "standby's replay position (bytes still to replay) and pg_stat_replication's replay_lag (the time from a"
  echo "commit's WAL flushed on the primary to its replay on the standby; empty while the standby is idle)."
  echo "After the run, the time the standby took to replay the rest."
  echo
  echo "| writers | categories | tps | samples | bytes behind p50 | p99 | max | replay_lag p50 (ms) | p99 (ms) | max (ms) | caught up after (ms) |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >> "$out"
sample_sql="SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), replay_lsn)::bigint, \
coalesce((extract(epoch FROM replay_lag) * 1000)::numeric(12, 3)::text, '-') \
FROM pg_stat_replication"
for config in "1 1" "2 0" "8 0" "8 1"; do
  read -r clients same <<<"$config"
  categories=$([ "$same" = 1 ] && echo "one" || echo "one each")
  restore
  catch_up
  samples=$work/lag.samples
  count=$(( LAG_SECONDS * 10 ))
  # One session, a query every 100 ms, for as long as the writers write.
  ( for _ in $(seq "$count"); do echo "$sample_sql;"; sleep 0.1; done ) |
    psql -X -q -At -F ' ' -p "$primary_port" -d postgres > "$samples" &
  sampler_pid=$!
  tps=$(bench_once "$primary_port" "$clients" "$LAG_SECONDS" "$scripts/write_ms.sql" -D same="$same")
  wait "$sampler_pid"
  sampler_pid=
  start=$(date +%s%N)
  catch_up
  caught=$(( ($(date +%s%N) - start) / 1000000 ))
  bytes=$(awk '{ print $1 }' "$samples" | sort -n | awk '
    { v[NR] = $1 } END { printf "%d %d %d %d", NR, v[int(NR * 0.50) + 1], v[int(NR * 0.99) + 1], v[NR] }')
  lag=$(awk '$2 != "-" { print $2 }' "$samples" | sort -n | awk '
    { v[NR] = $1 } END { if (NR == 0) print "- - -"; else printf "%.1f %.1f %.1f", v[int(NR * 0.50) + 1], v[int(NR * 0.99) + 1], v[NR] }')
  read -r n b50 b99 bmax <<<"$bytes"
  read -r l50 l99 lmax <<<"$lag"
  printf '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$clients" "$categories" "$tps" \
    "$n" "$b50" "$b99" "$bmax" "$l50" "$l99" "$lmax" "$caught" | tee -a "$out" >&2
done
cat "$out"
