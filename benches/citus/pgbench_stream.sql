-- pgbench: a stream read, the stream's category named as the
-- distribution column (one shard).
\set s random(0, 99999)
SELECT id::varchar, stream_name::varchar, type::varchar, position, global_position, data::varchar, metadata::varchar, time
FROM message_store.messages WHERE category = 'cat' || (:s % 10) AND stream_name = 'cat' || (:s % 10) || '-' || (:s / 10)
  AND position >= 0 ORDER BY position LIMIT 10;
