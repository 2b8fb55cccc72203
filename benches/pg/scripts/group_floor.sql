\set c random(0, 9)
\set p random(1, :messages - 2000)
\set m random(0, 3)
SELECT id::varchar, stream_name::varchar, type::varchar, position, global_position, data::varchar, metadata::varchar, time
FROM floor.messages WHERE split_part(stream_name, '-', 1) >= 'cat' || :c AND split_part(stream_name, '-', 1) <= 'cat' || :c
  AND global_position >= :p
  AND mod(abs(('x' || substr(md5(split_part(substr(stream_name, strpos(stream_name, '-') + 1), '+', 1)), 1, 16))::bit(64)::bigint), 4) = :m
ORDER BY split_part(stream_name, '-', 1), global_position LIMIT 100;
