//! The batch writers in the built SQLite library: `write_messages` and
//! `write_batch` are one unit whatever the host's transaction state, check
//! expected versions against the versions before the batch (a stream named
//! twice continues from its own earlier entry), retry idempotently, give
//! every message of a call one time, and refuse bad input and batches past
//! the limits before anything is written.

use message_store_sqlite_tests::{error_message, open_in_memory, rows};
use rusqlite::Connection;

const DUPLICATE_ID: &str = "duplicate key value violates unique constraint \"messages_id\"";

fn uuid(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A message as `write_messages` takes it, data `{"n": n}`.
fn message(n: usize) -> String {
    format!(
        r#"{{"id": "{}", "type": "Noted", "data": {{"n": {n}}}}}"#,
        uuid(n)
    )
}

/// The messages of ids `ids`, as a JSON array.
fn messages(ids: impl IntoIterator<Item = usize>) -> String {
    let items: Vec<String> = ids.into_iter().map(message).collect();
    format!("[{}]", items.join(", "))
}

/// A `write_batch` entry.
fn entry(stream_name: &str, expected_version: Option<i64>, ids: &[usize]) -> String {
    let expected = expected_version.map_or("null".to_string(), |v| v.to_string());
    format!(
        r#"{{"stream_name": "{stream_name}", "expected_version": {expected}, "messages": {}}}"#,
        messages(ids.iter().copied())
    )
}

fn batch(entries: &[String]) -> String {
    format!("[{}]", entries.join(", "))
}

/// Every message but its time, in global order.
fn stored(conn: &Connection) -> Vec<Vec<String>> {
    rows(
        conn,
        "SELECT global_position, stream_name, position, type, data, metadata, id FROM messages ORDER BY global_position",
    )
    .unwrap()
}

fn write_messages(
    conn: &Connection,
    stream_name: &str,
    messages: &str,
    expected_version: Option<i64>,
) -> Result<i64, String> {
    conn.query_row(
        "SELECT write_messages(?1, ?2, ?3)",
        (stream_name, messages, expected_version),
        |r| r.get(0),
    )
    .map_err(error_message)
}

fn write_batch(conn: &Connection, batch: &str, idempotent: bool) -> Result<String, String> {
    conn.query_row(
        "SELECT write_batch(?1, ?2)",
        (batch, idempotent as i64),
        |r| r.get(0),
    )
    .map_err(error_message)
}

/// A store with messages 1 and 2 in `s-1` and message 100 in `other-1`.
fn store() -> Connection {
    let conn = open_in_memory();
    assert_eq!(write_messages(&conn, "s-1", &messages([1, 2]), None), Ok(1));
    assert_eq!(
        write_messages(&conn, "other-1", &messages([100]), None),
        Ok(0)
    );
    conn
}

/// The next global position AUTOINCREMENT hands out.
fn next_global_position(conn: &Connection) -> i64 {
    conn.query_row(
        "SELECT seq + 1 FROM sqlite_sequence WHERE name = 'messages'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn writes_every_message_in_order_with_canonical_json() {
    let conn = open_in_memory();
    let input = r#"[{"id": "00000000-0000-4000-8000-00000000000A", "type": "Opened", "data": {"b": 1, "a": [1,  2e2]}, "metadata": null},
        {"type": "Noted", "metadata": {"correlationStreamName": "c-1"}, "data": "x", "id": "{00000000-0000-4000-8000-00000000000b}"},
        {"id": "0000000000004000800000000000000C", "type": "Closed", "data": null}]"#;
    assert_eq!(write_messages(&conn, "account-1", input, None), Ok(2));
    assert_eq!(
        stored(&conn),
        [
            [
                "1",
                "account-1",
                "0",
                "Opened",
                r#"{"a": [1, 200], "b": 1}"#,
                "NULL",
                "00000000-0000-4000-8000-00000000000a"
            ],
            [
                "2",
                "account-1",
                "1",
                "Noted",
                r#""x""#,
                r#"{"correlationStreamName": "c-1"}"#,
                "00000000-0000-4000-8000-00000000000b"
            ],
            [
                "3",
                "account-1",
                "2",
                "Closed",
                "null",
                "NULL",
                "00000000-0000-4000-8000-00000000000c"
            ],
        ]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT typeof(write_messages('account-1', '[{\"id\": \"00000000-0000-4000-8000-0000000000d1\", \"type\": \"t\", \"data\": 1}]'))"
        )
        .unwrap(),
        [["integer"]]
    );
}

#[test]
fn write_batch_returns_each_entry_s_last_position_as_json_text() {
    let conn = store();
    let text = batch(&[
        entry("a-1", Some(-1), &[10, 11, 12]),
        entry("s-1", Some(1), &[13]),
        entry("b-1", None, &[14, 15]),
    ]);
    assert_eq!(
        rows(
            &conn,
            &format!("SELECT r, typeof(r) FROM (SELECT write_batch('{text}') AS r)")
        )
        .unwrap(),
        [["[2,2,1]", "text"]]
    );
    let positions = rows(
        &conn,
        "SELECT stream_name, position, global_position FROM messages WHERE global_position > 3 ORDER BY global_position",
    )
    .unwrap();
    assert_eq!(
        positions,
        [
            ["a-1", "0", "4"],
            ["a-1", "1", "5"],
            ["a-1", "2", "6"],
            ["s-1", "2", "7"],
            ["b-1", "0", "8"],
            ["b-1", "1", "9"],
        ]
    );
    // A single message takes the one-statement path; the result is the same text.
    assert_eq!(
        write_batch(&conn, &batch(&[entry("b-1", Some(1), &[16])]), false),
        Ok("[2]".to_string())
    );
}

#[test]
fn the_expected_version_is_checked_once_against_the_version_before_the_batch() {
    let conn = open_in_memory();
    assert_eq!(
        write_messages(&conn, "s-1", &messages(1..=3), Some(-1)),
        Ok(2)
    );
    assert_eq!(
        write_messages(&conn, "s-1", &messages(4..=5), Some(2)),
        Ok(4)
    );
    for (ids, expected) in [
        (vec![6, 7], 2),
        (vec![6], 2),
        (vec![6, 7], -1),
        (vec![6], 5),
    ] {
        assert_eq!(
            write_messages(&conn, "s-1", &messages(ids.clone()), Some(expected)),
            Err(format!(
                "Wrong expected version: {expected} (Stream: s-1, Stream Version: 4)"
            )),
            "{ids:?}"
        );
    }
    assert_eq!(
        write_messages(&conn, "empty-1", &messages(6..=7), Some(0)),
        Err("Wrong expected version: 0 (Stream: empty-1, Stream Version: -1)".to_string())
    );
    assert_eq!(
        rows(&conn, "SELECT count(*), max(position) FROM messages").unwrap(),
        [["5", "4"]]
    );
    // No expected version: appended wherever the stream is.
    assert_eq!(write_messages(&conn, "s-1", &messages(6..=7), None), Ok(6));
}

#[test]
fn a_stream_named_twice_continues_from_its_own_earlier_entry() {
    let conn = store();
    let twice = batch(&[
        entry("s-1", Some(1), &[10, 11]),
        entry("a-1", None, &[12]),
        entry("s-1", Some(3), &[13]),
    ]);
    assert_eq!(write_batch(&conn, &twice, false), Ok("[3,0,4]".to_string()));
    assert_eq!(
        rows(
            &conn,
            "SELECT id, position FROM messages WHERE stream_name = 's-1' ORDER BY position"
        )
        .unwrap(),
        [
            [uuid(1), "0".into()],
            [uuid(2), "1".into()],
            [uuid(10), "2".into()],
            [uuid(11), "3".into()],
            [uuid(13), "4".into()],
        ]
    );
    // The later entry's expected version is checked against the version
    // after the earlier entry; the first failing entry is the error.
    let before = stored(&conn);
    let wrong = batch(&[
        entry("s-1", Some(4), &[20]),
        entry("a-1", Some(0), &[21]),
        entry("s-1", Some(4), &[22]),
        entry("a-1", Some(7), &[23]),
    ]);
    assert_eq!(
        write_batch(&conn, &wrong, false),
        Err("Wrong expected version: 4 (Stream: s-1, Stream Version: 5)".to_string())
    );
    assert_eq!(stored(&conn), before);
}

/// The call that fails at its third message: that id is stored already.
fn failing_at_the_third_message() -> String {
    messages([10, 11, 1, 12])
}

#[test]
fn a_failure_at_the_third_message_stores_nothing_in_autocommit() {
    let conn = store();
    let before = stored(&conn);
    let next = next_global_position(&conn);
    assert_eq!(
        write_messages(&conn, "s-1", &failing_at_the_third_message(), None),
        Err(DUPLICATE_ID.to_string())
    );
    let entries = batch(&[entry("a-1", None, &[10, 11]), entry("b-1", None, &[1, 12])]);
    assert_eq!(
        write_batch(&conn, &entries, false),
        Err(DUPLICATE_ID.to_string())
    );
    assert!(conn.is_autocommit());
    assert_eq!(stored(&conn), before);
    // No global position is used up either.
    assert_eq!(next_global_position(&conn), next);
    assert_eq!(
        write_messages(&conn, "s-1", &messages([10, 11]), None),
        Ok(3)
    );
    assert_eq!(
        rows(&conn, "SELECT max(global_position) FROM messages").unwrap(),
        [[(next + 1).to_string()]]
    );
}

#[test]
fn a_failure_in_an_open_transaction_keeps_the_transaction_s_earlier_writes() {
    let conn = store();
    conn.execute_batch("BEGIN").unwrap();
    assert_eq!(write_messages(&conn, "s-1", &messages([3, 4]), None), Ok(3));
    let before = stored(&conn);
    let next = next_global_position(&conn);
    assert_eq!(
        write_messages(&conn, "s-1", &failing_at_the_third_message(), None),
        Err(DUPLICATE_ID.to_string())
    );
    assert_eq!(
        write_batch(&conn, &batch(&[entry("a-1", None, &[10, 11, 1])]), false),
        Err(DUPLICATE_ID.to_string())
    );
    assert!(!conn.is_autocommit(), "the transaction is still open");
    assert_eq!(stored(&conn), before);
    assert_eq!(next_global_position(&conn), next);
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(stored(&conn), before);
}

#[test]
fn a_failure_inside_a_savepoint_leaves_the_savepoint_as_it_was() {
    let conn = store();
    conn.execute_batch("SAVEPOINT mine").unwrap();
    assert_eq!(write_messages(&conn, "s-1", &messages([3, 4]), None), Ok(3));
    let before = stored(&conn);
    assert_eq!(
        write_messages(&conn, "s-1", &failing_at_the_third_message(), None),
        Err(DUPLICATE_ID.to_string())
    );
    assert_eq!(stored(&conn), before);
    // The caller's savepoint is still there and still its own.
    conn.execute_batch("ROLLBACK TO mine; RELEASE mine")
        .unwrap();
    assert!(conn.is_autocommit());
    assert_eq!(stored(&conn).len(), 3);
}

#[test]
fn a_failure_inside_a_statement_that_writes_stores_nothing() {
    // SQLite opens no savepoint of a function's while a statement that
    // writes runs, and a single-row INSERT in a transaction keeps what its
    // functions wrote when it fails: the call's one statement is undone
    // whole all the same, the counter too.
    for transaction in [false, true] {
        for outer in [
            "INSERT INTO log SELECT write_messages('s-1', ?1)",
            "INSERT INTO log VALUES (write_messages('s-1', ?1))",
            "UPDATE log SET x = write_messages('s-1', ?1)",
        ] {
            let conn = store();
            conn.execute_batch("CREATE TABLE log(x); INSERT INTO log VALUES (0)")
                .unwrap();
            if transaction {
                conn.execute_batch("BEGIN").unwrap();
            }
            let before = stored(&conn);
            let next = next_global_position(&conn);
            let result = conn.execute(outer, [failing_at_the_third_message()]);
            assert_eq!(
                result.map_err(error_message),
                Err(DUPLICATE_ID.to_string()),
                "{outer}"
            );
            assert_eq!(
                stored(&conn),
                before,
                "{outer} in a transaction: {transaction}"
            );
            assert_eq!(next_global_position(&conn), next, "{outer}");
            assert_eq!(rows(&conn, "SELECT x FROM log").unwrap(), [["0"]]);
            // And the same statement that succeeds writes every message.
            assert_eq!(conn.execute(outer, [messages([10, 11, 12])]), Ok(1));
            assert_eq!(
                rows(&conn, "SELECT max(x) FROM log").unwrap(),
                [["4"]],
                "{outer}"
            );
            if transaction {
                conn.execute_batch("COMMIT").unwrap();
            }
            assert_eq!(stored(&conn).len(), before.len() + 3);
            assert_eq!(
                rows(&conn, "SELECT min(global_position) FROM messages WHERE id = '00000000-0000-4000-8000-000000000010'").unwrap(),
                [[next.to_string()]]
            );
        }
    }
}

#[test]
fn a_failed_expected_version_in_a_later_entry_stores_nothing() {
    let conn = store();
    let before = stored(&conn);
    let entries = batch(&[
        entry("a-1", None, &[10, 11]),
        entry("b-1", Some(-1), &[12]),
        entry("other-1", Some(-1), &[13]),
    ]);
    assert_eq!(
        write_batch(&conn, &entries, false),
        Err("Wrong expected version: -1 (Stream: other-1, Stream Version: 0)".to_string())
    );
    assert_eq!(stored(&conn), before);
}

#[test]
fn an_idempotent_retry_returns_the_same_positions_and_writes_nothing() {
    let conn = store();
    let call = "SELECT write_messages('s-1', ?1, ?2, ?3)";
    let retry = |expected: Option<i64>, idempotent: Option<i64>| {
        conn.query_row(call, (messages([3, 4, 5]), expected, idempotent), |r| {
            r.get::<_, i64>(0)
        })
        .map_err(error_message)
    };
    assert_eq!(retry(Some(1), Some(1)), Ok(4));
    let after = stored(&conn);
    let next = next_global_position(&conn);
    // The retry of a write with an expected version succeeds: the stored
    // messages are checked before the version.
    assert_eq!(retry(Some(1), Some(1)), Ok(4));
    assert_eq!(retry(None, Some(1)), Ok(4));
    assert_eq!(stored(&conn), after);
    assert_eq!(next_global_position(&conn), next);
    // Not idempotent (false, NULL or absent): the stored id is an error.
    for idempotent in [Some(0), None] {
        assert_eq!(retry(None, idempotent), Err(DUPLICATE_ID.to_string()));
    }
    assert_eq!(
        write_messages(&conn, "s-1", &messages([3, 4, 5]), None),
        Err(DUPLICATE_ID.to_string())
    );
    // write_batch, a stream named twice among them.
    let entries = batch(&[
        entry("a-1", Some(-1), &[10, 11]),
        entry("s-1", None, &[12]),
        entry("a-1", None, &[13]),
    ]);
    assert_eq!(
        write_batch(&conn, &entries, true),
        Ok("[1,5,2]".to_string())
    );
    let after = stored(&conn);
    assert_eq!(
        write_batch(&conn, &entries, true),
        Ok("[1,5,2]".to_string())
    );
    assert_eq!(stored(&conn), after);
    // A single message, idempotent.
    let one = messages([20]);
    assert_eq!(
        conn.query_row("SELECT write_messages('c-1', ?1, -1, 1)", [&one], |r| r
            .get::<_, i64>(0)),
        Ok(0)
    );
    assert_eq!(
        conn.query_row("SELECT write_messages('c-1', ?1, -1, 1)", [&one], |r| r
            .get::<_, i64>(0)),
        Ok(0)
    );
    assert_eq!(stored(&conn).len(), after.len() + 1);
}

#[test]
fn an_idempotent_batch_stored_in_part_or_elsewhere_names_the_first_conflict() {
    let conn = store();
    assert_eq!(write_messages(&conn, "s-1", &messages([3, 4]), None), Ok(3));
    let before = stored(&conn);
    let idempotent = |stream_name: &str, messages: &str| {
        conn.query_row(
            "SELECT write_messages(?1, ?2, NULL, 1)",
            (stream_name, messages),
            |r| r.get::<_, i64>(0),
        )
        .map_err(error_message)
    };
    let cases = [
        (
            "s-1",
            messages([3, 4, 5]),
            format!(
                "message 2: id {} is not stored, but the id of message 0 is (the batch is partly stored)",
                uuid(5)
            ),
        ),
        (
            "s-1",
            messages([5, 3, 4]),
            format!(
                "message 0: id {} is not stored, but the id of message 1 is (the batch is partly stored)",
                uuid(5)
            ),
        ),
        (
            "s-2",
            messages([3, 4]),
            format!("message 0: id {} is stored in stream s-1, not s-2", uuid(3)),
        ),
        (
            "s-1",
            messages([4, 3]),
            format!("message 1: id {} is stored at position 2 of s-1, not 4", uuid(3)),
        ),
        (
            "s-1",
            format!(
                r#"[{}, {{"id": "{}", "type": "Noted", "data": {{"n": 5}}}}]"#,
                message(3),
                uuid(4)
            ),
            format!("message 1: id {} is stored with other data", uuid(4)),
        ),
        (
            "s-1",
            format!(
                r#"[{{"id": "{}", "type": "Other", "data": {{"n": 3}}}}]"#,
                uuid(3)
            ),
            format!("message 0: id {} is stored with another type", uuid(3)),
        ),
        (
            "s-1",
            format!(
                r#"[{{"id": "{}", "type": "Noted", "data": {{"n": 3}}, "metadata": {{}}}}]"#,
                uuid(3)
            ),
            format!("message 0: id {} is stored with other metadata", uuid(3)),
        ),
    ];
    for (stream_name, messages, error) in cases {
        assert_eq!(idempotent(stream_name, &messages), Err(error), "{messages}");
        assert_eq!(stored(&conn), before);
    }
    let entries = batch(&[entry("a-1", None, &[10]), entry("s-1", None, &[3, 4])]);
    assert_eq!(
        write_batch(&conn, &entries, true),
        Err(format!(
            "entry 0, message 0: id {} is not stored, but the id of entry 1, message 0 is (the batch is partly stored)",
            uuid(10)
        ))
    );
    assert_eq!(stored(&conn), before);
}

#[test]
fn every_message_of_a_call_has_one_time() {
    let conn = open_in_memory();
    assert_eq!(
        write_messages(&conn, "s-1", &messages(1..=2000), None),
        Ok(1999)
    );
    let entries = batch(&[
        entry("a-1", None, &(3000..3500).collect::<Vec<_>>()),
        entry("b-1", None, &(3500..4000).collect::<Vec<_>>()),
    ]);
    assert_eq!(
        write_batch(&conn, &entries, false),
        Ok("[499,499]".to_string())
    );
    let times = rows(
        &conn,
        "SELECT count(DISTINCT time), count(*), julianday(min(time)) > julianday('2026-01-01') FROM messages GROUP BY stream_name = 's-1' ORDER BY 2",
    )
    .unwrap();
    assert_eq!(times, [["1", "1000", "1"], ["1", "2000", "1"]]);
}

#[test]
fn ten_thousand_messages_pass_and_one_more_is_refused_before_anything_is_written() {
    let conn = open_in_memory();
    let schema = "SELECT count(*) FROM sqlite_schema";
    let too_many = messages(1..=10_001);
    assert_eq!(
        write_messages(&conn, "s-1", &too_many, None),
        Err("write_messages: at most 10000 messages per call (this call has 10001)".to_string())
    );
    let entries = batch(&[
        entry("a-1", None, &(1..=5000).collect::<Vec<_>>()),
        entry("b-1", None, &(5001..=10_001).collect::<Vec<_>>()),
    ]);
    assert_eq!(
        write_batch(&conn, &entries, false),
        Err("write_batch: at most 10000 messages per call (this call has 10001)".to_string())
    );
    // Refused before the store's tables are made.
    assert_eq!(rows(&conn, schema).unwrap(), [["0"]]);
    assert_eq!(
        write_messages(&conn, "s-1", &messages(1..=10_000), None),
        Ok(9999)
    );
    let entries = batch(&[
        entry("a-1", None, &(10_001..=15_000).collect::<Vec<_>>()),
        entry("b-1", None, &(15_001..=20_000).collect::<Vec<_>>()),
    ]);
    assert_eq!(
        write_batch(&conn, &entries, false),
        Ok("[4999,4999]".to_string())
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT count(*), count(DISTINCT id), max(global_position) FROM messages"
        )
        .unwrap(),
        [["20000", "20000", "20000"]]
    );
}

#[test]
fn null_empty_and_mistyped_arguments_are_refused_and_store_nothing() {
    let conn = store();
    let before = stored(&conn);
    let one = messages([10]);
    let two = messages([10, 11]);
    let cases: Vec<(String, &str)> = vec![
        (format!("SELECT write_messages(NULL, '{two}')"), "stream_name must not be NULL"),
        (format!("SELECT write_messages('', '{two}')"), "stream_name must not be empty"),
        ("SELECT write_messages('s-1', NULL)".into(), "messages must not be NULL"),
        ("SELECT write_messages('s-1', NULL, 1, 1)".into(), "messages must not be NULL"),
        ("SELECT write_messages('s-1', '[]')".into(), "messages must not be empty"),
        ("SELECT write_messages('s-1', '{}')".into(), "messages must be a JSON array, not an object"),
        ("SELECT write_messages('s-1', '{\"a\":')".into(), "invalid input syntax for type json"),
        (format!("SELECT write_messages('s-1', '{two}', -2)"), "expected_version must not be less than -1 (it is -2)"),
        ("SELECT write_messages('s-1', '[{\"id\": \"00000000-0000-4000-8000-000000000010\", \"type\": \"t\"}, {\"type\": \"t\", \"data\": 1}]')".into(), "message 0: \"data\" is missing"),
        ("SELECT write_messages('s-1', '[{\"id\": \"x\", \"type\": \"t\", \"data\": 1}]')".into(), "message 0: \"id\" is not a UUID: invalid input syntax for type uuid: \"x\""),
        (format!("SELECT write_messages('s-1', '[{m}, {m}]')", m = message(10)), "message 1: id 00000000-0000-4000-8000-000000000010 is repeated (first at message 0)"),
        ("SELECT write_messages('s-1', 1)".into(), "write_messages: argument \"messages\" must be text, not an integer"),
        (format!("SELECT write_messages(1, '{one}')"), "write_messages: argument \"stream_name\" must be text, not an integer"),
        (format!("SELECT write_messages('s-1', '{one}', '1')"), "write_messages: argument \"expected_version\" must be an integer, not text"),
        (format!("SELECT write_messages('s-1', '{two}', NULL, 'yes')"), "write_messages: argument \"idempotent\" must be an integer, not text"),
        (format!("SELECT write_messages('s-1', '{two}', NULL, 0.5)"), "write_messages: argument \"idempotent\" must be an integer, not 0.5"),
        ("SELECT write_messages('s-1')".into(), "wrong number of arguments to function write_messages()"),
        ("SELECT write_batch(NULL)".into(), "batch must not be NULL"),
        ("SELECT write_batch(NULL, 1)".into(), "batch must not be NULL"),
        ("SELECT write_batch('[]')".into(), "batch must not be empty"),
        ("SELECT write_batch('[1]')".into(), "entry 0: must be a JSON object, not a number"),
        ("SELECT write_batch('[{\"messages\": []}]')".into(), "entry 0: \"stream_name\" is missing"),
        ("SELECT write_batch('[{\"stream_name\": \"a-1\"}]')".into(), "entry 0: \"messages\" is missing"),
        (format!("SELECT write_batch('[{}, {{\"stream_name\": \"b-1\", \"messages\": []}}]')", entry("a-1", None, &[10])), "entry 1: \"messages\" must not be empty"),
        (format!("SELECT write_batch('[{}, {{\"stream_name\": \"b-1\", \"messages\": [{{\"id\": \"{}\", \"data\": 1}}]}}]')", entry("a-1", None, &[10]), uuid(11)), "entry 1, message 0: \"type\" is missing"),
        ("SELECT write_batch(x'5b5d')".into(), "write_batch: argument \"batch\" must be text, not a blob"),
        ("SELECT write_batch('[]', 1, 2)".into(), "wrong number of arguments to function write_batch()"),
    ];
    for (sql, error) in cases {
        assert_eq!(rows(&conn, &sql), Err(error.to_string()), "{sql}");
    }
    assert_eq!(stored(&conn), before);
}

#[test]
fn a_database_s_own_triggers_cannot_call_them() {
    let conn = open_in_memory();
    conn.execute_batch(&format!(
        "CREATE TABLE t(x); CREATE TRIGGER t_write AFTER INSERT ON t BEGIN SELECT write_messages('s-1', '{}'); END;",
        messages([1, 2])
    ))
    .unwrap();
    let error = conn.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
    assert_eq!(error_message(error), "unsafe use of write_messages()");
    conn.execute_batch(&format!(
        "CREATE TRIGGER t_batch AFTER INSERT ON t BEGIN SELECT write_batch('{}'); END; DROP TRIGGER t_write;",
        batch(&[entry("s-1", None, &[1])])
    ))
    .unwrap();
    let error = conn.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
    assert_eq!(error_message(error), "unsafe use of write_batch()");
}

#[test]
fn the_rows_table_shows_nothing_outside_a_call_and_cannot_be_hidden() {
    let conn = store();
    for sql in [
        "SELECT count(*) FROM message_store_batch_rows",
        "SELECT count(*) FROM message_store_batch_rows(1)",
        "SELECT count(*) FROM message_store_batch_rows(0)",
        "SELECT count(*) FROM message_store_batch_rows('1')",
    ] {
        assert_eq!(rows(&conn, sql).unwrap(), [["0"]], "{sql}");
    }
    // A database file's views cannot read it.
    conn.execute_batch("CREATE VIEW v AS SELECT * FROM message_store_batch_rows(1)")
        .unwrap();
    assert_eq!(
        rows(&conn, "SELECT * FROM v"),
        Err("unsafe use of virtual table \"message_store_batch_rows\"".to_string())
    );
    // A table of that name, in TEMP, does not stand in for the call's rows.
    conn.execute_batch(
        "CREATE TEMP TABLE message_store_batch_rows(position, time, stream_name, type, data, metadata, id);
         INSERT INTO temp.message_store_batch_rows VALUES (7, 't', 's-1', 'Forged', '1', NULL, '00000000-0000-4000-8000-000000000999')",
    )
    .unwrap();
    assert_eq!(
        write_messages(&conn, "s-1", &messages([10, 11]), None),
        Ok(3)
    );
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM messages WHERE type = 'Forged'").unwrap(),
        [["0"]]
    );
    // One in the database itself makes the call fail, writing nothing.
    let before = stored(&conn);
    conn.execute_batch(
        "CREATE TABLE main.message_store_batch_rows(position, time, stream_name, type, data, metadata, id);",
    )
    .unwrap();
    assert_eq!(
        write_messages(&conn, "s-1", &messages([12, 13]), None),
        Err("'message_store_batch_rows' is not a function".to_string())
    );
    assert_eq!(stored(&conn), before);
}

#[test]
fn a_call_from_a_trigger_of_the_connection_nests_in_the_outer_call() {
    let conn = store();
    // Each message of s-1 is audited by a batch of two, from the
    // connection's own trigger, while the outer call's rows go in.
    conn.execute_batch(
        "CREATE TEMP TRIGGER audit AFTER INSERT ON main.messages WHEN NEW.stream_name = 's-1' BEGIN
           SELECT write_messages('audit-1', json_array(
             json_object('id', gen_random_uuid(), 'type', 'Seen', 'data', NEW.position),
             json_object('id', gen_random_uuid(), 'type', 'Seen', 'data', NEW.global_position)));
         END;",
    )
    .unwrap();
    assert_eq!(
        write_messages(&conn, "s-1", &messages([10, 11, 12]), None),
        Ok(4)
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT stream_name, position, type, data FROM messages WHERE global_position > 3 ORDER BY global_position"
        )
        .unwrap(),
        [
            ["s-1", "2", "Noted", "{\"n\": 10}"],
            ["audit-1", "0", "Seen", "2"],
            ["audit-1", "1", "Seen", "4"],
            ["s-1", "3", "Noted", "{\"n\": 11}"],
            ["audit-1", "2", "Seen", "3"],
            ["audit-1", "3", "Seen", "7"],
            ["s-1", "4", "Noted", "{\"n\": 12}"],
            ["audit-1", "4", "Seen", "4"],
            ["audit-1", "5", "Seen", "10"],
        ]
    );
}

#[test]
fn json_text_past_64_mib_is_refused_before_anything_is_written() {
    let conn = open_in_memory();
    let data = "x".repeat(64 * 1024 * 1024);
    // Canonical already, so its length is the one core counts.
    let text = format!(
        r#"[{{"id": "{}", "data": "{data}", "type": "t"}}]"#,
        uuid(1)
    );
    assert_eq!(
        write_messages(&conn, "s-1", &text, None),
        Err(format!(
            "write_messages: at most 67108864 bytes of JSON text per call (this call has {})",
            text.len()
        ))
    );
    let entries = format!(r#"[{{"messages": {text}, "stream_name": "s-1"}}]"#);
    assert_eq!(
        write_batch(&conn, &entries, false),
        Err(format!(
            "write_batch: at most 67108864 bytes of JSON text per call (this call has {})",
            entries.len()
        ))
    );
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM sqlite_schema").unwrap(),
        [["0"]]
    );
}
