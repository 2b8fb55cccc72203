\set s random(0, 99999)
SELECT * FROM message_store.get_stream_messages('cat' || (:s % 10) || '-' || (:s / 10), 0, 10);
