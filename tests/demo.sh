#!/usr/bin/env bash
# The embedded default, no server needed: builds the SQLite extension and
# runs a short real session in the sqlite3 CLI on a fresh database file,
# target/demo.db: writes to two streams, reads one stream, reads the
# category as a consumer group of two, and shows an expected-version
# conflict.
set -euo pipefail
cd "$(dirname "$0")/.."

source tests/lib.sh
install_packages sqlite3

cargo build --release -p message_store_sqlite
rm -f target/demo.db target/demo.db-wal target/demo.db-shm

sqlite3 target/demo.db <<'SQL'
.load ./target/release/libmessage_store_sqlite
.headers on
.mode column

.print '-- write to two streams of the account category'
SELECT write_message('8f1e6e8a-2f7c-4a53-9a57-1d1a2c3b4d01', 'account-123', 'Opened',    '{"owner": "ada"}') AS position;
SELECT write_message('8f1e6e8a-2f7c-4a53-9a57-1d1a2c3b4d02', 'account-123', 'Deposited', '{"amount": 10}', NULL, 0) AS position;
SELECT write_message('8f1e6e8a-2f7c-4a53-9a57-1d1a2c3b4d03', 'account-789', 'Opened',    '{"owner": "bob"}') AS position;

.print ''
.print '-- read one stream'
SELECT position, type, data, time FROM get_stream_messages('account-123');

.print ''
.print '-- read the category as a consumer group of 2: each stream goes to one member'
WITH members(member) AS (VALUES (0), (1))
SELECT member, m.global_position, m.stream_name, m.type
FROM members, get_category_messages('account', 1, 100, NULL, member, 2) AS m
ORDER BY member, m.global_position;
SQL

echo
echo "-- an expected-version conflict: account-123 is at version 1, not 0"
if sqlite3 target/demo.db -cmd ".load ./target/release/libmessage_store_sqlite" \
  "SELECT write_message('8f1e6e8a-2f7c-4a53-9a57-1d1a2c3b4d04', 'account-123', 'Withdrawn', '{\"amount\": 5}', NULL, 0)"; then
  echo "demo: the conflicting write was accepted" >&2
  exit 1
fi
