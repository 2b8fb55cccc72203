\set s random(0, 999)
\set k :same * 1000 + (1 - :same) * :client_id
SELECT message_store.write_message(gen_random_uuid()::text, 'w' || :k || '-' || :s, 'Written', '{"amount": 1}');
