//! `message_store_sqlite::register` on rusqlite connections of the test's
//! own (the system's SQLite, no file loaded): it adds what the shipped
//! library adds when loaded, and the store works through it: writes one by
//! one and in batches, every reader, errors, and a clean close.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use rusqlite::Connection;

fn registered() -> Connection {
    let conn = Connection::open_in_memory().expect("open :memory:");
    message_store_sqlite::register(&conn).expect("register");
    conn
}

/// The shipped library: `MESSAGE_STORE_SQLITE_LIB`, or the workspace's
/// release build (`cargo build --release -p message_store_sqlite`).
fn shipped_library() -> PathBuf {
    let path = std::env::var_os("MESSAGE_STORE_SQLITE_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
                .join(format!(
                    "release/libmessage_store_sqlite{}",
                    std::env::consts::DLL_SUFFIX
                ))
        });
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --release -p message_store_sqlite`",
        path.display()
    );
    path
}

fn error_text(error: rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message,
        other => panic!("not an SQLite error with a message: {other:?}"),
    }
}

/// Every row of `sql`, each cell as text (NULL as `NULL`).
fn rows(conn: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let columns = stmt.column_count();
    let mut out = Vec::new();
    let mut found = stmt.query([]).unwrap();
    while let Some(row) = found.next().unwrap() {
        out.push(
            (0..columns)
                .map(|i| match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => "NULL".to_string(),
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8(t.to_vec()).unwrap(),
                    other => panic!("unexpected value {other:?}"),
                })
                .collect(),
        );
    }
    out
}

fn set(conn: &Connection, sql: &str) -> BTreeSet<Vec<String>> {
    rows(conn, sql).into_iter().collect()
}

fn one(conn: &Connection, sql: &str) -> String {
    let mut found = rows(conn, sql);
    assert_eq!(found.len(), 1, "{sql}: {found:?}");
    let mut row = found.remove(0);
    assert_eq!(row.len(), 1, "{sql}: {row:?}");
    row.remove(0)
}

#[test]
fn register_adds_what_loading_the_library_adds() {
    let plain = Connection::open_in_memory().unwrap();
    let loaded = Connection::open_in_memory().unwrap();
    // SAFETY (of the test's own loading): the project's shipped library,
    // and loading is turned off again at once.
    unsafe {
        loaded.load_extension_enable().unwrap();
        loaded
            .load_extension(shipped_library(), None::<&str>)
            .unwrap();
        loaded.load_extension_disable().unwrap();
    }
    let conn = registered();
    // Flags hold SQLITE_DETERMINISTIC, SQLITE_DIRECTONLY, SQLITE_INNOCUOUS.
    let functions = "SELECT name, narg, flags FROM pragma_function_list";
    let modules = "SELECT name FROM pragma_module_list";
    let base = set(&plain, functions);
    let added: BTreeSet<_> = set(&conn, functions).difference(&base).cloned().collect();
    let from_file: BTreeSet<_> = set(&loaded, functions).difference(&base).cloned().collect();
    assert_eq!(added, from_file);
    let names: BTreeSet<String> = added.iter().map(|f| f[0].clone()).collect();
    for name in ["write_message", "write_messages", "write_batch", "hash_64"] {
        assert!(names.contains(name), "{name} missing from {names:?}");
    }
    // SQLite's SQLITE_DIRECTONLY: no view or trigger of a database file may
    // write, remove or redact messages, or change the retention policies.
    for writer in [
        "write_message",
        "remove_messages",
        "redact_stream",
        "set_retention_policy",
        "clear_retention_policy",
        "apply_retention_policies",
    ] {
        let registered: Vec<_> = added.iter().filter(|f| f[0] == writer).collect();
        assert!(!registered.is_empty(), "{writer} missing");
        for f in registered {
            assert_ne!(f[2].parse::<i64>().unwrap() & 0x80000, 0, "{f:?}");
        }
    }
    let base = set(&plain, modules);
    let added: BTreeSet<_> = set(&conn, modules).difference(&base).cloned().collect();
    let from_file: BTreeSet<_> = set(&loaded, modules).difference(&base).cloned().collect();
    assert_eq!(added, from_file);
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
            "message_store_settings",
        ]
        .iter()
        .map(|m| vec![m.to_string()])
        .collect()
    );
}

#[test]
fn writes_and_reads_on_a_registered_connection() {
    let conn = registered();
    let write = |id: &str, stream: &str, data: &str, expected: Option<i64>| {
        conn.query_row(
            "SELECT write_message(?1, ?2, 'Deposited', ?3, NULL, ?4)",
            (id, stream, data, expected),
            |row| row.get::<_, i64>(0),
        )
    };
    assert_eq!(
        write(
            "6c4b6f2e-33a8-4a2b-9d6e-0c8a1f6f1a00",
            "account-123",
            r#"{"amount":10}"#,
            Some(-1)
        ),
        Ok(0)
    );
    // Message DB's expected-version error, word for word.
    assert_eq!(
        error_text(
            write(
                "6c4b6f2e-33a8-4a2b-9d6e-0c8a1f6f1aff",
                "account-123",
                "{}",
                Some(5)
            )
            .unwrap_err()
        ),
        "Wrong expected version: 5 (Stream: account-123, Stream Version: 0)"
    );

    let last: i64 = conn
        .query_row(
            "SELECT write_messages('account-123', ?1, 0)",
            [r#"[
              {"id": "6c4b6f2e-33a8-4a2b-9d6e-0c8a1f6f1a01", "type": "Deposited", "data": {"amount": 20}},
              {"id": "6c4b6f2e-33a8-4a2b-9d6e-0c8a1f6f1a02", "type": "Withdrawn", "data": {"amount": 5},
               "metadata": {"correlationStreamName": "transfer-7"}}
            ]"#],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(last, 2);
    let positions: String = conn
        .query_row(
            "SELECT write_batch(?1)",
            [r#"[
              {"stream_name": "account-123", "expected_version": 2, "messages": [
                {"id": "6c4b6f2e-33a8-4a2b-9d6e-0c8a1f6f1a03", "type": "Withdrawn", "data": {"amount": 1}}]},
              {"stream_name": "account-456", "expected_version": null, "messages": [
                {"id": "6c4b6f2e-33a8-4a2b-9d6e-0c8a1f6f1a04", "type": "Deposited", "data": {"amount": 1}}]}
            ]"#],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(positions, "[3,0]");
    // A failed batch stores nothing: its expected version is checked first.
    assert_eq!(
        error_text(
            conn.query_row(
                "SELECT write_messages('account-456', ?1, 7)",
                [r#"[{"id": "6c4b6f2e-33a8-4a2b-9d6e-0c8a1f6f1a05", "type": "Lost", "data": {}}]"#],
                |row| row.get::<_, i64>(0),
            )
            .unwrap_err()
        ),
        "Wrong expected version: 7 (Stream: account-456, Stream Version: 0)"
    );

    assert_eq!(
        rows(
            &conn,
            "SELECT id, stream_name, type, position, global_position, data, metadata \
             FROM get_stream_messages('account-123', 1, 2)"
        ),
        [
            [
                "6c4b6f2e-33a8-4a2b-9d6e-0c8a1f6f1a01",
                "account-123",
                "Deposited",
                "1",
                "2",
                r#"{"amount": 20}"#,
                "NULL"
            ],
            [
                "6c4b6f2e-33a8-4a2b-9d6e-0c8a1f6f1a02",
                "account-123",
                "Withdrawn",
                "2",
                "3",
                r#"{"amount": 5}"#,
                r#"{"correlationStreamName": "transfer-7"}"#
            ]
        ]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT stream_name, position, global_position FROM get_category_messages('account', 3)"
        ),
        [
            ["account-123", "2", "3"],
            ["account-123", "3", "4"],
            ["account-456", "0", "5"]
        ]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT global_position FROM get_category_messages('account', 1, 10, 'transfer')"
        ),
        [["3"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT type, position, data FROM get_last_stream_message('account-123')"
        ),
        [["Withdrawn", "3", r#"{"amount": 1}"#]]
    );
    assert_eq!(one(&conn, "SELECT stream_version('account-123')"), "3");
    assert_eq!(one(&conn, "SELECT stream_version('account-789')"), "NULL");
    assert_eq!(one(&conn, "SELECT count(*) FROM messages"), "5");
    // Each message's time is the write's, as Message DB prints it.
    let time = one(
        &conn,
        "SELECT time FROM get_last_stream_message('account-456')",
    );
    // Postgres' text: seconds, then a fraction of up to six digits with its
    // trailing zeros dropped (none when the microseconds are 0).
    let (whole, fraction) = time.split_once('.').unwrap_or((&time, "1"));
    assert_eq!(whole.len(), "2026-01-02 03:04:05".len(), "{time}");
    assert_eq!(&whole[10..11], " ", "{time}");
    assert!(
        (1..=6).contains(&fraction.len())
            && !fraction.ends_with('0')
            && fraction.bytes().all(|b| b.is_ascii_digit()),
        "{time}"
    );
    // The consumer groups of a category split it, every message in one member.
    let members: usize = (0..3)
        .map(|member| {
            rows(
                &conn,
                &format!(
                    "SELECT 1 FROM get_category_messages('account', 1, 10, NULL, {member}, 3)"
                ),
            )
            .len()
        })
        .sum();
    assert_eq!(members, 5);
    // The statements the readers keep are finalized as SQLite disconnects
    // their tables, so the connection closes (rusqlite's close is
    // sqlite3_close, which refuses while a statement is left).
    conn.close().map_err(|(_, e)| e).unwrap();
}

#[test]
fn each_connection_keeps_its_own_store_on_one_file() {
    let dir = std::env::temp_dir().join(format!("message_store_embed_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("store.db");
    let _ = std::fs::remove_file(&file);
    let writer = Connection::open(&file).unwrap();
    message_store_sqlite::register(&writer).unwrap();
    let reader = Connection::open(&file).unwrap();
    message_store_sqlite::register(&reader).unwrap();
    // Nothing written yet: the reader finds no store and creates none.
    assert_eq!(
        one(
            &reader,
            "SELECT count(*) FROM get_stream_messages('thing-1')"
        ),
        "0"
    );
    assert_eq!(
        one(
            &reader,
            "SELECT count(*) FROM sqlite_schema WHERE name = 'messages'"
        ),
        "0"
    );
    assert_eq!(
        one(
            &writer,
            "SELECT write_message(gen_random_uuid(), 'thing-1', 'Made', '{\"n\": 1}')"
        ),
        "0"
    );
    assert_eq!(
        rows(
            &reader,
            "SELECT position, type, data FROM get_stream_messages('thing-1')"
        ),
        [["0", "Made", r#"{"n": 1}"#]]
    );
    drop(writer);
    drop(reader);
    // Without the extension the file is an ordinary SQLite database.
    let plain = Connection::open(&file).unwrap();
    assert_eq!(one(&plain, "SELECT type FROM messages"), "Made");
    drop(plain);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_readme_example_prints_its_session() {
    let out = Command::new(env!("CARGO_BIN_EXE_message_store_sqlite_embed"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Opened at position 0\n0 Opened {\"owner\": \"ada\"}\n"
    );
}
