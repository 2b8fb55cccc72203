#!/usr/bin/env bash
# Listing a store: get_streams and get_categories beside a GROUP BY query
# giving the same rows (PERFORMANCE.md, "Reading beyond Message DB"),
# on stores of 1,000,000 and 10,000,000 messages, on both engines. Each
# query runs RUNS times (default 15) in one session after a warm-up run; the
# median is reported.
#
#   bash benches/listing.sh
#   SIZES="100000 1000000" RUNS=5 bash benches/listing.sh   # a quick check
#
# The data set: message i goes to category "c<i % 1000>" (zero-padded to
# four digits), stream "c<…>-<(i / 1000) % 1000>", so 1,000 categories of
# 1,000 streams each (1,000,000 streams), one message per stream at
# 1,000,000 messages and ten at 10,000,000, interleaved over the whole
# table. The rows are inserted with plain SQL into the extension's table
# (the listings read what is stored, however it was written): Postgres
# with INSERT … SELECT from generate_series, SQLite from a recursive CTE
# into the table the extension made. The stores are dropped (Postgres) or
# kept under target/bench-data (SQLite, outside git) afterwards.
#
# The queries, each giving the first 100 rows in the index's order:
# - streams: get_streams(NULL, NULL, 100) beside
#   SELECT stream_name, max(position), max(time) … GROUP BY stream_name
#   ORDER BY stream_name LIMIT 100;
# - a category's streams: get_streams('c0500-', NULL, 100) beside the same
#   GROUP BY WHERE stream_name LIKE 'c0500-%' (Postgres: starts_with);
# - categories: get_categories(NULL, 100) beside
#   SELECT category(stream_name), max(global_position) … GROUP BY 1
#   ORDER BY 1 LIMIT 100.
# Prints a markdown table and writes it to target/bench-results/listing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"1000000 10000000"}
RUNS=${RUNS:-15}
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD=postgres PGCLIENTENCODING=UTF8

# The extension's installed files are shared by every tree on the machine:
# each install and the Postgres work that needs this tree's library run
# inside one lock, as the tests do.
LOCK=/tmp/pg_install.lock
cargo build --release -p message_store_sqlite >/dev/null 2>&1
LIB=$PWD/target/release/libmessage_store_sqlite.so
out=target/bench-results
data=target/bench-data
mkdir -p "$out" "$data"
cleanup() {
  for size in $SIZES; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS ms_listing_$size WITH (FORCE)" >/dev/null 2>&1 || true
  done
}

# The store is made under the lock (the extension's objects are this
# tree's); the rows go in after it (category(), which the category index
# calls, is the same function in every build).
make_pg() {
  local db=ms_listing_$1
  flock "$LOCK" sh -c "bash tests/install.sh >/dev/null &&
    psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS $db WITH (FORCE)' -c \"CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8'\" &&
    psql -X -q -v ON_ERROR_STOP=1 -d $db -c 'CREATE EXTENSION message_store'"
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<SQL
INSERT INTO message_store.messages (id, stream_name, type, position, data)
  SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
    'c' || lpad((i % 1000)::text, 4, '0') || '-' || ((i / 1000) % 1000),
    'Generated', i / 1000000, '{}'::jsonb
  FROM generate_series(0, $1 - 1) AS i ORDER BY i;
VACUUM ANALYZE message_store.messages;
SQL
}

make_sqlite() {
  local file=$data/listing-$1.db
  if [ -f "$file" ] && [ "$(sqlite3 "$file" 'SELECT count(*) FROM messages' 2>/dev/null)" = "$1" ]; then
    echo "$file"
    return
  fi
  rm -f "$file" "$file-wal" "$file-shm"
  sqlite3 "$file" >/dev/null <<SQL
.load $LIB
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
SELECT write_message('00000000-0000-4000-8000-999999999999', 'setup-1', 'Setup', '{}');
DELETE FROM messages;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1)
INSERT INTO messages (global_position, position, time, stream_name, type, data, metadata, id)
  SELECT i + 1, i / 1000000, '2026-12-02 22:00:00.000000',
    printf('c%04d-%d', i % 1000, (i / 1000) % 1000), 'Generated', '{}', NULL,
    printf('00000000-0000-4000-8000-%012d', i)
  FROM n;
COMMIT;
ANALYZE;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
  echo "$file"
}

# Postgres: the median milliseconds of RUNS runs of a query in one session.
pg_time() {
  local db=$1 query=$2
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" <<SQL
CREATE FUNCTION pg_temp.median_ms(q text, n int) RETURNS numeric LANGUAGE plpgsql AS \$\$
DECLARE
  started timestamptz;
  times float8[] := '{}';
BEGIN
  EXECUTE q;
  FOR i IN 1..n LOOP
    started := clock_timestamp();
    EXECUTE q;
    times := times || extract(epoch FROM clock_timestamp() - started) * 1000;
  END LOOP;
  RETURN round((SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(times) t)::numeric, 3);
END \$\$;
SELECT pg_temp.median_ms(\$q\$$query\$q\$, $RUNS);
SQL
}

# SQLite: the same, through Python's sqlite3 with the library loaded.
sqlite_time() {
  /usr/bin/python3 - "$LIB" "$1" "$2" "$RUNS" <<'PY'
import sqlite3, statistics, sys, time
lib, path, query, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = sqlite3.connect(path)
conn.enable_load_extension(True)
conn.load_extension(lib)
conn.execute(query).fetchall()
times = []
for _ in range(runs):
    started = time.perf_counter()
    conn.execute(query).fetchall()
    times.append((time.perf_counter() - started) * 1000)
print(f"{statistics.median(times):.3f}")
PY
}

# Checks that a listing and its GROUP BY give the same rows (names and
# numbers; last_time is compared on Postgres, where both are timestamps).
pg_same() {
  local db=$1 a=$2 b=$3
  local diff
  diff=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "SELECT count(*) FROM ((($a) EXCEPT ALL ($b)) UNION ALL (($b) EXCEPT ALL ($a))) d")
  [ "$diff" = 0 ] || { echo "listing: $a and $b differ in $diff rows" >&2; exit 1; }
}
sqlite_same() {
  local file=$1 a=$2 b=$3
  local diff
  diff=$(sqlite3 -cmd ".load $LIB" "$file" "SELECT (SELECT count(*) FROM (SELECT * FROM ($a) EXCEPT SELECT * FROM ($b))) + (SELECT count(*) FROM (SELECT * FROM ($b) EXCEPT SELECT * FROM ($a)))")
  [ "$diff" = 0 ] || { echo "listing: $a and $b differ in $diff rows" >&2; exit 1; }
}

PG_STREAMS="SELECT stream_name::text, version, last_time FROM message_store.get_streams(NULL, NULL, 100)"
PG_STREAMS_FLOOR="SELECT stream_name, max(position), max(time) FROM message_store.messages GROUP BY stream_name ORDER BY stream_name LIMIT 100"
PG_PREFIX="SELECT stream_name::text, version, last_time FROM message_store.get_streams('c0500-', NULL, 100)"
PG_PREFIX_FLOOR="SELECT stream_name, max(position), max(time) FROM message_store.messages WHERE starts_with(stream_name, 'c0500-') GROUP BY stream_name ORDER BY stream_name LIMIT 100"
PG_CATEGORIES="SELECT category::text, head_global_position FROM message_store.get_categories(NULL, 100)"
PG_CATEGORIES_FLOOR="SELECT message_store.category(stream_name)::text, max(global_position) FROM message_store.messages GROUP BY 1 ORDER BY 1 LIMIT 100"
SQ_CAT="substr(stream_name, 1, instr(stream_name || '-', '-') - 1)"
SQ_STREAMS="SELECT stream_name, version, last_time FROM get_streams(NULL, NULL, 100)"
SQ_STREAMS_FLOOR="SELECT stream_name, max(position), max(time) FROM messages GROUP BY stream_name ORDER BY stream_name LIMIT 100"
SQ_PREFIX="SELECT stream_name, version, last_time FROM get_streams('c0500-', NULL, 100)"
SQ_PREFIX_FLOOR="SELECT stream_name, max(position), max(time) FROM messages WHERE stream_name >= 'c0500-' AND stream_name < 'c0500.' GROUP BY stream_name ORDER BY stream_name LIMIT 100"
SQ_CATEGORIES="SELECT category, head_global_position FROM get_categories(NULL, 100)"
SQ_CATEGORIES_FLOOR="SELECT $SQ_CAT, max(global_position) FROM messages GROUP BY $SQ_CAT ORDER BY $SQ_CAT LIMIT 100"

# Run by the script itself under the lock: each Postgres result as
# "postgres,<query>,<size> <ms>".
if [ "${1:-}" = --postgres-timings ]; then
  for size in $SIZES; do
    db=ms_listing_$size
    pg_same "$db" "$PG_STREAMS" "$PG_STREAMS_FLOOR"
    pg_same "$db" "$PG_PREFIX" "$PG_PREFIX_FLOOR"
    pg_same "$db" "$PG_CATEGORIES" "$PG_CATEGORIES_FLOOR"
    echo "listing: timing Postgres, $size messages" >&2
    for name in STREAMS PREFIX CATEGORIES; do
      pg_q=PG_$name; pg_f=PG_${name}_FLOOR
      echo "postgres,$name,$size $(pg_time "$db" "${!pg_q}")"
      echo "postgres,${name}_FLOOR,$size $(pg_time "$db" "${!pg_f}")"
    done
  done
  exit 0
fi

wait_for_other_benchmarks() {
  while [ -f /tmp/bench.running ]; do sleep 10; done
}

trap cleanup EXIT
declare -A result
for size in $SIZES; do
  echo "listing: preparing $size messages" >&2
  make_pg "$size" &
  pg_maker=$!
  make_sqlite "$size" >/dev/null
  wait "$pg_maker"
done

# Postgres, under the lock with this tree's library installed.
export SIZES RUNS
pg_results=$(mktemp)
wait_for_other_benchmarks
touch /tmp/bench.running
flock "$LOCK" bash -c "bash tests/install.sh >/dev/null && bash benches/listing.sh --postgres-timings" > "$pg_results"
rm -f /tmp/bench.running
while read -r key value; do result[$key]=$value; done < "$pg_results"
rm -f "$pg_results"

# SQLite.
wait_for_other_benchmarks
touch /tmp/bench.running
for size in $SIZES; do
  file=$data/listing-$size.db
  sqlite_same "$file" "$SQ_STREAMS" "$SQ_STREAMS_FLOOR"
  sqlite_same "$file" "$SQ_PREFIX" "$SQ_PREFIX_FLOOR"
  sqlite_same "$file" "$SQ_CATEGORIES" "$SQ_CATEGORIES_FLOOR"
  echo "listing: timing SQLite, $size messages" >&2
  for name in STREAMS PREFIX CATEGORIES; do
    sq_q=SQ_$name; sq_f=SQ_${name}_FLOOR
    result[sqlite,$name,$size]=$(sqlite_time "$file" "${!sq_q}")
    result[sqlite,${name}_FLOOR,$size]=$(sqlite_time "$file" "${!sq_f}")
  done
done
rm -f /tmp/bench.running

sizes=($SIZES)
small=${sizes[0]}
large=${sizes[${#sizes[@]} - 1]}
label() {
  case $1 in
    STREAMS) echo "get_streams(NULL, NULL, 100)" ;;
    PREFIX) echo "get_streams('c0500-', NULL, 100)" ;;
    CATEGORIES) echo "get_categories(NULL, 100)" ;;
  esac
}
{
  echo "Listing 100 names (median of $RUNS runs, ms; $(nproc) cores, $(date -u +%Y-%m-%d))"
  echo
  echo "| engine | query | listing, $small | listing, $large | $large / $small | GROUP BY, $small | GROUP BY, $large | $large / $small |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for engine in postgres sqlite; do
    for name in STREAMS PREFIX CATEGORIES; do
      a=${result[$engine,$name,$small]}; b=${result[$engine,$name,$large]}
      fa=${result[$engine,${name}_FLOOR,$small]}; fb=${result[$engine,${name}_FLOOR,$large]}
      ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')
      fratio=$(awk -v a="$fa" -v b="$fb" 'BEGIN { printf "%.2f", b / a }')
      echo "| $engine | \`$(label $name)\` | $a | $b | $ratio | $fa | $fb | $fratio |"
    done
  done
} | tee "$out/listing.md"
