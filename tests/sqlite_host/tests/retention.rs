//! Retention and erasure on SQLite, against the built library:
//! `remove_messages` by global position, by time and by both, of a stream
//! or a category, in batches of its limit; `redact_stream`; the retention
//! policies. Each case checks the count returned and the exact rows left;
//! every stream's last message stays, so versions, expected-version writes
//! and positions go on as before. Bad input fails with its exact text and
//! changes nothing.

use message_store_core::time::{format_timestamp, now_micros};
use message_store_sqlite_tests::{open_in_memory, rows};
use rusqlite::Connection;

/// The streams the messages go to, in global position order (1 to 11):
/// category `cat` (`cat-1` with four messages, `cat-2` with two, `cat-3`
/// with one), and the categories `cat2` and `cat:command`, whose names
/// start like `cat`'s.
const STREAMS: [&str; 11] = [
    "cat-1",
    "cat-2",
    "cat-1",
    "cat2-1",
    "cat:command-1",
    "cat-1",
    "cat-2",
    "cat2-1",
    "cat:command-1",
    "cat-1",
    "cat-3",
];

fn id(n: i64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn one(conn: &Connection, sql: &str) -> String {
    let mut all = rows(conn, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(all.len(), 1, "{sql}");
    assert_eq!(all[0].len(), 1, "{sql}");
    all.remove(0).remove(0)
}

/// A store with the messages of `STREAMS`, message `n` (its global
/// position) with data `{"n": n}`, metadata `{"m": n}` and the time
/// `2020-01-01 00:00:nn`, so time order is global position order.
fn store() -> Connection {
    let conn = open_in_memory();
    for (i, stream) in STREAMS.iter().enumerate() {
        let n = i as i64 + 1;
        let position: i64 = conn
            .query_row(
                "SELECT write_message(?1, ?2, 'Noted', ?3, ?4)",
                (
                    id(n),
                    stream,
                    format!("{{\"n\": {n}}}"),
                    format!("{{\"m\": {n}}}"),
                ),
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(
            position,
            STREAMS[..i].iter().filter(|s| *s == stream).count() as i64
        );
    }
    conn.execute_batch(
        "UPDATE messages SET time = '2020-01-01 00:00:' || printf('%02d', global_position)",
    )
    .unwrap();
    conn
}

/// The messages left: `global_position stream_name position`, in order.
fn left(conn: &Connection) -> Vec<String> {
    rows(
        conn,
        "SELECT global_position, stream_name, position FROM messages ORDER BY global_position",
    )
    .unwrap()
    .into_iter()
    .map(|row| row.join(" "))
    .collect()
}

/// `left` for the global positions given, as `store` wrote them.
fn kept(global_positions: &[i64]) -> Vec<String> {
    global_positions
        .iter()
        .map(|&gp| {
            let i = gp as usize - 1;
            let stream = STREAMS[i];
            let position = STREAMS[..i].iter().filter(|s| **s == stream).count();
            format!("{gp} {stream} {position}")
        })
        .collect()
}

const ALL: [i64; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/// Every stored column of every message, and the policies.
fn everything(conn: &Connection) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    (
        rows(
            conn,
            "SELECT global_position, position, time, stream_name, type, data, metadata, id FROM messages ORDER BY global_position",
        )
        .unwrap(),
        rows(
            conn,
            "SELECT category, kind, amount FROM retention_policies ORDER BY category",
        )
        .unwrap_or_default(),
    )
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn versions(conn: &Connection) -> Vec<String> {
    ["cat-1", "cat-2", "cat-3", "cat2-1", "cat:command-1"]
        .iter()
        .map(|stream| one(conn, &format!("SELECT stream_version('{stream}')")))
        .collect()
}

#[test]
fn a_category_removal_below_a_global_position_keeps_each_stream_s_last() {
    let conn = store();
    assert_eq!(versions(&conn), ["3", "1", "0", "1", "1"]);
    // Below 8 in `cat`: 1, 2, 3 and 6; 7 is cat-2's last.
    assert_eq!(count(&conn, "SELECT remove_messages('cat', NULL, 8)"), 4);
    assert_eq!(left(&conn), kept(&[4, 5, 7, 8, 9, 10, 11]));
    assert_eq!(count(&conn, "SELECT remove_messages('cat', NULL, 8)"), 0);
    // Versions stay, and an expected-version write goes on from them.
    assert_eq!(versions(&conn), ["3", "1", "0", "1", "1"]);
    assert_eq!(
        count(
            &conn,
            "SELECT write_message(gen_random_uuid(), 'cat-1', 'Noted', '{}', NULL, 3)"
        ),
        4
    );
    assert_eq!(
        count(
            &conn,
            "SELECT write_message(gen_random_uuid(), 'cat-2', 'Noted', '{}', NULL, 1)"
        ),
        2
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT write_message(gen_random_uuid(), 'cat-1', 'Noted', '{}', NULL, 3)"
        ),
        Err("Wrong expected version: 3 (Stream: cat-1, Stream Version: 4)".to_string())
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT global_position, stream_name, position FROM messages WHERE global_position > 11"
        )
        .unwrap(),
        [["12", "cat-1", "4"], ["13", "cat-2", "2"]]
    );
    // The readers read what is left, from the positions they had.
    assert_eq!(
        rows(
            &conn,
            "SELECT position, global_position FROM get_stream_messages('cat-1')"
        )
        .unwrap(),
        [["3", "10"], ["4", "12"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT global_position FROM get_category_messages('cat', 5)"
        )
        .unwrap(),
        [["7"], ["10"], ["11"], ["12"], ["13"]]
    );
}

#[test]
fn a_stream_name_removes_from_that_stream_only() {
    let conn = store();
    assert_eq!(
        count(&conn, "SELECT remove_messages('cat-1', NULL, 100)"),
        3
    );
    assert_eq!(left(&conn), kept(&[2, 4, 5, 7, 8, 9, 10, 11]));
    // A stream of one message keeps it.
    assert_eq!(
        count(&conn, "SELECT remove_messages('cat-3', NULL, 100)"),
        0
    );
    // No stream has this name; `cat:command` is a category of its own.
    assert_eq!(
        count(&conn, "SELECT remove_messages('cat-9', NULL, 100)"),
        0
    );
    assert_eq!(
        count(&conn, "SELECT remove_messages('cat:command', NULL, 100)"),
        1
    );
    assert_eq!(count(&conn, "SELECT remove_messages('cat2', NULL, 100)"), 1);
    assert_eq!(left(&conn), kept(&[2, 7, 8, 9, 10, 11]));
    assert_eq!(versions(&conn), ["3", "1", "0", "1", "1"]);
}

#[test]
fn every_message_older_than_the_bound_still_leaves_each_stream_s_last() {
    let conn = store();
    assert_eq!(
        count(
            &conn,
            "SELECT remove_messages('cat', '2999-01-01 00:00:00')"
        ),
        4
    );
    assert_eq!(left(&conn), kept(&[4, 5, 7, 8, 9, 10, 11]));
    assert_eq!(
        count(
            &conn,
            "SELECT remove_messages('cat', '2999-01-01 00:00:00', 9223372036854775807, 9223372036854775807)"
        ),
        0
    );
    // A bound before every message removes none.
    assert_eq!(
        count(
            &conn,
            "SELECT remove_messages('cat2', '2000-01-01 00:00:00')"
        ),
        0
    );
    assert_eq!(versions(&conn), ["3", "1", "0", "1", "1"]);
}

#[test]
fn a_time_bound_removes_strictly_older_messages_in_every_accepted_form() {
    // Message 6's time is 2020-01-01 00:00:06: it stays.
    for bound in [
        "2020-01-01 00:00:06",
        "2020-01-01T00:00:06",
        "2020-01-01T00:00:06Z",
        "2020-01-01T00:00:06+00:00",
        "2020-01-01 00:00:06.000000",
        "2020-01-01T00:00:06.0Z",
    ] {
        let conn = store();
        assert_eq!(
            conn.query_row("SELECT remove_messages('cat', ?1)", [bound], |row| row
                .get::<_, i64>(0))
                .unwrap(),
            3,
            "{bound}"
        );
        assert_eq!(left(&conn), kept(&[4, 5, 6, 7, 8, 9, 10, 11]), "{bound}");
    }
    // A microsecond later, message 6 is older than the bound.
    let conn = store();
    assert_eq!(
        count(
            &conn,
            "SELECT remove_messages('cat', '2020-01-01 00:00:06.000001')"
        ),
        4
    );
    assert_eq!(left(&conn), kept(&[4, 5, 7, 8, 9, 10, 11]));
    // Stored times with a fraction compare in time order too.
    let conn = store();
    conn.execute_batch(
        "UPDATE messages SET time = '2020-01-01 00:00:05.5' WHERE global_position = 3;
         UPDATE messages SET time = '2020-01-01 00:00:05.25' WHERE global_position = 2;",
    )
    .unwrap();
    assert_eq!(
        count(
            &conn,
            "SELECT remove_messages('cat', '2020-01-01T00:00:05.3Z')"
        ),
        2
    );
    assert_eq!(left(&conn), kept(&[3, 4, 5, 6, 7, 8, 9, 10, 11]));
}

#[test]
fn with_both_bounds_a_message_below_both_goes() {
    let conn = store();
    // Older than 00:00:06 (1, 2, 3) and below global position 3 (1, 2).
    assert_eq!(
        count(
            &conn,
            "SELECT remove_messages('cat', '2020-01-01 00:00:06', 3)"
        ),
        2
    );
    assert_eq!(left(&conn), kept(&[3, 4, 5, 6, 7, 8, 9, 10, 11]));
    // Below 100 but not older than 00:00:03.
    assert_eq!(
        count(
            &conn,
            "SELECT remove_messages('cat', '2020-01-01 00:00:03', 100)"
        ),
        0
    );
}

#[test]
fn each_call_removes_at_most_its_limit_oldest_first() {
    let conn = store();
    let mut counts = Vec::new();
    let mut lefts = Vec::new();
    loop {
        let removed = count(&conn, "SELECT remove_messages('cat', NULL, 100, 1)");
        counts.push(removed);
        lefts.push(left(&conn).len());
        if removed < 1 {
            break;
        }
    }
    assert_eq!(counts, [1, 1, 1, 1, 0]);
    assert_eq!(lefts, [10, 9, 8, 7, 7]);
    assert_eq!(left(&conn), kept(&[4, 5, 7, 8, 9, 10, 11]));

    // Oldest global position first across the category's streams.
    let conn = store();
    assert_eq!(
        count(&conn, "SELECT remove_messages('cat', NULL, 100, 2)"),
        2
    );
    assert_eq!(left(&conn), kept(&[3, 4, 5, 6, 7, 8, 9, 10, 11]));
    assert_eq!(
        count(&conn, "SELECT remove_messages('cat', NULL, 100, 3)"),
        2
    );
    assert_eq!(left(&conn), kept(&[4, 5, 7, 8, 9, 10, 11]));

    // Lowest position first in a stream; a whole real is an integer.
    let conn = store();
    assert_eq!(
        count(&conn, "SELECT remove_messages('cat-1', NULL, 100, 2.0)"),
        2
    );
    assert_eq!(left(&conn), kept(&[2, 4, 5, 6, 7, 8, 9, 10, 11]));
    assert_eq!(
        count(&conn, "SELECT remove_messages('cat-1', NULL, 100, 2)"),
        1
    );
    assert_eq!(left(&conn), kept(&[2, 4, 5, 7, 8, 9, 10, 11]));

    // A NULL limit is 1000.
    let conn = open_in_memory();
    conn.execute_batch("BEGIN").unwrap();
    for _ in 0..1002 {
        conn.query_row(
            "SELECT write_message(gen_random_uuid(), 'big-1', 'Noted', '{}')",
            [],
            |_| Ok(()),
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(
        count(&conn, "SELECT remove_messages('big', NULL, 5000, NULL)"),
        1000
    );
    assert_eq!(count(&conn, "SELECT remove_messages('big', NULL, 5000)"), 1);
    assert_eq!(
        rows(&conn, "SELECT global_position, position FROM messages").unwrap(),
        [["1002", "1001"]]
    );
}

#[test]
fn redaction_keeps_rows_positions_and_times_and_clears_data_and_metadata() {
    let conn = store();
    let before = everything(&conn).0;
    assert_eq!(count(&conn, "SELECT redact_stream('cat-1')"), 4);
    let after = everything(&conn).0;
    assert_eq!(after.len(), before.len());
    for (old, new) in before.iter().zip(&after) {
        if old[3] == "cat-1" {
            let mut expected = old.clone();
            expected[5] = "NULL".to_string();
            expected[6] = "NULL".to_string();
            assert_eq!(new, &expected);
        } else {
            assert_eq!(new, old);
        }
    }
    assert_eq!(
        rows(
            &conn,
            "SELECT position, global_position, type, data, metadata FROM get_stream_messages('cat-1')"
        )
        .unwrap(),
        [
            ["0", "1", "Noted", "NULL", "NULL"],
            ["1", "3", "Noted", "NULL", "NULL"],
            ["2", "6", "Noted", "NULL", "NULL"],
            ["3", "10", "Noted", "NULL", "NULL"],
        ]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT stream_name, global_position, data, metadata FROM get_category_messages('cat')"
        )
        .unwrap(),
        [
            ["cat-1", "1", "NULL", "NULL"],
            ["cat-2", "2", "{\"n\": 2}", "{\"m\": 2}"],
            ["cat-1", "3", "NULL", "NULL"],
            ["cat-1", "6", "NULL", "NULL"],
            ["cat-2", "7", "{\"n\": 7}", "{\"m\": 7}"],
            ["cat-1", "10", "NULL", "NULL"],
            ["cat-3", "11", "{\"n\": 11}", "{\"m\": 11}"],
        ]
    );
    // Every message of the stream is set again; a name is one stream,
    // matched exactly, never a category.
    assert_eq!(count(&conn, "SELECT redact_stream('cat-1')"), 4);
    assert_eq!(count(&conn, "SELECT redact_stream('cat')"), 0);
    assert_eq!(count(&conn, "SELECT redact_stream('CAT-1')"), 0);
    assert_eq!(everything(&conn).0, after);
    assert_eq!(versions(&conn), ["3", "1", "0", "1", "1"]);
    assert_eq!(
        count(
            &conn,
            "SELECT write_message(gen_random_uuid(), 'cat-1', 'Noted', '{\"new\": 1}', NULL, 3)"
        ),
        4
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT position, data FROM get_last_stream_message('cat-1')"
        )
        .unwrap(),
        [["4", "{\"new\": 1}"]]
    );
}

fn policies(conn: &Connection) -> Vec<Vec<String>> {
    rows(
        conn,
        "SELECT category, kind, amount FROM retention_policies ORDER BY category",
    )
    .unwrap()
}

#[test]
fn policies_are_set_replaced_and_cleared() {
    let conn = store();
    assert_eq!(policies(&conn), Vec::<Vec<String>>::new());
    assert_eq!(
        one(&conn, "SELECT set_retention_policy('cat', 'keep_last', 2)"),
        "NULL"
    );
    assert_eq!(policies(&conn), [["cat", "keep_last", "2"]]);
    assert_eq!(
        one(
            &conn,
            "SELECT set_retention_policy('cat', 'keep_seconds', 3600)"
        ),
        "NULL"
    );
    assert_eq!(
        one(
            &conn,
            "SELECT set_retention_policy('cat:command', 'keep_last', 9223372036854775807)"
        ),
        "NULL"
    );
    assert_eq!(
        policies(&conn),
        [
            ["cat", "keep_seconds", "3600"],
            ["cat:command", "keep_last", "9223372036854775807"],
        ]
    );
    assert_eq!(count(&conn, "SELECT clear_retention_policy('cat')"), 1);
    assert_eq!(count(&conn, "SELECT clear_retention_policy('cat')"), 0);
    assert_eq!(count(&conn, "SELECT clear_retention_policy('cat2')"), 0);
    assert_eq!(
        policies(&conn),
        [["cat:command", "keep_last", "9223372036854775807"]]
    );
    // Setting and clearing policies removes nothing.
    assert_eq!(left(&conn), kept(&ALL));
}

#[test]
fn keep_last_keeps_the_last_messages_of_each_stream() {
    let conn = store();
    one(&conn, "SELECT set_retention_policy('cat', 'keep_last', 2)");
    // cat-1 keeps positions 2 and 3 (6 and 10); cat-2 and cat-3 have no more.
    assert_eq!(count(&conn, "SELECT apply_retention_policies()"), 2);
    assert_eq!(left(&conn), kept(&[2, 4, 5, 6, 7, 8, 9, 10, 11]));
    assert_eq!(count(&conn, "SELECT apply_retention_policies()"), 0);
    one(&conn, "SELECT set_retention_policy('cat', 'keep_last', 1)");
    one(&conn, "SELECT set_retention_policy('cat2', 'keep_last', 1)");
    assert_eq!(count(&conn, "SELECT apply_retention_policies(NULL)"), 3);
    assert_eq!(left(&conn), kept(&[5, 7, 8, 9, 10, 11]));
    assert_eq!(versions(&conn), ["3", "1", "0", "1", "1"]);
}

#[test]
fn keep_seconds_removes_what_is_older_than_that_before_now() {
    let conn = store();
    let hours_ago = |hours: f64| format_timestamp(now_micros() - (hours * 3.6e9) as i64);
    // cat-1: three messages of 2020, then two hours ago, then half an hour
    // ago (its last); cat-2's last is of 2020.
    conn.execute(
        "UPDATE messages SET time = ?1 WHERE global_position = 10",
        [hours_ago(2.0)],
    )
    .unwrap();
    conn.query_row(
        "SELECT write_message(?1, 'cat-1', 'Noted', '{}')",
        [id(12)],
        |_| Ok(()),
    )
    .unwrap();
    conn.execute(
        "UPDATE messages SET time = ?1 WHERE global_position = 12",
        [hours_ago(0.5)],
    )
    .unwrap();
    one(
        &conn,
        "SELECT set_retention_policy('cat', 'keep_seconds', 3600)",
    );
    // 1, 2, 3, 6 and 10 are older than an hour; 7 and 11 are their
    // streams' last.
    assert_eq!(count(&conn, "SELECT apply_retention_policies()"), 5);
    let mut expected = kept(&[4, 5, 7, 8, 9, 11]);
    expected.push("12 cat-1 4".to_string());
    assert_eq!(left(&conn), expected);
    assert_eq!(count(&conn, "SELECT apply_retention_policies()"), 0);
    // Longer ago than any time a message can have: nothing goes.
    let conn = store();
    one(
        &conn,
        "SELECT set_retention_policy('cat', 'keep_seconds', 9223372036854775807)",
    );
    assert_eq!(count(&conn, "SELECT apply_retention_policies()"), 0);
    assert_eq!(left(&conn), kept(&ALL));
}

#[test]
fn each_policy_removes_at_most_the_limit_so_none_starves_another() {
    let conn = store();
    one(
        &conn,
        "SELECT set_retention_policy('cat', 'keep_seconds', 60)",
    );
    one(&conn, "SELECT set_retention_policy('cat2', 'keep_last', 1)");
    one(
        &conn,
        "SELECT set_retention_policy('cat:command', 'keep_last', 5)",
    );
    let mut counts = Vec::new();
    let mut lefts = Vec::new();
    loop {
        let removed = count(&conn, "SELECT apply_retention_policies(1)");
        counts.push(removed);
        lefts.push(left(&conn));
        if removed == 0 {
            break;
        }
    }
    // `cat` has 1, 2, 3 and 6 due, `cat2` 4; cat:command keeps its two.
    assert_eq!(counts, [2, 1, 1, 1, 0]);
    assert_eq!(lefts[0], kept(&[2, 3, 5, 6, 7, 8, 9, 10, 11]));
    assert_eq!(lefts[1], kept(&[3, 5, 6, 7, 8, 9, 10, 11]));
    assert_eq!(lefts[4], kept(&[5, 7, 8, 9, 10, 11]));
}

#[test]
fn a_store_that_is_not_there_is_not_made_by_calls_that_write_nothing() {
    let conn = open_in_memory();
    let tables = "SELECT count(*) FROM sqlite_schema";
    for sql in [
        "SELECT remove_messages('cat', NULL, 10)",
        "SELECT remove_messages('cat-1', '2999-01-01 00:00:00')",
        "SELECT redact_stream('cat-1')",
        "SELECT clear_retention_policy('cat')",
        "SELECT apply_retention_policies()",
    ] {
        assert_eq!(count(&conn, sql), 0, "{sql}");
        assert_eq!(count(&conn, tables), 0, "{sql}");
    }
    // Setting a policy is a write: it makes the store.
    one(&conn, "SELECT set_retention_policy('cat', 'keep_last', 1)");
    assert_eq!(policies(&conn), [["cat", "keep_last", "1"]]);
    assert_eq!(count(&conn, "SELECT count(*) FROM messages"), 0);
}

#[test]
fn a_database_s_own_views_and_triggers_cannot_call_them() {
    let conn = store();
    for (function, call) in [
        ("remove_messages", "remove_messages('cat', NULL, 100)"),
        ("redact_stream", "redact_stream('cat-1')"),
        (
            "set_retention_policy",
            "set_retention_policy('cat', 'keep_last', 1)",
        ),
        ("clear_retention_policy", "clear_retention_policy('cat')"),
        ("apply_retention_policies", "apply_retention_policies()"),
    ] {
        conn.execute_batch(&format!("CREATE VIEW v AS SELECT {call}"))
            .unwrap();
        assert_eq!(
            rows(&conn, "SELECT * FROM v"),
            Err(format!("unsafe use of {function}()"))
        );
        conn.execute_batch("DROP VIEW v").unwrap();
    }
    assert_eq!(left(&conn), kept(&ALL));
}

const TIME_FORMS: &str = "(give it as the store prints times, 2026-11-26 17:42:10.123456, or in ISO 8601, 2026-11-26T17:42:10.123456Z)";

fn bad_time(value: &str) -> String {
    format!(
        "remove_messages: before_time is not a time in UTC between years 0001 and 9999: \"{value}\" {TIME_FORMS}"
    )
}

/// Every refusal, with its text; the Postgres SQLSTATE of each is core's
/// (tests/slt/cases/15_retention.slt checks them on Postgres).
fn refusals() -> Vec<(String, String)> {
    let unbounded = "remove_messages: before_time and before_global_position are both NULL; give at least one bound (with neither, every message but each stream's last would go)";
    let nul = "invalid byte sequence for encoding \"UTF8\": 0x00";
    let cases: Vec<(&str, String)> = vec![
        // 22004, in argument order.
        (
            "SELECT remove_messages(NULL, NULL, NULL, 0)",
            "remove_messages: stream_or_category must not be NULL".into(),
        ),
        (
            "SELECT remove_messages(NULL, NULL, 5)",
            "remove_messages: stream_or_category must not be NULL".into(),
        ),
        // 22021.
        ("SELECT remove_messages('cat' || char(0), NULL, 5)", nul.into()),
        (
            "SELECT remove_messages(CAST(x'ff' AS TEXT), NULL, 5)",
            "invalid byte sequence for encoding \"UTF8\": 0xff".into(),
        ),
        // 22007: the time is read with the arguments, before core's rules.
        ("SELECT remove_messages(NULL, 'yesterday')", bad_time("yesterday")),
        ("SELECT remove_messages('cat', '')", bad_time("")),
        (
            "SELECT remove_messages('cat', '2020-01-01 00:00:06+01:00')",
            bad_time("2020-01-01 00:00:06+01:00"),
        ),
        (
            "SELECT remove_messages('cat', '2020-01-01')",
            bad_time("2020-01-01"),
        ),
        (
            "SELECT remove_messages('cat', '2020-02-30 00:00:00')",
            bad_time("2020-02-30 00:00:00"),
        ),
        (
            "SELECT remove_messages('cat', '0001-01-01 00:00:00 BC')",
            bad_time("0001-01-01 00:00:00 BC"),
        ),
        (
            "SELECT remove_messages('cat', '10000-01-01 00:00:00')",
            bad_time("10000-01-01 00:00:00"),
        ),
        // 2201W, before the bounds' check.
        (
            "SELECT remove_messages('cat', NULL, NULL, 0)",
            "remove_messages: limit must be at least 1 (limit: 0)".into(),
        ),
        (
            "SELECT remove_messages('cat', NULL, 5, -9223372036854775808)",
            "remove_messages: limit must be at least 1 (limit: -9223372036854775808)".into(),
        ),
        // 22023.
        ("SELECT remove_messages('cat')", unbounded.into()),
        ("SELECT remove_messages('cat-1', NULL, NULL, 10)", unbounded.into()),
        // Types SQLite passes that no Postgres argument takes.
        (
            "SELECT remove_messages(x'00', NULL, 5)",
            "remove_messages: argument \"stream_or_category\" must be text, not a blob".into(),
        ),
        (
            "SELECT remove_messages('cat', 20200101)",
            "remove_messages: argument \"before_time\" must be text, not an integer".into(),
        ),
        (
            "SELECT remove_messages('cat', NULL, '5')",
            "remove_messages: argument \"before_global_position\" must be an integer, not text"
                .into(),
        ),
        (
            "SELECT remove_messages('cat', NULL, 5, 1.5)",
            "remove_messages: argument \"limit\" must be an integer, not 1.5".into(),
        ),
        (
            "SELECT redact_stream(NULL)",
            "redact_stream: stream_name must not be NULL".into(),
        ),
        ("SELECT redact_stream('cat-1' || char(0))", nul.into()),
        (
            "SELECT redact_stream(1)",
            "redact_stream: argument \"stream_name\" must be text, not an integer".into(),
        ),
        (
            "SELECT set_retention_policy(NULL, 'keep_last', 1)",
            "set_retention_policy: category must not be NULL".into(),
        ),
        (
            "SELECT set_retention_policy('cat-1', 'keep_last', 1)",
            "Must be a category: cat-1".into(),
        ),
        (
            "SELECT set_retention_policy('cat', NULL, 1)",
            "set_retention_policy: kind must not be NULL".into(),
        ),
        (
            "SELECT set_retention_policy('cat', 'keep_last', NULL)",
            "set_retention_policy: amount must not be NULL".into(),
        ),
        (
            "SELECT set_retention_policy('cat', 'keep_days', 1)",
            "unknown retention policy kind: \"keep_days\" (the kinds are keep_seconds and keep_last)"
                .into(),
        ),
        (
            "SELECT set_retention_policy('cat', 'keep_seconds', 0)",
            "retention policy keep_seconds needs an amount of at least 1 (amount: 0)".into(),
        ),
        (
            "SELECT set_retention_policy('cat', 'keep_last', -1)",
            "retention policy keep_last needs an amount of at least 1 (amount: -1)".into(),
        ),
        (
            "SELECT set_retention_policy('cat', 'keep_last', '1')",
            "set_retention_policy: argument \"amount\" must be an integer, not text".into(),
        ),
        (
            "SELECT set_retention_policy('cat', 1, 1)",
            "set_retention_policy: argument \"kind\" must be text, not an integer".into(),
        ),
        (
            "SELECT clear_retention_policy(NULL)",
            "clear_retention_policy: category must not be NULL".into(),
        ),
        (
            "SELECT clear_retention_policy('cat-1')",
            "Must be a category: cat-1".into(),
        ),
        (
            "SELECT apply_retention_policies(0)",
            "apply_retention_policies: limit must be at least 1 (limit: 0)".into(),
        ),
        (
            "SELECT apply_retention_policies('10')",
            "apply_retention_policies: argument \"limit\" must be an integer, not text".into(),
        ),
    ];
    cases
        .into_iter()
        .map(|(sql, error)| (sql.to_string(), error))
        .collect()
}

#[test]
fn bad_input_is_refused_with_its_text_and_changes_nothing() {
    let conn = store();
    one(&conn, "SELECT set_retention_policy('cat', 'keep_last', 1)");
    let before = everything(&conn);
    for (sql, error) in refusals() {
        assert_eq!(rows(&conn, &sql), Err(error), "{sql}");
        assert_eq!(everything(&conn), before, "{sql}");
    }
}

#[test]
fn a_refused_call_in_a_transaction_leaves_it_usable() {
    let conn = store();
    conn.execute_batch("BEGIN").unwrap();
    assert_eq!(count(&conn, "SELECT remove_messages('cat-1', NULL, 4)"), 2);
    for (sql, error) in refusals() {
        assert_eq!(rows(&conn, &sql), Err(error), "{sql}");
    }
    one(&conn, "SELECT set_retention_policy('cat2', 'keep_last', 1)");
    assert_eq!(count(&conn, "SELECT apply_retention_policies()"), 1);
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(left(&conn), kept(&[2, 5, 6, 7, 8, 9, 10, 11]));
    assert_eq!(policies(&conn), [["cat2", "keep_last", "1"]]);
}

#[test]
fn a_stored_policy_that_breaks_the_rules_fails_the_whole_apply() {
    let conn = store();
    one(&conn, "SELECT set_retention_policy('cat', 'keep_last', 1)");
    // Plain SQL passes the table's checks with a stream name.
    conn.execute_batch("INSERT INTO retention_policies VALUES ('cat2-1', 'keep_last', 1)")
        .unwrap();
    let before = everything(&conn);
    let error = "apply_retention_policies: the stored policy of category \"cat2-1\" is refused: Must be a category: cat2-1";
    // `cat`'s removal ran first, and went back with the call.
    assert_eq!(
        rows(&conn, "SELECT apply_retention_policies()"),
        Err(error.to_string())
    );
    assert_eq!(everything(&conn), before);
    conn.execute_batch("BEGIN").unwrap();
    assert_eq!(
        rows(&conn, "SELECT apply_retention_policies()"),
        Err(error.to_string())
    );
    assert_eq!(everything(&conn), before);
    assert_eq!(count(&conn, "SELECT clear_retention_policy('cat2')"), 0);
    conn.execute_batch("DELETE FROM retention_policies WHERE category = 'cat2-1'")
        .unwrap();
    assert_eq!(count(&conn, "SELECT apply_retention_policies()"), 4);
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(left(&conn), kept(&[4, 5, 7, 8, 9, 10, 11]));
    // Outside a transaction after each call: autocommit again.
    assert_eq!(count(&conn, "SELECT remove_messages('cat2', NULL, 100)"), 1);
    conn.execute_batch("BEGIN; ROLLBACK").unwrap();
}

/// `apply_retention_policies` takes the write lock before it reads the
/// policies, in a caller's deferred transaction too: another connection
/// cannot write between its read and its removals, and holds no lock of
/// its own afterwards.
#[test]
fn applying_policies_takes_the_write_lock_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let first = message_store_sqlite_tests::open(&path);
    first
        .query_row(
            "SELECT write_message(gen_random_uuid(), 'cat-1', 'Noted', '{}')",
            [],
            |_| Ok(()),
        )
        .unwrap();
    let second = message_store_sqlite_tests::open(&path);
    second.busy_timeout(std::time::Duration::ZERO).unwrap();
    first.execute_batch("BEGIN").unwrap();
    // No policy is stored: the call removes nothing, and still locks.
    assert_eq!(count(&first, "SELECT apply_retention_policies()"), 0);
    assert_eq!(
        second
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| e.to_string()),
        Err("database is locked".to_string())
    );
    first.execute_batch("COMMIT").unwrap();
    second.execute_batch("BEGIN IMMEDIATE; COMMIT").unwrap();
    // In autocommit mode the call's own transaction ends with it.
    assert_eq!(count(&first, "SELECT apply_retention_policies()"), 0);
    second.execute_batch("BEGIN IMMEDIATE; COMMIT").unwrap();
}
