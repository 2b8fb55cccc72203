-- For comparison only (SCALING.md): the table distributed on the stream
-- name, the extension's statements unchanged. Every unique index must
-- include the distribution column: the primary key and the id index gain
-- the stream name (the stream index has it). Run on every node, workers
-- first, then on the coordinator with -v coordinator=true.
ALTER TABLE message_store.messages DROP CONSTRAINT messages_pkey;
ALTER TABLE message_store.messages ADD CONSTRAINT messages_pkey PRIMARY KEY (stream_name, global_position);
DROP INDEX message_store.messages_id;
CREATE UNIQUE INDEX messages_id ON message_store.messages (stream_name, id);

\if :coordinator
SELECT create_distributed_table('message_store.messages', 'stream_name');
-- Its data set: data.sql's messages, without the category column.
INSERT INTO message_store.messages (id, stream_name, position, type, data)
SELECT gen_random_uuid(), 'cat' || (i % 10) || '-' || ((i / 10) % 10000), i / 100000,
  'Generated', ('{"amount": ' || i || '}')::jsonb
FROM generate_series(0, 199999) AS i
ORDER BY i;
VACUUM ANALYZE message_store.messages;
\endif
