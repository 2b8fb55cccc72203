SELECT max(global_position) - 99 AS p FROM message_store.messages \gset
SELECT count(*) FROM (SELECT id::varchar, stream_name::varchar, type::varchar, position, global_position, data::varchar, metadata::varchar, time
  FROM message_store.messages WHERE global_position >= :p ORDER BY global_position LIMIT 100) AS m;
