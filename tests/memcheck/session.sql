-- A sqlite3 CLI session for tests/memcheck.sh: writes, every reader,
-- conditions, the batch writers, retention and erasure, and refused input,
-- in one process under valgrind.
.load ./target/release/libmessage_store_sqlite
SELECT count(write_message(gen_random_uuid(), 'a-' || (value % 5), 'T', json_object('n', value, 's', 'ü☃'), CASE WHEN value % 2 THEN '{"correlationStreamName":"o-1"}' END)) FROM generate_series(1, 200);
SELECT count(*) FROM get_category_messages('a', 1, 1000);
SELECT count(*) FROM get_category_messages('a', 1, 1000, 'o', 0, 2);
SELECT count(*) FROM get_stream_messages('a-1', 0, 10);
SELECT type FROM get_last_stream_message('a-1');
SELECT count(*) FROM stream_summary;
SELECT set_config('message_store.sql_condition', 'on', false);
SELECT count(*) FROM get_stream_messages('a-1', 0, 10, 'position > 2');
SELECT count(*) FROM get_stream_messages('a-1', 0, 10, 'true) OR (true');
SELECT count(*) FROM get_stream_messages('a-1', 0, 10, 'true; DELETE FROM messages');
SELECT write_message('not-a-uuid', 'a-1', 'T', '{}');
SELECT write_message(gen_random_uuid(), 'a-1', 'T', '{"a": 1e131000, "b": [1, {"c": null}]}');
SELECT write_message(gen_random_uuid(), CAST(x'4fff' AS TEXT), 'T', '{}');
SELECT write_message(gen_random_uuid(), 'a-1', 'T', '{', NULL, 0);
SELECT write_messages('b-1', '[{"id": "00000000-0000-4000-8000-000000000001", "type": "T", "data": {"s": "ü☃"}}, {"id": "00000000-0000-4000-8000-000000000002", "type": "T", "data": [1], "metadata": {"m": null}}, {"id": "00000000-0000-4000-8000-000000000003", "type": "T", "data": null}]');
SELECT write_messages('b-1', '[{"id": "00000000-0000-4000-8000-000000000001", "type": "T", "data": {"s": "ü☃"}}, {"id": "00000000-0000-4000-8000-000000000002", "type": "T", "data": [1], "metadata": {"m": null}}, {"id": "00000000-0000-4000-8000-000000000003", "type": "T", "data": null}]', NULL, 1);
SELECT write_batch('[{"stream_name": "b-2", "messages": [{"id": "00000000-0000-4000-8000-000000000004", "type": "T", "data": {}}]}, {"stream_name": "c-1", "expected_version": -1, "messages": [{"id": "00000000-0000-4000-8000-000000000005", "type": "T", "data": {}}]}]');
SELECT write_batch('[{"stream_name": "b-2", "messages": [{"id": "00000000-0000-4000-8000-000000000006", "type": "T", "data": {}}, {"id": "00000000-0000-4000-8000-000000000001", "type": "T", "data": {}}]}]');
SELECT write_messages('b-1', '[{"id": "00000000-0000-4000-8000-000000000007", "type": "T"}]');
SELECT stream_version('a-1');
SELECT count(*) FROM messages;
SELECT remove_messages('a', NULL, 100, 10);
SELECT remove_messages('a-1', '2999-01-01T00:00:00Z');
SELECT remove_messages('a', 'soon');
SELECT remove_messages('a');
SELECT redact_stream('a-2');
SELECT set_retention_policy('a', 'keep_last', 3);
SELECT set_retention_policy('a', 'keep_days', 3);
SELECT set_retention_policy('b', 'keep_seconds', 60);
SELECT apply_retention_policies(50);
SELECT apply_retention_policies();
SELECT clear_retention_policy('a');
SELECT count(*) FROM messages;
