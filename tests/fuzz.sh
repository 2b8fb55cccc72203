#!/usr/bin/env bash
# Fuzzes core's SQL condition rule against SQLite's real parser
# (core/fuzz/fuzz_targets/condition.rs) for FUZZ_SECONDS (default 60; the
# test command's short run). A long run: FUZZ_SECONDS=3600 bash tests/fuzz.sh
# Installs cargo-fuzz if missing. Stable Rust: no sanitizer.
set -euo pipefail
cd "$(dirname "$0")/../core"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --version "=0.13.2" --locked
fi
mkdir -p fuzz/corpus/condition
cargo fuzz run --sanitizer none --release condition \
  fuzz/corpus/condition fuzz/seeds/condition -- \
  -dict=fuzz/condition.dict -max_total_time="${FUZZ_SECONDS:-60}" -print_final_stats=1 2>&1 |
  # libFuzzer reports every new and reduced input; keep the rest.
  grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)'
