-- message_store: the objects of a fresh install, in schema message_store.
--
-- Names, column order, argument names and defaults are Message DB 1.3's:
-- its clients depend on them. The functions are C functions of this
-- extension's library; their bodies name every object with its schema, so
-- they work for any role whatever its search_path.

CREATE TYPE message_store.message AS (
  id varchar,
  stream_name varchar,
  type varchar,
  position bigint,
  global_position bigint,
  data varchar,
  metadata varchar,
  time timestamp
);

-- Stream-name rules. IMMUTABLE: category() is part of an index expression.

CREATE FUNCTION message_store.category(stream_name varchar)
RETURNS varchar
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_category';

CREATE FUNCTION message_store.id(stream_name varchar)
RETURNS varchar
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_id';

CREATE FUNCTION message_store.cardinal_id(stream_name varchar)
RETURNS varchar
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_cardinal_id';

-- Not STRICT: a NULL name counts as a category.
CREATE FUNCTION message_store.is_category(stream_name varchar)
RETURNS boolean
IMMUTABLE PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_is_category';

CREATE FUNCTION message_store.hash_64(value varchar)
RETURNS bigint
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_hash_64';

-- Consumer-group membership as get_category_messages applies it:
-- mod(abs(hash_64(cardinal_id(stream_name))), size) = member; a name without
-- an id belongs to no member.
CREATE FUNCTION message_store.is_consumer_group_member(
  stream_name varchar,
  consumer_group_member bigint,
  consumer_group_size bigint
)
RETURNS boolean
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_is_consumer_group_member';

CREATE FUNCTION message_store.message_store_version()
RETURNS varchar
STABLE PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_message_store_version';

-- Storage.

CREATE TABLE message_store.messages (
  global_position bigserial NOT NULL,
  position bigint NOT NULL,
  time timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc') NOT NULL,
  stream_name text NOT NULL,
  type text NOT NULL,
  data jsonb,
  metadata jsonb,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  PRIMARY KEY (global_position)
);

CREATE UNIQUE INDEX messages_id ON message_store.messages (id);

CREATE UNIQUE INDEX messages_stream ON message_store.messages (stream_name, position);

CREATE INDEX messages_category ON message_store.messages (
  message_store.category(stream_name),
  global_position,
  message_store.category(metadata->>'correlationStreamName')
);

-- The messages belong to the users, not to the extension: pg_dump and
-- pg_restore carry them, and the sequence's position, into a new database.
SELECT pg_catalog.pg_extension_config_dump('message_store.messages', '');
SELECT pg_catalog.pg_extension_config_dump('message_store.messages_global_position_seq', '');

-- Writing and reading.

CREATE FUNCTION message_store.acquire_lock(stream_name varchar)
RETURNS bigint
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_acquire_lock';

CREATE FUNCTION message_store.stream_version(stream_name varchar)
RETURNS bigint
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_stream_version';

CREATE FUNCTION message_store.write_message(
  id varchar,
  stream_name varchar,
  "type" varchar,
  data jsonb,
  metadata jsonb DEFAULT NULL,
  expected_version bigint DEFAULT NULL
)
RETURNS bigint
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_write_message';

CREATE FUNCTION message_store.write_messages(
  stream_name varchar,
  messages jsonb,
  expected_version bigint DEFAULT NULL,
  idempotent boolean DEFAULT false
)
RETURNS bigint
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_write_messages';

CREATE FUNCTION message_store.write_batch(
  batch jsonb,
  idempotent boolean DEFAULT false
)
RETURNS bigint[]
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_write_batch';

CREATE FUNCTION message_store.get_stream_messages(
  stream_name varchar,
  "position" bigint DEFAULT 0,
  batch_size bigint DEFAULT 1000,
  condition varchar DEFAULT NULL
)
RETURNS SETOF message_store.message
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_get_stream_messages';

CREATE FUNCTION message_store.get_category_messages(
  category varchar,
  "position" bigint DEFAULT 1,
  batch_size bigint DEFAULT 1000,
  correlation varchar DEFAULT NULL,
  consumer_group_member bigint DEFAULT NULL,
  consumer_group_size bigint DEFAULT NULL,
  condition varchar DEFAULT NULL
)
RETURNS SETOF message_store.message
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_get_category_messages';

CREATE FUNCTION message_store.get_last_stream_message(
  stream_name varchar,
  "type" varchar DEFAULT NULL
)
RETURNS SETOF message_store.message
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_get_last_stream_message';

-- Reporting views: message counts and their share of all messages.

CREATE VIEW message_store.stream_summary AS
  WITH counts AS (
    SELECT stream_name, count(id) AS message_count
    FROM message_store.messages
    GROUP BY stream_name
  ), total AS (
    SELECT count(id)::numeric AS total_count FROM message_store.messages
  )
  SELECT stream_name, message_count,
    round((message_count / total_count)::numeric * 100, 2) AS percent
  FROM counts, total
  ORDER BY stream_name;

CREATE VIEW message_store.type_summary AS
  WITH counts AS (
    SELECT type, count(id) AS message_count
    FROM message_store.messages
    GROUP BY type
  ), total AS (
    SELECT count(id)::numeric AS total_count FROM message_store.messages
  )
  SELECT type, message_count,
    round((message_count / total_count)::numeric * 100, 2) AS percent
  FROM counts, total
  ORDER BY type;

CREATE VIEW message_store.stream_type_summary AS
  WITH counts AS (
    SELECT stream_name, type, count(id) AS message_count
    FROM message_store.messages
    GROUP BY stream_name, type
  ), total AS (
    SELECT count(id)::numeric AS total_count FROM message_store.messages
  )
  SELECT stream_name, type, message_count,
    round((message_count / total_count)::numeric * 100, 2) AS percent
  FROM counts, total
  ORDER BY stream_name, type;

CREATE VIEW message_store.type_stream_summary AS
  WITH counts AS (
    SELECT type, stream_name, count(id) AS message_count
    FROM message_store.messages
    GROUP BY type, stream_name
  ), total AS (
    SELECT count(id)::numeric AS total_count FROM message_store.messages
  )
  SELECT type, stream_name, message_count,
    round((message_count / total_count)::numeric * 100, 2) AS percent
  FROM counts, total
  ORDER BY type, stream_name;

CREATE VIEW message_store.category_type_summary AS
  WITH counts AS (
    SELECT message_store.category(stream_name) AS category, type, count(id) AS message_count
    FROM message_store.messages
    GROUP BY 1, 2
  ), total AS (
    SELECT count(id)::numeric AS total_count FROM message_store.messages
  )
  SELECT category, type, message_count,
    round((message_count / total_count)::numeric * 100, 2) AS percent
  FROM counts, total
  ORDER BY category, type;

CREATE VIEW message_store.type_category_summary AS
  WITH counts AS (
    SELECT type, message_store.category(stream_name) AS category, count(id) AS message_count
    FROM message_store.messages
    GROUP BY 1, 2
  ), total AS (
    SELECT count(id)::numeric AS total_count FROM message_store.messages
  )
  SELECT type, category, message_count,
    round((message_count / total_count)::numeric * 100, 2) AS percent
  FROM counts, total
  ORDER BY type, category;

-- Client privileges: exactly what Message DB grants its message_store role
-- (read and append; no UPDATE, DELETE or TRUNCATE), in one statement:
--   SELECT message_store.grant_client_privileges('app_role');
CREATE FUNCTION message_store.grant_client_privileges(client_role name)
RETURNS void
VOLATILE STRICT
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  _function regprocedure;
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA message_store TO %I', client_role);
  EXECUTE format('GRANT SELECT, INSERT ON message_store.messages TO %I', client_role);
  EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE message_store.messages_global_position_seq TO %I', client_role);
  FOR _function IN
    SELECT p.oid::regprocedure
    FROM pg_proc p
    WHERE p.pronamespace = 'message_store'::regnamespace
      AND p.proname <> 'grant_client_privileges'
  LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', _function, client_role);
  END LOOP;
  EXECUTE format(
    'GRANT SELECT ON message_store.stream_summary, message_store.type_summary, '
    'message_store.stream_type_summary, message_store.type_stream_summary, '
    'message_store.category_type_summary, message_store.type_category_summary TO %I',
    client_role);
END;
$$;

REVOKE EXECUTE ON FUNCTION message_store.grant_client_privileges(name) FROM PUBLIC;
