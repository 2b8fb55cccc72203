//! Input a UTF-8 Postgres database refuses, or that would make the SQLite
//! extension store something else or exhaust the host, and databases made
//! by someone else: each case fails with an exact error and leaves the
//! database as it was.

use std::path::Path;
use std::process::Command;

use message_store_sqlite_tests::{error_message, open, open_in_memory, rows};
use rusqlite::{ffi, Connection};

const WRITE: &str =
    "SELECT write_message('00000000-0000-4000-8000-000000000001', 'account-1', 'Opened', '{}')";
const TOO_BIG: &str = "string or blob too big";

/// Every message, in full.
fn messages(conn: &Connection) -> Vec<Vec<String>> {
    rows(
        conn,
        "SELECT global_position, position, time, stream_name, type, data, metadata, id FROM messages ORDER BY global_position",
    )
    .unwrap()
}

fn schema(conn: &Connection) -> Vec<Vec<String>> {
    rows(
        conn,
        "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name",
    )
    .unwrap()
}

fn set_length_limit(conn: &Connection, limit: i32) {
    // SAFETY: the connection is open; sqlite3_limit only sets a number.
    unsafe { ffi::sqlite3_limit(conn.handle(), ffi::SQLITE_LIMIT_LENGTH, limit) };
}

/// `count` copies of a number whose jsonb text is 131,001 characters.
fn large_numbers(count: usize) -> String {
    format!("[{}]", vec!["1e131000"; count].join(","))
}

#[test]
fn json_text_longer_than_a_lowered_length_limit_is_refused() {
    let conn = open_in_memory();
    set_length_limit(&conn, 100_000);
    // The first write fails before it creates anything.
    let write = "SELECT write_message(?1, 'account-1', 'Big', ?2, ?3)";
    let id = "00000000-0000-4000-8000-0000000000b1";
    let result = conn.query_row(write, (id, "1e131000", None::<String>), |r| {
        r.get::<_, i64>(0)
    });
    assert_eq!(result.map_err(error_message), Err(TOO_BIG.to_string()));
    assert_eq!(schema(&conn), Vec::<Vec<String>>::new());

    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    let before = messages(&conn);
    for (data, metadata) in [
        ("1e131000", None),
        ("{}", Some("{\"n\": 1e131000}")),
        (&large_numbers(2)[..], None),
        // Each fits, the row does not: SQLite refuses the insert.
        ("1e99000", Some("1e99000")),
    ] {
        let result = conn.query_row(write, (id, data, metadata), |r| r.get::<_, i64>(0));
        assert_eq!(
            result.map_err(error_message),
            Err(TOO_BIG.to_string()),
            "{:.20} {metadata:?}",
            data
        );
        assert_eq!(messages(&conn), before);
    }
    // Text up to the limit is stored whole.
    let position: i64 = conn
        .query_row(write, (id, "1e99000", None::<String>), |r| r.get(0))
        .unwrap();
    assert_eq!(position, 1);
    assert_eq!(
        rows(
            &conn,
            "SELECT length(data), substr(data, 1, 3), data GLOB '1*[^0]*' FROM messages WHERE position = 1"
        )
        .unwrap(),
        [["99001", "100", "0"]]
    );
}

#[test]
fn a_69_kb_array_of_large_numbers_is_refused_at_the_default_limit() {
    let conn = open_in_memory();
    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    let before = messages(&conn);
    // 7,700 numbers: a text of 1,008,723,100 bytes, past SQLite's default
    // limit of 1,000,000,000.
    let data = large_numbers(7700);
    assert_eq!(data.len(), 69_301);
    let result = conn.query_row(
        "SELECT write_message('00000000-0000-4000-8000-0000000000b2', 'account-1', 'Big', ?1)",
        [&data],
        |r| r.get::<_, i64>(0),
    );
    assert_eq!(result.map_err(error_message), Err(TOO_BIG.to_string()));
    assert_eq!(messages(&conn), before);
}

const CHILD_DATABASE: &str = "MESSAGE_STORE_BAD_INPUT_CHILD_DATABASE";

/// The write of `thirty_thousand_large_numbers_under_a_memory_limit`, in a
/// process of its own whose address space is limited.
#[test]
#[ignore = "run by thirty_thousand_large_numbers_under_a_memory_limit, in a child process"]
fn memory_limited_child() {
    let path = std::env::var(CHILD_DATABASE).expect("the parent test names the database");
    let conn = open(Path::new(&path));
    // 295 KB of input whose text would be 4.3 GB.
    let data = large_numbers(32786);
    assert_eq!(data.len(), 295_075);
    let result = conn.query_row(
        "SELECT write_message('00000000-0000-4000-8000-0000000000b3', 'account-1', 'Big', ?1)",
        [&data],
        |r| r.get::<_, i64>(0),
    );
    println!("child result: {:?}", result.map_err(error_message));
}

#[test]
fn thirty_thousand_large_numbers_under_a_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let conn = open(&path);
    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    let before = messages(&conn);
    // 2.5 GB of address space: the limit's text (1 GB) fits, 4.3 GB does not.
    let output = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2500000 && exec \"$0\" --ignored --exact memory_limited_child --nocapture --test-threads=1")
        .arg(std::env::current_exe().unwrap())
        .env(CHILD_DATABASE, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child: {:?}\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("child result: Err(\"string or blob too big\")"),
        "{stdout}"
    );
    assert_eq!(messages(&conn), before);
}

#[test]
fn nul_and_invalid_utf8_are_refused_with_postgres_texts() {
    let conn = open_in_memory();
    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    let before = messages(&conn);
    let nul = "invalid byte sequence for encoding \"UTF8\": 0x00";
    let ff = "invalid byte sequence for encoding \"UTF8\": 0xff";
    let cut = "invalid byte sequence for encoding \"UTF8\": 0xe2 0x82";
    let id = "'00000000-0000-4000-8000-0000000000c1'";
    let cases = [
        (
            format!("SELECT write_message({id}, 'b' || char(0) || 'x-1', 'X', '{{}}')"),
            nul,
        ),
        (
            format!("SELECT write_message({id}, CAST(x'4fff' AS TEXT), 'X', '{{}}')"),
            ff,
        ),
        (
            format!("SELECT write_message({id}, 'account-' || CAST(x'e282' AS TEXT), 'X', '{{}}')"),
            cut,
        ),
        (
            format!("SELECT write_message({id}, 'account-1', 'X' || char(0), '{{}}')"),
            nul,
        ),
        (
            format!("SELECT write_message({id}, 'account-1', CAST(x'4fff' AS TEXT), '{{}}')"),
            ff,
        ),
        (
            format!("SELECT write_message({id} || CAST(x'ff' AS TEXT), 'account-1', 'X', '{{}}')"),
            ff,
        ),
        (
            format!(
                "SELECT write_message({id}, 'account-1', 'X', '\"' || CAST(x'ff' AS TEXT) || '\"')"
            ),
            ff,
        ),
        (
            format!(
                "SELECT write_message({id}, 'account-1', 'X', '{{}}', '\"' || char(0) || '\"')"
            ),
            nul,
        ),
        (
            "SELECT * FROM get_stream_messages('account-' || char(0))".to_string(),
            nul,
        ),
        (
            "SELECT * FROM get_stream_messages(CAST(x'4fff' AS TEXT))".to_string(),
            ff,
        ),
        (
            "SELECT * FROM get_stream_messages('account-1', 0, 10, CAST(x'ff' AS TEXT))"
                .to_string(),
            ff,
        ),
        (
            "SELECT * FROM get_category_messages(CAST(x'ff' AS TEXT))".to_string(),
            ff,
        ),
        (
            "SELECT * FROM get_category_messages('account', 1, 10, 'b' || char(0))".to_string(),
            nul,
        ),
        (
            "SELECT * FROM get_last_stream_message(CAST(x'ff' AS TEXT))".to_string(),
            ff,
        ),
        (
            "SELECT * FROM get_last_stream_message('account-1', CAST(x'e282' AS TEXT))".to_string(),
            cut,
        ),
        (
            "SELECT stream_version('b' || char(0) || 'x-1')".to_string(),
            nul,
        ),
        ("SELECT acquire_lock(CAST(x'ff' AS TEXT))".to_string(), ff),
        (
            "SELECT remove_messages(CAST(x'ff' AS TEXT), NULL, 10)".to_string(),
            ff,
        ),
        (
            "SELECT remove_messages('account', CAST(x'ff' AS TEXT))".to_string(),
            ff,
        ),
        (
            "SELECT redact_stream(CAST(x'4fff' AS TEXT))".to_string(),
            ff,
        ),
        (
            "SELECT set_retention_policy(CAST(x'ff' AS TEXT), 'keep_last', 1)".to_string(),
            ff,
        ),
        (
            "SELECT set_retention_policy('account', CAST(x'e282' AS TEXT), 1)".to_string(),
            cut,
        ),
        (
            "SELECT clear_retention_policy('account' || char(0))".to_string(),
            nul,
        ),
        ("SELECT category('b' || char(0) || 'x-1')".to_string(), nul),
        ("SELECT id(CAST(x'4fff' AS TEXT))".to_string(), ff),
        ("SELECT cardinal_id(CAST(x'ff' AS TEXT))".to_string(), ff),
        ("SELECT is_category(CAST(x'ff' AS TEXT))".to_string(), ff),
        ("SELECT hash_64(CAST(x'ff' AS TEXT))".to_string(), ff),
        (
            "SELECT is_consumer_group_member(CAST(x'ff' AS TEXT), 0, 2)".to_string(),
            ff,
        ),
        (
            "SELECT set_config('message_store.sql_condition', CAST(x'ff' AS TEXT), false)"
                .to_string(),
            ff,
        ),
    ];
    for (sql, error) in &cases {
        assert_eq!(rows(&conn, sql), Err(error.to_string()), "{sql}");
    }
    assert_eq!(messages(&conn), before);
    assert_eq!(
        rows(&conn, "SELECT value FROM message_store_settings").unwrap(),
        [["NULL"]]
    );
}

#[test]
fn a_stream_at_the_largest_position_takes_no_more_messages() {
    let conn = open_in_memory();
    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    conn.execute_batch(
        "INSERT INTO messages (position, time, stream_name, type, data, metadata, id) VALUES (9223372036854775807, '2026-01-01 00:00:00', 'account-2', 'X', '{}', NULL, '00000000-0000-4000-8000-0000000000d1')",
    )
    .unwrap();
    let before = messages(&conn);
    let write = |expected: &str| {
        rows(
            &conn,
            &format!("SELECT write_message('00000000-0000-4000-8000-0000000000d2', 'account-2', 'X', '{{}}', NULL, {expected})"),
        )
    };
    assert_eq!(write("NULL"), Err("bigint out of range".to_string()));
    assert_eq!(
        write("9223372036854775807"),
        Err("bigint out of range".to_string())
    );
    assert_eq!(
        write("0"),
        Err(
            "Wrong expected version: 0 (Stream: account-2, Stream Version: 9223372036854775807)"
                .to_string()
        )
    );
    assert_eq!(messages(&conn), before);
    assert_eq!(
        rows(&conn, "SELECT stream_version('account-2')").unwrap(),
        [["9223372036854775807"]]
    );
}

#[test]
fn acquire_lock_recovers_after_a_rolled_back_first_write() {
    let conn = open_in_memory();
    conn.execute_batch(&format!("BEGIN; {WRITE}; ROLLBACK;"))
        .unwrap();
    // Message DB's key of "account": ('x' || left(md5('account'), 16))::bit(64)::bigint.
    let lock = "SELECT acquire_lock('account-1')";
    for _ in 0..2 {
        assert_eq!(rows(&conn, lock).unwrap(), [["-2132379389342958165"]]);
    }
    conn.execute_batch(&format!("BEGIN; {lock}; {WRITE}; COMMIT;"))
        .unwrap();
    assert_eq!(
        rows(
            &conn,
            "SELECT position, id FROM get_stream_messages('account-1')"
        )
        .unwrap(),
        [["0", "00000000-0000-4000-8000-000000000001"]]
    );
}

/// The file's bytes, and its schema and rows as a plain SQLite reads them.
fn file_state(path: &Path) -> (Vec<u8>, Vec<Vec<String>>, Vec<Vec<String>>) {
    let plain = Connection::open(path).unwrap();
    let state = (
        std::fs::read(path).unwrap(),
        schema(&plain),
        rows(&plain, "SELECT * FROM messages").unwrap(),
    );
    drop(plain);
    state
}

const STORE_TABLE: &str = "CREATE TABLE messages (
  global_position INTEGER PRIMARY KEY AUTOINCREMENT,
  position INTEGER NOT NULL,
  time TEXT NOT NULL,
  stream_name TEXT NOT NULL,
  type TEXT NOT NULL,
  data TEXT,
  metadata TEXT,
  id TEXT NOT NULL
)";

#[test]
fn a_messages_table_of_another_shape_is_refused_and_left_untouched() {
    let not_a_store = "table \"messages\" exists and is not a message store table: ";
    let cases = [
        (
            STORE_TABLE.replace("position INTEGER NOT NULL", "position TEXT NOT NULL"),
            "its definition has \"position TEXT NOT NULL\" where a message store's has \"position INTEGER NOT NULL\"",
        ),
        (
            STORE_TABLE.replace("type TEXT NOT NULL", "type TEXT"),
            "its definition has \"type TEXT\" where a message store's has \"type TEXT NOT NULL\"",
        ),
        (
            STORE_TABLE.replace("stream_name TEXT NOT NULL", "stream_name TEXT NOT NULL COLLATE NOCASE"),
            "its definition has \"stream_name TEXT NOT NULL COLLATE NOCASE\" where a message store's has \"stream_name TEXT NOT NULL\"",
        ),
        (
            STORE_TABLE.replace("global_position INTEGER PRIMARY KEY AUTOINCREMENT", "global_position INTEGER"),
            "its definition has \"global_position INTEGER\" where a message store's has \"global_position INTEGER PRIMARY KEY AUTOINCREMENT\"",
        ),
        (
            STORE_TABLE.replace(" AUTOINCREMENT", ""),
            "its definition has \"global_position INTEGER PRIMARY KEY\" where a message store's has \"global_position INTEGER PRIMARY KEY AUTOINCREMENT\"",
        ),
        (
            STORE_TABLE.replace("id TEXT NOT NULL\n)", "id TEXT NOT NULL,\n  CHECK (position < 10)\n)"),
            "its definition has \"CHECK (position < 10)\", which a message store's does not",
        ),
        (
            format!("{STORE_TABLE} STRICT"),
            "it is declared \"STRICT\" after its columns, a message store's table is not",
        ),
        (
            format!("{STORE_TABLE}; CREATE INDEX messages_id ON messages (id)"),
            "the database's \"messages_id\" is \"CREATE INDEX messages_id ON messages (id)\", a message store's is \"CREATE UNIQUE INDEX messages_id ON messages (id)\"",
        ),
        (
            format!("{STORE_TABLE}; CREATE TABLE messages_stream (x)"),
            "the database's \"messages_stream\" is \"CREATE TABLE messages_stream (x)\", a message store's is \"CREATE UNIQUE INDEX messages_stream ON messages (stream_name, position)\"",
        ),
        (
            format!("{STORE_TABLE}; CREATE UNIQUE INDEX one_per_type ON messages (type)"),
            "it has the unique index \"one_per_type\", which a message store's table does not",
        ),
    ];
    for (definition, difference) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        let plain = Connection::open(&path).unwrap();
        plain.execute_batch(&definition).unwrap();
        plain
            .execute_batch(
                "INSERT INTO messages VALUES (1, '0', 't', 'account-1', 'X', '{}', NULL, 'i')",
            )
            .unwrap();
        drop(plain);
        let before = file_state(&path);
        let conn = open(&path);
        let expected = format!("{not_a_store}{difference}");
        for sql in [
            WRITE,
            "SELECT * FROM get_stream_messages('account-1')",
            "SELECT * FROM get_category_messages('account')",
            "SELECT * FROM get_last_stream_message('account-1')",
            "SELECT stream_version('account-1')",
            "SELECT acquire_lock('account-1')",
            "SELECT remove_messages('account', NULL, 10)",
            "SELECT redact_stream('account-1')",
            "SELECT set_retention_policy('account', 'keep_last', 1)",
            "SELECT clear_retention_policy('account')",
            "SELECT apply_retention_policies()",
        ] {
            assert_eq!(rows(&conn, sql), Err(expected.clone()), "{sql}");
        }
        drop(conn);
        assert!(file_state(&path) == before, "{definition} changed");
    }
    // The store's own table, in other spelling, with an index of the owner's.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let plain = Connection::open(&path).unwrap();
    plain
        .execute_batch(&format!(
            "{}; CREATE INDEX by_type ON messages (type)",
            STORE_TABLE.replace("position INTEGER NOT NULL", "\"position\" integer not null")
        ))
        .unwrap();
    drop(plain);
    let conn = open(&path);
    assert_eq!(rows(&conn, WRITE).unwrap(), [["0"]]);
}

#[test]
fn views_and_triggers_of_a_database_file_cannot_use_the_readers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("theirs.db");
    open(&path).query_row(WRITE, [], |_| Ok(())).unwrap();
    // Made by someone else, without the extension: a condition that writes.
    let condition = "'(SELECT write_message(''00000000-0000-4000-8000-0000000000e1'', ''account-1'', ''Planted'', ''{}'')) IS NOT NULL'";
    let plain = Connection::open(&path).unwrap();
    plain
        .execute_batch(&format!(
            "CREATE VIEW v AS SELECT * FROM get_stream_messages('account-1', 0, 10, {condition});
             CREATE TABLE t (x);
             CREATE TRIGGER t_read AFTER INSERT ON t BEGIN
               SELECT count(*) FROM get_stream_messages('account-1', 0, 10, {condition});
             END;"
        ))
        .unwrap();
    drop(plain);
    let conn = open(&path);
    conn.query_row(
        "SELECT set_config('message_store.sql_condition', 'on', false)",
        [],
        |_| Ok(()),
    )
    .unwrap();
    let before = messages(&conn);
    let unsafe_use = "unsafe use of virtual table \"get_stream_messages\"";
    assert_eq!(rows(&conn, "SELECT * FROM v"), Err(unsafe_use.to_string()));
    let error = conn.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
    assert_eq!(error_message(error), unsafe_use);
    assert_eq!(messages(&conn), before);
    assert_eq!(rows(&conn, "SELECT count(*) FROM t").unwrap(), [["0"]]);

    // The connection's own TEMP views and triggers are its own SQL: SQLite
    // lets them use the readers and call the writers.
    conn.execute_batch(
        "CREATE TEMP VIEW mine AS SELECT position FROM get_stream_messages('account-1');
         CREATE TEMP TABLE log (x);
         CREATE TEMP TRIGGER log_write AFTER INSERT ON log BEGIN
           SELECT write_message('00000000-0000-4000-8000-0000000000e2', 'account-1', 'Logged', '{}');
         END;
         INSERT INTO log VALUES (1);",
    )
    .unwrap();
    assert_eq!(rows(&conn, "SELECT * FROM mine").unwrap(), [["0"], ["1"]]);
    assert_eq!(
        rows(
            &conn,
            "SELECT type FROM get_last_stream_message('account-1')"
        )
        .unwrap(),
        [["Logged"]]
    );
}

#[test]
fn a_statement_of_several_writes_keeps_those_before_a_failure() {
    let conn = open_in_memory();
    let writes = |stream: &str| {
        format!(
            "SELECT write_message(gen_random_uuid(), '{stream}', 'X', '{{}}', NULL, value) FROM json_each('[-1, 0, 5, 1]')"
        )
    };
    let conflict =
        |stream: &str| format!("Wrong expected version: 5 (Stream: {stream}, Stream Version: 1)");
    // Each write is a statement of its own: the first two stay.
    assert_eq!(
        rows(&conn, &writes("account-1")),
        Err(conflict("account-1"))
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT position FROM get_stream_messages('account-1')"
        )
        .unwrap(),
        [["0"], ["1"]]
    );
    // In an explicit transaction, a rollback takes them all back.
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert_eq!(
        rows(&conn, &writes("account-2")),
        Err(conflict("account-2"))
    );
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        rows(
            &conn,
            "SELECT count(*) FROM get_stream_messages('account-2')"
        )
        .unwrap(),
        [["0"]]
    );
}

#[test]
fn a_reader_sees_what_its_own_statement_writes() {
    let conn = open_in_memory();
    conn.query_row(WRITE, [], |_| Ok(())).unwrap();
    // Postgres reads its snapshot: one row, one write. SQLite's reader
    // meets the rows written while it reads, up to its batch size.
    assert_eq!(
        rows(
            &conn,
            "SELECT write_message(gen_random_uuid(), 'account-1', 'Copy', '{}') FROM get_stream_messages('account-1', 0, 5)"
        )
        .unwrap(),
        [["1"], ["2"], ["3"], ["4"], ["5"]]
    );
}

#[test]
fn gen_random_uuid_gives_a_new_lowercase_v4_uuid_each_call() {
    let conn = open_in_memory();
    let uuids = rows(
        &conn,
        "SELECT gen_random_uuid() FROM json_each('[1, 2, 3, 4, 5, 6, 7, 8]')",
    )
    .unwrap();
    let uuids: std::collections::BTreeSet<String> =
        uuids.into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(uuids.len(), 8);
    for uuid in &uuids {
        let groups: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{uuid}"
        );
        assert!(uuid
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(groups[2].starts_with('4'), "{uuid}");
        assert!(
            matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "{uuid}"
        );
    }
}

#[test]
fn the_readme_example_runs_twice() {
    let conn = open_in_memory();
    for run in 0..2 {
        let statements = message_store_slt::readme::sqlite_example();
        assert!(
            statements[0].starts_with("SELECT write_message("),
            "{statements:?}"
        );
        assert_eq!(rows(&conn, &statements[0]).unwrap(), [[run.to_string()]]);
        for statement in &statements[1..] {
            rows(&conn, statement).unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }
    assert_eq!(
        rows(&conn, "SELECT stream_version('account-123')").unwrap(),
        [["1"]]
    );
}

#[test]
fn the_readme_batch_example_gives_the_results_it_shows() {
    let conn = open_in_memory();
    // The example follows the quick start's first write.
    rows(
        &conn,
        "SELECT write_message('00000000-0000-4000-8000-000000000000', 'account-123', 'Opened', '{}')",
    )
    .unwrap();
    let examples = message_store_slt::readme::batch_example();
    assert_eq!(examples.len(), 2, "{examples:?}");
    for (sql, shown) in examples {
        // SQLite has no schemas; write_batch's list is JSON text there.
        let sql = sql.replace("message_store.", "");
        let expected = shown.replace('{', "[").replace('}', "]");
        assert_eq!(rows(&conn, &sql).unwrap(), [[expected]], "{sql}");
    }
}
