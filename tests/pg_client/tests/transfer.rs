//! `export_messages` and `import_messages` on Postgres (issue 17, "Move a
//! store between engines"): the export's lines byte for byte, the import's
//! exact storage and its refusals, the global-position sequence, the locks
//! that hold writers off while an import is open, the roles that may
//! import, and a round trip of a few thousand messages.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use message_store_pg_tests::*;
use postgres::Client;

fn id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// Stores a message with every column given, as a superuser may: the
/// store's state that an export reads and an import meets.
#[allow(clippy::too_many_arguments)]
fn insert(
    client: &mut Client,
    global_position: i64,
    id: &str,
    stream_name: &str,
    type_: &str,
    position: i64,
    data: Option<&str>,
    metadata: Option<&str>,
    time: &str,
) {
    client
        .execute(
            "INSERT INTO message_store.messages
               (global_position, id, stream_name, type, position, data, metadata, time)
             VALUES ($1, $2::text::uuid, $3, $4, $5, $6::text::jsonb, $7::text::jsonb, $8::text::timestamp)",
            &[
                &global_position,
                &id,
                &stream_name,
                &type_,
                &position,
                &data,
                &metadata,
                &time,
            ],
        )
        .unwrap();
}

fn export(client: &mut Client, args: &str) -> Result<Vec<String>, postgres::Error> {
    client
        .query(
            &format!("SELECT * FROM message_store.export_messages({args})"),
            &[],
        )
        .map(|rows| rows.iter().map(|row| row.get(0)).collect())
}

fn import(client: &mut Client, lines: &str) -> Result<i64, postgres::Error> {
    client
        .query_one("SELECT message_store.import_messages($1)", &[&lines])
        .map(|row| row.get(0))
}

/// Every column of every message as Postgres prints it, in global order,
/// with whether data and metadata are SQL NULL.
fn columns(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT concat_ws(' | ', id::text, stream_name, type, position, global_position,
                    coalesce(data::text, 'SQL NULL'), coalesce(metadata::text, 'SQL NULL'), time::text)
             FROM message_store.messages ORDER BY global_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The global-position sequence's `last_value` and `is_called`.
fn sequence(client: &mut Client) -> (i64, bool) {
    let row = client
        .query_one(
            "SELECT last_value, is_called FROM message_store.messages_global_position_seq",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

/// The global position of the message with this id.
fn global_position_of(client: &mut Client, id: &str) -> i64 {
    client
        .query_one(
            "SELECT global_position FROM message_store.messages WHERE id = $1::text::uuid",
            &[&id],
        )
        .unwrap()
        .get(0)
}

/// 1.5e300 as jsonb prints it: all its digits.
fn float_digits() -> String {
    format!("15{}", "0".repeat(299))
}

/// The store the export test reads: every kind of text, JSON and time a
/// line holds, with a gap in the global positions (4).
fn export_fixture(client: &mut Client) {
    let big = r#"{"big": 12345678901234567890, "float": 1.5e300, "neg": -0.000001}"#;
    insert(
        client,
        1,
        &id(1),
        "café-1",
        "Öffnen ✓",
        0,
        Some(r#"{"nested": {"e": [], "a": [1, {"b": null}]}, "name": "é✓ 日本"}"#),
        None,
        "2026-11-26 18:02:26.513973",
    );
    insert(
        client,
        2,
        &id(2),
        "café-1",
        "q\"b\\s\u{1}\u{1f}\u{7f}\u{8}\u{c}\n\r\t",
        1,
        Some(big),
        Some(r#"{"correlationStreamName": "x-1"}"#),
        "2026-01-01 00:00:00",
    );
    insert(
        client,
        3,
        &id(3),
        "quote\"back\\slash-1",
        "T",
        0,
        Some("null"),
        Some(r#""m""#),
        "1999-12-31 23:59:59.999999",
    );
    insert(
        client,
        5,
        &id(5),
        "other-1",
        "T",
        7,
        None,
        Some("{}"),
        "0001-01-01 00:00:00",
    );
    insert(
        client,
        6,
        "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
        "other-1",
        "T",
        8,
        Some(r#"[1, "two", {"three": 3.0}]"#),
        Some("null"),
        "9999-12-31 23:59:59.999999",
    );
}

/// The fixture's lines, written out by hand.
fn export_fixture_lines() -> Vec<String> {
    vec![
        r#"{"id":"00000000-0000-4000-8000-000000000001","stream_name":"café-1","type":"Öffnen ✓","position":0,"global_position":1,"data":{"name": "é✓ 日本", "nested": {"a": [1, {"b": null}], "e": []}},"metadata":null,"time":"2026-11-26T18:02:26.513973"}"#.to_string(),
        format!(
            "{}{}{}",
            r#"{"id":"00000000-0000-4000-8000-000000000002","stream_name":"café-1","type":"q\"b\\s\u0001\u001f"#,
            "\u{7f}",
            r#"\b\f\n\r\t","position":1,"global_position":2,"data":{"big": 12345678901234567890, "neg": -0.000001, "float": "#
        ) + &float_digits()
            + r#"},"metadata":{"correlationStreamName": "x-1"},"time":"2026-01-01T00:00:00.000000"}"#,
        r#"{"id":"00000000-0000-4000-8000-000000000003","stream_name":"quote\"back\\slash-1","type":"T","position":0,"global_position":3,"data":null,"metadata":"m","time":"1999-12-31T23:59:59.999999"}"#.to_string(),
        r#"{"id":"00000000-0000-4000-8000-000000000005","stream_name":"other-1","type":"T","position":7,"global_position":5,"data":null,"metadata":{},"time":"0001-01-01T00:00:00.000000"}"#.to_string(),
        r#"{"id":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","stream_name":"other-1","type":"T","position":8,"global_position":6,"data":[1, "two", {"three": 3.0}],"metadata":null,"time":"9999-12-31T23:59:59.999999"}"#.to_string(),
    ]
}

#[test]
fn export_writes_each_message_as_its_line() {
    let (_db, mut client) = fresh_database("transfer_export");
    export_fixture(&mut client);
    let lines = export_fixture_lines();
    let pick =
        |numbers: &[usize]| -> Vec<String> { numbers.iter().map(|&n| lines[n].clone()).collect() };
    assert_eq!(export(&mut client, "").unwrap(), lines);
    assert_eq!(export(&mut client, "NULL, NULL, NULL").unwrap(), lines);
    assert_eq!(export(&mut client, "3").unwrap(), pick(&[2, 3, 4]));
    assert_eq!(export(&mut client, "4").unwrap(), pick(&[3, 4]));
    assert_eq!(export(&mut client, "7").unwrap(), pick(&[]));
    assert_eq!(export(&mut client, "1, 2").unwrap(), pick(&[0, 1]));
    assert_eq!(export(&mut client, "2, 0").unwrap(), pick(&[]));
    assert_eq!(export(&mut client, "1, -1, 'café'").unwrap(), pick(&[0, 1]));
    assert_eq!(export(&mut client, "2, 1, 'other'").unwrap(), pick(&[3]));
    assert_eq!(
        export(&mut client, "category => 'quote\"back\\slash'").unwrap(),
        pick(&[2])
    );
    assert_eq!(export(&mut client, "1, -1, 'none'").unwrap(), pick(&[]));
    // Called in the select list, as a set of text.
    let listed: Vec<String> = client
        .query("SELECT message_store.export_messages(5)", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(listed, pick(&[3, 4]));
    let types: Vec<String> = client
        .query(
            "SELECT pg_typeof(l)::text FROM message_store.export_messages() AS l LIMIT 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(types, ["text"]);

    // The readers' argument errors.
    assert_error(
        export(&mut client, "1, -2"),
        "2201W",
        "LIMIT must not be negative",
    );
    assert_error(
        export(&mut client, "1, -1, 'café-1'"),
        "P0001",
        "Must be a category: café-1",
    );
}

#[test]
fn export_refuses_a_time_a_line_cannot_hold() {
    let (_db, mut client) = fresh_database("transfer_export_time");
    export_fixture(&mut client);
    for time in [
        "infinity",
        "-infinity",
        "10000-01-01 00:00:00",
        "0001-12-31 23:59:59.999999 BC",
        "294276-12-31 23:59:59.999999",
        "4713-01-01 00:00:00 BC",
    ] {
        client.batch_execute("BEGIN").unwrap();
        insert(
            &mut client,
            10,
            &id(10),
            "late-1",
            "T",
            0,
            Some("{}"),
            None,
            time,
        );
        // Postgres prints the time as the error does.
        let printed: String = client
            .query_one(
                "SELECT time::text FROM message_store.messages WHERE global_position = 10",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(printed, time);
        // An export that stops before it is not refused.
        assert_eq!(export(&mut client, "1, 5").unwrap(), export_fixture_lines());
        assert_error(
            export(&mut client, ""),
            "22008",
            &format!(
                "export_messages: the time of global position 10, {time}, is outside years 0001 to 9999, which a line holds"
            ),
        );
        client.batch_execute("ROLLBACK").unwrap();
    }
}

#[test]
fn export_reads_across_chunks_in_order() {
    let (_db, mut client) = fresh_database("transfer_export_chunks");
    // 2,500 messages, 1,000 read per chunk: three chunks, the last one part.
    client
        .batch_execute(
            "INSERT INTO message_store.messages (global_position, id, stream_name, type, position, data, time)
             SELECT g, ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
                    'chunk-' || (g % 7), 'T', (g - 1) / 7, jsonb_build_object('g', g),
                    timestamp '2026-01-01' + make_interval(secs => g / 1000.0)
             FROM generate_series(1, 2500) AS g",
        )
        .unwrap();
    let lines = export(&mut client, "").unwrap();
    assert_eq!(lines.len(), 2500);
    for (n, line) in lines.iter().enumerate() {
        let g = n as i64 + 1;
        assert!(
            line.contains(&format!("\"global_position\":{g},\"data\":{{\"g\": {g}}},")),
            "{line}"
        );
    }
    assert_eq!(
        lines[999],
        r#"{"id":"00000000-0000-4000-8000-0000000003e8","stream_name":"chunk-6","type":"T","position":142,"global_position":1000,"data":{"g": 1000},"metadata":null,"time":"2026-01-01T00:00:01.000000"}"#
    );
    assert_eq!(
        lines[1000],
        r#"{"id":"00000000-0000-4000-8000-0000000003e9","stream_name":"chunk-0","type":"T","position":142,"global_position":1001,"data":{"g": 1001},"metadata":null,"time":"2026-01-01T00:00:01.001000"}"#
    );
    assert_eq!(export(&mut client, "1000, 1001").unwrap(), lines[999..2000]);
    assert_eq!(
        export(&mut client, "1001, 1000").unwrap(),
        lines[1000..2000]
    );
    assert_eq!(export(&mut client, "1, 1000").unwrap(), lines[..1000]);
    let category = export(&mut client, "1, -1, 'chunk'").unwrap();
    assert_eq!(category, lines);
}

#[test]
fn import_stores_every_column_as_the_lines_give_it() {
    let (_db, mut client) = fresh_database("transfer_import");
    let lines = export_fixture_lines();
    let text = lines.join("\n") + "\n";
    assert_eq!(import(&mut client, &text).unwrap(), 5);
    let float = float_digits();
    assert_eq!(
        columns(&mut client),
        [
            r#"00000000-0000-4000-8000-000000000001 | café-1 | Öffnen ✓ | 0 | 1 | {"name": "é✓ 日本", "nested": {"a": [1, {"b": null}], "e": []}} | SQL NULL | 2026-11-26 18:02:26.513973"#.to_string(),
            format!(
                "00000000-0000-4000-8000-000000000002 | café-1 | q\"b\\s\u{1}\u{1f}\u{7f}\u{8}\u{c}\n\r\t | 1 | 2 | {{\"big\": 12345678901234567890, \"neg\": -0.000001, \"float\": {float}}} | {{\"correlationStreamName\": \"x-1\"}} | 2026-01-01 00:00:00"
            ),
            r#"00000000-0000-4000-8000-000000000003 | quote"back\slash-1 | T | 0 | 3 | null | "m" | 1999-12-31 23:59:59.999999"#.to_string(),
            // A line's null data is jsonb null, its null metadata SQL NULL.
            "00000000-0000-4000-8000-000000000005 | other-1 | T | 7 | 5 | null | {} | 0001-01-01 00:00:00".to_string(),
            r#"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 | other-1 | T | 8 | 6 | [1, "two", {"three": 3.0}] | SQL NULL | 9999-12-31 23:59:59.999999"#.to_string(),
        ]
    );
    // The time to the microsecond, as a number.
    let micros: Vec<i64> = client
        .query(
            "SELECT (extract(epoch FROM time) * 1000000)::bigint FROM message_store.messages ORDER BY global_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        micros,
        [
            1_795_716_146_513_973,
            1_767_225_600_000_000,
            946_684_799_999_999,
            -62_135_596_800_000_000,
            253_402_300_799_999_999
        ]
    );
    // Exported again, the same lines.
    assert_eq!(export(&mut client, "").unwrap(), lines);

    // A line in another form reads the same: keys in any order, space
    // around tokens, escapes, a braced upper-case id, CRLF.
    let other_form = "{ \"time\" : \"2026-11-26T18:02:26.000001\", \"metadata\":{\"b\":1,\"a\":2},\t\"data\" : {\"y\": \"\\u00e9\", \"x\": 1.50}, \"global_position\":7, \"position\":0, \"type\":\"\\u0054\", \"stream_name\":\"caf\\u00e9-2\", \"id\":\"{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12}\"}\r\n";
    assert_eq!(import(&mut client, other_form).unwrap(), 1);
    assert_eq!(
        columns(&mut client)[5],
        r#"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12 | café-2 | T | 0 | 7 | {"x": 1.50, "y": "é"} | {"a": 2, "b": 1} | 2026-11-26 18:02:26.000001"#
    );
    // Nothing to import: nothing stored.
    assert_eq!(import(&mut client, "").unwrap(), 0);
    assert_eq!(columns(&mut client).len(), 6);
}

/// A line of a message with this id's number, stream, positions and time.
fn line(n: u32, stream_name: &str, position: i64, global_position: i64) -> String {
    format!(
        r#"{{"id":"{}","stream_name":"{stream_name}","type":"T","position":{position},"global_position":{global_position},"data":{{"n": {n}}},"metadata":null,"time":"2026-11-26T18:00:00.{n:06}"}}"#,
        id(n)
    )
}

fn lines(lines: &[String]) -> String {
    lines.join("\n")
}

#[test]
fn import_refuses_with_the_line_and_stores_nothing() {
    let (_db, mut client) = fresh_database("transfer_refusals");
    assert_eq!(
        import(
            &mut client,
            &lines(&[line(1, "a-1", 0, 1), line(2, "a-1", 1, 2)])
        )
        .unwrap(),
        2
    );
    let before = columns(&mut client);
    let sequence_before = sequence(&mut client);
    let cases: Vec<(String, &str, String)> = vec![
        (
            lines(&[line(3, "b-1", 0, 3), "{\"id\":".to_string()]),
            "22P02",
            "line 2: is not well formed: expected a JSON value at byte 6".to_string(),
        ),
        (
            lines(&[line(3, "b-1", 0, 3), "".to_string(), line(4, "b-1", 1, 4)]),
            "22P02",
            "line 2: is empty (each line is one message)".to_string(),
        ),
        (
            lines(&[line(3, "b-1", 0, 3), line(4, "b-1", 1, 4).replace("\"type\":\"T\",", "")]),
            "22P02",
            "line 2: \"type\" is missing".to_string(),
        ),
        (
            lines(&[line(3, "b-1", 0, 3), line(3, "c-1", 0, 4)]),
            "23505",
            format!("line 2: id {} is repeated (first on line 1)", id(3)),
        ),
        (
            lines(&[line(3, "b-1", 0, 3), line(1, "b-1", 1, 4)]),
            "23505",
            format!(
                "line 2: id {} is stored with another \"stream_name\" (at global position 1, position 0 of stream a-1)",
                id(1)
            ),
        ),
        (
            lines(&[line(3, "a-1", 3, 3)]),
            "22023",
            "line 1: position 3 of stream a-1 is not the stream's next one, 2 (after position 1 in the store)".to_string(),
        ),
        (
            lines(&[line(3, "b-1", 5, 3), line(4, "b-1", 7, 4)]),
            "22023",
            "line 2: position 7 of stream b-1 is not the stream's next one, 6 (after position 5 on line 1)".to_string(),
        ),
        (
            lines(&[line(3, "b-1", 0, 2)]),
            "22023",
            "line 1: global position 2 is not above 2, the highest in the store".to_string(),
        ),
        (
            lines(&[line(3, "b-1", 0, 10), line(4, "c-1", 0, 9)]),
            "22023",
            "line 2: global position 9 is not above 10, the highest on line 1".to_string(),
        ),
        (
            "x\n".repeat(10_001),
            "54000",
            "import_messages: at most 10000 lines per call (this call has 10001)".to_string(),
        ),
    ];
    for (text, sqlstate, message) in &cases {
        assert_error(import(&mut client, text), sqlstate, message);
        assert_eq!(columns(&mut client), before, "{message}");
        assert_eq!(sequence(&mut client), sequence_before, "{message}");
    }
    // Too many bytes, made on the server; and NULL.
    assert_error(
        client.query_one(
            "SELECT message_store.import_messages(repeat('x', 67108865))",
            &[],
        ),
        "54000",
        "import_messages: at most 67108864 bytes of text per call (this call has 67108865)",
    );
    assert_error(
        client.query_one("SELECT message_store.import_messages(NULL)", &[]),
        "22023",
        "import_messages: lines must not be NULL",
    );
    assert_eq!(columns(&mut client), before);
    assert_eq!(sequence(&mut client), sequence_before);
}

#[test]
fn a_rerun_of_a_half_stored_import_finishes_it() {
    let (_db, mut client) = fresh_database("transfer_rerun");
    let all = [
        line(1, "a-1", 0, 1),
        line(2, "b-1", 0, 2),
        line(3, "a-1", 1, 3),
        line(4, "b-1", 1, 4),
        line(5, "a-1", 2, 5),
    ];
    // The first run stopped after two lines were committed.
    assert_eq!(import(&mut client, &lines(&all[..2])).unwrap(), 2);
    assert_eq!(import(&mut client, &lines(&all)).unwrap(), 3);
    let stored = columns(&mut client);
    assert_eq!(stored.len(), 5);
    assert_eq!(
        stored[4],
        format!(
            "{} | a-1 | T | 2 | 5 | {{\"n\": 5}} | SQL NULL | 2026-11-26 18:00:00.000005",
            id(5)
        )
    );
    // Once more: every line skipped, nothing stored twice.
    assert_eq!(import(&mut client, &lines(&all)).unwrap(), 0);
    assert_eq!(columns(&mut client), stored);
    // A line stored otherwise (here one microsecond off) is not skipped.
    assert_error(
        import(
            &mut client,
            &lines(&[all[0].replace(".000001\"", ".000002\""), all[1].clone()]),
        ),
        "23505",
        &format!(
            "line 1: id {} is stored with another \"time\" (at global position 1, position 0 of stream a-1)",
            id(1)
        ),
    );
    assert_eq!(columns(&mut client), stored);
}

#[test]
fn a_stream_empty_in_the_target_starts_anywhere_and_writes_continue() {
    let (_db, mut client) = fresh_database("transfer_anywhere");
    assert_eq!(
        import(
            &mut client,
            &lines(&[line(1, "a-1", 100, 40), line(2, "a-1", 101, 50)])
        )
        .unwrap(),
        2
    );
    // The sequence continues after the highest imported global position.
    assert_eq!(sequence(&mut client), (50, true));
    assert_eq!(write(&mut client, "a-1", "After"), 102);
    let written: i64 = client
        .query_one(
            "SELECT max(global_position) FROM message_store.messages",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(written, 51);
    // The stream now has messages: the next import must follow them.
    assert_error(
        import(&mut client, &line(3, "a-1", 0, 60)),
        "22023",
        "line 1: position 0 of stream a-1 is not the stream's next one, 103 (after position 102 in the store)",
    );
    assert_eq!(import(&mut client, &line(3, "a-1", 103, 60)).unwrap(), 1);
    assert_eq!(sequence(&mut client), (60, true));
}

#[test]
fn the_sequence_never_moves_back() {
    let (_db, mut client) = fresh_database("transfer_sequence");
    // A fresh sequence gives 1 next: an import of global position 1 moves
    // it on, so the next write takes 2.
    assert_eq!(sequence(&mut client), (1, false));
    assert_eq!(import(&mut client, &line(1, "a-1", 0, 1)).unwrap(), 1);
    assert_eq!(sequence(&mut client), (1, true));
    let next = new_id();
    client
        .execute(
            "SELECT message_store.write_message($1, 'a-1', 'T', '{}')",
            &[&next],
        )
        .unwrap();
    assert_eq!(global_position_of(&mut client, &next), 2);

    // Rolled-back writes leave the sequence ahead of the store.
    client.batch_execute("BEGIN").unwrap();
    for _ in 0..10 {
        write(&mut client, "b-1", "RolledBack");
    }
    client.batch_execute("ROLLBACK").unwrap();
    assert_eq!(sequence(&mut client), (12, true));
    // An import above the store but below the sequence's next value stores
    // its global positions and leaves the sequence where it is.
    assert_eq!(
        import(
            &mut client,
            &lines(&[line(3, "c-1", 0, 5), line(4, "c-1", 1, 8)])
        )
        .unwrap(),
        2
    );
    assert_eq!(sequence(&mut client), (12, true));
    let next = new_id();
    client
        .execute(
            "SELECT message_store.write_message($1, 'c-1', 'T', '{}')",
            &[&next],
        )
        .unwrap();
    assert_eq!(global_position_of(&mut client, &next), 13);
    // An import up to exactly the sequence's next value moves it on.
    assert_eq!(import(&mut client, &line(5, "d-1", 0, 14)).unwrap(), 1);
    assert_eq!(sequence(&mut client), (14, true));
    // An import that moved the sequence and rolled back leaves only a gap.
    client.batch_execute("BEGIN").unwrap();
    assert_eq!(import(&mut client, &line(6, "d-1", 1, 100)).unwrap(), 1);
    client.batch_execute("ROLLBACK").unwrap();
    assert_eq!(sequence(&mut client), (100, true));
    assert_eq!(import(&mut client, &line(6, "d-1", 1, 20)).unwrap(), 1);
    assert_eq!(sequence(&mut client), (100, true));
    let next = new_id();
    client
        .execute(
            "SELECT message_store.write_message($1, 'd-1', 'T', '{}')",
            &[&next],
        )
        .unwrap();
    assert_eq!(global_position_of(&mut client, &next), 101);
}

#[test]
fn import_runs_only_at_read_committed() {
    let (_db, mut client) = fresh_database("transfer_isolation");
    for level in ["REPEATABLE READ", "SERIALIZABLE"] {
        client
            .batch_execute(&format!("BEGIN ISOLATION LEVEL {level}"))
            .unwrap();
        assert_error(
            import(&mut client, &line(1, "a-1", 0, 1)),
            "0A000",
            &format!(
                "import_messages runs only at READ COMMITTED, and this transaction is {level}: its snapshot may be older than the lock import_messages takes, and miss messages stored before it"
            ),
        );
        client.batch_execute("ROLLBACK").unwrap();
        // Also as the session's default, for one statement.
        client
            .batch_execute(&format!(
                "SET default_transaction_isolation = '{}'",
                level.to_lowercase()
            ))
            .unwrap();
        assert_eq!(db_error(import(&mut client, "")).0, "0A000");
        client
            .batch_execute("RESET default_transaction_isolation")
            .unwrap();
    }
    assert_eq!(columns(&mut client), Vec::<String>::new());
    // READ UNCOMMITTED is READ COMMITTED in Postgres.
    client
        .batch_execute("BEGIN ISOLATION LEVEL READ UNCOMMITTED")
        .unwrap();
    assert_eq!(import(&mut client, &line(1, "a-1", 0, 1)).unwrap(), 1);
    client.batch_execute("COMMIT").unwrap();
    assert_eq!(columns(&mut client).len(), 1);
}

#[test]
fn a_client_role_exports_but_cannot_import() {
    const CLIENT: &str = "ms_transfer_client";
    let (db, mut admin) = fresh_database("transfer_client");
    assert_eq!(import(&mut admin, &line(1, "a-1", 0, 1)).unwrap(), 1);
    client_role(&mut admin, CLIENT);
    let mut client = connect_as(&db, CLIENT, "");
    assert_eq!(export(&mut client, "").unwrap(), [line(1, "a-1", 0, 1)]);
    // Read and append only: the lock that holds writers off is not the
    // client's to take.
    assert_error(
        import(&mut client, &line(2, "a-1", 1, 2)),
        "42501",
        "permission denied for table messages",
    );
    assert_eq!(columns(&mut admin).len(), 1);
    assert_eq!(sequence(&mut admin), (1, true));
}

#[test]
fn the_owner_of_a_trusted_install_imports() {
    const OWNER: &str = "ms_transfer_owner";
    connect("")
        .batch_execute(&format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER}') THEN
                 CREATE ROLE {OWNER} LOGIN PASSWORD 'client' NOSUPERUSER NOCREATEDB NOCREATEROLE;
               END IF;
             END $$"
        ))
        .unwrap();
    let db = empty_database("transfer_owner", Some(OWNER));
    let mut owner = connect_as(&db, OWNER, "");
    owner
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    assert_eq!(
        import(
            &mut owner,
            &lines(&[line(1, "a-1", 0, 1), line(2, "a-1", 1, 2)])
        )
        .unwrap(),
        2
    );
    assert_eq!(sequence(&mut owner), (2, true));
    assert_eq!(write(&mut owner, "a-1", "After"), 2);
    assert_eq!(
        export(&mut owner, "1, 2").unwrap(),
        [line(1, "a-1", 0, 1), line(2, "a-1", 1, 2)]
    );
}

/// A write's outcome: its position, or its error's SQLSTATE and message.
type Outcome = Result<i64, (String, String)>;

/// What a second session's `write_message` did while another transaction
/// was open: waited for a lock (its wait event), or finished first.
#[derive(Debug, PartialEq)]
enum Seen {
    Waited(String),
    Finished(Outcome),
}

/// Starts `write_message(id, stream_name, …)` in a new session of `db`,
/// and watches it from `admin` until it waits for a lock or finishes.
/// Returns what was seen and the receiver of the write's outcome (which a
/// write seen finished has already given).
fn watch_writer(
    admin: &mut Client,
    db: &str,
    id: &str,
    stream_name: &str,
) -> (Seen, mpsc::Receiver<Outcome>) {
    let (pid_tx, pid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let (db, id, stream_name) = (db.to_string(), id.to_string(), stream_name.to_string());
    thread::spawn(move || {
        let mut writer = connect(&format!("dbname={db}"));
        let pid: i32 = writer
            .query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get(0);
        pid_tx.send(pid).unwrap();
        let outcome = match writer.query_one(
            "SELECT message_store.write_message($1, $2, 'After', '{}')",
            &[&id, &stream_name],
        ) {
            Ok(row) => Ok(row.get::<_, i64>(0)),
            Err(e) => Err(db_error(Err::<(), _>(e))),
        };
        let _ = done_tx.send(outcome);
    });
    let pid = pid_rx.recv().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(outcome) = done_rx.try_recv() {
            return (Seen::Finished(outcome), done_rx);
        }
        let row = admin
            .query_one(
                "SELECT coalesce(wait_event_type, ''), coalesce(wait_event, '')
                 FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .unwrap();
        let (kind, event): (String, String) = (row.get(0), row.get(1));
        if kind == "Lock" {
            return (Seen::Waited(event), done_rx);
        }
        assert!(
            Instant::now() < deadline,
            "the writer neither waits nor ends"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_open_import_holds_writers_off_until_it_commits() {
    let (db, mut admin) = fresh_database("transfer_writers");
    let mut importer = connect(&format!("dbname={db}"));
    importer.batch_execute("BEGIN").unwrap();
    let imported = lines(&[
        line(1, "imp-1", 0, 1),
        line(2, "imp-1", 1, 2),
        line(3, "imp-2", 0, 3),
    ]);
    assert_eq!(import(&mut importer, &imported).unwrap(), 3);

    // A writer of the imported category waits for its category's lock; a
    // writer of another category waits for the table at its INSERT.
    let (same_id, other_id) = (new_id(), new_id());
    let (same, same_done) = watch_writer(&mut admin, &db, &same_id, "imp-1");
    assert_eq!(same, Seen::Waited("advisory".to_string()));
    let (other, other_done) = watch_writer(&mut admin, &db, &other_id, "other-1");
    assert_eq!(other, Seen::Waited("relation".to_string()));
    thread::sleep(Duration::from_millis(200));
    assert!(same_done.try_recv().is_err() && other_done.try_recv().is_err());

    importer.batch_execute("COMMIT").unwrap();
    let timeout = Duration::from_secs(20);
    assert_eq!(same_done.recv_timeout(timeout).unwrap(), Ok(2));
    assert_eq!(other_done.recv_timeout(timeout).unwrap(), Ok(0));
    let mut after = vec![
        global_position_of(&mut admin, &same_id),
        global_position_of(&mut admin, &other_id),
    ];
    after.sort_unstable();
    assert_eq!(after, [4, 5]);
}

/// An import waits for a writer in flight (one that has inserted and not
/// committed) and then reads the store with its message: the highest
/// committed global position it checks against is final.
#[test]
fn an_import_waits_for_writers_in_flight() {
    let (db, mut admin) = fresh_database("transfer_in_flight");
    let mut writer = connect(&format!("dbname={db}"));
    writer.batch_execute("BEGIN").unwrap();
    assert_eq!(write(&mut writer, "other-1", "InFlight"), 0);

    let (pid_tx, pid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let importer_db = db.clone();
    thread::spawn(move || {
        let mut importer = connect(&format!("dbname={importer_db}"));
        let pid: i32 = importer
            .query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get(0);
        pid_tx.send(pid).unwrap();
        let outcome =
            import(&mut importer, &line(1, "imp-1", 0, 1)).map_err(|e| db_error(Err::<(), _>(e)));
        done_tx.send(outcome).unwrap();
    });
    let pid = pid_rx.recv().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let event: String = admin
            .query_one(
                "SELECT coalesce(wait_event, '') FROM pg_stat_activity
                 WHERE pid = $1 AND wait_event_type = 'Lock'",
                &[&pid],
            )
            .map(|row| row.get(0))
            .unwrap_or_default();
        if event == "relation" {
            break;
        }
        assert!(done_rx.try_recv().is_err(), "the import did not wait");
        assert!(
            Instant::now() < deadline,
            "the import neither waits nor ends"
        );
        thread::sleep(Duration::from_millis(5));
    }
    writer.batch_execute("COMMIT").unwrap();
    assert_eq!(
        done_rx.recv_timeout(Duration::from_secs(20)).unwrap(),
        Err((
            "22023".to_string(),
            "line 1: global position 1 is not above 1, the highest in the store".to_string()
        ))
    );
    assert_eq!(columns(&mut admin).len(), 1);
}

/// The negative control: the import's rows inserted without its locks, as
/// an `import_messages` that skipped them would. A writer of another
/// category is not held off, and draws a global position below the
/// imported ones, which commit after it (a category reader past it never
/// sees them); a writer of the imported category reads a version without
/// the imported rows, and fails once they commit.
#[test]
fn without_the_locks_writers_race_the_import() {
    let (db, mut admin) = fresh_database("transfer_writers_unlocked");
    let mut importer = connect(&format!("dbname={db}"));
    importer.batch_execute("BEGIN").unwrap();
    for (n, (position, global_position)) in [(0, 1001), (1, 1002)].into_iter().enumerate() {
        insert(
            &mut importer,
            global_position,
            &id(n as u32 + 1),
            "imp-1",
            "T",
            position,
            Some("{}"),
            None,
            "2026-11-26 18:00:00",
        );
    }
    let other_id = new_id();
    let (other, _) = watch_writer(&mut admin, &db, &other_id, "other-1");
    assert_eq!(other, Seen::Finished(Ok(0)));
    assert_eq!(global_position_of(&mut admin, &other_id), 1);

    let same_id = new_id();
    let (same, same_done) = watch_writer(&mut admin, &db, &same_id, "imp-1");
    // It waits, but only on the uncommitted row of its position.
    assert_eq!(same, Seen::Waited("transactionid".to_string()));
    importer.batch_execute("COMMIT").unwrap();
    assert_eq!(
        same_done.recv_timeout(Duration::from_secs(20)).unwrap(),
        Err((
            "23505".to_string(),
            "duplicate key value violates unique constraint \"messages_stream\"".to_string()
        ))
    );
}

#[test]
fn debug_notices_say_what_an_import_did() {
    let (db, mut admin) = fresh_database("transfer_debug");
    assert_eq!(import(&mut admin, &line(1, "a-1", 0, 1)).unwrap(), 1);
    let keys: Vec<i64> = admin
        .query(
            "SELECT message_store.hash_64(c) FROM unnest(ARRAY['a', 'b']) AS c ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let (mut client, notices) = connect_keeping_notices(&db);
    client
        .batch_execute("SET message_store.debug_write = on")
        .unwrap();
    let text = lines(&[
        line(1, "a-1", 0, 1),
        line(2, "b-1", 0, 7),
        line(3, "a-1", 1, 8),
    ]);
    assert_eq!(import(&mut client, &text).unwrap(), 2);
    assert_eq!(
        notices.take(),
        [
            "» import_messages".to_string(),
            "lines: 3".to_string(),
            format!("_category_name_hashes: {}, {}", keys[0], keys[1]),
            "_max_global_position: 1".to_string(),
            "skipped: 1".to_string(),
            "stored: 2".to_string(),
            "_setval: 8".to_string(),
        ]
    );
    client
        .batch_execute("RESET message_store.debug_write; SET message_store.debug_get = on")
        .unwrap();
    assert_eq!(
        export(&mut client, "2, 1, 'b'").unwrap(),
        [line(2, "b-1", 0, 7)]
    );
    let shown = notices.take();
    assert_eq!(
        shown[..4],
        [
            "» export_messages".to_string(),
            "position ($2): 2".to_string(),
            "batch_size ($3): 1".to_string(),
            "category ($1): b".to_string(),
        ]
    );
    assert!(
        shown[4].starts_with("Generated Command: SELECT id::pg_catalog.text"),
        "{shown:?}"
    );
    assert_eq!(shown.len(), 5);
}

#[test]
fn a_database_that_is_not_utf8_moves_only_ascii() {
    let db = "ms_test_transfer_latin1";
    let mut admin = connect("");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {db} TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'"
        ))
        .unwrap();
    let mut client = connect(&format!("dbname={db}"));
    client
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    assert_eq!(import(&mut client, &line(1, "a-1", 0, 1)).unwrap(), 1);
    assert_eq!(export(&mut client, "").unwrap(), [line(1, "a-1", 0, 1)]);
    // The client's UTF-8 arrives as LATIN1: not ASCII.
    assert_error(
        import(&mut client, &line(2, "é-1", 0, 2)),
        "0A000",
        "import_messages: lines holds characters outside ASCII, which import_messages takes only in a UTF8 database",
    );
    // ASCII text whose escapes stand for other characters.
    assert_error(
        import(&mut client, &line(2, "\\u00e9-1", 0, 2)),
        "0A000",
        "line 1: holds characters outside ASCII, which import_messages stores only in a UTF8 database",
    );
    insert(
        &mut client,
        2,
        &id(2),
        "é-1",
        "T",
        0,
        Some("{}"),
        None,
        "2026-11-26 18:00:00",
    );
    assert_error(
        export(&mut client, ""),
        "0A000",
        "export_messages: the stream_name of global position 2 holds characters outside ASCII, which export_messages writes only from a UTF8 database",
    );
    assert_eq!(export(&mut client, "1, 1").unwrap(), [line(1, "a-1", 0, 1)]);
    drop(client);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}

/// Writes `count` messages to the source through the writers, across
/// categories, with the texts and JSON a store holds; some writes roll
/// back, leaving gaps in the global positions.
fn fill_source(client: &mut Client, count: usize) {
    let mut written = 0;
    let mut call = 0;
    while written < count {
        let entries: Vec<String> = (0..4)
            .map(|entry| {
                let messages: Vec<String> = (0..25)
                    .map(|i| {
                        let n = written + entry * 25 + i;
                        let metadata = if n % 3 == 0 {
                            r#", "metadata": {"correlationStreamName": "reply-1", "n": [1, {"deep": {"deeper": [null, true]}}]}"#.to_string()
                        } else if n % 3 == 1 {
                            r#", "metadata": null"#.to_string()
                        } else {
                            String::new()
                        };
                        format!(
                            r#"{{"id": "{}", "type": "Typé{}", "data": {{"n": {n}, "big": 12345678901234567890, "float": 1.5e300, "text": "é✓ \"q\" \\ \n\t\u0001", "list": [1.50, -0, 1e2, {{"a": []}}]}}{metadata}}}"#,
                            new_id(),
                            n % 5
                        )
                    })
                    .collect();
                format!(
                    r#"{{"stream_name": "catégorie{}-{}", "messages": [{}]}}"#,
                    (call + entry) % 5,
                    (call * 7 + entry) % 11,
                    messages.join(", ")
                )
            })
            .collect();
        let batch = format!("[{}]", entries.join(", "));
        client
            .execute(
                "SELECT message_store.write_batch($1::text::jsonb)",
                &[&batch],
            )
            .unwrap();
        written += 100;
        call += 1;
        if call % 7 == 0 {
            client.batch_execute("BEGIN").unwrap();
            write(client, "gone-1", "RolledBack");
            write(client, "gone-2", "RolledBack");
            client.batch_execute("ROLLBACK").unwrap();
        }
    }
}

#[test]
fn a_store_moves_to_an_empty_database_exactly() {
    let (_src, mut source) = fresh_database("transfer_round_trip_source");
    fill_source(&mut source, 3000);
    let (_dst, mut target) = fresh_database("transfer_round_trip_target");
    let exported = export(&mut source, "").unwrap();
    assert_eq!(exported.len(), 3000);
    let mut stored = 0;
    for chunk in exported.chunks(1000) {
        stored += import(&mut target, &(chunk.join("\n") + "\n")).unwrap();
    }
    assert_eq!(stored, 3000);
    assert_eq!(messages_as_text(&mut target), messages_as_text(&mut source));
    assert_eq!(columns(&mut target), columns(&mut source));
    assert_eq!(export(&mut target, "").unwrap(), exported);
    // Writes in the target continue after the last imported message.
    let highest: i64 = source
        .query_one(
            "SELECT max(global_position) FROM message_store.messages",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(highest > 3000, "rolled-back writes left gaps");
    let next = new_id();
    target
        .execute(
            "SELECT message_store.write_message($1, 'catégorie0-0', 'T', '{}')",
            &[&next],
        )
        .unwrap();
    assert_eq!(global_position_of(&mut target, &next), highest + 1);
    // And the whole import again stores nothing.
    assert_eq!(import(&mut target, &exported.join("\n")).unwrap(), 0);
}

/// A failure after the rows went in and the sequence moved (here a panic,
/// from the library built with the test-only `panic_probe` feature, which
/// tests/install.sh installs beside the shipped one) stores nothing; the
/// sequence, which is not transactional, stays ahead, and only leaves a gap.
#[test]
fn a_failure_after_the_insert_leaves_only_a_gap_in_the_global_positions() {
    let (_db, mut client) = fresh_database("transfer_panic");
    let library = std::env::var("MESSAGE_STORE_PANIC_PROBE_LIB")
        .unwrap_or_else(|_| "$libdir/message_store_panic_probe".to_string());
    client
        .batch_execute(&format!(
            "CREATE SCHEMA probe;
             CREATE FUNCTION probe.import_messages(lines text) RETURNS bigint VOLATILE
               LANGUAGE c AS '{library}', 'message_store_import_messages';
             CREATE FUNCTION probe.export_messages(\"position\" bigint, batch_size bigint, category varchar)
               RETURNS SETOF text VOLATILE
               LANGUAGE c AS '{library}', 'message_store_export_messages';
             SET message_store.panic_probe = 'message_store_import_messages'"
        ))
        .unwrap();
    assert_error(
        client.query_one(
            "SELECT probe.import_messages($1)",
            &[&lines(&[line(1, "a-1", 0, 1), line(2, "a-1", 1, 50)])],
        ),
        "XX000",
        "panic probe in message_store_import_messages",
    );
    assert_eq!(columns(&mut client), Vec::<String>::new());
    assert_eq!(sequence(&mut client), (50, true));
    // The store takes the same lines, below the sequence, and writes
    // continue above it.
    assert_eq!(
        import(
            &mut client,
            &lines(&[line(1, "a-1", 0, 1), line(2, "a-1", 1, 20)])
        )
        .unwrap(),
        2
    );
    assert_eq!(sequence(&mut client), (50, true));
    let next = new_id();
    client
        .execute(
            "SELECT message_store.write_message($1, 'a-1', 'T', '{}')",
            &[&next],
        )
        .unwrap();
    assert_eq!(global_position_of(&mut client, &next), 51);

    // A panic in an export is an error too; the probe library's export
    // reads the same lines until then.
    client
        .batch_execute("SET message_store.panic_probe = 'message_store_export_messages'")
        .unwrap();
    assert_error(
        client.query("SELECT * FROM probe.export_messages(1, -1, NULL)", &[]),
        "XX000",
        "panic probe in message_store_export_messages",
    );
    client
        .batch_execute("RESET message_store.panic_probe")
        .unwrap();
    let read: Vec<String> = client
        .query("SELECT * FROM probe.export_messages(1, 2, NULL)", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(read, [line(1, "a-1", 0, 1), line(2, "a-1", 1, 20)]);
}
