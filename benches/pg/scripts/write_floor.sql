\set s random(0, 999)
\set k :same * 1000 + (1 - :same) * :client_id
-- The lock must be held before the INSERT's snapshot is taken, so these are
-- separate statements, sent in one round trip.
\startpipeline
BEGIN;
SELECT pg_advisory_xact_lock(('x' || substr(md5('w' || :k), 1, 16))::bit(64)::bigint);
INSERT INTO floor.messages (position, stream_name, type, data)
SELECT coalesce(max(position), -1) + 1, 'w' || :k || '-' || :s, 'Written', '{"amount": 1}'
FROM floor.messages WHERE stream_name = 'w' || :k || '-' || :s;
COMMIT;
\endpipeline
