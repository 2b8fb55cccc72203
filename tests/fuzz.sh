#!/usr/bin/env bash
# Fuzzes every rule of core that reads user input, each against an oracle
# (core/fuzz/fuzz_targets/<target>.rs says which, and its rules):
#   condition    the SQL condition rule, against SQLite's real parser
#   json         jsonb text, against serde_json and Postgres' jsonb printing
#   stream_name  text arguments, stream-name splits, hash_64 against Message
#                DB's md5 expression, consumer-group membership
#   uuid         uuid text, against Postgres' uuid_in rule and the uuid crate
#   reader_args  the readers' argument checks, in Message DB's order
#   transfer     import lines read back from their export, byte for byte
#                against serde_json's strings; the import plan's refusals
# FUZZ_SECONDS (default 90, the test command's short run) is split evenly
# across the targets run. A long run: FUZZ_SECONDS=3600 bash tests/fuzz.sh
# Some targets only: FUZZ_TARGETS="json uuid" bash tests/fuzz.sh
# Each target starts from its committed seeds (core/fuzz/seeds/<target>) and
# what earlier runs found (core/fuzz/corpus/<target>, not committed). Every
# target runs even when one fails; a failing input is kept in
# core/fuzz/artifacts/<target>/ (`cargo fuzz fmt <target> <file>` shows
# reader_args' inputs as arguments). Installs cargo-fuzz if missing.
# Stable Rust: no sanitizer.
set -euo pipefail
cd "$(dirname "$0")/../core"

read -r -a targets <<<"${FUZZ_TARGETS:-condition json stream_name uuid reader_args transfer}"
seconds=$(("${FUZZ_SECONDS:-90}" / ${#targets[@]}))
if ((seconds < 1)); then
  seconds=1
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --version "=0.13.2" --locked
fi
# One build of every target, rather than one cargo run each.
cargo fuzz build --sanitizer none --release

failed=()
for target in "${targets[@]}"; do
  dict=()
  if [[ -f fuzz/$target.dict ]]; then
    dict=("-dict=fuzz/$target.dict")
  fi
  mkdir -p "fuzz/corpus/$target"
  echo "fuzz: $target for ${seconds} s"
  if ! cargo fuzz run --sanitizer none --release "$target" \
    "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 2>&1 |
    # libFuzzer reports every new and reduced input, and the dictionary
    # entries it found useful; keep the rest.
    grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|# Uses: [0-9]+$'; then
    failed+=("$target")
  fi
done
if ((${#failed[@]} > 0)); then
  echo "fuzz: FAILED: ${failed[*]} (inputs in core/fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${targets[*]}: no failure"
