-- Detaching the store from the extension (README, "Adopting a Message DB
-- database": the way back). Run as a superuser, in the store's database:
--
--   psql -d <database> -f sql/detach.sql
--   psql -d <database> -c 'DROP EXTENSION message_store'
--
-- DROP EXTENSION message_store then leaves every message where it is: the
-- messages table, its sequence (at its position) and its indexes, the
-- message type, category() and the six reporting views. The other
-- functions, and the retention policies (message_store.retention_policies,
-- which Message DB does not have), go with the extension.
--
-- The messages_category index calls category(), a C function of the
-- extension's library. It stays, with the same oid (so the index needs no
-- rebuild), as a plain SQL function that gives the same result for every
-- stream name (the part before the first "-", or the whole name), and no
-- longer needs the library.
--
-- Grants on every object that stays are kept. Nothing is rewritten: the
-- cost does not grow with the store.

BEGIN;

ALTER EXTENSION message_store DROP TABLE message_store.messages;
ALTER EXTENSION message_store DROP SEQUENCE message_store.messages_global_position_seq;
ALTER EXTENSION message_store DROP TYPE message_store.message;
ALTER EXTENSION message_store DROP FUNCTION message_store.category(varchar);
ALTER EXTENSION message_store DROP VIEW message_store.stream_summary;
ALTER EXTENSION message_store DROP VIEW message_store.type_summary;
ALTER EXTENSION message_store DROP VIEW message_store.stream_type_summary;
ALTER EXTENSION message_store DROP VIEW message_store.type_stream_summary;
ALTER EXTENSION message_store DROP VIEW message_store.category_type_summary;
ALTER EXTENSION message_store DROP VIEW message_store.type_category_summary;

CREATE OR REPLACE FUNCTION message_store.category(stream_name varchar)
RETURNS varchar
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE sql
AS $$ SELECT pg_catalog.split_part(stream_name, '-', 1)::varchar $$;

COMMIT;
