-- pgbench: get_all_messages' read, 100 from a random global position up
-- to a bound, on every shard (the coordinator merges their orders).
\set p random(1, :messages - 2000)
SELECT id::varchar, stream_name::varchar, type::varchar, position, global_position, data::varchar, metadata::varchar, time
FROM message_store.messages WHERE global_position >= :p AND global_position <= :messages
ORDER BY global_position LIMIT 100;
