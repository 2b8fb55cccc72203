-- pgbench: a category read of 100 from a random global position, with
-- the category named as the distribution column (one shard).
\set c random(0, 9)
\set p random(1, :messages - 2000)
SELECT id::varchar, stream_name::varchar, type::varchar, position, global_position, data::varchar, metadata::varchar, time
FROM message_store.messages WHERE category = 'cat' || :c AND global_position >= :p
ORDER BY global_position LIMIT 100;
