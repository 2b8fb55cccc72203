#!/usr/bin/env bash
# The SQLite extension under valgrind memcheck in two real hosts: a sqlite3
# CLI session (tests/memcheck/session.sql) and the Python examples
# (tests/hosts/python_example.py, retention_example.py) in Debian's
# python3. Any memory error, or a definite leak in the CLI session, fails.
# Build the library first (cargo build --release -p message_store_sqlite).
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/lib.sh
install_packages valgrind sqlite3 python3

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The session ends with errors on purpose (refused input): the CLI's exit
# status is not the check, valgrind's error exit code (9) is.
status=0
valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
  sqlite3 :memory: < tests/memcheck/session.sql > "$work/cli.out" 2> "$work/cli.err" || status=$?
if [ "$status" -eq 9 ] || grep -q '^==[0-9]*==' "$work/cli.err"; then
  cat "$work/cli.err"
  echo "memcheck: the sqlite3 session has memory errors" >&2
  exit 1
fi
grep -qx '206' "$work/cli.out" || { cat "$work/cli.out"; echo "memcheck: the session did not run" >&2; exit 1; }

# Python's own allocator hides allocations from valgrind; use malloc's.
PYTHONMALLOC=malloc valgrind -q --error-exitcode=9 --leak-check=no \
  /usr/bin/python3 tests/hosts/python_example.py ./target/release/libmessage_store_sqlite "$work/store.db" \
  > "$work/python.out" 2> "$work/python.err" || { cat "$work/python.err"; echo "memcheck: the Python example failed under valgrind" >&2; exit 1; }
PYTHONMALLOC=malloc valgrind -q --error-exitcode=9 --leak-check=no \
  /usr/bin/python3 tests/hosts/retention_example.py ./target/release/libmessage_store_sqlite "$work/retention.db" \
  > "$work/retention.out" 2> "$work/retention.err" || { cat "$work/retention.err"; echo "memcheck: the Python retention example failed under valgrind" >&2; exit 1; }
echo "memcheck: no memory errors in the sqlite3 session or the Python examples"
