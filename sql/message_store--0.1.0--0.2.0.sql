\echo Use "ALTER EXTENSION message_store UPDATE" to load this file. \quit

-- message_store 0.1.0 -> 0.2.0.
--
-- 0.2.0 is open: every change to the extension's SQL objects that lands
-- before its release adds its statements here, each with a comment saying
-- why it is there, so that a database on 0.1.0 ends with exactly the
-- objects of a fresh 0.2.0 install (tests/pg_client/tests/upgrade.rs
-- compares the two catalogs).
--
-- Besides the library's changes (SQL conditions are checked before they
-- run, rows enter a reader's result only as message rows, a stream at the
-- largest position refuses the next write), which need no statement here
-- because every C function 0.1.0's objects name is in the new library with
-- its meaning, 0.2.0 adds:

-- Installing without superuser (the same statements as a fresh install's,
-- which says why). The extension is trusted: a role with
-- CREATE on the database may install it (README, "Installing without
-- superuser"). Postgres then runs this script as the bootstrap superuser,
-- which owns every object the script makes, but it creates the schema as
-- the installing role. Left so, that role could put functions and
-- operators into the schema that a search_path naming it (as Message DB's
-- clients set it) would pick in other roles' sessions, a superuser's
-- included. So the schema goes to the role running this script (a
-- superuser either way), its grants to others are taken back, and a schema
-- that already holds objects of a role that is not a superuser is refused.
-- A store on 0.1.0 has clients already: the USAGE they were granted
-- (grant_client_privileges) stays, and only CREATE is taken back from them,
-- as for an adopted store.
DO $$
DECLARE
  _schema constant oid := 'message_store'::regnamespace;
  _search_path constant text := current_setting('search_path');
  _objects text;
  _grantee oid;
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
      REVOKE CREATE ON SCHEMA message_store FROM PUBLIC CASCADE;
    ELSE
      EXECUTE format('REVOKE CREATE ON SCHEMA message_store FROM %s CASCADE', _grantee::regrole);
    END IF;
  END LOOP;
END;
$$;

-- Batch writes: many messages onto one stream, and many streams, each in one
-- atomic call (the library's message_store_write_messages and
-- message_store_write_batch). Declared exactly as in a fresh install; like
-- every function of the schema they are executable by PUBLIC, and
-- grant_client_privileges, which grants every function of the schema, covers
-- them for roles granted from now on.
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

-- Moving a store between engines: export_messages writes the messages as
-- lines of JSON, import_messages stores such lines exactly (the library's
-- message_store_export_messages and message_store_import_messages).
-- Declared exactly as in a fresh install.
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

-- Every category's messages in global order, never skipping a late commit
-- (the library's message_store_get_all_messages). Declared exactly as in a
-- fresh install.
CREATE FUNCTION message_store.get_all_messages(
  "position" bigint DEFAULT 1,
  batch_size bigint DEFAULT 1000,
  condition varchar DEFAULT NULL
)
RETURNS SETOF message_store.message
VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', 'message_store_get_all_messages';

-- Listing a store: get_streams and get_categories (the library's
-- message_store_get_streams and message_store_get_categories) and their
-- row types. Declared exactly as in a fresh install.
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

-- Retention and erasure (declared exactly as in a fresh install), the
-- operator's functions (the library's
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

-- grant_client_privileges granted every function of the schema but itself;
-- it now grants those PUBLIC may run, which leaves out the operator's
-- functions above and grant_operator_privileges. Grants made before stay:
-- no role had EXECUTE on the new functions.
CREATE OR REPLACE FUNCTION message_store.grant_client_privileges(client_role name)
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
