\startpipeline
BEGIN;
SELECT pg_advisory_xact_lock(('x' || substr(md5('bulk' || :client_id), 1, 16))::bit(64)::bigint);
INSERT INTO floor.messages (position, stream_name, type, data)
SELECT v.p + g, 'bulk' || :client_id || '-1', 'Written', '{"amount": 1}'
FROM (SELECT coalesce(max(position), -1) AS p FROM floor.messages WHERE stream_name = 'bulk' || :client_id || '-1') AS v,
     generate_series(1, 1000) AS g;
COMMIT;
\endpipeline
