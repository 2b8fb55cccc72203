\set c random(0, 9)
\set p random(1, :messages - 2000)
SELECT id::varchar, stream_name::varchar, type::varchar, position, global_position, data::varchar, metadata::varchar, time
FROM floor.messages WHERE split_part(stream_name, '-', 1) >= 'cat' || :c AND split_part(stream_name, '-', 1) <= 'cat' || :c
  AND global_position >= :p
  AND split_part(metadata->>'correlationStreamName', '-', 1) = 'origin'
ORDER BY split_part(stream_name, '-', 1), global_position LIMIT 100;
