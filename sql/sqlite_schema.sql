-- The message store's tables in a SQLite database, schema version 2.
--
-- The SQLite extension runs this the first time something is written to a
-- database that has no message store yet. Every statement may run again
-- (two processes may create the store at once), and the version row goes in
-- only once. Column names and order are the Postgres table's; `time` is the
-- text Postgres prints for a timestamp (UTC, microseconds), `data` and
-- `metadata` the text Postgres prints for jsonb, `id` a lowercase UUID.
--
-- The category index uses SQLite's built-in functions only, so the file stays
-- readable and writable by any SQLite, with or without the extension loaded.
-- Readers repeat these expressions exactly, which is how SQLite matches them.

CREATE TABLE IF NOT EXISTS main.messages (
  global_position INTEGER PRIMARY KEY AUTOINCREMENT,
  position INTEGER NOT NULL,
  time TEXT NOT NULL,
  stream_name TEXT NOT NULL,
  type TEXT NOT NULL,
  data TEXT,
  metadata TEXT,
  id TEXT NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS main.messages_id ON messages (id);

CREATE UNIQUE INDEX IF NOT EXISTS main.messages_stream ON messages (stream_name, position);

CREATE INDEX IF NOT EXISTS main.messages_category ON messages (
  substr(stream_name, 1, instr(stream_name || '-', '-') - 1),
  global_position,
  substr(json_extract(metadata, '$.correlationStreamName'), 1, instr(json_extract(metadata, '$.correlationStreamName') || '-', '-') - 1)
);

-- Reporting views: message counts and their share of all messages, in
-- percent rounded to two places (a real here, numeric on Postgres).

CREATE VIEW IF NOT EXISTS main.stream_summary AS
  WITH counts AS (
    SELECT stream_name, count(id) AS message_count
    FROM messages
    GROUP BY 1
  ), total AS (
    SELECT count(id) AS total_count FROM messages
  )
  SELECT stream_name, message_count,
    round(message_count * 100.0 / total_count, 2) AS percent
  FROM counts, total
  ORDER BY stream_name;

CREATE VIEW IF NOT EXISTS main.type_summary AS
  WITH counts AS (
    SELECT type, count(id) AS message_count
    FROM messages
    GROUP BY 1
  ), total AS (
    SELECT count(id) AS total_count FROM messages
  )
  SELECT type, message_count,
    round(message_count * 100.0 / total_count, 2) AS percent
  FROM counts, total
  ORDER BY type;

CREATE VIEW IF NOT EXISTS main.stream_type_summary AS
  WITH counts AS (
    SELECT stream_name, type, count(id) AS message_count
    FROM messages
    GROUP BY 1, 2
  ), total AS (
    SELECT count(id) AS total_count FROM messages
  )
  SELECT stream_name, type, message_count,
    round(message_count * 100.0 / total_count, 2) AS percent
  FROM counts, total
  ORDER BY stream_name, type;

CREATE VIEW IF NOT EXISTS main.type_stream_summary AS
  WITH counts AS (
    SELECT type, stream_name, count(id) AS message_count
    FROM messages
    GROUP BY 1, 2
  ), total AS (
    SELECT count(id) AS total_count FROM messages
  )
  SELECT type, stream_name, message_count,
    round(message_count * 100.0 / total_count, 2) AS percent
  FROM counts, total
  ORDER BY type, stream_name;

CREATE VIEW IF NOT EXISTS main.category_type_summary AS
  WITH counts AS (
    SELECT substr(stream_name, 1, instr(stream_name || '-', '-') - 1) AS category, type, count(id) AS message_count
    FROM messages
    GROUP BY 1, 2
  ), total AS (
    SELECT count(id) AS total_count FROM messages
  )
  SELECT category, type, message_count,
    round(message_count * 100.0 / total_count, 2) AS percent
  FROM counts, total
  ORDER BY category, type;

CREATE VIEW IF NOT EXISTS main.type_category_summary AS
  WITH counts AS (
    SELECT type, substr(stream_name, 1, instr(stream_name || '-', '-') - 1) AS category, count(id) AS message_count
    FROM messages
    GROUP BY 1, 2
  ), total AS (
    SELECT count(id) AS total_count FROM messages
  )
  SELECT type, category, message_count,
    round(message_count * 100.0 / total_count, 2) AS percent
  FROM counts, total
  ORDER BY type, category;

-- Retention policies (schema version 2; sqlite_ext/src/migrate.rs adds the
-- table to a version 1 file with this same statement): how each category
-- keeps its messages when apply_retention_policies() runs.

CREATE TABLE IF NOT EXISTS main.retention_policies (
  category TEXT PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('keep_seconds', 'keep_last')),
  amount INTEGER NOT NULL CHECK (amount >= 1)
);

CREATE TABLE IF NOT EXISTS main.message_store_schema (
  version INTEGER NOT NULL
);

INSERT INTO main.message_store_schema (version)
SELECT 2 WHERE NOT EXISTS (SELECT 1 FROM main.message_store_schema);
