-- The data set of SCALING.md's Citus figures, on the coordinator after
-- recipe.sql (or on a single node with the same layout): 200,000 messages
-- in 10 categories (cat0 … cat9) of 10,000 streams of 2 messages, in one
-- INSERT … SELECT, which Citus sends to the shards in batches. The
-- pgbench scripts read it with -D messages=200000.
INSERT INTO message_store.messages (id, stream_name, category, position, type, data)
SELECT gen_random_uuid(), 'cat' || (i % 10) || '-' || ((i / 10) % 10000), 'cat' || (i % 10), i / 100000,
  'Generated', ('{"amount": ' || i || '}')::jsonb
FROM generate_series(0, 199999) AS i
ORDER BY i;
VACUUM ANALYZE message_store.messages;
