SELECT max(global_position) - 99 AS p FROM message_store.messages \gset
SELECT count(*) FROM message_store.get_all_messages(:p, 100);
