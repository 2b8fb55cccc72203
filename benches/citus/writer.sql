-- The writer the recipe's layout needs, in PL/pgSQL, on the coordinator:
-- the steps of message_store.write_message (Message DB's order: the
-- category's advisory lock, the stream's version, the expected-version
-- check, the insert), with the category named as a column in every
-- statement so that Citus routes each one to the category's shard. The
-- extension's own write_message cannot run on the distributed table (see
-- SCALING.md); this is what its statements become, for measuring and
-- trying the layout. Run after recipe.sql, on the coordinator:
--
--   psql -v ON_ERROR_STOP=1 -f benches/citus/writer.sql

CREATE SCHEMA IF NOT EXISTS message_store_citus;

CREATE OR REPLACE FUNCTION message_store_citus.write_message(
  id varchar,
  stream_name varchar,
  "type" varchar,
  data jsonb,
  metadata jsonb DEFAULT NULL,
  expected_version bigint DEFAULT NULL
)
RETURNS bigint
VOLATILE
LANGUAGE plpgsql
AS $$
DECLARE
  _category constant text := message_store.category(write_message.stream_name);
  _version bigint;
  _position bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(message_store.hash_64(_category));
  SELECT max(m.position) INTO _version FROM message_store.messages m
  WHERE m.category = _category AND m.stream_name = write_message.stream_name;
  _version := coalesce(_version, -1);
  IF write_message.expected_version IS NOT NULL AND write_message.expected_version <> _version THEN
    RAISE EXCEPTION 'Wrong expected version: % (Stream: %, Stream Version: %)',
      write_message.expected_version, write_message.stream_name, _version
      USING ERRCODE = 'P0001';
  END IF;
  _position := _version + 1;
  INSERT INTO message_store.messages (id, stream_name, category, position, type, data, metadata)
  VALUES (write_message.id::uuid, write_message.stream_name, _category, _position,
          write_message.type, write_message.data, write_message.metadata);
  RETURN _position;
END;
$$;
