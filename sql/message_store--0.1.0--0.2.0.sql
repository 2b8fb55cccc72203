\echo Use "ALTER EXTENSION message_store UPDATE" to load this file. \quit

-- message_store 0.1.0 -> 0.2.0.
--
-- 0.2.0 is open: every change to the extension's SQL objects that lands
-- before its release adds its statements here, each with a comment saying
-- why it is there, so that a database on 0.1.0 ends with exactly the
-- objects of a fresh 0.2.0 install (tests/pg_client/tests/upgrade.rs
-- compares the two catalogs).
--
-- So far 0.2.0 changes the library only (SQL conditions are checked before
-- they run, rows enter a reader's result only as message rows, a stream at
-- the largest position refuses the next write): 0.1.0's objects are
-- 0.2.0's, and every C function they name is in the new library with its
-- meaning, so this script has no statement yet.
