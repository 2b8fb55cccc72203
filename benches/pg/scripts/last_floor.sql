\set s random(0, 99999)
SELECT id::varchar, stream_name::varchar, type::varchar, position, global_position, data::varchar, metadata::varchar, time
FROM floor.messages WHERE stream_name = 'cat' || (:s % 10) || '-' || (:s / 10) ORDER BY position DESC LIMIT 1;
