//! `export_messages` and `import_messages` in the built SQLite library: the
//! export's lines byte for byte, its arguments and the stored values it
//! cannot write; the import's columns, every refusal (with the database
//! left as it was), a rerun that finishes an interrupted import, the
//! global positions after it, its write lock against other connections,
//! and a round trip of a few thousand messages.

use std::time::{Duration, Instant};

use message_store_sqlite_tests::{error_message, open, open_in_memory, rows};
use rusqlite::Connection;

const EXPORT_ALL: &str = "SELECT line FROM export_messages()";

/// Every message, every column, in global order.
fn messages(conn: &Connection) -> Vec<Vec<String>> {
    rows(
        conn,
        "SELECT global_position, position, time, stream_name, type, data, metadata, id FROM messages ORDER BY global_position",
    )
    .unwrap()
}

fn lines(conn: &Connection, sql: &str) -> Result<Vec<String>, String> {
    Ok(rows(conn, sql)?
        .into_iter()
        .map(|mut row| row.remove(0))
        .collect())
}

fn import(conn: &Connection, text: &str) -> Result<i64, String> {
    conn.query_row("SELECT import_messages(?1)", [text], |row| row.get(0))
        .map_err(error_message)
}

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A line as the export writes it, data `{"n": n}`, no metadata.
fn line(n: u64, stream_name: &str, position: i64, global_position: i64) -> String {
    format!(
        r#"{{"id":"{}","stream_name":"{stream_name}","type":"Noted","position":{position},"global_position":{global_position},"data":{{"n": {n}}},"metadata":null,"time":"2026-11-26T18:02:26.{n:06}"}}"#,
        uuid(n)
    )
}

fn joined(lines: &[String]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// A database with the store's tables and no messages (the write that
/// made them is deleted).
fn empty_store(conn: &Connection) {
    conn.execute_batch(
        "SELECT write_message('ffffffff-0000-4000-8000-000000000000', 'setup-1', 'Setup', '{}');
         DELETE FROM messages;",
    )
    .unwrap();
}

/// A message stored with plain SQL, every column as given.
#[allow(clippy::too_many_arguments)]
fn insert(
    conn: &Connection,
    global_position: i64,
    id: &str,
    stream_name: &str,
    type_: &str,
    position: i64,
    data: Option<&str>,
    metadata: Option<&str>,
    time: &str,
) {
    conn.execute(
        "INSERT INTO messages (global_position, position, time, stream_name, type, data, metadata, id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![global_position, position, time, stream_name, type_, data, metadata, id],
    )
    .unwrap();
}

const BIG_GLOBAL_POSITION: i64 = 9_007_199_254_740_993;

/// The store of the export cases.
fn export_store() -> Connection {
    let conn = open_in_memory();
    empty_store(&conn);
    insert(
        &conn,
        1,
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "account-123",
        "Deposited",
        4,
        Some(r#"{"note": "a \"b\"", "amount": 10}"#),
        Some(r#"{"correlationStreamName": "x-1"}"#),
        "2026-11-26 18:02:26.513973",
    );
    insert(
        &conn,
        2,
        "00000000-0000-4000-8000-000000000002",
        "città-ü😀",
        "Überweisung",
        0,
        Some(r#"{"text": "héllo ✓ 😀"}"#),
        None,
        "2026-11-26 18:02:26",
    );
    insert(
        &conn,
        3,
        "00000000-0000-4000-8000-000000000003",
        r#"q"uote\back-1"#,
        "Tab\tNew\nline\r\u{8}\u{c}\u{1}\u{1f}\u{7f}end",
        1,
        Some(r#""a\nb""#),
        Some("null"),
        "1999-12-31 23:59:59.000001",
    );
    insert(
        &conn,
        5,
        "00000000-0000-4000-8000-000000000005",
        "account-7",
        "Big",
        i64::MAX,
        Some(
            r#"{"a": {"b": [1, 2, {"c": null}]}, "big": 123456789012345678901234567890, "neg": -0.00000000015}"#,
        ),
        Some(r#"{"nested": {"list": [true, false]}, "correlationStreamName": "account-123"}"#),
        "0001-01-01 00:00:00",
    );
    insert(
        &conn,
        BIG_GLOBAL_POSITION,
        "00000000-0000-4000-8000-000000000006",
        "other-1",
        "Nothing",
        0,
        None,
        None,
        "2026-01-02 03:04:05.5",
    );
    conn
}

const LINE_1: &str = r#"{"id":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","stream_name":"account-123","type":"Deposited","position":4,"global_position":1,"data":{"note": "a \"b\"", "amount": 10},"metadata":{"correlationStreamName": "x-1"},"time":"2026-11-26T18:02:26.513973"}"#;
const LINE_2: &str = r#"{"id":"00000000-0000-4000-8000-000000000002","stream_name":"città-ü😀","type":"Überweisung","position":0,"global_position":2,"data":{"text": "héllo ✓ 😀"},"metadata":null,"time":"2026-11-26T18:02:26.000000"}"#;
const LINE_3: &str = "{\"id\":\"00000000-0000-4000-8000-000000000003\",\"stream_name\":\"q\\\"uote\\\\back-1\",\"type\":\"Tab\\tNew\\nline\\r\\b\\f\\u0001\\u001f\u{7f}end\",\"position\":1,\"global_position\":3,\"data\":\"a\\nb\",\"metadata\":null,\"time\":\"1999-12-31T23:59:59.000001\"}";
const LINE_5: &str = r#"{"id":"00000000-0000-4000-8000-000000000005","stream_name":"account-7","type":"Big","position":9223372036854775807,"global_position":5,"data":{"a": {"b": [1, 2, {"c": null}]}, "big": 123456789012345678901234567890, "neg": -0.00000000015},"metadata":{"nested": {"list": [true, false]}, "correlationStreamName": "account-123"},"time":"0001-01-01T00:00:00.000000"}"#;
const LINE_6: &str = r#"{"id":"00000000-0000-4000-8000-000000000006","stream_name":"other-1","type":"Nothing","position":0,"global_position":9007199254740993,"data":null,"metadata":null,"time":"2026-01-02T03:04:05.500000"}"#;

#[test]
fn exports_each_message_as_its_line_byte_for_byte() {
    let conn = export_store();
    assert_eq!(
        lines(&conn, EXPORT_ALL).unwrap(),
        [LINE_1, LINE_2, LINE_3, LINE_5, LINE_6]
    );
    // The control characters are escaped, the rest kept as UTF-8.
    assert!(LINE_3.contains("\\u001f\u{7f}end"));
    // Each line is one JSON object with the eight columns, in order.
    for line in lines(&conn, EXPORT_ALL).unwrap() {
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let object = value.as_object().unwrap();
        assert_eq!(object.len(), 8, "{line}");
    }
    // Every table-valued form: `line` is the only column `*` shows.
    assert_eq!(
        rows(&conn, "SELECT * FROM export_messages(2, 1)").unwrap(),
        [[LINE_2]]
    );
    let longest = [LINE_1, LINE_2, LINE_3, LINE_5, LINE_6]
        .iter()
        .map(|line| line.chars().count())
        .max()
        .unwrap();
    assert_eq!(
        rows(
            &conn,
            "SELECT count(*), max(length(line)) FROM export_messages"
        )
        .unwrap(),
        [["5".to_string(), longest.to_string()]]
    );
}

#[test]
fn export_arguments_select_as_the_readers_do() {
    let conn = export_store();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "SELECT line FROM export_messages(3)",
            vec![LINE_3, LINE_5, LINE_6],
        ),
        (
            "SELECT line FROM export_messages(2, 2)",
            vec![LINE_2, LINE_3],
        ),
        ("SELECT line FROM export_messages(1, 0)", vec![]),
        (
            "SELECT line FROM export_messages(-5, -1)",
            vec![LINE_1, LINE_2, LINE_3, LINE_5, LINE_6],
        ),
        (
            "SELECT line FROM export_messages(NULL, NULL, NULL)",
            vec![LINE_1, LINE_2, LINE_3, LINE_5, LINE_6],
        ),
        (
            "SELECT line FROM export_messages(1, -1, 'account')",
            vec![LINE_1, LINE_5],
        ),
        (
            "SELECT line FROM export_messages(2, 1, 'account')",
            vec![LINE_5],
        ),
        (
            "SELECT line FROM export_messages(1, -1, 'città')",
            vec![LINE_2],
        ),
        ("SELECT line FROM export_messages(1, -1, 'none')", vec![]),
        ("SELECT line FROM export_messages(6)", vec![LINE_6]),
        (
            "SELECT line FROM export_messages WHERE arg_category = 'account' AND arg_position = 2",
            vec![LINE_5],
        ),
        (
            "SELECT line FROM export_messages WHERE arg_batch_size = 1",
            vec![LINE_1],
        ),
        // Whole reals are integers, as JavaScript hosts bind them.
        ("SELECT line FROM export_messages(5.0, 1.0)", vec![LINE_5]),
    ];
    for (sql, expected) in cases {
        assert_eq!(lines(&conn, sql).unwrap(), expected, "{sql}");
    }
    assert_eq!(
        rows(
            &conn,
            "SELECT arg_position, arg_batch_size, arg_category FROM export_messages(2, 1, 'account')"
        )
        .unwrap(),
        [["2", "1", "account"]]
    );
    // Rows as a join's inner side, the arguments from the outer one.
    assert_eq!(
        rows(
            &conn,
            "SELECT p, e.line = (SELECT line FROM export_messages(p, 1)) FROM (SELECT 3 AS p UNION ALL SELECT 5) JOIN export_messages(p, 1) AS e ORDER BY p"
        )
        .unwrap(),
        [["3", "1"], ["5", "1"]]
    );
}

#[test]
fn export_arguments_are_refused_with_the_readers_texts() {
    let conn = export_store();
    for (sql, error) in [
        (
            "SELECT line FROM export_messages(1, -2)",
            "LIMIT must not be negative",
        ),
        (
            "SELECT line FROM export_messages(1, -1, 'account-1')",
            "Must be a category: account-1",
        ),
        (
            "SELECT line FROM export_messages('1')",
            "export_messages: argument \"position\" must be an integer, not text",
        ),
        (
            "SELECT line FROM export_messages(1, 1.5)",
            "export_messages: argument \"batch_size\" must be an integer, not 1.5",
        ),
        (
            "SELECT line FROM export_messages(1, -1, 7)",
            "export_messages: argument \"category\" must be text, not an integer",
        ),
        (
            "SELECT line FROM export_messages(1, -1, x'00')",
            "export_messages: argument \"category\" must be text, not a blob",
        ),
        (
            "SELECT line FROM export_messages(1, -1, CAST(x'ff' AS TEXT))",
            "invalid byte sequence for encoding \"UTF8\": 0xff",
        ),
        (
            "SELECT line FROM export_messages(1, 2, 'account', 4)",
            "too many arguments on export_messages() - max 3",
        ),
    ] {
        assert_eq!(lines(&conn, sql), Err(error.to_string()), "{sql}");
    }
}

#[test]
fn an_empty_database_exports_nothing_and_stays_empty() {
    let conn = open_in_memory();
    assert_eq!(lines(&conn, EXPORT_ALL).unwrap(), Vec::<String>::new());
    assert_eq!(import(&conn, ""), Ok(0));
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM sqlite_schema").unwrap(),
        [["0"]]
    );
}

#[test]
fn stored_values_a_line_cannot_hold_fail_the_export_with_their_global_position() {
    let cases: [(&str, &str); 6] = [
        (
            "UPDATE messages SET time = '2026-11-26T18:02:26Z'",
            "export_messages: the time of global position 1, \"2026-11-26T18:02:26Z\", is not a time as the message store writes it (Postgres' text of a timestamp in UTC, such as \"2026-11-26 18:02:26.513973\")",
        ),
        (
            "UPDATE messages SET time = '2026-11-26 18:02:26.500000'",
            "export_messages: the time of global position 1, \"2026-11-26 18:02:26.500000\", is not a time as the message store writes it (Postgres' text of a timestamp in UTC, such as \"2026-11-26 18:02:26.513973\")",
        ),
        (
            "UPDATE messages SET time = 1795716146",
            "export_messages: the time of global position 1, \"1795716146\", is not a time as the message store writes it (Postgres' text of a timestamp in UTC, such as \"2026-11-26 18:02:26.513973\")",
        ),
        (
            "UPDATE messages SET time = '10000-01-01 00:00:00'",
            "export_messages: the time of global position 1, 10000-01-01 00:00:00, is outside years 0001 to 9999, which a line holds",
        ),
        (
            "UPDATE messages SET stream_name = CAST(x'61ff2d31' AS TEXT)",
            "export_messages: the stream_name of global position 1 is not UTF-8 text",
        ),
        (
            "UPDATE messages SET position = 'first'",
            "export_messages: the position of global position 1 is not an integer",
        ),
    ];
    for (change, error) in cases {
        let conn = open_in_memory();
        conn.execute_batch(
            "SELECT write_message('00000000-0000-4000-8000-000000000001', 'account-1', 'Opened', '{}');
             SELECT write_message('00000000-0000-4000-8000-000000000002', 'account-1', 'Noted', '{}');",
        )
        .unwrap();
        conn.execute_batch(&format!("{change} WHERE global_position = 1"))
            .unwrap();
        // However the rows are read: the line is made as the cursor reaches it.
        for sql in [EXPORT_ALL, "SELECT count(*) FROM export_messages()"] {
            assert_eq!(rows(&conn, sql), Err(error.to_string()), "{change}: {sql}");
        }
        // The message after it exports.
        assert_eq!(
            lines(&conn, "SELECT line FROM export_messages(2)")
                .unwrap()
                .len(),
            1
        );
    }
    // The years before 1 AD that Postgres prints with " BC".
    let conn = open_in_memory();
    empty_store(&conn);
    insert(
        &conn,
        7,
        &uuid(7),
        "a-1",
        "Old",
        0,
        Some("{}"),
        None,
        "0044-03-15 12:00:00 BC",
    );
    assert_eq!(
        lines(&conn, EXPORT_ALL),
        Err("export_messages: the time of global position 7, 0044-03-15 12:00:00 BC, is outside years 0001 to 9999, which a line holds".to_string())
    );
}

#[test]
fn imports_every_column_as_the_lines_give_it() {
    let conn = open_in_memory();
    let text = concat!(
        r#"{"id":"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11","stream_name":"account-123","type":"Deposited","position":4,"global_position":17,"data":{"b":1,"a":[1, 2e2]},"metadata":{"correlationStreamName":"x-1"},"time":"2026-11-26T18:02:26.513973"}"#,
        "\r\n",
        r#" { "time" : "2026-11-26T18:02:26.000000", "metadata": null, "data": null, "global_position": 18, "position": 5, "type": "Noted", "stream_name": "account-123", "id": "{00000000-0000-4000-8000-000000000002}" } "#,
        "\n",
        r#"{"id":"00000000000040008000000000000003","stream_name":"città-ü😀","type":"Tab\tEnd\u00e9","position":0,"global_position":9007199254740993,"data":"a\nb","metadata":{"n":[{"deep":{"er":true}}]},"time":"0001-01-01T00:00:00.000001"}"#,
    );
    assert_eq!(import(&conn, text), Ok(3));
    assert_eq!(
        messages(&conn),
        [
            [
                "17",
                "4",
                "2026-11-26 18:02:26.513973",
                "account-123",
                "Deposited",
                r#"{"a": [1, 200], "b": 1}"#,
                r#"{"correlationStreamName": "x-1"}"#,
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            ],
            [
                "18",
                "5",
                "2026-11-26 18:02:26",
                "account-123",
                "Noted",
                "null",
                "NULL",
                "00000000-0000-4000-8000-000000000002",
            ],
            [
                "9007199254740993",
                "0",
                "0001-01-01 00:00:00.000001",
                "città-ü😀",
                "Tab\tEndé",
                r#""a\nb""#,
                r#"{"n": [{"deep": {"er": true}}]}"#,
                "00000000-0000-4000-8000-000000000003",
            ],
        ]
    );
    // The store was made as a writer makes it, and the readers read it.
    assert_eq!(
        rows(&conn, "SELECT version FROM message_store_schema").unwrap(),
        [["2"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT position, type FROM get_stream_messages('account-123')"
        )
        .unwrap(),
        [["4", "Deposited"], ["5", "Noted"]]
    );
    assert_eq!(
        rows(&conn, "SELECT stream_version('account-123')").unwrap(),
        [["5"]]
    );
    // The lines come back as the export writes them.
    assert_eq!(
        lines(&conn, EXPORT_ALL).unwrap(),
        [
            r#"{"id":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","stream_name":"account-123","type":"Deposited","position":4,"global_position":17,"data":{"a": [1, 200], "b": 1},"metadata":{"correlationStreamName": "x-1"},"time":"2026-11-26T18:02:26.513973"}"#,
            r#"{"id":"00000000-0000-4000-8000-000000000002","stream_name":"account-123","type":"Noted","position":5,"global_position":18,"data":null,"metadata":null,"time":"2026-11-26T18:02:26.000000"}"#,
            "{\"id\":\"00000000-0000-4000-8000-000000000003\",\"stream_name\":\"città-ü😀\",\"type\":\"Tab\\tEndé\",\"position\":0,\"global_position\":9007199254740993,\"data\":\"a\\nb\",\"metadata\":{\"n\": [{\"deep\": {\"er\": true}}]},\"time\":\"0001-01-01T00:00:00.000001\"}",
        ]
    );
}

/// A store of two streams: s-1 at positions 0 and 1 (global 1, 2) and
/// t-1 at 0 (global 3), from `line`.
fn import_store() -> Connection {
    let conn = open_in_memory();
    let text = joined(&[
        line(1, "s-1", 0, 1),
        line(2, "s-1", 1, 2),
        line(3, "t-1", 0, 3),
    ]);
    assert_eq!(import(&conn, &text), Ok(3));
    conn
}

#[test]
fn refusals_name_the_line_and_store_nothing() {
    let conn = import_store();
    let before = messages(&conn);
    let good = line(10, "u-1", 0, 10);
    let cases: Vec<(String, String)> = vec![
        (
            format!("{good}\n{{\"id\":1}}\n"),
            "line 2: \"id\" must be a JSON string, found 1".to_string(),
        ),
        (
            format!("{good}\n\n{}", line(11, "u-1", 1, 11)),
            "line 2: is empty (each line is one message)".to_string(),
        ),
        (
            format!("{good}\n{{\"id\":\"x\""),
            "line 2: is not well formed: expected \",\" or \"}\" at byte 9".to_string(),
        ),
        (
            format!("{good}\n[1]"),
            "line 2: must be a JSON object, found [1]".to_string(),
        ),
        (
            good.replace("\"data\":{\"n\": 10}", "\"data\":{\"n\": 1O}"),
            "line 1: \"data\" is not JSON: invalid input syntax for type json (Token \"1O\" is invalid.)".to_string(),
        ),
        (
            good.replace("\"type\":\"Noted\",", ""),
            "line 1: \"type\" is missing".to_string(),
        ),
        (
            good.replace("\"position\":0", "\"position\":-1"),
            "line 1: \"position\" must be an integer from 0 to 9223372036854775807, found -1".to_string(),
        ),
        (
            good.replace("\"global_position\":10", "\"global_position\":1e3"),
            "line 1: \"global_position\" must be an integer from 1 to 9223372036854775807, found 1e3".to_string(),
        ),
        (
            good.replace("\"time\":\"2026-11-26T18:02:26.000010\"", "\"time\":\"2026-02-30T00:00:00.000000\""),
            "line 1: \"time\" must be a UTC time as YYYY-MM-DDTHH:MM:SS.ffffff, found \"2026-02-30T00:00:00.000000\" (2026-02 has no day 30)".to_string(),
        ),
        (
            good.replace(&uuid(10), "not-a-uuid"),
            "line 1: \"id\" is not a UUID: invalid input syntax for type uuid: \"not-a-uuid\"".to_string(),
        ),
        (
            joined(&[good.clone(), line(11, "u-1", 1, 11), good.replace("\"global_position\":10", "\"global_position\":12").replace("\"position\":0", "\"position\":2")]),
            format!("line 3: id {} is repeated (first on line 1)", uuid(10)),
        ),
        (
            joined(&[good.clone(), line(1, "s-1", 5, 11)]),
            format!(
                "line 2: id {} is stored with another \"position\" (at global position 1, position 0 of stream s-1)",
                uuid(1)
            ),
        ),
        (
            joined(&[good.clone(), line(1, "s-1", 0, 1).replace("\"n\": 1", "\"n\": 2")]),
            format!(
                "line 2: id {} is stored with another \"data\" (at global position 1, position 0 of stream s-1)",
                uuid(1)
            ),
        ),
        (
            joined(&[good.clone(), line(11, "s-1", 3, 11)]),
            "line 2: position 3 of stream s-1 is not the stream's next one, 2 (after position 1 in the store)".to_string(),
        ),
        (
            joined(&[good.clone(), line(11, "u-1", 0, 11)]),
            "line 2: position 0 of stream u-1 is not the stream's next one, 1 (after position 0 on line 1)".to_string(),
        ),
        (
            line(11, "u-1", 0, 3),
            "line 1: global position 3 is not above 3, the highest in the store".to_string(),
        ),
        (
            joined(&[good.clone(), line(11, "u-1", 1, 10)]),
            "line 2: global position 10 is not above 10, the highest on line 1".to_string(),
        ),
    ];
    for (text, error) in cases {
        assert_eq!(import(&conn, &text), Err(error), "{text}");
        assert_eq!(messages(&conn), before, "{text}");
    }
}

#[test]
fn refusals_of_the_argument_and_the_limits() {
    let conn = import_store();
    let before = messages(&conn);
    let call = |sql: &str| {
        conn.query_row(sql, [], |row| row.get::<_, i64>(0))
            .map_err(error_message)
    };
    assert_eq!(
        call("SELECT import_messages(NULL)"),
        Err("import_messages: lines must not be NULL".to_string())
    );
    assert_eq!(
        call("SELECT import_messages(1)"),
        Err("import_messages: argument \"lines\" must be text, not an integer".to_string())
    );
    assert_eq!(
        call("SELECT import_messages(x'7b7d')"),
        Err("import_messages: argument \"lines\" must be text, not a blob".to_string())
    );
    assert_eq!(
        call("SELECT import_messages(CAST(x'7bff7d' AS TEXT))"),
        Err("invalid byte sequence for encoding \"UTF8\": 0xff".to_string())
    );
    assert_eq!(
        call("SELECT import_messages()"),
        Err("wrong number of arguments to function import_messages()".to_string())
    );
    assert_eq!(
        import(&conn, &"x\n".repeat(10_001)),
        Err("import_messages: at most 10000 lines per call (this call has 10001)".to_string())
    );
    assert_eq!(
        import(&conn, &"x".repeat(64 * 1024 * 1024 + 1)),
        Err(
            "import_messages: at most 67108864 bytes of text per call (this call has 67108865)"
                .to_string()
        )
    );
    // Each number's jsonb text is 131,001 characters: a short line whose
    // data is past the call's bytes of jsonb text.
    let numbers = format!("[{}]", vec!["1e131000"; 520].join(","));
    let long = line(10, "u-1", 0, 10).replace("{\"n\": 10}", &numbers);
    assert_eq!(
        import(&conn, &long),
        Err(
            "line 1: \"data\" takes the call's data and metadata past 67108864 bytes of jsonb text"
                .to_string()
        )
    );
    assert_eq!(messages(&conn), before);
}

#[test]
fn a_rerun_skips_what_is_stored_and_finishes() {
    let all: Vec<String> = (1..=10)
        .map(|n| {
            line(
                n,
                if n % 2 == 0 { "even-1" } else { "odd-1" },
                ((n - 1) / 2) as i64,
                n as i64,
            )
        })
        .collect();
    let conn = open_in_memory();
    // Stopped after the first four lines.
    assert_eq!(import(&conn, &joined(&all[..4])), Ok(4));
    assert_eq!(import(&conn, &joined(&all)), Ok(6));
    assert_eq!(import(&conn, &joined(&all)), Ok(0));
    let whole = open_in_memory();
    assert_eq!(import(&whole, &joined(&all)), Ok(10));
    assert_eq!(messages(&conn), messages(&whole));
    assert_eq!(lines(&conn, EXPORT_ALL).unwrap(), all);
    // A line's null matches SQL NULL and jsonb null alike, in data and
    // metadata.
    let conn = open_in_memory();
    empty_store(&conn);
    insert(
        &conn,
        5,
        &uuid(5),
        "n-1",
        "Noted",
        0,
        None,
        Some("null"),
        "2026-11-26 18:02:26.000005",
    );
    let stored = line(5, "n-1", 0, 5).replace("{\"n\": 5}", "null");
    assert_eq!(
        import(&conn, &joined(&[stored, line(6, "n-1", 1, 6)])),
        Ok(1)
    );
}

#[test]
fn a_stream_empty_in_the_store_starts_at_any_position() {
    let conn = import_store();
    assert_eq!(
        import(
            &conn,
            &joined(&[line(10, "late-1", 7, 10), line(11, "late-1", 8, 11)])
        ),
        Ok(2)
    );
    assert_eq!(
        rows(&conn, "SELECT stream_version('late-1')").unwrap(),
        [["8"]]
    );
    // The writers continue the stream from there.
    assert_eq!(
        rows(
            &conn,
            "SELECT write_message('00000000-0000-4000-8000-000000000099', 'late-1', 'Noted', '{}', NULL, 8)"
        )
        .unwrap(),
        [["9"]]
    );
}

fn write(conn: &Connection, n: u64, stream_name: &str) -> Result<i64, String> {
    conn.query_row(
        "SELECT write_message(?1, ?2, 'Noted', '{}')",
        (uuid(n), stream_name),
        |row| row.get::<_, i64>(0),
    )
    .map_err(error_message)?;
    conn.query_row(
        "SELECT global_position FROM messages WHERE id = ?1",
        [uuid(n)],
        |row| row.get(0),
    )
    .map_err(error_message)
}

fn sequence(conn: &Connection) -> i64 {
    conn.query_row(
        "SELECT seq FROM sqlite_sequence WHERE name = 'messages'",
        [],
        |row| row.get(0),
    )
    .unwrap()
}

#[test]
fn the_next_write_takes_a_global_position_above_the_import() {
    let conn = open_in_memory();
    assert_eq!(
        import(
            &conn,
            &joined(&[line(1, "s-1", 0, 100), line(2, "s-1", 1, 102)])
        ),
        Ok(2)
    );
    assert_eq!(sequence(&conn), 102);
    assert_eq!(write(&conn, 3, "s-1"), Ok(103));
    // The sequence above the store's highest (the newest messages deleted):
    // an import between them leaves it, and the next write is above both.
    let conn = open_in_memory();
    for n in 1..=5 {
        write(&conn, n, "w-1").unwrap();
    }
    conn.execute_batch("DELETE FROM messages WHERE global_position > 2")
        .unwrap();
    assert_eq!(import(&conn, &line(10, "i-1", 0, 4)), Ok(1));
    assert_eq!(sequence(&conn), 5);
    assert_eq!(write(&conn, 11, "w-1"), Ok(6));
    // An import above the sequence moves it.
    assert_eq!(import(&conn, &line(12, "i-1", 1, 50)), Ok(1));
    assert_eq!(sequence(&conn), 50);
    assert_eq!(write(&conn, 13, "w-1"), Ok(51));
    assert_eq!(
        rows(
            &conn,
            "SELECT global_position, stream_name, position FROM messages ORDER BY 1"
        )
        .unwrap(),
        [
            ["1", "w-1", "0"],
            ["2", "w-1", "1"],
            ["4", "i-1", "0"],
            ["6", "w-1", "2"],
            ["50", "i-1", "1"],
            ["51", "w-1", "3"],
        ]
    );
}

#[test]
fn an_import_in_a_transaction_is_undone_with_it() {
    let conn = import_store();
    let before = messages(&conn);
    conn.execute_batch("BEGIN").unwrap();
    assert_eq!(import(&conn, &line(10, "u-1", 0, 10)), Ok(1));
    // A refusal undoes its own call only.
    assert_eq!(
        import(&conn, &joined(&[line(11, "u-1", 1, 11), line(12, "u-1", 1, 12)])),
        Err("line 2: position 1 of stream u-1 is not the stream's next one, 2 (after position 1 on line 1)".to_string())
    );
    assert_eq!(messages(&conn).len(), before.len() + 1);
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(messages(&conn), before);
}

/// Another connection's writer waits while an import's transaction holds
/// the write lock, and then writes above it.
#[test]
fn an_import_holds_off_other_writers_until_it_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let importer = open(&path);
    importer
        .query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        })
        .unwrap();
    write(&importer, 1, "w-1").unwrap();
    // A deferred transaction: the import's own statement takes the lock.
    importer.execute_batch("BEGIN").unwrap();
    assert_eq!(
        import(
            &importer,
            &joined(&[line(2, "i-1", 0, 20), line(3, "i-1", 1, 21)])
        ),
        Ok(2)
    );
    let impatient = open(&path);
    impatient.busy_timeout(Duration::ZERO).unwrap();
    assert_eq!(
        write(&impatient, 4, "w-1"),
        Err("database is locked".to_string())
    );
    const HELD: Duration = Duration::from_millis(400);
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            let conn = open(&path);
            conn.busy_timeout(Duration::from_secs(20)).unwrap();
            let started = Instant::now();
            let written = write(&conn, 5, "w-1");
            (written, started.elapsed())
        })
    };
    std::thread::sleep(HELD);
    importer.execute_batch("COMMIT").unwrap();
    let (written, waited) = writer.join().unwrap();
    assert_eq!(written, Ok(22));
    assert!(waited >= HELD / 2, "the writer waited {waited:?}");
    assert_eq!(
        rows(
            &importer,
            "SELECT global_position, stream_name, position FROM messages ORDER BY 1"
        )
        .unwrap(),
        [
            ["1", "w-1", "0"],
            ["20", "i-1", "0"],
            ["21", "i-1", "1"],
            ["22", "w-1", "1"]
        ]
    );
}

/// A few thousand messages: categories, unicode, nested JSON, large
/// numbers, metadata NULL and not, and times with and without a fraction.
fn varied_store(conn: &Connection, count: u64) {
    let categories = ["account", "città", "transfer", "q\"uote"];
    conn.execute_batch("BEGIN").unwrap();
    for n in 1..=count {
        let category = categories[(n % 4) as usize];
        let stream = format!("{category}-{}", n % 37);
        let data = match n % 5 {
            0 => "null".to_string(),
            1 => format!(r#"{{"n": {n}, "text": "héllo ✓ 😀\n\t\"{n}\""}}"#),
            2 => format!(r#"{{"deep": {{"list": [1, [2, [3, {{"n": {n}}}]]], "ok": true}}}}"#),
            3 => format!(
                "{{\"big\": 1234567890123456789012345678901234567890.{n}, \"neg\": -{n}e-30}}"
            ),
            _ => format!("[{n}, \"\\u0001\", false, null]"),
        };
        let metadata = match n % 3 {
            0 => None,
            1 => Some(format!(
                r#"{{"correlationStreamName": "account-{}"}}"#,
                n % 7
            )),
            _ => Some(r#"{"schemaVersion": "1", "trace": {"ids": [1, 2]}}"#.to_string()),
        };
        conn.query_row(
            "SELECT write_message(?1, ?2, ?3, ?4, ?5)",
            (uuid(n), &stream, format!("Type{}", n % 3), data, metadata),
            |_| Ok(()),
        )
        .unwrap();
    }
    // Times of every kind: microseconds, a zero fraction, whole fractions.
    conn.execute_batch(
        "UPDATE messages SET time = CASE global_position % 4
             WHEN 0 THEN '2026-11-26 18:02:26'
             WHEN 1 THEN printf('2020-02-29 23:59:59.%06d', global_position % 1000000)
             WHEN 2 THEN '1970-01-01 00:00:00.1'
             ELSE time END;
         COMMIT;",
    )
    .unwrap();
}

#[test]
fn a_store_moves_to_another_file_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("source.db"));
    varied_store(&source, 3000);
    // Removed from the middle and the start: positions keep their gaps.
    source
        .execute_batch("DELETE FROM messages WHERE stream_name LIKE 'transfer-%' AND position < 2")
        .unwrap();
    let exported = lines(&source, EXPORT_ALL).unwrap();
    assert!(exported.len() > 2900, "{}", exported.len());
    let target = open(&dir.path().join("target.db"));
    let mut stored = 0;
    for chunk in exported.chunks(700) {
        stored += import(&target, &joined(chunk)).unwrap();
    }
    assert_eq!(stored, exported.len() as i64);
    assert_eq!(messages(&target), messages(&source));
    assert_eq!(lines(&target, EXPORT_ALL).unwrap(), exported);
    // The export in parts is the export whole.
    let mut parts = Vec::new();
    let mut from = 1;
    loop {
        let part = lines(
            &target,
            &format!("SELECT line FROM export_messages({from}, 1000)"),
        )
        .unwrap();
        let Some(last) = part.last() else { break };
        let value: serde_json::Value = serde_json::from_str(last).unwrap();
        from = value["global_position"].as_i64().unwrap() + 1;
        parts.extend(part);
    }
    assert_eq!(parts, exported);
    // Each category alone.
    for category in ["account", "città", "transfer", "q\"uote"] {
        let sql = format!(
            "SELECT line FROM export_messages(1, -1, '{}')",
            category.replace('\'', "''")
        );
        let expected: Vec<&String> = exported
            .iter()
            .filter(|line| {
                line.contains(&format!(
                    "\"stream_name\":\"{}-",
                    category.replace('"', "\\\"")
                ))
            })
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(
            lines(&target, &sql).unwrap().iter().collect::<Vec<_>>(),
            expected
        );
    }
    // Importing the whole export again stores nothing.
    assert_eq!(import(&target, &joined(&exported)), Ok(0));
}

#[test]
fn a_stored_message_whose_time_is_not_the_stores_matches_no_line() {
    let conn = import_store();
    conn.execute_batch("UPDATE messages SET time = 'yesterday' WHERE global_position = 1")
        .unwrap();
    assert_eq!(
        import(&conn, &line(1, "s-1", 0, 1)),
        Err(format!(
            "line 1: id {} is stored with another \"time\" (at global position 1, position 0 of stream s-1)",
            uuid(1)
        ))
    );
}

/// An import in a deferred transaction that read the store before another
/// connection wrote cannot plan against what it read: it fails, storing
/// nothing, as a writer does there. Without such a write it goes in.
#[test]
fn an_import_never_plans_against_an_older_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let importer = open(&path);
    importer
        .query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        })
        .unwrap();
    write(&importer, 1, "w-1").unwrap();
    let other = open(&path);
    importer.execute_batch("BEGIN").unwrap();
    assert_eq!(
        rows(&importer, "SELECT count(*) FROM messages").unwrap(),
        [["1"]]
    );
    assert_eq!(write(&other, 2, "w-1"), Ok(2));
    assert_eq!(
        import(&importer, &line(3, "i-1", 0, 2)),
        Err("database is locked".to_string())
    );
    importer.execute_batch("ROLLBACK").unwrap();
    importer.execute_batch("BEGIN").unwrap();
    assert_eq!(
        rows(&importer, "SELECT count(*) FROM messages").unwrap(),
        [["2"]]
    );
    assert_eq!(
        import(&importer, &line(3, "i-1", 0, 2)),
        Err("line 1: global position 2 is not above 2, the highest in the store".to_string())
    );
    assert_eq!(import(&importer, &line(3, "i-1", 0, 3)), Ok(1));
    importer.execute_batch("COMMIT").unwrap();
    assert_eq!(
        rows(
            &other,
            "SELECT global_position, stream_name FROM messages ORDER BY 1"
        )
        .unwrap(),
        [["1", "w-1"], ["2", "w-1"], ["3", "i-1"]]
    );
}
