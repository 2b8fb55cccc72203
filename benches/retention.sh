#!/usr/bin/env bash
# Retention and erasure: remove_messages, redact_stream and
# apply_retention_policies beside plain SQL doing the same number of
# deletes or updates without the last-message rule (PERFORMANCE.md,
# "Retention"), on a store of 1,050,000 messages, on both engines. Each
# call runs RUNS times (default 15) after a warm-up run, alternating with
# its floor so that both see the same table state; the median is
# reported. Each call is its own transaction, committed after the timed
# statement (the commit is not timed, for the function and the floor
# alike).
#
#   bash benches/retention.sh
#   RUNS=5 bash benches/retention.sh   # a quick check
#
# The data set: 1,050,000 global positions; every 21st (positions 21, 42,
# …) belongs to the stream "long-1" (50,000 messages), the others, in
# order k = 0, 1, …, to category "c<k % 10>", stream "c<…>-<(k / 10) %
# 10000>", position k / 100000: 10 categories of 10,000 streams of 10
# messages, interleaved over the whole table, with the long stream
# interleaved among them. The rows are inserted with plain SQL into the
# extension's table, as benches/listing.sh does. The Postgres store is
# dropped afterwards; SQLite's is made once under target/bench-data
# (outside git) and copied before each run, as the runs remove from it.
#
# The calls, each checked to remove or change exactly what is stated:
# - category: remove_messages('c0', NULL, 600000, 1000), 1,000 removed,
#   beside DELETE … WHERE global_position IN (SELECT global_position …
#   WHERE <category of stream_name> = 'c0' AND global_position < 600000
#   ORDER BY global_position LIMIT 1000) (see floor_delete for the form
#   each engine's planner serves from the category index);
# - stream: remove_messages('long-1', NULL, 840000, 1000) beside the same
#   DELETE with stream_name = 'long-1', ORDER BY position;
# - redaction: redact_stream('c9-<n>'), 10 messages, beside UPDATE … SET
#   data = NULL, metadata = NULL WHERE stream_name = 'c9-<n+1>' (a fresh
#   stream for each call);
# - policies: apply_retention_policies(1000) with keep_last 2 on each of
#   the 10 categories, 10 × 1,000 removed, beside the 10 category DELETEs
#   (no global position bound) in one transaction.
# Postgres runs as the superuser (the functions are not PUBLIC's), in one
# session; SQLite through Python's sqlite3 with the library loaded.
# Prints a markdown table and writes it to target/bench-results/retention.md.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-15}
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD=postgres PGCLIENTENCODING=UTF8

LOCK=/tmp/pg_install.lock
DB=ms_retention_bench
cargo build --release -p message_store_sqlite >/dev/null 2>&1
LIB=$PWD/target/release/libmessage_store_sqlite.so
out=target/bench-results
data=target/bench-data
mkdir -p "$out" "$data"
PRISTINE=$data/retention-pristine.db
WORK=$data/retention.db
MESSAGES=1050000

# Global position j + 1 for j = 0 … MESSAGES - 1: the long stream at every
# 21st, the 10 × 10,000 × 10 store at the others (k is j's index among them).
long_stream="j % 21 = 20"
k="(j - j / 21)"

make_pg() {
  flock "$LOCK" sh -c "bash tests/install.sh >/dev/null &&
    psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS $DB WITH (FORCE)' -c \"CREATE DATABASE $DB TEMPLATE template0 ENCODING 'UTF8'\" &&
    psql -X -q -v ON_ERROR_STOP=1 -d $DB -c 'CREATE EXTENSION message_store'"
  psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<SQL
INSERT INTO message_store.messages (global_position, id, stream_name, type, position, data)
  SELECT j + 1, ('00000000-0000-4000-8000-' || lpad(j::text, 12, '0'))::uuid,
    CASE WHEN $long_stream THEN 'long-1'
      ELSE 'c' || ($k % 10) || '-' || (($k / 10) % 10000) END,
    'Generated',
    CASE WHEN $long_stream THEN j / 21 ELSE $k / 100000 END,
    '{"amount": 1}'::jsonb
  FROM generate_series(0, $MESSAGES - 1) AS j ORDER BY j;
SELECT setval('message_store.messages_global_position_seq', $MESSAGES) \g /dev/null
VACUUM ANALYZE message_store.messages;
CHECKPOINT;
SQL
}

make_sqlite() {
  if [ -f "$PRISTINE" ] && [ "$(sqlite3 "$PRISTINE" 'SELECT count(*) FROM messages' 2>/dev/null)" = "$MESSAGES" ]; then
    return
  fi
  rm -f "$PRISTINE" "$PRISTINE-wal" "$PRISTINE-shm"
  sqlite3 "$PRISTINE" >/dev/null <<SQL
.load $LIB
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
SELECT write_message('00000000-0000-4000-8000-999999999999', 'setup-1', 'Setup', '{}');
DELETE FROM messages;
BEGIN;
WITH RECURSIVE n(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM n WHERE j + 1 < $MESSAGES)
INSERT INTO messages (global_position, position, time, stream_name, type, data, metadata, id)
  SELECT j + 1,
    CASE WHEN $long_stream THEN j / 21 ELSE $k / 100000 END,
    '2026-12-02 22:00:00.000000',
    CASE WHEN $long_stream THEN 'long-1'
      ELSE printf('c%d-%d', $k % 10, ($k / 10) % 10000) END,
    'Generated', '{"amount": 1}', NULL,
    printf('00000000-0000-4000-8000-%012d', j)
  FROM n;
COMMIT;
ANALYZE;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
}

# The floors' statements: a category's or a stream's oldest 1,000 rows
# (below a global position when one is given), deleted by primary key,
# each walking the index the function's statement walks: a category by
# messages_category in global position order (on Postgres with the
# category bounded from both sides, the form the function's statement
# has, which the planner serves from that index), a stream by
# messages_stream in position order (the same order within a stream).
# $1: the table, $2: "category" or "stream", $3: the name, $4: the bound
# or "".
floor_delete() {
  local table=$1 kind=$2 name=$3 bound=$4
  local where order
  case $kind,$table in
    category,messages)
      where="$SQ_CAT = '$name'"; order="global_position" ;;
    category,*)
      where="$PG_CAT >= '$name' AND $PG_CAT <= '$name'"; order="$PG_CAT, global_position" ;;
    stream,*)
      where="stream_name = '$name'"; order="position" ;;
  esac
  [ -n "$bound" ] && where+=" AND global_position < $bound"
  echo "DELETE FROM $table WHERE global_position IN (SELECT global_position FROM $table WHERE $where ORDER BY $order LIMIT 1000)"
}
PG_CAT="message_store.category(stream_name)"
SQ_CAT="substr(stream_name, 1, instr(stream_name || '-', '-') - 1)"
PG_T=message_store.messages
SQ_T=messages

# Postgres: one procedure per call, committing after each timed statement;
# the times go to a temporary table, the medians are printed as
# "postgres,<name> <ms>".
pg_timings() {
  local apply_floor="" c
  for c in 0 1 2 3 4 5 6 7 8 9; do
    apply_floor+="$(floor_delete $PG_T category "c$c" "");
      GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
      "
  done
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" <<SQL
CREATE TEMPORARY TABLE timing (name text, ms float8);
DO \$\$ BEGIN
  PERFORM message_store.set_retention_policy('c' || c, 'keep_last', 2) FROM generate_series(0, 9) c;
END \$\$;
-- Each statement timed alone, then committed; a count other than the
-- stated one raises.
CREATE PROCEDURE pg_temp.bench(runs int) LANGUAGE plpgsql AS \$\$
DECLARE
  started timestamptz;
  ms float8;
  n bigint;
  total bigint;
BEGIN
  RAISE NOTICE 'retention: Postgres, remove_messages from a category';
  FOR i IN 0..runs LOOP
    started := clock_timestamp();
    n := message_store.remove_messages('c0', NULL, 600000, 1000);
    ms := extract(epoch FROM clock_timestamp() - started) * 1000;
    IF n <> 1000 THEN RAISE EXCEPTION 'remove_messages(c0) removed % messages, not 1000', n; END IF;
    IF i > 0 THEN INSERT INTO timing VALUES ('CATEGORY', ms); END IF;
    COMMIT;
    started := clock_timestamp();
    $(floor_delete $PG_T category c0 600000);
    GET DIAGNOSTICS n = ROW_COUNT;
    ms := extract(epoch FROM clock_timestamp() - started) * 1000;
    IF n <> 1000 THEN RAISE EXCEPTION 'the category floor removed % messages, not 1000', n; END IF;
    IF i > 0 THEN INSERT INTO timing VALUES ('CATEGORY_FLOOR', ms); END IF;
    COMMIT;
  END LOOP;

  RAISE NOTICE 'retention: Postgres, remove_messages from a stream';
  FOR i IN 0..runs LOOP
    started := clock_timestamp();
    n := message_store.remove_messages('long-1', NULL, 840000, 1000);
    ms := extract(epoch FROM clock_timestamp() - started) * 1000;
    IF n <> 1000 THEN RAISE EXCEPTION 'remove_messages(long-1) removed % messages, not 1000', n; END IF;
    IF i > 0 THEN INSERT INTO timing VALUES ('STREAM', ms); END IF;
    COMMIT;
    started := clock_timestamp();
    $(floor_delete $PG_T stream long-1 840000);
    GET DIAGNOSTICS n = ROW_COUNT;
    ms := extract(epoch FROM clock_timestamp() - started) * 1000;
    IF n <> 1000 THEN RAISE EXCEPTION 'the stream floor removed % messages, not 1000', n; END IF;
    IF i > 0 THEN INSERT INTO timing VALUES ('STREAM_FLOOR', ms); END IF;
    COMMIT;
  END LOOP;

  RAISE NOTICE 'retention: Postgres, redact_stream';
  FOR i IN 0..runs LOOP
    started := clock_timestamp();
    n := message_store.redact_stream('c9-' || (2 * i));
    ms := extract(epoch FROM clock_timestamp() - started) * 1000;
    IF n <> 10 THEN RAISE EXCEPTION 'redact_stream changed % messages, not 10', n; END IF;
    IF i > 0 THEN INSERT INTO timing VALUES ('REDACT', ms); END IF;
    COMMIT;
    started := clock_timestamp();
    UPDATE message_store.messages SET data = NULL, metadata = NULL WHERE stream_name = 'c9-' || (2 * i + 1);
    GET DIAGNOSTICS n = ROW_COUNT;
    ms := extract(epoch FROM clock_timestamp() - started) * 1000;
    IF n <> 10 THEN RAISE EXCEPTION 'the redaction floor changed % messages, not 10', n; END IF;
    IF i > 0 THEN INSERT INTO timing VALUES ('REDACT_FLOOR', ms); END IF;
    COMMIT;
  END LOOP;

  RAISE NOTICE 'retention: Postgres, apply_retention_policies';
  FOR i IN 0..runs LOOP
    started := clock_timestamp();
    n := message_store.apply_retention_policies(1000);
    ms := extract(epoch FROM clock_timestamp() - started) * 1000;
    IF n <> 10000 THEN RAISE EXCEPTION 'apply_retention_policies removed % messages, not 10000', n; END IF;
    IF i > 0 THEN INSERT INTO timing VALUES ('POLICIES', ms); END IF;
    COMMIT;
    total := 0;
    started := clock_timestamp();
    $apply_floor
    ms := extract(epoch FROM clock_timestamp() - started) * 1000;
    IF total <> 10000 THEN RAISE EXCEPTION 'the policy floor removed % messages, not 10000', total; END IF;
    IF i > 0 THEN INSERT INTO timing VALUES ('POLICIES_FLOOR', ms); END IF;
    COMMIT;
  END LOOP;
END \$\$;
CALL pg_temp.bench($RUNS);
SELECT 'postgres,' || name || ' ' || round((percentile_disc(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 3)
  FROM timing GROUP BY name;
SQL
}

if [ "${1:-}" = --postgres-timings ]; then
  pg_timings 2> >(sed -n 's/^.*NOTICE:  //p' >&2)
  exit 0
fi

# SQLite: the same calls through Python's sqlite3, each in BEGIN … COMMIT,
# the statement timed; the medians printed as "sqlite,<name> <ms>".
sqlite_timings() {
  local apply_floor=() c
  for c in 0 1 2 3 4 5 6 7 8 9; do
    apply_floor+=("$(floor_delete $SQ_T category "c$c" "")")
  done
  /usr/bin/python3 - "$LIB" "$WORK" "$RUNS" \
    "$(floor_delete $SQ_T category c0 600000)" \
    "$(floor_delete $SQ_T stream long-1 840000)" \
    "${apply_floor[@]}" <<'PY'
import sqlite3, statistics, sys, time
lib, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
category_floor, stream_floor = sys.argv[4], sys.argv[5]
policy_floor = sys.argv[6:16]
conn = sqlite3.connect(path, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(lib)
for c in range(10):
    conn.execute("SELECT set_retention_policy(?, 'keep_last', 2)", (f"c{c}",))
times = {}

def timed(name, expected, statements):
    """Runs the statements in one transaction, timing them; checks the count."""
    conn.execute("BEGIN")
    started = time.perf_counter()
    count = 0
    for sql, args in statements:
        cursor = conn.execute(sql, args)
        if sql.startswith("SELECT"):
            count += cursor.fetchone()[0]
        else:
            count += cursor.rowcount
    ms = (time.perf_counter() - started) * 1000
    conn.execute("COMMIT")
    if count != expected:
        sys.exit(f"retention: {name} removed or changed {count} messages, not {expected}")
    return ms

def bench(label, name, expected, function, floor):
    print(f"retention: SQLite, {label}", file=sys.stderr)
    for i in range(runs + 1):
        ms = timed(name, expected, function(i))
        floor_ms = timed(name + "_FLOOR", expected, floor(i))
        if i > 0:
            times.setdefault(name, []).append(ms)
            times.setdefault(name + "_FLOOR", []).append(floor_ms)

bench("remove_messages from a category", "CATEGORY", 1000,
      lambda i: [("SELECT remove_messages('c0', NULL, 600000, 1000)", ())],
      lambda i: [(category_floor, ())])
bench("remove_messages from a stream", "STREAM", 1000,
      lambda i: [("SELECT remove_messages('long-1', NULL, 840000, 1000)", ())],
      lambda i: [(stream_floor, ())])
bench("redact_stream", "REDACT", 10,
      lambda i: [("SELECT redact_stream(?)", (f"c9-{2 * i}",))],
      lambda i: [("UPDATE messages SET data = NULL, metadata = NULL WHERE stream_name = ?",
                  (f"c9-{2 * i + 1}",))])
bench("apply_retention_policies", "POLICIES", 10000,
      lambda i: [("SELECT apply_retention_policies(1000)", ())],
      lambda i: [(sql, ()) for sql in policy_floor])
for name, values in times.items():
    print(f"sqlite,{name} {statistics.median(values):.3f}")
PY
}

wait_for_other_benchmarks() {
  while [ -f /tmp/bench.running ]; do sleep 10; done
}

cleanup() {
  rm -f /tmp/bench.running
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "retention: preparing $MESSAGES messages" >&2
make_pg &
pg_maker=$!
make_sqlite
wait "$pg_maker"
rm -f "$WORK" "$WORK-wal" "$WORK-shm"
cp "$PRISTINE" "$WORK"

declare -A result
results=$(mktemp)
wait_for_other_benchmarks
touch /tmp/bench.running
export RUNS
flock "$LOCK" bash -c "bash tests/install.sh >/dev/null && bash benches/retention.sh --postgres-timings" > "$results"
sqlite_timings >> "$results"
rm -f /tmp/bench.running
while read -r key value; do result[$key]=$value; done < "$results"
rm -f "$results" "$WORK" "$WORK-wal" "$WORK-shm"

label() {
  case $1 in
    CATEGORY) echo "remove_messages('c0', NULL, 600000, 1000)" ;;
    STREAM) echo "remove_messages('long-1', NULL, 840000, 1000)" ;;
    REDACT) echo "redact_stream('c9-…')" ;;
    POLICIES) echo "apply_retention_policies(1000)" ;;
  esac
}
count() {
  case $1 in
    REDACT) echo 10 ;;
    POLICIES) echo 10000 ;;
    *) echo 1000 ;;
  esac
}
{
  echo "Removing and redacting on $(echo "$MESSAGES" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta') messages (median of $RUNS runs; $(nproc) cores, $(date -u +%Y-%m-%d))"
  echo
  echo "| engine | call | messages | function, ms | floor, ms | function / floor | function, messages/s | floor, messages/s |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for engine in postgres sqlite; do
    for name in CATEGORY STREAM REDACT POLICIES; do
      f=${result[$engine,$name]}; fl=${result[$engine,${name}_FLOOR]}; n=$(count $name)
      awk -v e="$engine" -v l="$(label $name)" -v n="$n" -v f="$f" -v fl="$fl" 'BEGIN {
        printf "| %s | `%s` | %d | %.3f | %.3f | %.2f | %d | %d |\n", e, l, n, f, fl, f / fl, n / f * 1000, n / fl * 1000
      }'
    done
  done
} | tee "$out/retention.md"
