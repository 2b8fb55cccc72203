-- pgbench: a category read of 100 from a random global position on a
-- table distributed on the stream name: the category is spread over every
-- shard, so each shard is read and the coordinator merges their orders.
\set c random(0, 9)
\set p random(1, :messages - 2000)
SELECT id::varchar, stream_name::varchar, type::varchar, position, global_position, data::varchar, metadata::varchar, time
FROM message_store.messages WHERE message_store.category(stream_name) = 'cat' || :c AND global_position >= :p
ORDER BY global_position LIMIT 100;
