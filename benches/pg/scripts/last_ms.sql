\set s random(0, 99999)
SELECT * FROM message_store.get_last_stream_message('cat' || (:s % 10) || '-' || (:s / 10));
