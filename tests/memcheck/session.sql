-- A sqlite3 CLI session for tests/memcheck.sh: writes, every reader,
-- conditions, and refused input, in one process under valgrind.
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
SELECT stream_version('a-1');
SELECT count(*) FROM messages;
