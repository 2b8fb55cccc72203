-- pgbench: the extension's get_all_messages, 100 from a random global
-- position (the one-node reference for pgbench_all.sql).
\set p random(1, :messages - 2000)
SELECT * FROM message_store.get_all_messages(:p, 100);
