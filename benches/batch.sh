#!/usr/bin/env bash
# Batch writes beside their floors on both engines (PERFORMANCE.md's
# "Batch writes", about 15 minutes): write_messages and write_batch with 1,
# 10, 100 and 1,000 messages per call, and a batch of one beside
# write_message, each beside its set-based plain-SQL floor in alternating
# runs (benches/src/bin/batch.rs says how). Writes
# target/bench-results/batch-{sqlite,postgres}.tsv, the tables in
# target/bench-results/batch.md and the plot benches/batch_writes.svg.
#
#   bash benches/batch.sh
#   BATCH_SECONDS=5 BATCH_RUNS=5 bash benches/batch.sh   # longer runs (default 2 s, 3 runs)
#   BATCH_SKIP_INSTALL=1 ...   # the cluster and the extension are set up already
#
# Postgres writes into a database of its own, message_store_bench_batch_<pid>,
# dropped at the end; SQLite into files under target/bench-data/batch-<pid>/
set -euo pipefail
cd "$(dirname "$0")/.."

results=target/bench-results
mkdir -p "$results"
if [ "${BATCH_SKIP_INSTALL:-0}" != 1 ]; then
  bash tests/setup.sh >/dev/null
  bash tests/install.sh >/dev/null
fi
cargo build --release -p message_store_sqlite
cargo build --release -p message_store_benches --bin batch
target/release/batch sqlite
target/release/batch postgres
target/release/batch report benches/batch_writes.svg > "$results/batch.md"
cat "$results/batch.md"
