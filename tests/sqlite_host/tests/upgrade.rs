//! Files written by earlier releases: the current library reads them exactly
//! as the release that wrote them did, writes to them, keeps them readable
//! without the extension, and refuses a file newer than it knows, leaving it
//! as it was.
//!
//! `tests/fixtures/sqlite-0.1.0.db` was written by the 0.1.0 library, and
//! `sqlite-0.1.0.expected.json` holds what 0.1.0 read from it; both were made
//! by `tests/fixtures/make_sqlite_0.1.0.py`.

use std::path::{Path, PathBuf};

use message_store_core::release::sqlite_schema_version;
use message_store_sqlite_tests::{error_message, open, open_in_memory, rows};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/sqlite-0.1.0.db");
const EXPECTED: &str = include_str!("../../fixtures/sqlite-0.1.0.expected.json");
const SCHEMA_SQL: &str = include_str!("../../../sql/sqlite_schema.sql");

/// In the fixture: 240 messages, the last at global position 240; the stream
/// `account-1` has 18 of them, positions 0 to 17.
const MESSAGES: i64 = 240;
const ACCOUNT_1_VERSION: i64 = 17;

/// A copy of the fixture in a directory of its own (the directory goes
/// when the first value is dropped).
fn fixture_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    std::fs::copy(FIXTURE, &path).unwrap();
    (dir, path)
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// Every file in the copy's directory, with its bytes: a journal or WAL
/// left behind would show here too.
fn directory(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read(entry.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Runs a query with JSON parameters and gives its rows as JSON values,
/// the way the fixture's script (Python's sqlite3) recorded them.
fn query(conn: &Connection, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String> {
    let params: Vec<SqlValue> = params
        .iter()
        .map(|param| match param {
            Value::Null => SqlValue::Null,
            Value::String(text) => SqlValue::Text(text.clone()),
            Value::Number(n) => SqlValue::Integer(n.as_i64().expect("integer parameter")),
            other => panic!("unexpected parameter {other}"),
        })
        .collect();
    let mut stmt = conn.prepare(sql).map_err(error_message)?;
    let columns = stmt.column_count();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(error_message)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(error_message)? {
        out.push(
            (0..columns)
                .map(|i| match row.get_ref(i).unwrap() {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::from(n),
                    ValueRef::Text(t) => Value::from(std::str::from_utf8(t).unwrap()),
                    other => panic!("unexpected value {other:?} in {sql}"),
                })
                .collect(),
        );
    }
    Ok(out)
}

fn one(conn: &Connection, sql: &str) -> String {
    let mut all = rows(conn, sql).unwrap();
    assert_eq!(all.len(), 1, "{sql}");
    assert_eq!(all[0].len(), 1, "{sql}");
    all.remove(0).remove(0)
}

/// The recorded reads, each with its rows or its error.
fn recorded_reads() -> Vec<Value> {
    let expected: Value = serde_json::from_str(EXPECTED).unwrap();
    assert_eq!(
        expected["library"],
        "message_store_sqlite 0.1.0 (commit f64646b)"
    );
    expected["reads"].as_array().unwrap().clone()
}

/// Runs every read 0.1.0 recorded and compares; gives how many reads and
/// rows were compared.
fn compare_with_recorded_reads(conn: &Connection) -> (usize, usize) {
    let reads = recorded_reads();
    let mut compared_rows = 0;
    for read in &reads {
        let sql = read["sql"].as_str().unwrap();
        let params = read["params"].as_array().unwrap();
        let got = query(conn, sql, params);
        match (read.get("rows"), read.get("error")) {
            (Some(expected), None) => {
                let expected: Vec<Vec<Value>> = serde_json::from_value(expected.clone()).unwrap();
                assert_eq!(got.as_ref(), Ok(&expected), "{sql} {params:?}");
                compared_rows += expected.len();
            }
            (None, Some(error)) => {
                assert_eq!(got, Err(error.as_str().unwrap().to_string()), "{sql}");
            }
            _ => panic!("a recorded read has rows or an error: {read}"),
        }
    }
    (reads.len(), compared_rows)
}

/// The statement that takes a file from schema version 1 to 2, as the
/// schema file writes it.
const MIGRATION_1_TO_2: &str = "CREATE TABLE IF NOT EXISTS main.retention_policies (
  category TEXT PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('keep_seconds', 'keep_last')),
  amount INTEGER NOT NULL CHECK (amount >= 1)
);";

/// The schema objects of a file this library made with its first write.
fn fresh_schema_objects() -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let conn = open(&dir.path().join("fresh.db"));
    rows(
        &conn,
        "SELECT write_message('00000000-0000-4000-8000-000000000001', 'account-1', 'Opened', '{}')",
    )
    .unwrap();
    schema_objects(&conn)
}

fn schema_objects(conn: &Connection) -> Vec<Vec<String>> {
    rows(
        conn,
        "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name",
    )
    .unwrap()
}

#[test]
fn reads_every_message_of_a_0_1_0_file_as_0_1_0_did_and_leaves_it_as_it_was() {
    let (_dir, path) = fixture_copy();
    let before = directory(&path);
    let conn = open(&path);
    let (reads, compared) = compare_with_recorded_reads(&conn);
    // 14 streams (stream read, last message, version) and 8 categories
    // (whole, by each of 4 correlations, each member of a group of 2).
    assert_eq!((reads, compared), (14 * 3 + 8 * 7, 858));
    // The recorded reads cover every stream and every category in the file.
    let recorded: std::collections::BTreeSet<String> = recorded_reads()
        .iter()
        .map(|read| read["params"][0].as_str().unwrap().to_string())
        .collect();
    for sql in [
        "SELECT DISTINCT stream_name FROM messages",
        "SELECT DISTINCT category(stream_name) FROM messages",
    ] {
        for row in rows(&conn, sql).unwrap() {
            assert!(recorded.contains(&row[0]), "{} is not read", row[0]);
        }
    }
    assert_eq!(one(&conn, "SELECT count(*) FROM messages"), "240");
    drop(conn);
    assert!(
        directory(&path) == before,
        "reading the file changed it, or left a file beside it"
    );
}

#[test]
fn writes_to_a_0_1_0_file_continue_its_positions_and_keep_its_schema() {
    let (_dir, path) = fixture_copy();
    let plain = Connection::open(&path).unwrap();
    let objects_before = schema_objects(&plain);
    drop(plain);

    let conn = open(&path);
    let written = rows(
        &conn,
        &format!(
            "SELECT write_message('00000000-0000-4000-8000-0000000000f1', 'account-1', 'Reopened', '{{\"by\": \"über\"}}', NULL, {ACCOUNT_1_VERSION})"
        ),
    );
    assert_eq!(written.unwrap(), [["18"]]);
    assert_eq!(
        rows(
            &conn,
            "SELECT write_message('00000000-0000-4000-8000-0000000000f2', 'account-99', 'Opened', '{}', NULL, -1)"
        )
        .unwrap(),
        [["0"]]
    );
    assert_eq!(
        rows(
            &conn,
            &format!(
                "SELECT stream_name, position, global_position, type, data FROM get_category_messages('account', {})",
                MESSAGES - 1
            )
        )
        .unwrap(),
        [
            [
                "account-1",
                "17",
                "239",
                "Emoji🎉",
                "{\"n\": 238, \"cjk\": \"日本語\", \"emoji\": \"🎉🧪\"}"
            ],
            ["account-1", "18", "241", "Reopened", "{\"by\": \"über\"}"],
            ["account-99", "0", "242", "Opened", "{}"],
        ]
    );
    assert_eq!(one(&conn, "SELECT stream_version('account-1')"), "18");
    // The version row is the one 0.1.0 wrote, and it is this library's.
    assert_eq!(
        rows(&conn, "SELECT version FROM message_store_schema").unwrap(),
        [[sqlite_schema_version().to_string()]]
    );
    drop(conn);

    // A SQLite without the extension reads the written file: the table, the
    // category index and all six views, with the new messages counted. The
    // first write migrated it: it has the schema a new file gets, which is
    // 0.1.0's and the retention policies' table.
    let plain = Connection::open(&path).unwrap();
    let objects_after = schema_objects(&plain);
    assert_eq!(objects_after, fresh_schema_objects());
    let added: Vec<&Vec<String>> = objects_after
        .iter()
        .filter(|object| !objects_before.contains(object))
        .collect();
    assert_eq!(
        added,
        [
            &vec![
                "index".to_string(),
                "sqlite_autoindex_retention_policies_1".to_string(),
                "retention_policies".to_string(),
                "NULL".to_string(),
            ],
            &vec![
                "table".to_string(),
                "retention_policies".to_string(),
                "retention_policies".to_string(),
                MIGRATION_1_TO_2
                    .trim_end_matches(';')
                    .replacen("IF NOT EXISTS main.", "", 1),
            ],
        ]
    );
    assert!(objects_before
        .iter()
        .all(|object| objects_after.contains(object)));
    assert_eq!(one(&plain, "PRAGMA integrity_check"), "ok");
    assert_eq!(one(&plain, "PRAGMA journal_mode"), "delete");
    assert_eq!(
        rows(
            &plain,
            "SELECT global_position, position, stream_name, type FROM messages WHERE global_position > 240 ORDER BY 1"
        )
        .unwrap(),
        [
            ["241", "18", "account-1", "Reopened"],
            ["242", "0", "account-99", "Opened"]
        ]
    );
    assert_eq!(
        rows(
            &plain,
            "SELECT count(*) FROM messages INDEXED BY messages_category WHERE substr(stream_name, 1, instr(stream_name || '-', '-') - 1) = 'account' AND global_position > 0"
        )
        .unwrap(),
        [["54"]]
    );
    assert_eq!(
        rows(
            &plain,
            "SELECT * FROM stream_summary WHERE stream_name LIKE 'account-%'"
        )
        .unwrap(),
        [
            ["account-1", "19", "7.85"],
            ["account-2", "17", "7.02"],
            ["account-3", "17", "7.02"],
            ["account-99", "1", "0.41"],
        ]
    );
    // Each view's rows and the messages they count.
    for (view, groups) in [
        ("stream_summary", 15),
        ("type_summary", 7),
        ("stream_type_summary", 44),
        ("type_stream_summary", 44),
        ("category_type_summary", 40),
        ("type_category_summary", 40),
    ] {
        assert_eq!(
            one(
                &plain,
                &format!("SELECT count(*) || ' ' || sum(message_count) FROM {view}")
            ),
            format!("{groups} 242"),
            "{view}"
        );
    }
}

/// Every call that reads or writes the store, each with its arguments.
const STORE_CALLS: [&str; 8] = [
    "SELECT write_message('00000000-0000-4000-8000-0000000000f3', 'account-1', 'Noted', '{}')",
    "SELECT write_message('00000000-0000-4000-8000-0000000000f3', 'account-1', 'Noted', '{}', NULL)",
    "SELECT write_message('00000000-0000-4000-8000-0000000000f3', 'account-1', 'Noted', '{}', NULL, 17)",
    "SELECT stream_version('account-1')",
    "SELECT acquire_lock('account-1')",
    "SELECT * FROM get_stream_messages('account-1')",
    "SELECT * FROM get_category_messages('account', 1, 10, 'payment', 0, 2)",
    "SELECT * FROM get_last_stream_message('account-1', 'Opened')",
];

/// A copy of the fixture with `message_store_schema.version` set, by a
/// plain SQLite, after `change` (more SQL) has run.
fn fixture_at_version(version: i64, change: &str) -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = fixture_copy();
    let plain = Connection::open(&path).unwrap();
    plain
        .execute_batch(&format!(
            "{change} UPDATE message_store_schema SET version = {version};"
        ))
        .unwrap();
    drop(plain);
    (dir, path)
}

fn newer_file_error(version: i64) -> String {
    format!(
        "the message store in this database has schema version {version}, newer than this extension's {}: load a newer release of the extension",
        sqlite_schema_version()
    )
}

/// Every store call on the file fails with `error`, twice over (a refusal
/// is not remembered as a success), inside a transaction too, and the
/// file's bytes are those it had before, with nothing left beside it.
fn every_call_refused_untouched(path: &Path, error: &str) {
    let before = directory(path);
    let before_bytes = bytes(path);
    let conn = open(path);
    for _ in 0..2 {
        for sql in STORE_CALLS {
            assert_eq!(rows(&conn, sql), Err(error.to_string()), "{sql}");
        }
    }
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    for sql in STORE_CALLS {
        assert_eq!(rows(&conn, sql), Err(error.to_string()), "{sql} in BEGIN");
    }
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    assert!(bytes(path) == before_bytes, "the refused file changed");
    assert!(
        directory(path) == before,
        "a file was left beside the refused one"
    );
}

#[test]
fn a_file_newer_than_the_library_is_refused_by_every_call_and_left_untouched() {
    let newer = sqlite_schema_version() + 1;
    let (_dir, path) = fixture_at_version(newer, "");
    every_call_refused_untouched(&path, &newer_file_error(newer));
}

#[test]
fn a_newer_file_whose_table_changed_is_refused_for_its_version() {
    // A later schema may well change the table; the refusal must still be
    // the version's, not that the table is not a message store's.
    let newer = sqlite_schema_version() + 1;
    let (_dir, path) = fixture_at_version(
        newer,
        "ALTER TABLE messages ADD COLUMN tenant TEXT; DROP INDEX messages_category;",
    );
    every_call_refused_untouched(&path, &newer_file_error(newer));
}

#[test]
fn a_file_at_a_version_no_migration_starts_from_is_read_as_is_and_not_written() {
    // No release wrote schema version 0: there is no migration from it, so
    // the first write has no way to this library's version.
    let current = sqlite_schema_version();
    let (_dir, path) = fixture_at_version(0, "");
    let before = directory(&path);
    let conn = open(&path);
    assert_eq!(compare_with_recorded_reads(&conn).1, 858);
    drop(conn);
    assert!(directory(&path) == before, "reading the file changed it");

    let error = format!(
        "the message store in this database has schema version 0, older than this extension's {current}, and this extension has no migration from schema version 0 to 1"
    );
    let conn = open(&path);
    for sql in [
        STORE_CALLS[0],
        STORE_CALLS[1],
        STORE_CALLS[2],
        STORE_CALLS[4],
    ] {
        assert_eq!(rows(&conn, sql), Err(error.clone()), "{sql}");
    }
    // Reads go on as before the refused write.
    assert_eq!(one(&conn, "SELECT stream_version('account-1')"), "17");
    drop(conn);
    assert!(
        directory(&path) == before,
        "the refused write changed the file"
    );
}

#[test]
fn the_schema_file_writes_the_library_schema_version() {
    let version = sqlite_schema_version();
    let header = SCHEMA_SQL.lines().next().unwrap();
    assert_eq!(
        header,
        format!("-- The message store's tables in a SQLite database, schema version {version}.")
    );
    let inserts: Vec<&str> = SCHEMA_SQL
        .split(';')
        .map(str::trim)
        .filter(|statement| statement.contains("INSERT"))
        .collect();
    assert_eq!(
        inserts,
        [format!(
            "INSERT INTO main.message_store_schema (version)\nSELECT {version} WHERE NOT EXISTS (SELECT 1 FROM main.message_store_schema)"
        )]
    );
    // And that is what the first write records.
    let conn = open_in_memory();
    rows(
        &conn,
        "SELECT write_message('00000000-0000-4000-8000-000000000001', 'account-1', 'Opened', '{}')",
    )
    .unwrap();
    assert_eq!(
        rows(&conn, "SELECT version FROM message_store_schema").unwrap(),
        [[version.to_string()]]
    );
}

#[test]
fn the_schema_file_creates_the_retention_policies_table_as_the_migration_does() {
    assert!(SCHEMA_SQL.contains(MIGRATION_1_TO_2));
}

fn version(conn: &Connection) -> String {
    one(conn, "SELECT version FROM message_store_schema")
}

fn tables(conn: &Connection) -> Vec<Vec<String>> {
    rows(
        conn,
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'retention%'",
    )
    .unwrap()
}

/// Each retention function on a 0.1.0 file is a write: the first one
/// migrates the file, and works on it.
#[test]
fn retention_calls_migrate_a_0_1_0_file_first() {
    for (sql, answer) in [
        ("SELECT clear_retention_policy('account')", "0"),
        ("SELECT apply_retention_policies()", "0"),
        (
            "SELECT set_retention_policy('account', 'keep_last', 5)",
            "NULL",
        ),
        ("SELECT remove_messages('account-1', NULL, 1)", "0"),
        ("SELECT redact_stream('nothing-1')", "0"),
    ] {
        let (_dir, path) = fixture_copy();
        let conn = open(&path);
        assert_eq!(version(&conn), "1", "{sql}");
        assert!(tables(&conn).is_empty(), "{sql}");
        assert_eq!(one(&conn, sql), answer, "{sql}");
        assert_eq!(version(&conn), sqlite_schema_version().to_string(), "{sql}");
        assert_eq!(tables(&conn), [["retention_policies"]], "{sql}");
        drop(conn);
        let plain = Connection::open(&path).unwrap();
        assert_eq!(schema_objects(&plain), fresh_schema_objects(), "{sql}");
        assert_eq!(one(&plain, "PRAGMA integrity_check"), "ok");
    }
}

#[test]
fn a_policy_on_a_0_1_0_file_removes_its_old_messages() {
    let (_dir, path) = fixture_copy();
    let conn = open(&path);
    // A migration inside a transaction that rolls back goes with it; the
    // next call migrates again.
    conn.execute_batch("BEGIN").unwrap();
    assert_eq!(
        one(
            &conn,
            "SELECT set_retention_policy('account', 'keep_last', 5)"
        ),
        "NULL"
    );
    assert_eq!(version(&conn), "2");
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(version(&conn), "1");
    assert!(tables(&conn).is_empty());
    assert_eq!(
        one(
            &conn,
            "SELECT set_retention_policy('account', 'keep_last', 5)"
        ),
        "NULL"
    );
    assert_eq!(version(&conn), "2");
    let versions = "SELECT stream_name, count(*), min(position), max(position) FROM messages \
                    WHERE category(stream_name) IN ('account', 'account:command') \
                    GROUP BY stream_name ORDER BY stream_name";
    let before = rows(&conn, versions).unwrap();
    assert_eq!(
        before,
        [
            ["account-1", "18", "0", "17"],
            ["account-2", "17", "0", "16"],
            ["account-3", "17", "0", "16"],
            ["account:command-1", "17", "0", "16"],
        ]
    );
    // The three account streams keep their last 5; account:command is
    // another category.
    assert_eq!(one(&conn, "SELECT apply_retention_policies()"), "37");
    assert_eq!(
        rows(&conn, versions).unwrap(),
        [
            ["account-1", "5", "13", "17"],
            ["account-2", "5", "12", "16"],
            ["account-3", "5", "12", "16"],
            ["account:command-1", "17", "0", "16"],
        ]
    );
    assert_eq!(one(&conn, "SELECT apply_retention_policies()"), "0");
    assert_eq!(
        one(&conn, "SELECT count(*) FROM messages"),
        (MESSAGES - 37).to_string()
    );
    assert_eq!(
        one(&conn, "SELECT stream_version('account-1')"),
        ACCOUNT_1_VERSION.to_string()
    );
    drop(conn);
    let plain = Connection::open(&path).unwrap();
    assert_eq!(one(&plain, "PRAGMA integrity_check"), "ok");
    assert_eq!(
        rows(&plain, "SELECT * FROM retention_policies").unwrap(),
        [["account", "keep_last", "5"]]
    );
}

/// A table named `retention_policies` that the file's owner made is not
/// the store's: the migration refuses it and changes nothing, and reads go
/// on.
#[test]
fn a_0_1_0_file_with_a_retention_policies_table_of_its_own_is_not_migrated() {
    let (_dir, path) = fixture_at_version(1, "CREATE TABLE retention_policies (note TEXT);");
    let before = directory(&path);
    let conn = open(&path);
    let error = "migrating the message store from schema version 1 to 2 failed: table retention_policies already exists";
    for sql in [
        STORE_CALLS[0],
        "SELECT set_retention_policy('account', 'keep_last', 1)",
        "SELECT remove_messages('account', NULL, 100)",
        "SELECT apply_retention_policies()",
    ] {
        assert_eq!(rows(&conn, sql), Err(error.to_string()), "{sql}");
    }
    assert_eq!(compare_with_recorded_reads(&conn).1, 858);
    drop(conn);
    assert!(
        directory(&path) == before,
        "the refused migration changed the file"
    );
}
