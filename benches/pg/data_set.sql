-- The benchmarks' Postgres data set, the rule of benches/src/lib.rs, in a
-- database with nothing in it yet: :messages messages through
-- write_message, and beside them the plain-SQL floor table floor.messages
-- with the same rows and the extension's indexes. Run with
--   psql -v ON_ERROR_STOP=1 -v messages=N -d <database> -f benches/pg/data_set.sql
-- by benches/pg/run.sh and benches/scaling.sh.
CREATE EXTENSION message_store;
SELECT count(message_store.write_message(
  '00000000-0000-4000-8000-' || lpad(i::text, 12, '0'),
  'cat' || (i % 10) || '-' || ((i / 10) % 10000),
  'Generated',
  ('{"amount": ' || i || ', "note": "generated"}')::jsonb,
  CASE WHEN (i / 10) % 4 = 0 THEN ('{"correlationStreamName": "origin-' || ((i / 10) % 10000) || '"}')::jsonb END))
FROM generate_series(0, :messages - 1) AS i;

CREATE SCHEMA floor;
CREATE TABLE floor.messages (
  global_position bigserial PRIMARY KEY,
  position bigint NOT NULL,
  time timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  stream_name text NOT NULL,
  type text NOT NULL,
  data jsonb,
  metadata jsonb,
  id uuid NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO floor.messages SELECT * FROM message_store.messages ORDER BY global_position;
SELECT setval('floor.messages_global_position_seq', (SELECT max(global_position) FROM floor.messages));
CREATE UNIQUE INDEX ON floor.messages (id);
CREATE UNIQUE INDEX ON floor.messages (stream_name, position);
CREATE INDEX ON floor.messages (split_part(stream_name, '-', 1), global_position, split_part(metadata->>'correlationStreamName', '-', 1));
