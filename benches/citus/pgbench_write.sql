-- pgbench: one write through the recipe's writer (writer.sql), to a random
-- stream of one category shared by every client (same=1) or of each
-- client's own (same=0), as benches/pg/scripts/write_ms.sql.
\set s random(0, 999)
\set k :same * 1000 + (1 - :same) * :client_id
SELECT message_store_citus.write_message(gen_random_uuid()::text, 'w' || :k || '-' || :s, 'Written', '{"amount": 1}');
