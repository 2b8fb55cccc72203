-- message_store: the objects of a fresh install, in schema message_store.
--
-- Names, column order, argument names and defaults are Message DB 1.3's:
-- its clients depend on them. The functions are C functions of this
-- extension's library; their bodies name every object with its schema, so
-- they work for any role whatever its search_path.

-- Installing without superuser. The extension is trusted: a role with
-- CREATE on the database may install it (README, "Installing without
-- superuser"). Postgres then runs this script as the bootstrap superuser,
-- which owns every object the script makes, but it creates the schema as
-- the installing role. Left so, that role could put functions and
-- operators into the schema that a search_path naming it (as Message DB's
-- clients set it) would pick in other roles' sessions, a superuser's
-- included. So the schema goes to the role running this script (a
-- superuser either way), its grants to others are taken back, and a schema
-- that already holds objects of a role that is not a superuser is refused.
-- A Message DB store adopted in place (sql/adopt.sql, which has run by now)
-- is the extension's and a superuser's already; its schema keeps the USAGE
-- its clients were granted, and only CREATE is taken back from them.
DO $$
DECLARE
  _schema constant oid := 'message_store'::regnamespace;
  _search_path constant text := current_setting('search_path');
  _objects text;
  _grantee oid;
  _adopted constant boolean := EXISTS (
    SELECT FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.objid = pg_catalog.to_regclass('message_store.messages') AND d.deptype = 'e'
      AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND e.extname = 'message_store');
BEGIN
  -- Objects named with their schema: none is on the search path.
  PERFORM set_config('search_path', 'pg_catalog', true);
  SELECT string_agg(format('%s (owned by %s)', object, owner::regrole), ', ' ORDER BY object)
  INTO _objects
  FROM (
    SELECT pg_describe_object(classid, objid, 0) AS object, owner
    FROM (
      SELECT 'pg_class'::regclass AS classid, oid AS objid, relowner AS owner FROM pg_class WHERE relnamespace = _schema
      UNION ALL SELECT 'pg_proc'::regclass, oid, proowner FROM pg_proc WHERE pronamespace = _schema
      -- Not a table's row type or an array type: their table or element
      -- is listed.
      UNION ALL SELECT 'pg_type'::regclass, oid, typowner FROM pg_type
        WHERE typnamespace = _schema AND typrelid = 0 AND NOT (typcategory = 'A' AND typelem <> 0)
      UNION ALL SELECT 'pg_operator'::regclass, oid, oprowner FROM pg_operator WHERE oprnamespace = _schema
      UNION ALL SELECT 'pg_collation'::regclass, oid, collowner FROM pg_collation WHERE collnamespace = _schema
      UNION ALL SELECT 'pg_conversion'::regclass, oid, conowner FROM pg_conversion WHERE connamespace = _schema
      UNION ALL SELECT 'pg_opclass'::regclass, oid, opcowner FROM pg_opclass WHERE opcnamespace = _schema
      UNION ALL SELECT 'pg_opfamily'::regclass, oid, opfowner FROM pg_opfamily WHERE opfnamespace = _schema
      UNION ALL SELECT 'pg_ts_config'::regclass, oid, cfgowner FROM pg_ts_config WHERE cfgnamespace = _schema
      UNION ALL SELECT 'pg_ts_dict'::regclass, oid, dictowner FROM pg_ts_dict WHERE dictnamespace = _schema
      UNION ALL SELECT 'pg_statistic_ext'::regclass, oid, stxowner FROM pg_statistic_ext WHERE stxnamespace = _schema
    ) AS o
    WHERE NOT (SELECT rolsuper FROM pg_roles WHERE oid = o.owner)
      AND NOT EXISTS (
        SELECT FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
        WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype = 'e'
          AND d.refclassid = 'pg_extension'::regclass AND e.extname = 'message_store')
  ) AS foreign_objects;
  PERFORM set_config('search_path', _search_path, true);
  IF _objects IS NOT NULL THEN
    RAISE EXCEPTION 'schema message_store holds objects of a role that is not a superuser: %', _objects
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Move or drop them, or install as a superuser after checking them.';
  END IF;
  ALTER SCHEMA message_store OWNER TO CURRENT_USER;
  FOR _grantee IN
    SELECT DISTINCT a.grantee
    FROM pg_namespace n, aclexplode(n.nspacl) AS a
    WHERE n.oid = _schema AND a.grantee <> n.nspowner
  LOOP
    IF _grantee = 0 THEN
      EXECUTE format('REVOKE %s ON SCHEMA message_store FROM PUBLIC CASCADE',
        CASE WHEN _adopted THEN 'CREATE' ELSE 'ALL' END);
    ELSE
      EXECUTE format('REVOKE %s ON SCHEMA message_store FROM %s CASCADE',
        CASE WHEN _adopted THEN 'CREATE' ELSE 'ALL' END, _grantee::regrole);
    END IF;
  END LOOP;
END;
$$;

-- The readers' row type. An adopted store has it already (sql/adopt.sql
-- checked its attributes).
DO $$
BEGIN
  IF pg_catalog.to_regtype('message_store.message') IS NULL THEN
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
  END IF;
END;
$$;

-- Stream-name rules. IMMUTABLE: category() is part of an index expression.
--
-- Message DB's twelve functions are CREATE OR REPLACE: in an adopted
-- store they replace Message DB's own, keeping their grants (the same
-- names, arguments and results: sql/adopt.sql checked them).

CREATE OR REPLACE FUNCTION message_store.category(stream_name varchar)
RETURNS varchar
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_category';

CREATE OR REPLACE FUNCTION message_store.id(stream_name varchar)
RETURNS varchar
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_id';

CREATE OR REPLACE FUNCTION message_store.cardinal_id(stream_name varchar)
RETURNS varchar
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_cardinal_id';

-- Not STRICT: a NULL name counts as a category.
CREATE OR REPLACE FUNCTION message_store.is_category(stream_name varchar)
RETURNS boolean
IMMUTABLE PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_is_category';

CREATE OR REPLACE FUNCTION message_store.hash_64(value varchar)
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

CREATE OR REPLACE FUNCTION message_store.message_store_version()
RETURNS varchar
STABLE PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_message_store_version';

-- Storage.

-- An adopted store keeps its table and indexes as they are, unlocked:
-- CREATE INDEX IF NOT EXISTS would take a lock against the writers before
-- it looks.
DO $$
BEGIN
  IF pg_catalog.to_regclass('message_store.messages') IS NOT NULL THEN
    RETURN;
  END IF;

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
END;
$$;

-- The messages belong to the users, not to the extension: pg_dump and
-- pg_restore carry them, and the sequence's position, into a new database.
SELECT pg_catalog.pg_extension_config_dump('message_store.messages', '');
SELECT pg_catalog.pg_extension_config_dump('message_store.messages_global_position_seq', '');

-- Writing and reading.

CREATE OR REPLACE FUNCTION message_store.acquire_lock(stream_name varchar)
RETURNS bigint
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_acquire_lock';

CREATE OR REPLACE FUNCTION message_store.stream_version(stream_name varchar)
RETURNS bigint
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_stream_version';

CREATE OR REPLACE FUNCTION message_store.write_message(
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

CREATE OR REPLACE FUNCTION message_store.get_stream_messages(
  stream_name varchar,
  "position" bigint DEFAULT 0,
  batch_size bigint DEFAULT 1000,
  condition varchar DEFAULT NULL
)
RETURNS SETOF message_store.message
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_get_stream_messages';

CREATE OR REPLACE FUNCTION message_store.get_category_messages(
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

CREATE OR REPLACE FUNCTION message_store.get_last_stream_message(
  stream_name varchar,
  "type" varchar DEFAULT NULL
)
RETURNS SETOF message_store.message
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_get_last_stream_message';

-- Moving a store: its messages as lines of JSON, one per message, and
-- those lines stored back exactly (README, "Moving a store between
-- engines").
CREATE FUNCTION message_store.export_messages(
  "position" bigint DEFAULT 1,
  batch_size bigint DEFAULT -1,
  category varchar DEFAULT NULL
)
RETURNS SETOF text
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_export_messages';

CREATE FUNCTION message_store.import_messages(lines text)
RETURNS bigint
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_import_messages';

-- Every category's messages in global order, from a position on. A reader
-- that polls from the last global position it saw + 1 gets every committed
-- message once and in order: the call returns no message above a position
-- that a writer still in flight may yet commit below (it waits for the
-- transactions holding a category lock). READ COMMITTED only; not on a
-- standby.
CREATE FUNCTION message_store.get_all_messages(
  "position" bigint DEFAULT 1,
  batch_size bigint DEFAULT 1000,
  condition varchar DEFAULT NULL
)
RETURNS SETOF message_store.message
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_get_all_messages';

-- Listing a store: stream names (of a prefix) and categories in the
-- indexes' order after a cursor, each a skip scan of an existing index
-- with one probe per name (README, "Listing streams and categories").
CREATE TYPE message_store.stream_listing AS (
  stream_name varchar,
  version bigint,
  last_time timestamp
);

CREATE TYPE message_store.category_listing AS (
  category varchar,
  head_global_position bigint
);

CREATE FUNCTION message_store.get_streams(
  prefix varchar DEFAULT NULL,
  after varchar DEFAULT NULL,
  "limit" bigint DEFAULT 100
)
RETURNS SETOF message_store.stream_listing
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_get_streams';

CREATE FUNCTION message_store.get_categories(
  after varchar DEFAULT NULL,
  "limit" bigint DEFAULT 100
)
RETURNS SETOF message_store.category_listing
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_get_categories';

-- Read-your-writes on a hot standby. write_position(), called on the
-- primary after a write has committed, is the WAL insert position then,
-- which is past that commit's record whichever server connection answers
-- it (behind a pooler too); wait_for_replay(lsn, timeout_ms) on a standby
-- waits until the standby has replayed the WAL up to it, so that the next
-- statement's snapshot sees the write, and says whether it got there in
-- time. On a server that is not in recovery every committed write is
-- visible already, and it answers true at once.
CREATE FUNCTION message_store.write_position()
RETURNS pg_lsn
VOLATILE
LANGUAGE sql
AS $$
  SELECT pg_catalog.pg_current_wal_insert_lsn()
$$;

CREATE FUNCTION message_store.wait_for_replay(
  lsn pg_lsn,
  timeout_ms integer DEFAULT 5000
)
RETURNS boolean
VOLATILE
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  _deadline timestamptz;
BEGIN
  IF lsn IS NULL THEN
    RAISE EXCEPTION 'wait_for_replay: lsn must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF timeout_ms IS NULL OR timeout_ms < 0 THEN
    RAISE EXCEPTION 'wait_for_replay: timeout_ms must be 0 or more (timeout_ms: %)',
      coalesce(timeout_ms::text, '<NULL>') USING ERRCODE = '22023';
  END IF;
  _deadline := clock_timestamp() + make_interval(secs => timeout_ms / 1000.0);
  LOOP
    IF NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= lsn THEN
      RETURN true;
    END IF;
    IF clock_timestamp() >= _deadline THEN
      RETURN false;
    END IF;
    PERFORM pg_sleep(0.001);
  END LOOP;
END;
$$;

-- Retention and erasure, the operator's functions (the library's
-- message_store_remove_messages, _redact_stream, _set_retention_policy,
-- _clear_retention_policy and _apply_retention_policies). Removal keeps
-- each stream's last message, so versions, expected-version writes and
-- positions stay as they were; it removes at most "limit" messages per
-- call (per policy, for apply_retention_policies), oldest first, and
-- returns how many. Not for PUBLIC: the extension's owner runs them, and
-- the roles it gives grant_operator_privileges.
--
-- A removal's statement walks an index in the order it removes (the
-- category index by global position, or the stream index by position)
-- and stops at its limit. Without the two settings, a plan made while the
-- table is small (the statement's plan is kept for the session) may
-- instead collect every row of the category or stream and sort them, and
-- so read the whole range at every batch; with them, every plan of these
-- statements is the ordered walk.
--
-- The stored policies, one per category: keep_seconds (messages younger
-- than amount seconds, and each stream's last) or keep_last (the last
-- amount messages of each stream). They are the users' settings, so
-- pg_dump carries them like the messages.
CREATE TABLE message_store.retention_policies (
  category text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('keep_seconds', 'keep_last')),
  amount bigint NOT NULL CHECK (amount >= 1)
);

SELECT pg_catalog.pg_extension_config_dump('message_store.retention_policies', '');

CREATE FUNCTION message_store.remove_messages(
  stream_or_category varchar,
  before_time timestamptz DEFAULT NULL,
  before_global_position bigint DEFAULT NULL,
  "limit" bigint DEFAULT 1000
)
RETURNS bigint
VOLATILE
SET enable_bitmapscan = off SET enable_sort = off
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_remove_messages';

CREATE FUNCTION message_store.redact_stream(stream_name varchar)
RETURNS bigint
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_redact_stream';

CREATE FUNCTION message_store.set_retention_policy(
  category varchar,
  kind varchar,
  amount bigint
)
RETURNS void
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_set_retention_policy';

CREATE FUNCTION message_store.clear_retention_policy(category varchar)
RETURNS boolean
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_clear_retention_policy';

CREATE FUNCTION message_store.apply_retention_policies("limit" bigint DEFAULT 1000)
RETURNS bigint
VOLATILE
SET enable_bitmapscan = off SET enable_sort = off
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_apply_retention_policies';

REVOKE EXECUTE ON FUNCTION
  message_store.remove_messages(varchar, timestamptz, bigint, bigint),
  message_store.redact_stream(varchar),
  message_store.set_retention_policy(varchar, varchar, bigint),
  message_store.clear_retention_policy(varchar),
  message_store.apply_retention_policies(bigint)
FROM PUBLIC;

-- Reporting views: message counts and their share of all messages. In an
-- adopted store they replace Message DB's (the same columns), keeping
-- their grants.

CREATE OR REPLACE VIEW message_store.stream_summary AS
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

CREATE OR REPLACE VIEW message_store.type_summary AS
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

CREATE OR REPLACE VIEW message_store.stream_type_summary AS
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

CREATE OR REPLACE VIEW message_store.type_stream_summary AS
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

CREATE OR REPLACE VIEW message_store.category_type_summary AS
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

CREATE OR REPLACE VIEW message_store.type_category_summary AS
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
-- Every function of the schema that PUBLIC may run, so neither this one,
-- grant_operator_privileges nor the operator's retention functions.
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
      AND (p.proacl IS NULL OR EXISTS (
        SELECT FROM aclexplode(p.proacl) a
        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))
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

-- Operator privileges: retention and erasure, for a role that runs them
-- (by hand or from a scheduler such as pg_cron) without owning the store:
--   SELECT message_store.grant_operator_privileges('ops_role');
-- The retention functions, the policies table, and on the messages what
-- removing and redacting take (SELECT, UPDATE, DELETE). Nothing else: a
-- role that also writes and reads is given grant_client_privileges too.
CREATE FUNCTION message_store.grant_operator_privileges(operator_role name)
RETURNS void
VOLATILE STRICT
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA message_store TO %I', operator_role);
  EXECUTE format('GRANT SELECT, UPDATE, DELETE ON message_store.messages TO %I', operator_role);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON message_store.retention_policies TO %I', operator_role);
  EXECUTE format(
    'GRANT EXECUTE ON FUNCTION '
    'message_store.remove_messages(varchar, timestamptz, bigint, bigint), '
    'message_store.redact_stream(varchar), '
    'message_store.set_retention_policy(varchar, varchar, bigint), '
    'message_store.clear_retention_policy(varchar), '
    'message_store.apply_retention_policies(bigint) TO %I',
    operator_role);
END;
$$;

REVOKE EXECUTE ON FUNCTION message_store.grant_operator_privileges(name) FROM PUBLIC;

-- The installing role's privileges. Installed by a role that is not a
-- superuser, every object here is the bootstrap superuser's; the
-- extension's owner gets what running the store takes, each with grant
-- option, so that grant_client_privileges works for it: USAGE on the
-- schema, every privilege on the table but TRIGGER and REFERENCES, the
-- sequence's, SELECT on the views and EXECUTE on every function. Not
-- TRIGGER and not ownership: a trigger on the table or a redefined
-- function would run inside other roles' writes and reads.
DO $$
DECLARE
  _owner constant regrole := (SELECT extowner FROM pg_extension WHERE extname = 'message_store');
  _function regprocedure;
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE oid = _owner) THEN
    RETURN;
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA message_store TO %s WITH GRANT OPTION', _owner);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON message_store.messages TO %s WITH GRANT OPTION', _owner);
  EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE message_store.messages_global_position_seq TO %s WITH GRANT OPTION', _owner);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON message_store.retention_policies TO %s WITH GRANT OPTION', _owner);
  EXECUTE format(
    'GRANT SELECT ON message_store.stream_summary, message_store.type_summary, '
    'message_store.stream_type_summary, message_store.type_stream_summary, '
    'message_store.category_type_summary, message_store.type_category_summary TO %s WITH GRANT OPTION',
    _owner);
  FOR _function IN
    SELECT oid::regprocedure FROM pg_proc WHERE pronamespace = 'message_store'::regnamespace
  LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s WITH GRANT OPTION', _function, _owner);
  END LOOP;
END;
$$;

-- The grants an adopted store had before (sql/adopt.sql) are its users',
-- not the extension's. pg_dump dumps a member's grants as they differ from
-- those recorded when the extension was made (pg_init_privs), and adding
-- an object to an extension records the grants it has: left so, a dump
-- and restore of an adopted store would lose its client roles' grants.
-- So the record keeps only what a fresh install records, the owner's,
-- PUBLIC's and the installing role's, and a dump carries the rest. In a
-- fresh install this changes nothing.
DO $$
DECLARE
  _installer constant oid := (SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'message_store');
BEGIN
  UPDATE pg_catalog.pg_init_privs p
  SET initprivs = ARRAY(
    SELECT u.item FROM pg_catalog.unnest(p.initprivs) WITH ORDINALITY AS u(item, n)
    WHERE (SELECT a.grantee FROM pg_catalog.aclexplode(ARRAY[u.item]) AS a LIMIT 1) IN (
      0::pg_catalog.oid, _installer,
      CASE p.classoid
        WHEN 'pg_catalog.pg_namespace'::pg_catalog.regclass THEN (SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = p.objoid)
        WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN (SELECT relowner FROM pg_catalog.pg_class WHERE oid = p.objoid)
        WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN (SELECT proowner FROM pg_catalog.pg_proc WHERE oid = p.objoid)
        WHEN 'pg_catalog.pg_type'::pg_catalog.regclass THEN (SELECT typowner FROM pg_catalog.pg_type WHERE oid = p.objoid)
      END)
    ORDER BY u.n)
  WHERE p.privtype = 'e'
    AND (p.classoid, p.objoid) IN (
      SELECT d.classid, d.objid FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
      WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
        AND e.extname = 'message_store'
      -- The schema: the first block's REVOKE recorded its grants too.
      UNION ALL SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass, 'message_store'::pg_catalog.regnamespace);
END;
$$;
