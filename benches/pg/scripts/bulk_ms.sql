SELECT count(message_store.write_message(gen_random_uuid()::text, 'bulk' || :client_id || '-1', 'Written', '{"amount": 1}'))
FROM generate_series(1, 1000);
