-- pgbench: category.sql as a consumer group member of 4.
\set c random(0, 9)
\set p random(1, :messages - 2000)
\set m random(0, 3)
SELECT id::varchar, stream_name::varchar, type::varchar, position, global_position, data::varchar, metadata::varchar, time
FROM message_store.messages WHERE category = 'cat' || :c AND global_position >= :p
  AND message_store.is_consumer_group_member(stream_name, :m, 4)
ORDER BY global_position LIMIT 100;
