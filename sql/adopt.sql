-- Adopting a Message DB 1.3 store in place (README, "Adopting a Message
-- DB database").
--
-- CREATE EXTENSION message_store in a database whose schema message_store
-- already holds Message DB's messages table takes that store over where it
-- stands: its table, sequence, message type, twelve functions and six
-- views become members of the extension, the functions become the
-- extension's C functions (sql/schema.sql replaces them, keeping their
-- grants), and the table and sequence are marked for pg_dump. Nothing is
-- rewritten or rebuilt: the cost does not grow with the store.
--
-- This runs before sql/schema.sql. Without a messages table in the schema
-- it does nothing and schema.sql makes a fresh store. With one, it first
-- compares the schema's objects with a Message DB 1.3 store and refuses,
-- with one error listing every difference, anything else: another
-- version's shape, a changed column or index, a missing object, an object
-- Message DB does not have, an object owned by a role that is neither the
-- installing role nor a superuser. Extra indexes on the table are kept
-- and named in a WARNING; pgcrypto, which Message DB's installer adds, is
-- fine in any other schema.
--
-- Each object is added to the extension before schema.sql's CREATE OR
-- REPLACE and IF NOT EXISTS statements reach it: Postgres refuses to let
-- an extension script replace an object that is not yet a member. Each
-- then gets the owner a fresh install gives its objects, the role running
-- this script (in a trusted install the bootstrap superuser, whose grants
-- to the installing role schema.sql's last block makes): no other role may
-- redefine a function, such as category() in the messages_category index,
-- that other roles' reads and writes run.
DO $$
DECLARE
  _search_path constant text := current_setting('search_path');
  _schema constant oid := 'message_store'::regnamespace;
  _installer constant oid := (SELECT extowner FROM pg_extension WHERE extname = 'message_store');
  _table oid;
  _sequence oid;
  _type oid;
  _functions oid[] := '{}';
  _views oid[] := '{}';
  _adoptable oid[];
  _differences text[] := '{}';
  _extra_indexes text;
  _uuid_defaults text[];
  _row record;
  _found oid;
  _text text;
  _me constant oid := (SELECT oid FROM pg_roles WHERE rolname = current_user);
BEGIN
  -- Objects named with their schema, and printed so: none is on the
  -- search path.
  PERFORM set_config('search_path', 'pg_catalog', true);
  SELECT c.oid INTO _table FROM pg_class c WHERE c.relnamespace = _schema AND c.relname = 'messages';
  IF _table IS NULL THEN
    PERFORM set_config('search_path', _search_path, true);
    RETURN;
  END IF;

  -- The table.
  IF (SELECT relkind FROM pg_class WHERE oid = _table) <> 'r' THEN
    _differences := _differences || 'message_store.messages is not a plain table'::text;
  END IF;
  -- gen_random_uuid() of pg_catalog, or of pgcrypto wherever it is.
  _uuid_defaults := ARRAY['gen_random_uuid()']
    || ARRAY(SELECT format('%I.gen_random_uuid()', n.nspname)
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto');
  FOR _row IN
    SELECT e.name, e.type, e.not_null, e.defaults, a.attnum IS NOT NULL AS present,
           format_type(a.atttypid, a.atttypmod) AS got_type, a.attnotnull AS got_not_null,
           pg_get_expr(d.adbin, d.adrelid) AS got_default
    FROM (VALUES
      (1, 'global_position', 'bigint', true, ARRAY['nextval(''message_store.messages_global_position_seq''::regclass)']),
      (2, 'position', 'bigint', true, NULL),
      (3, 'time', 'timestamp without time zone', true, ARRAY['(now() AT TIME ZONE ''utc''::text)']),
      (4, 'stream_name', 'text', true, NULL),
      (5, 'type', 'text', true, NULL),
      (6, 'data', 'jsonb', false, NULL),
      (7, 'metadata', 'jsonb', false, NULL),
      (8, 'id', 'uuid', true, _uuid_defaults)
    ) AS e(n, name, type, not_null, defaults)
    LEFT JOIN pg_attribute a ON a.attrelid = _table AND a.attname = e.name AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    ORDER BY e.n
  LOOP
    IF NOT _row.present THEN
      _differences := _differences || format('column messages.%s (%s) is missing', _row.name, _row.type);
      CONTINUE;
    END IF;
    IF _row.got_type <> _row.type THEN
      _differences := _differences || format('column messages.%s is %s, not %s', _row.name, _row.got_type, _row.type);
    END IF;
    IF _row.got_not_null <> _row.not_null THEN
      _differences := _differences || format('column messages.%s is %s, not %s', _row.name,
        CASE WHEN _row.got_not_null THEN 'NOT NULL' ELSE 'nullable' END,
        CASE WHEN _row.not_null THEN 'NOT NULL' ELSE 'nullable' END);
    END IF;
    IF _row.defaults IS NULL AND _row.got_default IS NOT NULL THEN
      _differences := _differences || format('column messages.%s defaults to %s, not to nothing', _row.name, _row.got_default);
    ELSIF _row.defaults IS NOT NULL AND _row.got_default IS NULL THEN
      _differences := _differences || format('column messages.%s has no default, not %s', _row.name, _row.defaults[1]);
    ELSIF _row.got_default <> ALL (_row.defaults) THEN
      _differences := _differences || format('column messages.%s defaults to %s, not %s', _row.name, _row.got_default, _row.defaults[1]);
    END IF;
  END LOOP;
  FOR _row IN
    SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type
    FROM pg_attribute a
    WHERE a.attrelid = _table AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname NOT IN ('global_position', 'position', 'time', 'stream_name', 'type', 'data', 'metadata', 'id')
    ORDER BY a.attnum
  LOOP
    _differences := _differences || format('column messages.%s (%s) is not Message DB 1.3''s', _row.attname, _row.type);
  END LOOP;

  -- Its constraints and indexes.
  SELECT pg_get_constraintdef(oid) INTO _text FROM pg_constraint WHERE conrelid = _table AND contype = 'p';
  IF _text IS NULL THEN
    _differences := _differences || 'the primary key of messages, PRIMARY KEY (global_position), is missing'::text;
  ELSIF _text <> 'PRIMARY KEY (global_position)' THEN
    _differences := _differences || format('the primary key of messages is %s, not PRIMARY KEY (global_position)', _text);
  END IF;
  FOR _row IN
    SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint
    WHERE conrelid = _table AND contype <> 'p' ORDER BY conname
  LOOP
    _differences := _differences || format('constraint %s on messages (%s) is not Message DB 1.3''s', _row.conname, _row.definition);
  END LOOP;
  FOR _row IN
    SELECT e.name, e.definition, i.indexrelid IS NOT NULL AS present,
           pg_get_indexdef(i.indexrelid) AS got, i.indisvalid AS valid
    FROM (VALUES
      (1, 'messages_id', 'CREATE UNIQUE INDEX messages_id ON message_store.messages USING btree (id)'),
      (2, 'messages_stream', 'CREATE UNIQUE INDEX messages_stream ON message_store.messages USING btree (stream_name, "position")'),
      (3, 'messages_category', 'CREATE INDEX messages_category ON message_store.messages USING btree ('
        'message_store.category((stream_name)::character varying), global_position, '
        'message_store.category(((metadata ->> ''correlationStreamName''::text))::character varying))')
    ) AS e(n, name, definition)
    LEFT JOIN pg_class c ON c.relnamespace = _schema AND c.relname = e.name AND c.relkind = 'i'
    LEFT JOIN pg_index i ON i.indexrelid = c.oid AND i.indrelid = _table
    ORDER BY e.n
  LOOP
    IF NOT _row.present THEN
      _differences := _differences || format('index %s (%s) is missing', _row.name, _row.definition);
    ELSIF _row.got <> _row.definition THEN
      _differences := _differences || format('index %s is %s, not %s', _row.name, _row.got, _row.definition);
    ELSIF NOT _row.valid THEN
      _differences := _differences || format('index %s is not valid', _row.name);
    END IF;
  END LOOP;
  SELECT string_agg(c.relname::text, ', ' ORDER BY c.relname) INTO _extra_indexes
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  WHERE i.indrelid = _table
    AND c.relname NOT IN ('messages_id', 'messages_stream', 'messages_category')
    AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = _table AND k.contype = 'p' AND k.conindid = i.indexrelid);

  -- The sequence global_position draws from.
  SELECT c.oid INTO _sequence FROM pg_class c
  WHERE c.relnamespace = _schema AND c.relname = 'messages_global_position_seq' AND c.relkind = 'S';
  IF _sequence IS NULL THEN
    _differences := _differences || 'sequence messages_global_position_seq is missing'::text;
  ELSE
    IF NOT EXISTS (
      SELECT FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_class'::regclass AND d.objid = _sequence AND d.deptype IN ('a', 'i')
        AND d.refclassid = 'pg_class'::regclass AND d.refobjid = _table AND a.attname = 'global_position')
    THEN
      _differences := _differences || 'sequence messages_global_position_seq is not owned by messages.global_position'::text;
    END IF;
    IF (SELECT seqtypid FROM pg_sequence WHERE seqrelid = _sequence) <> 'bigint'::regtype THEN
      _differences := _differences || format('sequence messages_global_position_seq is %s, not bigint',
        (SELECT seqtypid::regtype FROM pg_sequence WHERE seqrelid = _sequence));
    END IF;
  END IF;

  -- The readers' row type.
  SELECT t.oid INTO _type FROM pg_type t WHERE t.typnamespace = _schema AND t.typname = 'message';
  IF _type IS NULL THEN
    _differences := _differences || 'type message is missing'::text;
  ELSIF (SELECT typtype FROM pg_type WHERE oid = _type) <> 'c'
     OR (SELECT relkind FROM pg_class WHERE oid = (SELECT typrelid FROM pg_type WHERE oid = _type)) <> 'c' THEN
    _differences := _differences || 'type message is not a composite type'::text;
    _type := NULL;
  ELSE
    SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) AS got
    INTO _row
    FROM pg_attribute a
    WHERE a.attrelid = (SELECT typrelid FROM pg_type WHERE oid = _type) AND a.attnum > 0 AND NOT a.attisdropped;
    IF _row.got IS DISTINCT FROM 'id character varying, stream_name character varying, type character varying, '
        'position bigint, global_position bigint, data character varying, metadata character varying, '
        'time timestamp without time zone' THEN
      _differences := _differences || format('type message is (%s), not (%s)', _row.got,
        'id character varying, stream_name character varying, type character varying, '
        'position bigint, global_position bigint, data character varying, metadata character varying, '
        'time timestamp without time zone');
    END IF;
  END IF;

  -- Message DB 1.3's twelve functions: argument names, types and
  -- defaults, and results, as clients call them.
  FOR _row IN
    SELECT e.signature, e.arguments, e.result
    FROM (VALUES
      (1, 'message_store.acquire_lock(character varying)', 'stream_name character varying', 'bigint'),
      (2, 'message_store.cardinal_id(character varying)', 'stream_name character varying', 'character varying'),
      (3, 'message_store.category(character varying)', 'stream_name character varying', 'character varying'),
      (4, 'message_store.get_category_messages(character varying, bigint, bigint, character varying, bigint, bigint, character varying)',
        'category character varying, "position" bigint DEFAULT 1, batch_size bigint DEFAULT 1000, '
        'correlation character varying DEFAULT NULL::character varying, consumer_group_member bigint DEFAULT NULL::bigint, '
        'consumer_group_size bigint DEFAULT NULL::bigint, condition character varying DEFAULT NULL::character varying',
        'SETOF message_store.message'),
      (5, 'message_store.get_last_stream_message(character varying, character varying)',
        'stream_name character varying, type character varying DEFAULT NULL::character varying', 'SETOF message_store.message'),
      (6, 'message_store.get_stream_messages(character varying, bigint, bigint, character varying)',
        'stream_name character varying, "position" bigint DEFAULT 0, batch_size bigint DEFAULT 1000, '
        'condition character varying DEFAULT NULL::character varying', 'SETOF message_store.message'),
      (7, 'message_store.hash_64(character varying)', 'value character varying', 'bigint'),
      (8, 'message_store.id(character varying)', 'stream_name character varying', 'character varying'),
      (9, 'message_store.is_category(character varying)', 'stream_name character varying', 'boolean'),
      (10, 'message_store.message_store_version()', '', 'character varying'),
      (11, 'message_store.stream_version(character varying)', 'stream_name character varying', 'bigint'),
      (12, 'message_store.write_message(character varying, character varying, character varying, jsonb, jsonb, bigint)',
        'id character varying, stream_name character varying, type character varying, data jsonb, '
        'metadata jsonb DEFAULT NULL::jsonb, expected_version bigint DEFAULT NULL::bigint', 'bigint')
    ) AS e(n, signature, arguments, result)
    ORDER BY e.n
  LOOP
    _found := to_regprocedure(_row.signature);
    IF _found IS NULL THEN
      _differences := _differences || format('function %s is missing', _row.signature);
      CONTINUE;
    END IF;
    IF (SELECT prokind FROM pg_proc WHERE oid = _found) <> 'f' THEN
      _differences := _differences || format('%s is not a function', pg_describe_object('pg_proc'::regclass, _found, 0));
      CONTINUE;
    END IF;
    IF pg_get_function_arguments(_found) <> _row.arguments THEN
      _differences := _differences || format('function %s has arguments (%s), not (%s)',
        _row.signature, pg_get_function_arguments(_found), _row.arguments);
    END IF;
    IF pg_get_function_result(_found) <> _row.result THEN
      _differences := _differences || format('function %s returns %s, not %s',
        _row.signature, pg_get_function_result(_found), _row.result);
    END IF;
    _functions := _functions || _found;
  END LOOP;

  -- The six reporting views and their columns.
  FOR _row IN
    SELECT e.name, e.columns, c.oid AS view,
           (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS got
    FROM (VALUES
      (1, 'stream_summary', 'stream_name text, message_count bigint, percent numeric'),
      (2, 'type_summary', 'type text, message_count bigint, percent numeric'),
      (3, 'stream_type_summary', 'stream_name text, type text, message_count bigint, percent numeric'),
      (4, 'type_stream_summary', 'type text, stream_name text, message_count bigint, percent numeric'),
      (5, 'category_type_summary', 'category character varying, type text, message_count bigint, percent numeric'),
      (6, 'type_category_summary', 'type text, category character varying, message_count bigint, percent numeric')
    ) AS e(n, name, columns)
    LEFT JOIN pg_class c ON c.relnamespace = _schema AND c.relname = e.name AND c.relkind = 'v'
    ORDER BY e.n
  LOOP
    IF _row.view IS NULL THEN
      _differences := _differences || format('view %s is missing', _row.name);
    ELSE
      IF _row.got <> _row.columns THEN
        _differences := _differences || format('view %s has columns (%s), not (%s)', _row.name, _row.got, _row.columns);
      END IF;
      _views := _views || _row.view;
    END IF;
  END LOOP;

  -- Anything else in the schema, or on the table, is not Message DB's.
  FOR _row IN
    SELECT format('%s (owned by %s%s) is not Message DB 1.3''s', pg_describe_object(o.classid, o.objid, 0),
             pg_get_userbyid(o.owner),
             (SELECT ', a member of extension ' || e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
              WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype = 'e'
                AND d.refclassid = 'pg_extension'::regclass)) AS difference
    FROM (
      SELECT 'pg_class'::regclass AS classid, c.oid AS objid, c.relowner AS owner FROM pg_class c
        WHERE c.relnamespace = _schema
          AND c.oid <> ALL (array_remove(ARRAY[_table, _sequence], NULL) || _views)
          AND c.oid IS DISTINCT FROM (SELECT typrelid FROM pg_type WHERE oid = _type)
          AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indexrelid = c.oid AND i.indrelid = _table)
      UNION ALL SELECT 'pg_proc'::regclass, oid, proowner FROM pg_proc
        WHERE pronamespace = _schema AND oid <> ALL (_functions)
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
      -- On the table: they would run inside, or change, every write and read.
      UNION ALL SELECT 'pg_trigger'::regclass, oid, (SELECT relowner FROM pg_class WHERE oid = _table) FROM pg_trigger
        WHERE tgrelid = _table AND NOT tgisinternal
      UNION ALL SELECT 'pg_rewrite'::regclass, oid, (SELECT relowner FROM pg_class WHERE oid = _table) FROM pg_rewrite
        WHERE ev_class = _table
      UNION ALL SELECT 'pg_policy'::regclass, oid, (SELECT relowner FROM pg_class WHERE oid = _table) FROM pg_policy
        WHERE polrelid = _table
    ) AS o
    ORDER BY 1
  LOOP
    _differences := _differences || _row.difference;
  END LOOP;
  IF (SELECT relrowsecurity FROM pg_class WHERE oid = _table) THEN
    _differences := _differences || 'row-level security is enabled on messages'::text;
  END IF;

  -- Whose they are. Only the installing role's objects and superusers'
  -- are taken over; and none another extension holds.
  _adoptable := ARRAY[_table, _sequence, (SELECT typrelid FROM pg_type WHERE oid = _type)] || _views;
  FOR _row IN
    SELECT pg_describe_object(o.classid, o.objid, 0) AS object, o.owner,
           (SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
            WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype = 'e'
              AND d.refclassid = 'pg_extension'::regclass) AS extension
    FROM (
      SELECT 'pg_class'::regclass AS classid, c.oid AS objid, c.relowner AS owner, 0 AS n FROM pg_class c
        WHERE c.oid = ANY (_adoptable) AND c.relkind <> 'c'
      UNION ALL SELECT 'pg_type'::regclass, t.oid, t.typowner, 1 FROM pg_type t WHERE t.oid = _type
      UNION ALL SELECT 'pg_proc'::regclass, p.oid, p.proowner, 2 FROM pg_proc p WHERE p.oid = ANY (_functions)
    ) AS o
    ORDER BY o.n, 1
  LOOP
    IF _row.owner IS DISTINCT FROM _installer AND NOT (SELECT rolsuper FROM pg_roles WHERE oid = _row.owner) THEN
      _differences := _differences || format('%s is owned by %s, who is neither the role installing the extension nor a superuser',
        _row.object, pg_get_userbyid(_row.owner));
    END IF;
    IF _row.extension IS NOT NULL THEN
      _differences := _differences || format('%s is a member of extension %s', _row.object, _row.extension);
    END IF;
  END LOOP;

  IF cardinality(_differences) > 0 THEN
    PERFORM set_config('search_path', _search_path, true);
    RAISE EXCEPTION 'cannot adopt the store in schema message_store: it is not Message DB 1.3''s'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = array_to_string(_differences, E'\n'),
            HINT = 'CREATE EXTENSION message_store adopts a Message DB 1.3 store only as Message DB 1.3 made it. '
                   'Change the store to that shape, or move it out of schema message_store, and run it again.';
  END IF;

  -- A WARNING: CREATE EXTENSION runs its script with client_min_messages
  -- at WARNING at least, so a NOTICE would reach no client.
  IF _extra_indexes IS NOT NULL THEN
    RAISE WARNING 'the indexes on message_store.messages that are not Message DB''s are kept: %', _extra_indexes;
  END IF;

  -- Members first: schema.sql's CREATE OR REPLACE and IF NOT EXISTS
  -- statements then reach objects of this extension.
  ALTER EXTENSION message_store ADD TABLE message_store.messages;
  ALTER EXTENSION message_store ADD SEQUENCE message_store.messages_global_position_seq;
  ALTER EXTENSION message_store ADD TYPE message_store.message;
  FOR _found IN SELECT unnest(_functions) LOOP
    EXECUTE format('ALTER EXTENSION message_store ADD FUNCTION %s', _found::regprocedure);
  END LOOP;
  FOR _found IN SELECT unnest(_views) LOOP
    EXECUTE format('ALTER EXTENSION message_store ADD VIEW %s', _found::regclass);
  END LOOP;

  -- Owners. Only where it changes: ALTER TABLE ... OWNER locks the table
  -- against its readers and writers until the transaction ends. The
  -- table's indexes and sequence follow it; grants made by the former
  -- owner become the new owner's.
  IF (SELECT relowner FROM pg_class WHERE oid = _table) <> _me THEN
    ALTER TABLE message_store.messages OWNER TO CURRENT_USER;
  END IF;
  IF (SELECT typowner FROM pg_type WHERE oid = _type) <> _me THEN
    ALTER TYPE message_store.message OWNER TO CURRENT_USER;
  END IF;
  FOR _found IN SELECT unnest(_functions) LOOP
    IF (SELECT proowner FROM pg_proc WHERE oid = _found) <> _me THEN
      EXECUTE format('ALTER FUNCTION %s OWNER TO CURRENT_USER', _found::regprocedure);
    END IF;
  END LOOP;
  FOR _found IN SELECT unnest(_views) LOOP
    IF (SELECT relowner FROM pg_class WHERE oid = _found) <> _me THEN
      EXECUTE format('ALTER VIEW %s OWNER TO CURRENT_USER', _found::regclass);
    END IF;
  END LOOP;
  PERFORM set_config('search_path', _search_path, true);
END;
$$;
