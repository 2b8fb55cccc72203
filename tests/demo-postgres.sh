#!/usr/bin/env bash
# A short real session with the Postgres extension: installs what is missing,
# builds and installs the extension, makes a fresh database
# message_store_demo, writes to two streams and reads them back.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/setup.sh
bash tests/install.sh

psql_as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- psql -X "$@"; else sudo -u postgres psql -X "$@"; fi
}

psql_as_postgres -q -c "DROP DATABASE IF EXISTS message_store_demo WITH (FORCE)"
psql_as_postgres -q -c "CREATE DATABASE message_store_demo"
psql_as_postgres -d message_store_demo -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION message_store;
SET search_path = message_store, public;

\echo '-- write to two streams of the account category'
SELECT write_message(gen_random_uuid()::text, 'account-123', 'Opened',    '{"owner": "ada"}');
SELECT write_message(gen_random_uuid()::text, 'account-123', 'Deposited', '{"amount": 10}', NULL, 0);
SELECT write_message(gen_random_uuid()::text, 'account-456', 'Opened',    '{"owner": "bob"}');

\echo '-- read one stream'
SELECT position, type, data FROM get_stream_messages('account-123');

\echo '-- read the category as a consumer group of 2: each stream goes to one member'
SELECT member, m.global_position, m.stream_name, m.type
FROM generate_series(0, 1) AS member,
     get_category_messages('account', 1, 100, NULL, member, 2) AS m
ORDER BY member, m.global_position;

\echo '-- an expected-version conflict'
\set ON_ERROR_STOP 0
SELECT write_message(gen_random_uuid()::text, 'account-123', 'Withdrawn', '{"amount": 5}', NULL, 0);
SQL
