//! The SQLite extension's own contract: what it registers, where it keeps
//! messages, how it treats databases it did not make, bad arguments, and
//! connections that close.

use std::collections::BTreeSet;

use message_store_sqlite_tests::{error_message, load, open, open_in_memory, rows};
use rusqlite::{Connection, OpenFlags};

const WRITE: &str =
    "SELECT write_message('00000000-0000-4000-8000-000000000001', 'account-1', 'Opened', '{}')";

fn names(conn: &Connection, sql: &str) -> BTreeSet<String> {
    rows(conn, sql)
        .unwrap()
        .into_iter()
        .map(|row| row.join("/"))
        .collect()
}

#[test]
fn registers_exactly_these_functions_and_tables() {
    let plain = Connection::open_in_memory().unwrap();
    let loaded = open_in_memory();
    let functions = "SELECT name, narg FROM pragma_function_list";
    let modules = "SELECT name FROM pragma_module_list";
    let added: Vec<String> = names(&loaded, functions)
        .difference(&names(&plain, functions))
        .cloned()
        .collect();
    assert_eq!(
        added,
        [
            "acquire_lock/1",
            "apply_retention_policies/0",
            "apply_retention_policies/1",
            "cardinal_id/1",
            "category/1",
            "clear_retention_policy/1",
            "gen_random_uuid/0",
            "hash_64/1",
            "id/1",
            "import_messages/1",
            "is_category/1",
            "is_consumer_group_member/3",
            "message_store_next_position/3",
            "message_store_version/0",
            "redact_stream/1",
            "remove_messages/1",
            "remove_messages/2",
            "remove_messages/3",
            "remove_messages/4",
            "set_config/3",
            "set_retention_policy/3",
            "stream_version/1",
            "write_batch/1",
            "write_batch/2",
            "write_message/4",
            "write_message/5",
            "write_message/6",
            "write_messages/2",
            "write_messages/3",
            "write_messages/4",
        ]
    );
    let added: Vec<String> = names(&loaded, modules)
        .difference(&names(&plain, modules))
        .cloned()
        .collect();
    assert_eq!(
        added,
        [
            "export_messages",
            "get_all_messages",
            "get_categories",
            "get_category_messages",
            "get_last_stream_message",
            "get_stream_messages",
            "get_streams",
            "message_store_batch_rows",
            "message_store_settings"
        ]
    );
}

#[test]
fn creates_its_tables_on_the_first_write_only() {
    let conn = open_in_memory();
    let tables =
        "SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name";
    // Reads and the version leave an empty database as it is.
    assert_eq!(
        rows(
            &conn,
            "SELECT count(*) FROM get_category_messages('account')"
        )
        .unwrap(),
        [["0"]]
    );
    assert_eq!(
        rows(&conn, "SELECT stream_version('account-1')").unwrap(),
        [["NULL"]]
    );
    assert!(rows(&conn, tables).unwrap().is_empty());

    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    let made: Vec<String> = rows(&conn, tables)
        .unwrap()
        .into_iter()
        .map(|r| r.join(" "))
        .collect();
    assert_eq!(
        made,
        [
            "view category_type_summary",
            "table message_store_schema",
            "table messages",
            "index messages_category",
            "index messages_id",
            "index messages_stream",
            "table retention_policies",
            "view stream_summary",
            "view stream_type_summary",
            "view type_category_summary",
            "view type_stream_summary",
            "view type_summary",
        ]
    );
    assert_eq!(
        rows(&conn, "SELECT version FROM message_store_schema").unwrap(),
        [["2"]]
    );
    let columns: Vec<String> = rows(
        &conn,
        "SELECT name || ' ' || type || ' ' || \"notnull\" FROM pragma_table_info('messages')",
    )
    .unwrap()
    .into_iter()
    .map(|r| r.join(""))
    .collect();
    assert_eq!(
        columns,
        [
            "global_position INTEGER 0",
            "position INTEGER 1",
            "time TEXT 1",
            "stream_name TEXT 1",
            "type TEXT 1",
            "data TEXT 0",
            "metadata TEXT 0",
            "id TEXT 1"
        ]
    );
    // The retention policies, one per category, with the kinds and
    // amounts core's rules allow.
    assert_eq!(
        rows(
            &conn,
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info('retention_policies')"
        )
        .unwrap(),
        [
            ["category", "TEXT", "1", "1"],
            ["kind", "TEXT", "1", "0"],
            ["amount", "INTEGER", "1", "0"],
        ]
    );
    for (sql, error) in [
        (
            "INSERT INTO retention_policies VALUES ('a', 'keep_days', 1)",
            "CHECK constraint failed: kind IN ('keep_seconds', 'keep_last')",
        ),
        (
            "INSERT INTO retention_policies VALUES ('a', 'keep_last', 0)",
            "CHECK constraint failed: amount >= 1",
        ),
        (
            "INSERT INTO retention_policies VALUES (NULL, 'keep_last', 1)",
            "NOT NULL constraint failed: retention_policies.category",
        ),
    ] {
        assert_eq!(
            conn.execute_batch(sql).map_err(error_message),
            Err(error.to_string()),
            "{sql}"
        );
    }
}

#[test]
fn global_positions_are_never_reused() {
    let conn = open_in_memory();
    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    conn.execute_batch(
        "SELECT write_message('00000000-0000-4000-8000-000000000002', 'account-1', 'Closed', '{}')",
    )
    .unwrap();
    // Even after the newest message is deleted by hand.
    conn.execute_batch("DELETE FROM messages WHERE global_position = 2")
        .unwrap();
    conn.execute_batch(
        "SELECT write_message('00000000-0000-4000-8000-000000000003', 'account-2', 'Opened', '{}')",
    )
    .unwrap();
    assert_eq!(
        rows(
            &conn,
            "SELECT stream_name, position, global_position FROM messages ORDER BY 3"
        )
        .unwrap(),
        [["account-1", "0", "1"], ["account-2", "0", "3"]]
    );
}

#[test]
fn the_database_stays_usable_without_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let conn = open(&path);
        conn.query_row(WRITE, [], |_| Ok(())).unwrap();
        conn.close()
            .expect("the connection closes with the extension's statements finalized");
    }
    let plain = Connection::open(&path).unwrap();
    plain
        .execute_batch("INSERT INTO messages (position, time, stream_name, type, data, metadata, id) VALUES (1, '2026-01-01 00:00:00', 'account-1', 'Closed', '{}', '{\"correlationStreamName\":\"x-1\"}', 'ffffffff-0000-4000-8000-000000000001')")
        .unwrap();
    assert_eq!(
        rows(&plain, "SELECT count(*) FROM stream_summary").unwrap(),
        [["1"]]
    );
    drop(plain);
    let conn = open(&path);
    assert_eq!(
        rows(
            &conn,
            "SELECT position, type FROM get_stream_messages('account-1')"
        )
        .unwrap(),
        [["0", "Opened"], ["1", "Closed"]]
    );
}

#[test]
fn read_only_databases_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    open(&path).query_row(WRITE, [], |_| Ok(())).unwrap();
    let empty = dir.path().join("empty.db");
    Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE other(x)")
        .unwrap();

    for (file, count) in [(&path, "1"), (&empty, "0")] {
        let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        load(&conn);
        assert_eq!(
            rows(
                &conn,
                "SELECT count(*) FROM get_stream_messages('account-1')"
            )
            .unwrap(),
            [[count]]
        );
        assert_eq!(
            rows(
                &conn,
                "SELECT count(*) FROM get_category_messages('account')"
            )
            .unwrap(),
            [[count]]
        );
        assert_eq!(
            rows(
                &conn,
                "SELECT count(*) FROM get_last_stream_message('account-1')"
            )
            .unwrap(),
            [[count]]
        );
        let error = conn
            .query_row("SELECT write_message('00000000-0000-4000-8000-000000000009', 'account-1', 'X', '{}')", [], |_| Ok(()))
            .unwrap_err();
        assert!(error_message(error).contains("readonly database"));
    }
}

#[test]
fn an_unrelated_messages_table_is_refused_and_left_alone() {
    let conn = open_in_memory();
    conn.execute_batch("CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO messages (body) VALUES ('hello');")
        .unwrap();
    let expected = "table \"messages\" exists and is not a message store table: its columns are (id, body), a message store's are (global_position, position, time, stream_name, type, data, metadata, id)";
    for sql in [
        WRITE,
        "SELECT * FROM get_stream_messages('account-1')",
        "SELECT * FROM get_category_messages('account')",
        "SELECT * FROM get_last_stream_message('account-1')",
        "SELECT stream_version('account-1')",
    ] {
        assert_eq!(rows(&conn, sql), Err(expected.to_string()), "{sql}");
    }
    assert_eq!(
        rows(&conn, "SELECT id, body FROM messages").unwrap(),
        [["1", "hello"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT count(*) FROM sqlite_schema WHERE name <> 'messages'"
        )
        .unwrap(),
        [["0"]]
    );
}

/// A `retention_policies` table of the database's own, in a database
/// without a message store: the first write is refused and makes nothing,
/// the table and its rows stay, reads find an empty store.
#[test]
fn an_unrelated_retention_policies_table_is_refused_and_left_alone() {
    let conn = open_in_memory();
    conn.execute_batch(
        "CREATE TABLE retention_policies (category TEXT, kind TEXT, amount INTEGER);
         INSERT INTO retention_policies VALUES ('invoices', 'years', 7);",
    )
    .unwrap();
    let expected = "table \"retention_policies\" exists in a database without a message store: the message store keeps its retention policies in a table of that name; rename or drop it, or keep the store in another database";
    for sql in [
        WRITE,
        "SELECT set_retention_policy('account', 'keep_last', 1)",
        "SELECT acquire_lock('account-1')",
    ] {
        assert_eq!(rows(&conn, sql), Err(expected.to_string()), "{sql}");
    }
    assert_eq!(
        rows(
            &conn,
            "SELECT count(*) FROM get_stream_messages('account-1')"
        )
        .unwrap(),
        [["0"]]
    );
    assert_eq!(
        rows(&conn, "SELECT apply_retention_policies()").unwrap(),
        [["0"]]
    );
    assert_eq!(
        rows(&conn, "SELECT * FROM retention_policies").unwrap(),
        [["invoices", "years", "7"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT count(*) FROM sqlite_schema WHERE name <> 'retention_policies'"
        )
        .unwrap(),
        [["0"]]
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let first = open(&path);
    first.query_row(WRITE, [], |_| Ok(())).unwrap();
    first
        .execute_batch("UPDATE message_store_schema SET version = 3")
        .unwrap();
    // A connection checks the schema when it first uses the store.
    let second = open(&path);
    let newer = "the message store in this database has schema version 3, newer than this extension's 2: load a newer release of the extension";
    for sql in [
        WRITE,
        "SELECT count(*) FROM get_stream_messages('account-1')",
    ] {
        assert_eq!(rows(&second, sql), Err(newer.to_string()), "{sql}");
    }
}

#[test]
fn bad_arguments_are_named_and_write_nothing() {
    let conn = open_in_memory();
    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    let cases = [
        ("SELECT write_message(1, 'account-1', 'X', '{}')", "write_message: argument \"id\" must be text, not an integer"),
        ("SELECT write_message('00000000-0000-4000-8000-000000000002', 'account-1', 'X', '{}', NULL, '0')", "write_message: argument \"expected_version\" must be an integer, not text"),
        ("SELECT write_message('00000000-0000-4000-8000-000000000002', 'account-1', 'X', '{}', NULL, 0.5)", "write_message: argument \"expected_version\" must be an integer, not 0.5"),
        ("SELECT write_message('00000000-0000-4000-8000-000000000002', 'account-1', 'X', x'00')", "write_message: argument \"data\" must be text, not a blob"),
        ("SELECT write_message('00000000-0000-4000-8000-000000000002', 'account-1', 'X', '{\"a\":}')", "invalid input syntax for type json"),
        ("SELECT write_message('00000000-0000-4000-8000-00000000000', 'account-1', 'X', '{}')", "invalid input syntax for type uuid: \"00000000-0000-4000-8000-00000000000\""),
        ("SELECT write_message('00000000-0000-4000-8000-000000000002', 'account-1', 'X')", "wrong number of arguments to function write_message()"),
        ("SELECT * FROM get_stream_messages", "get_stream_messages: argument \"stream_name\" is required"),
        ("SELECT * FROM get_category_messages WHERE arg_position = 1", "get_category_messages: argument \"category\" is required"),
        ("SELECT * FROM get_last_stream_message", "get_last_stream_message: argument \"stream_name\" is required"),
        ("SELECT * FROM get_stream_messages('account-1', '0')", "get_stream_messages: argument \"position\" must be an integer, not text"),
        ("SELECT * FROM get_stream_messages(1)", "get_stream_messages: argument \"stream_name\" must be text, not an integer"),
        ("SELECT * FROM get_category_messages('account', 1, 10, NULL, 0.5, 2)", "get_category_messages: argument \"consumer_group_member\" must be an integer, not 0.5"),
        ("SELECT stream_version(x'01')", "stream_version: argument \"stream_name\" must be text, not a blob"),
        ("SELECT hash_64(5)", "hash_64: argument \"value\" must be text, not an integer"),
        ("SELECT set_config('search_path', 'x', false)", "unrecognized configuration parameter \"search_path\": the message store's SQLite extension has only \"message_store.sql_condition\""),
        ("SELECT set_config('message_store.sql_condition', 'on', true)", "set_config: \"message_store.sql_condition\" can only be set for the connection (is_local false)"),
    ];
    for (sql, message) in cases {
        assert_eq!(rows(&conn, sql), Err(message.to_string()), "{sql}");
    }
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM messages").unwrap(),
        [["1"]]
    );
    // Whole reals, as JavaScript hosts bind numbers, are integers.
    assert_eq!(
        rows(
            &conn,
            "SELECT position FROM get_stream_messages('account-1', 0.0, 10.0)"
        )
        .unwrap(),
        [["0"]]
    );
    assert_eq!(
        rows(&conn, "SELECT write_message('00000000-0000-4000-8000-000000000003', 'account-1', 'X', '{}', NULL, 0.0)").unwrap(),
        [["1"]]
    );
}

#[test]
fn time_is_utc_text_with_microseconds() {
    let conn = open_in_memory();
    let before = rows(&conn, "SELECT strftime('%Y-%m-%d %H:%M:%S', 'now')").unwrap();
    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    let time: String = conn
        .query_row(
            "SELECT time FROM get_stream_messages('account-1')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let (seconds, fraction) = time.split_once('.').unwrap_or((&time, ""));
    assert_eq!(seconds.len(), 19, "{time}");
    assert!(
        seconds >= before[0][0].as_str(),
        "{time} before {}",
        before[0][0]
    );
    assert!(
        fraction.len() <= 6 && fraction.chars().all(|c| c.is_ascii_digit()),
        "{time}"
    );
    assert!(
        !fraction.ends_with('0'),
        "{time}: Postgres drops trailing zeros"
    );
}

#[test]
fn rolled_back_writes_leave_nothing_and_the_next_write_works() {
    let conn = open_in_memory();
    conn.execute_batch(&format!("BEGIN; {WRITE}; ROLLBACK;"))
        .unwrap();
    assert_eq!(
        rows(
            &conn,
            "SELECT count(*) FROM sqlite_schema WHERE name = 'messages'"
        )
        .unwrap(),
        [["0"]]
    );
    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    conn.execute_batch(&format!(
        "BEGIN; {}; ROLLBACK;",
        WRITE.replace("-000000000001", "-000000000002")
    ))
    .unwrap();
    assert_eq!(
        rows(
            &conn,
            "SELECT id, position FROM get_stream_messages('account-1')"
        )
        .unwrap(),
        [["00000000-0000-4000-8000-000000000001", "0"]]
    );
    // Dropped behind the connection's back: the next write makes the tables again.
    conn.execute_batch("DROP TABLE messages").unwrap();
    assert_eq!(
        rows(
            &conn,
            "SELECT count(*) FROM get_stream_messages('account-1')"
        )
        .unwrap(),
        [["0"]]
    );
    assert_eq!(rows(&conn, WRITE).unwrap(), [["0"]]);
}

#[test]
fn readers_join_and_settings_show() {
    let conn = open_in_memory();
    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    conn.execute_batch(
        "SELECT write_message('00000000-0000-4000-8000-000000000002', 'account-2', 'Opened', '{}')",
    )
    .unwrap();
    assert_eq!(
        rows(&conn, "SELECT s.name, m.position FROM (SELECT 'account-1' AS name UNION ALL SELECT 'account-2') s, get_stream_messages(s.name) m ORDER BY 1").unwrap(),
        [["account-1", "0"], ["account-2", "0"]]
    );
    assert_eq!(
        rows(&conn, "SELECT arg_stream_name, arg_position, arg_batch_size FROM get_stream_messages('account-1', 0, 5)").unwrap(),
        [["account-1", "0", "5"]]
    );
    assert_eq!(
        rows(&conn, "SELECT name, value FROM message_store_settings").unwrap(),
        [["message_store.sql_condition", "NULL"]]
    );
    conn.execute_batch("SELECT set_config('message_store.sql_condition', 'on', 0)")
        .unwrap();
    assert_eq!(
        rows(&conn, "SELECT name, value FROM message_store_settings").unwrap(),
        [["message_store.sql_condition", "on"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT acquire_lock('account-1'), acquire_lock(NULL)"
        )
        .unwrap(),
        // Message DB's key of "account": ('x' || left(md5('account'), 16))::bit(64)::bigint.
        [["-2132379389342958165", "NULL"]]
    );
    conn.close()
        .expect("closes with statements kept for writes and reads");
}

/// A reader's values outlive the row they came from: SQL that keeps them
/// (aggregates, sorting, a second use of the same reader) sees each row's
/// own values, and argument columns return what was passed, as passed.
#[test]
fn reader_values_are_each_rows_own() {
    let conn = open_in_memory();
    for i in 0..5 {
        conn.execute_batch(&format!(
            "SELECT write_message('00000000-0000-4000-8000-00000000000{i}', 'account-1', 'Type{i}', '{{\"n\": {i}, \"pad\": \"{}\"}}')",
            "x".repeat(i * 40)
        ))
        .unwrap();
    }
    assert_eq!(
        rows(&conn, "SELECT max(type), min(type), group_concat(position, ','), max(length(data)) FROM get_stream_messages('account-1')").unwrap(),
        [["Type4", "Type0", "0,1,2,3,4", "179"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT type FROM get_stream_messages('account-1') ORDER BY data DESC LIMIT 2"
        )
        .unwrap(),
        [["Type4"], ["Type3"]]
    );
    assert_eq!(
        rows(&conn, "SELECT a.type, b.type FROM get_stream_messages('account-1', 3) a, get_stream_messages('account-1', 0, 2) b ORDER BY 1, 2").unwrap(),
        [["Type3", "Type0"], ["Type3", "Type1"], ["Type4", "Type0"], ["Type4", "Type1"]]
    );
    assert_eq!(
        rows(&conn, "SELECT typeof(arg_position), arg_position, typeof(arg_batch_size), arg_condition FROM get_stream_messages('account-1', 4.0, 1)").unwrap(),
        [["real", "4", "integer", "NULL"]]
    );
    assert_eq!(
        rows(&conn, "SELECT count(*), max(arg_category), max(arg_position) FROM get_category_messages('account', 2)").unwrap(),
        [["4", "account", "2"]]
    );
    // Text with a NUL in it (written by SQL of the host's own, since
    // write_message refuses it) comes back whole.
    conn.execute_batch(
        "INSERT INTO messages (position, time, stream_name, type, data, id) VALUES (0, '2026-01-01 00:00:00', 'other-1', 'a' || char(0) || 'b', x'7b7d', '00000000-0000-4000-8000-0000000000ff')",
    )
    .unwrap();
    assert_eq!(
        rows(&conn, "SELECT length(CAST(type AS BLOB)), hex(type), typeof(data), hex(data), metadata FROM get_last_stream_message('other-1')").unwrap(),
        [["3", "610062", "blob", "7B7D", "NULL"]]
    );
}

#[test]
fn writers_cannot_be_called_from_triggers_or_views() {
    let conn = open_in_memory();
    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    conn.execute_batch(
        "CREATE TABLE t(x); CREATE TRIGGER t_write AFTER INSERT ON t BEGIN SELECT write_message('00000000-0000-4000-8000-000000000002', 'account-1', 'X', '{}'); END;",
    )
    .unwrap();
    let error = conn.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
    assert_eq!(error_message(error), "unsafe use of write_message()");
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM messages").unwrap(),
        [["1"]]
    );
}
