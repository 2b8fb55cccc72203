\set s random(0, 999)
\set k :same * 1000 + (1 - :same) * :client_id
SELECT coalesce(max(position), -1) AS v FROM message_store.messages WHERE stream_name = 'w' || :k || '-' || :s \gset
SELECT message_store.write_message(gen_random_uuid()::text, 'w' || :k || '-' || :s, 'Written', '{"amount": 1}', NULL, :v);
