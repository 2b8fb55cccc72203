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
