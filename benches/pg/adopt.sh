#!/usr/bin/env bash
# Adopting a Message DB store in place: the time CREATE EXTENSION
# message_store takes on a Message DB 1.3-shaped database of
# ADOPT_MESSAGES messages (default 10,000,000), and the locks it holds
# until it commits.
#
#   bash benches/pg/adopt.sh
#   ADOPT_MESSAGES=100000 bash benches/pg/adopt.sh
#
# The store is the project's fixture (tests/pg_client/fixtures/
# message_db_1_3.sql), filled with one INSERT ... SELECT generate_series
# (its indexes in place), made once per size as a template database; each
# run adopts a fresh copy. Prints the seconds CREATE EXTENSION took, the
# seconds to its commit, the relation and object locks the adopting
# transaction holds, and whether any storage file changed (a rewrite or a
# rebuild would change it). Needs the cluster and the installed extension
# (tests/setup.sh and tests/install.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

ADOPT_MESSAGES=${ADOPT_MESSAGES:-10000000}
TEMPLATE=message_store_adopt_template_${ADOPT_MESSAGES}
DB=message_store_adopt_${ADOPT_MESSAGES}
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD=postgres

psql_in() { local db="$1"; shift; psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }

if [ "$(psql -X -Atq -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$TEMPLATE'")" != 1 ] ||
   [ "$(psql_in "$TEMPLATE" -Atc "SELECT count(*) FROM message_store.messages" 2>/dev/null)" != "$ADOPT_MESSAGES" ]; then
  echo "adopt: writing $ADOPT_MESSAGES messages to a Message DB-shaped database $TEMPLATE" >&2
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $TEMPLATE WITH (FORCE)" \
    -c "CREATE DATABASE $TEMPLATE TEMPLATE template0 ENCODING 'UTF8'"
  psql_in "$TEMPLATE" -f tests/pg_client/fixtures/message_db_1_3.sql
  # Stream cat<c>-<s>: message i is at position i / 100000 of its stream.
  psql_in "$TEMPLATE" <<SQL
INSERT INTO message_store.messages (id, stream_name, position, type, data, metadata)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
       'cat' || (i % 10) || '-' || ((i / 10) % 10000),
       i / 100000,
       'Generated',
       ('{"amount": ' || i || ', "note": "generated"}')::jsonb,
       CASE WHEN (i / 10) % 4 = 0 THEN ('{"correlationStreamName": "origin-' || ((i / 10) % 10000) || '"}')::jsonb END
FROM generate_series(0, $ADOPT_MESSAGES - 1) AS i;
VACUUM ANALYZE message_store.messages;
SQL
fi

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
  -c "CREATE DATABASE $DB TEMPLATE $TEMPLATE"

files="SELECT string_agg(c.relname || '=' || c.relfilenode, ' ' ORDER BY c.relname)
       FROM pg_class c WHERE c.relnamespace = 'message_store'::regnamespace AND c.relkind IN ('r', 'i', 'S')"
before="$(psql_in "$DB" -Atc "$files")"
size="$(psql_in "$DB" -Atc "SELECT pg_size_pretty(pg_total_relation_size('message_store.messages'))")"

started=$(date +%s.%N)
psql_in "$DB" -At <<'SQL' > target/adopt-run.txt
BEGIN;
SELECT clock_timestamp() AS started \gset
CREATE EXTENSION message_store;
SELECT 'create_extension_seconds ' || round(extract(epoch FROM clock_timestamp() - :'started')::numeric, 3);
SELECT 'lock ' || coalesce(l.relation::regclass::text, pg_describe_object(l.classid, l.objid, l.objsubid), l.locktype)
       || ' ' || l.mode
FROM pg_locks l
WHERE l.pid = pg_backend_pid() AND l.granted AND l.locktype IN ('relation', 'object')
  AND (l.relation IS NULL OR l.relation IN (SELECT oid FROM pg_class WHERE relnamespace = 'message_store'::regnamespace))
ORDER BY 1;
COMMIT;
SQL
finished=$(date +%s.%N)
after="$(psql_in "$DB" -Atc "$files")"

echo "Adopting a Message DB store of $ADOPT_MESSAGES messages ($size with indexes)"
grep '^create_extension_seconds ' target/adopt-run.txt | sed 's/^create_extension_seconds /CREATE EXTENSION: /; s/$/ s/'
awk -v a="$started" -v b="$finished" 'BEGIN { printf "to commit (psql session included): %.3f s\n", b - a }'
echo "locks held by the adopting transaction until it commits:"
grep '^lock ' target/adopt-run.txt | sed 's/^lock /  /'
if [ "$before" = "$after" ]; then
  echo "storage files: unchanged (no rewrite, no rebuild)"
else
  echo "storage files CHANGED:"
  echo "  before: $before"
  echo "  after:  $after"
  exit 1
fi
echo "messages after: $(psql_in "$DB" -Atc "SELECT count(*) FROM message_store.messages")"
