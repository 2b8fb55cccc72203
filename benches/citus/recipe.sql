-- message_store on Citus: the table's layout for distributing on the
-- category (SCALING.md, "Running on Citus"). Run with psql on EVERY node,
-- workers first, then the coordinator with -v coordinator=true:
--
--   psql -v ON_ERROR_STOP=1 -v coordinator=false -f benches/citus/recipe.sql   # each worker
--   psql -v ON_ERROR_STOP=1 -v coordinator=true  -f benches/citus/recipe.sql   # the coordinator
--
-- after `CREATE EXTENSION citus` on every node, the workers added
-- (citus_set_coordinator_host, citus_add_node), and `CREATE EXTENSION
-- message_store` on the coordinator, which Citus runs on the workers too.
--
-- Why each step:
-- * Citus distributes on a column, not an expression, so the category
--   becomes a column. Not a generated one: create_distributed_table refuses
--   "Distribution column must not use GENERATED ALWAYS AS (...) STORED". A
--   plain column, which the writer fills, and a CHECK that it is the
--   category of the stream name, so no row lands on another category's shard.
-- * Every unique index must include the distribution column. The primary
--   key becomes (category, global_position), the stream index (category,
--   stream_name, position) (the same rule: a stream name fixes its category),
--   and the id index (category, id): an id is unique within its category,
--   not across the store (SCALING.md says what that gives up).
-- * The category index leads with the column, so `category = $1` reads one
--   shard in index order.
-- * get_all_messages reads every shard from a global position: the primary
--   key no longer leads with it, so it gets an index of its own.
-- * On the workers, the sequence is made to refuse (below).
-- * Citus creates the distributed table's shards from the workers' own copy
--   of an extension's table, so the layout is changed on every node before
--   distributing (run on the coordinator alone, create_distributed_table
--   fails on a worker with: column "category" of relation "messages" does
--   not exist).

ALTER TABLE message_store.messages ADD COLUMN category text;
UPDATE message_store.messages SET category = message_store.category(stream_name);
ALTER TABLE message_store.messages ALTER COLUMN category SET NOT NULL;
ALTER TABLE message_store.messages ADD CONSTRAINT messages_category_of_stream
  CHECK (category = message_store.category(stream_name));

ALTER TABLE message_store.messages DROP CONSTRAINT messages_pkey;
ALTER TABLE message_store.messages ADD CONSTRAINT messages_pkey PRIMARY KEY (category, global_position);
DROP INDEX message_store.messages_id;
CREATE UNIQUE INDEX messages_id ON message_store.messages (category, id);
DROP INDEX message_store.messages_stream;
CREATE UNIQUE INDEX messages_stream ON message_store.messages (category, stream_name, position);
DROP INDEX message_store.messages_category;
CREATE INDEX messages_category ON message_store.messages (
  category, global_position, message_store.category(metadata->>'correlationStreamName'));
CREATE INDEX messages_global_position ON message_store.messages (global_position);

\if :coordinator
\else
-- A worker's own copy of the global position sequence must never hand out
-- a value: the coordinator's sequence draws every position, in order. An
-- INSERT run on a worker would otherwise draw from the worker's copy
-- (from 1 again) and store a global position another message has. From
-- here on such an INSERT fails with "nextval: reached maximum value of
-- sequence"; writes through the coordinator are not affected.
ALTER SEQUENCE message_store.messages_global_position_seq MINVALUE 0 MAXVALUE 1;
SELECT setval('message_store.messages_global_position_seq', 1, true);
\endif

\if :coordinator
-- 32 shards (Citus's default), spread over the workers; a category's
-- messages are all on one shard.
SELECT create_distributed_table('message_store.messages', 'category');
\endif
