#!/usr/bin/env bash
# Regenerates PERFORMANCE.md from a fresh run of both engines' benchmarks and
# memory runs on this machine (about 37 minutes; SCALING=1 adds the
# 10,000,000-message read runs of both engines, about 30 more the first
# time, while the data sets are written, and 15 after):
#
#   bash benches/report.sh
#   ASSEMBLE_ONLY=1 bash benches/report.sh   # from the last run's results
#   BATCH_ONLY=1 bash benches/report.sh      # measures batch writes only (benches/batch.sh,
#                                            # about 15 minutes) and replaces their section
#   MOVING_ONLY=1 bash benches/report.sh     # measures moving a store only (benches/transfer.sh
#                                            # and benches/pg/adopt.sh, about 15 minutes the
#                                            # first time) and replaces its section
#   READING_ONLY=1 bash benches/report.sh    # measures get_all_messages, listing and
#                                            # notifications only (benches/all_messages.sh,
#                                            # listing.sh, notify.sh) and replaces their section
#   RETENTION_ONLY=1 bash benches/report.sh  # measures removal, redaction and retention
#                                            # policies only (benches/retention.sh, about
#                                            # 2 minutes) and replaces their section
#
# SQLite: criterion (benches/benches/sqlite.rs), the extension beside a
# prepared plain statement on the same connection and data. Postgres:
# benches/pg/run.sh, pgbench beside a plain-SQL floor table. Each result is
# kept in target/bench-results/, so ASSEMBLE_ONLY=1 rewrites PERFORMANCE.md
# from them without measuring again (after benches/analysis.md, the
# analysis of the results included as it is, changes).
set -euo pipefail
cd "$(dirname "$0")/.."

results=target/bench-results
mkdir -p "$results"

# The batch-write section: benches/batch.sh's tables and plot, and
# benches/batch_analysis.md as it is.
batch_section() {
  cat <<BATCH
## Batch writes

\`bash benches/batch.sh\` (measured $(date -u -r "$results/batch.md" '+%Y-%m-%d %H:%M UTC')):
\`write_messages\` and \`write_batch\` with 1 to 1,000 messages per call, each
beside its floor, the same JSON text turned into rows by one set-based
\`INSERT … SELECT\` in plain SQL after the same lock and version lookup
(benches/src/bin/batch.rs), in alternating runs of the same calls into
fresh stores; before measuring, each floor is checked to store exactly the
function's rows. Messages per second, the median of the runs.

$(cat "$results/batch.md")

![Messages per second against messages per call, both engines and their floors](benches/batch_writes.svg)

$(cat benches/batch_analysis.md)
BATCH
}

# The section on moving a store: benches/transfer.sh's table, the adoption
# run of benches/pg/adopt.sh, and benches/moving_analysis.md as it is.
moving_section() {
  cat <<MOVING
## Moving a store

\`bash benches/transfer.sh\` (measured $(date -u -r "$results/transfer.md" '+%Y-%m-%d %H:%M UTC')):
\`export_messages\` and \`import_messages\` of the benchmarks' data set, each
beside its floor, the same rows out and in by the engine's own bulk path
(Postgres: \`COPY\`; SQLite: the sqlite3 CLI's \`SELECT\` and \`.import\`, a
prepared INSERT loop in one transaction), through psql and the sqlite3 CLI
as the README's pipelines run them. Messages per second, the median of the
runs, and the peak resident memory of the process doing the work.

$(cat "$results/transfer.md")

\`bash benches/pg/adopt.sh\` (measured $(date -u -r "$results/adopt.txt" '+%Y-%m-%d %H:%M UTC')):
\`CREATE EXTENSION message_store\` adopting a Message DB-shaped store in place.

\`\`\`text
$(cat "$results/adopt.txt")
\`\`\`

$(cat benches/moving_analysis.md)
MOVING
}

# The section on reading beyond Message DB: benches/all_messages.sh's
# tables, benches/listing.sh's and benches/notify.sh's, and
# benches/reading_analysis.md as it is.
reading_section() {
  cat <<READING
## Reading beyond Message DB

\`bash benches/all_messages.sh\` (measured $(date -u -r "$results/all_messages.md" '+%Y-%m-%d %H:%M UTC')):
what a reader polling \`get_all_messages\` costs \`write_message\` on Postgres,
beside a reader polling a plain \`global_position >=\` query (which skips
late commits), and the reader's latency per call while two writers write.

$(cat "$results/all_messages.md")

\`bash benches/listing.sh\` (measured $(date -u -r "$results/listing.md" '+%Y-%m-%d %H:%M UTC')):
\`get_streams\` and \`get_categories\` on 1,000,000 and 10,000,000 messages, both
engines, beside a \`GROUP BY\` query of the same result.

$(cat "$results/listing.md")

\`bash benches/notify.sh\` (measured $(date -u -r "$results/notify.md" '+%Y-%m-%d %H:%M UTC')):
\`write_message\` with \`message_store.notify\` off and on, and the time from a
writer's commit to a consumer's reading the message, woken by a notification
or polling every 100 ms.

$(cat "$results/notify.md")

$(cat benches/reading_analysis.md)
READING
}

# The retention section: benches/retention.sh's table and
# benches/retention_analysis.md as it is.
retention_section() {
  cat <<RETENTION
## Retention

\`bash benches/retention.sh\` (measured $(date -u -r "$results/retention.md" '+%Y-%m-%d %H:%M UTC')):
\`remove_messages\` from a category and from one stream of 50,000 messages,
\`redact_stream\` and \`apply_retention_policies\` (a \`keep_last\` policy on
each of 10 categories) on a store of 1,050,000 messages, each beside its
floor, plain SQL deleting (or nulling) the same number of the category's
or stream's oldest rows by primary key, found by a walk of the same index,
without keeping each stream's last message, run alternately with the
function on the same data. Each call is its own transaction; the statement
is timed, the commit is not; every run is checked to remove or change
exactly the stated count. Postgres through psql as the superuser, SQLite
through Python's sqlite3; the median of the runs.

$(cat "$results/retention.md")

$(cat benches/retention_analysis.md)
RETENTION
}

# Replaces the section whose heading matches $1 with the file $2 (or adds
# it before the memory section), leaving every other section as it was.
replace_section() {
  awk -v section="$2" -v heading="$1" '
    function insert() { while ((getline line < section) > 0) print line; print ""; done = 1 }
    $0 ~ ("^## " heading) { if (!done) insert(); skip = 1; next }
    /^## / { if (skip) skip = 0; if (!done && /^## Memory/) insert() }
    !skip { print }
  ' PERFORMANCE.md > "$2.new"
  mv "$2.new" PERFORMANCE.md
}

if [ "${MOVING_ONLY:-0}" = 1 ]; then
  if [ "${ASSEMBLE_ONLY:-0}" != 1 ]; then
    bash benches/transfer.sh >/dev/null
    bash benches/pg/adopt.sh | tee "$results/adopt.txt" >/dev/null
  fi
  section=$(mktemp)
  moving_section > "$section"
  replace_section "Moving a store" "$section"
  rm -f "$section"
  echo "wrote the moving section of PERFORMANCE.md"
  exit 0
fi

if [ "${READING_ONLY:-0}" = 1 ]; then
  if [ "${ASSEMBLE_ONLY:-0}" != 1 ]; then
    bash benches/all_messages.sh >/dev/null
    bash benches/listing.sh >/dev/null
    bash benches/notify.sh >/dev/null
  fi
  section=$(mktemp)
  reading_section > "$section"
  replace_section "Reading beyond Message DB" "$section"
  rm -f "$section"
  echo "wrote the reading section of PERFORMANCE.md"
  exit 0
fi

if [ "${RETENTION_ONLY:-0}" = 1 ]; then
  if [ "${ASSEMBLE_ONLY:-0}" != 1 ]; then
    bash benches/retention.sh >/dev/null
  fi
  section=$(mktemp)
  retention_section > "$section"
  replace_section "Retention" "$section"
  rm -f "$section"
  echo "wrote the retention section of PERFORMANCE.md"
  exit 0
fi

if [ "${BATCH_ONLY:-0}" = 1 ]; then
  # With ASSEMBLE_ONLY=1 too: the section from the last batch run's results.
  if [ "${ASSEMBLE_ONLY:-0}" != 1 ]; then
    bash benches/batch.sh >/dev/null
  fi
  section=$(mktemp)
  batch_section > "$section"
  replace_section "Batch writes" "$section"
  rm -f "$section"
  echo "wrote the batch-write section of PERFORMANCE.md"
  exit 0
fi

if [ "${ASSEMBLE_ONLY:-0}" != 1 ]; then
  bash tests/setup.sh >/dev/null
  bash tests/install.sh >/dev/null
  cargo build --release -p message_store_sqlite
  cargo bench -p message_store_benches
  cargo run -q --release -p message_store_benches --bin report > "$results/sqlite-1000000.md"
  bash benches/pg/run.sh all
  BATCH_SKIP_INSTALL=1 bash benches/batch.sh
  TRANSFER_SKIP_INSTALL=1 bash benches/transfer.sh >/dev/null
  bash benches/pg/adopt.sh | tee "$results/adopt.txt" >/dev/null
  ALL_SKIP_INSTALL=1 bash benches/all_messages.sh >/dev/null
  bash benches/listing.sh >/dev/null
  NOTIFY_SKIP_INSTALL=1 bash benches/notify.sh >/dev/null
  bash benches/retention.sh >/dev/null
  cargo run -q --release -p message_store_benches --bin memory > "$results/sqlite-memory.md"
  bash benches/pg/memory.sh > "$results/postgres-memory.md"
  if [ "${SCALING:-0}" = 1 ]; then
    # cargo bench runs in the package's directory: criterion needs a full path.
    MESSAGE_STORE_BENCH_MESSAGES=10000000 CRITERION_HOME="$PWD/target/criterion-10000000" \
      cargo bench -p message_store_benches -- get_
    cargo run -q --release -p message_store_benches --bin report "$PWD/target/criterion-10000000" |
      grep -v '^| write_message' > "$results/sqlite-10000000.md"
    MESSAGES=10000000 bash benches/pg/run.sh reads
  fi
fi
sqlite_table=$(cat "$results/sqlite-1000000.md")
pg_table=$(cat "$results/postgres-1000000-all.md")
sqlite_memory=$(cat "$results/sqlite-memory.md")
pg_memory=$(cat "$results/postgres-memory.md")
scaling=""
if [ "${SCALING:-0}" = 1 ]; then
  scaling=$(printf 'SQLite: `MESSAGE_STORE_BENCH_MESSAGES=10000000 cargo bench -p message_store_benches -- get_`\n\n%s\n\nPostgres: `MESSAGES=10000000 bash benches/pg/run.sh reads`\n\n%s\n' \
    "$(cat "$results/sqlite-10000000.md")" "$(cat "$results/postgres-10000000-reads.md")")
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
{
  cat <<HEAD
# Performance

Generated by \`bash benches/report.sh\` on $(date -u +%Y-%m-%d): do not edit by hand.
Machine: $cpu, $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; $(uname -sr);
SQLite $(sqlite3 --version | cut -d' ' -f1) (system library), $(rustc --version | cut -d' ' -f1-2).

Every operation is measured beside its floor, in the same run: the same
work done by plain SQL on the same data, without the extension's function
layer. The data set (benches/src/lib.rs, benches/pg/run.sh): 1,000,000
messages over 10 categories of 10,000 streams of 10 messages, interleaved;
a quarter of each category correlated.

## SQLite

\`cargo bench -p message_store_benches\` (after \`cargo build --release -p message_store_sqlite\`),
then \`cargo run --release -p message_store_benches --bin report\`. Median time per call,
the host reading every column of every row.

$sqlite_table

## Postgres

\`bash benches/pg/run.sh\`: pgbench -M prepared; the floor is \`floor.messages\`, a
table like \`message_store.messages\` with the same indexes in plain SQL, and
plain queries asking it for the same index ranges as the functions do (for
category reads, the category bounded from both sides, so the category index
serves them at every table size: see the analysis); Message DB's figures are
the ones measured for it on this kind of machine.

$pg_table

$(batch_section)

$(moving_section)

$(reading_section)

$(retention_section)
HEAD
  cat <<MEMORY

## Memory over 1,000,000 calls

Writes and every reader in turn, on one connection. SQLite
(\`cargo run --release -p message_store_benches --bin memory\`, the store in a file,
the process's private resident memory):

$sqlite_memory

Postgres (\`bash benches/pg/memory.sh\`, one pgbench connection, the backend's private
resident memory, sampled every 15 s):

$pg_memory
MEMORY
  if [ -n "$scaling" ]; then
    printf '\n## Reads on 10,000,000 messages\n\nThe same reads on ten times the data: the same rule, so each of the 100,000 streams holds 100 messages; every read returns as many rows as on 1,000,000.\n\n%s\n' "$scaling"
  fi
  echo
  cat benches/analysis.md
} > PERFORMANCE.md
echo "wrote PERFORMANCE.md"
