//! The contract's conformance cases (section 4 of the Message DB 1.3 contract)
//! against the installed extension, with exact values, texts and SQLSTATEs.

use message_store_pg_tests::*;
use postgres::types::Type;
use postgres::Client;

fn stream_positions(client: &mut Client, sql: &str) -> Vec<(String, i64, i64)> {
    client
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, String>(1), r.get(3), r.get(4)))
        .collect()
}

/// The positions of the rows a read returns.
fn batch(client: &mut Client, sql: &str) -> Vec<i64> {
    stream_positions(client, sql).iter().map(|r| r.1).collect()
}

/// The global positions of the rows a read returns.
fn globals(client: &mut Client, sql: &str) -> Vec<i64> {
    stream_positions(client, sql).iter().map(|r| r.2).collect()
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// Message DB's hash of a text, computed by Postgres itself from `md5`: the
/// expectation does not come from the code under test.
fn md5_hash(c: &mut Client, text: &str) -> i64 {
    c.query_one(
        "SELECT ('x' || left(md5($1), 16))::bit(64)::bigint",
        &[&text],
    )
    .unwrap()
    .get(0)
}

#[test]
fn pure_functions() {
    let (_, mut c) = fresh_database("pure");
    let row = c
        .query_one(
            "SELECT message_store.hash_64('someStream'), message_store.hash_64('someStream-123'),
                    message_store.hash_64('123'), message_store.hash_64('abc'),
                    message_store.hash_64(NULL)",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 2053039834977696644);
    assert_eq!(row.get::<_, i64>(1), -6897031765186548867);
    assert_eq!(row.get::<_, i64>(2), 2318431741638412123);
    assert_eq!(row.get::<_, i64>(3), -8070080442485551184);
    assert_eq!(row.get::<_, Option<i64>>(4), None);

    // name, category, id, cardinal_id, is_category
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<bool>,
    );
    let cases: &[Case] = &[
        (
            Some("someStream-123"),
            Some("someStream"),
            Some("123"),
            Some("123"),
            Some(false),
        ),
        (
            Some("someStream"),
            Some("someStream"),
            None,
            None,
            Some(true),
        ),
        (
            Some("cat-a+b"),
            Some("cat"),
            Some("a+b"),
            Some("a"),
            Some(false),
        ),
        (
            Some("a-b-c+d"),
            Some("a"),
            Some("b-c+d"),
            Some("b-c"),
            Some(false),
        ),
        (
            Some("a:b-c"),
            Some("a:b"),
            Some("c"),
            Some("c"),
            Some(false),
        ),
        (Some("a-"), Some("a"), Some(""), Some(""), Some(false)),
        (
            Some("über-straße+1"),
            Some("über"),
            Some("straße+1"),
            Some("straße"),
            Some(false),
        ),
        (None, None, None, None, Some(true)),
    ];
    for (name, category, id, cardinal, is_category) in cases {
        let row = c
            .query_one(
                "SELECT message_store.category($1), message_store.id($1),
                        message_store.cardinal_id($1), message_store.is_category($1)",
                &[name],
            )
            .unwrap();
        assert_eq!(
            row.get::<_, Option<String>>(0).as_deref(),
            *category,
            "{name:?}"
        );
        assert_eq!(row.get::<_, Option<String>>(1).as_deref(), *id, "{name:?}");
        assert_eq!(
            row.get::<_, Option<String>>(2).as_deref(),
            *cardinal,
            "{name:?}"
        );
        assert_eq!(row.get::<_, Option<bool>>(3), *is_category, "{name:?}");
    }
    let version: String = c
        .query_one("SELECT message_store.message_store_version()", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, "1.3.0");
}

#[test]
fn write_positions_and_expected_versions() {
    let (_, mut c) = fresh_database("write");
    let w = "SELECT message_store.write_message($1, $2, 'SomeType', '{}'::jsonb, NULL, $3)";
    let first: i64 = c
        .query_one(w, &[&new_id(), &"someStream-1", &None::<i64>])
        .unwrap()
        .get(0);
    assert_eq!(first, 0);
    let second: i64 = c
        .query_one(w, &[&new_id(), &"someStream-1", &Some(0i64)])
        .unwrap()
        .get(0);
    assert_eq!(second, 1);
    assert_error(
        c.query_one(w, &[&new_id(), &"someStream-1", &Some(0i64)]),
        "P0001",
        "Wrong expected version: 0 (Stream: someStream-1, Stream Version: 1)",
    );
    assert_error(
        c.query_one(w, &[&new_id(), &"someStream-1", &Some(-1i64)]),
        "P0001",
        "Wrong expected version: -1 (Stream: someStream-1, Stream Version: 1)",
    );
    // -1: the stream must be empty.
    let empty: i64 = c
        .query_one(w, &[&new_id(), &"someStream-2", &Some(-1i64)])
        .unwrap()
        .get(0);
    assert_eq!(empty, 0);
    assert_error(
        c.query_one(w, &[&new_id(), &"someStream-3", &Some(1i64)]),
        "P0001",
        "Wrong expected version: 1 (Stream: someStream-3, Stream Version: -1)",
    );
    // Failed calls changed nothing.
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM message_store.messages"),
        3
    );
    let versions = c
        .query_one(
            "SELECT message_store.stream_version('someStream-1'), message_store.stream_version('someStream-3')",
            &[],
        )
        .unwrap();
    assert_eq!(versions.get::<_, Option<i64>>(0), Some(1));
    assert_eq!(versions.get::<_, Option<i64>>(1), None);
}

#[test]
fn message_ids() {
    let (_, mut c) = fresh_database("ids");
    let w = "SELECT message_store.write_message($1, $2, 'T', '{}'::jsonb)";
    for (n, form) in [
        "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
        "{b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
        "c0eebc999c0b4ef8bb6d6bb9bd380a11",
    ]
    .iter()
    .enumerate()
    {
        c.query_one(w, &[form, &format!("ids-{n}")]).unwrap();
    }
    let ids: Vec<String> = c
        .query(
            "SELECT id::text FROM message_store.messages ORDER BY global_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ids,
        [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "c0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        ]
    );
    assert_error(
        c.query_one(w, &[&"not-a-uuid", &"ids-9"]),
        "22P02",
        "invalid input syntax for type uuid: \"not-a-uuid\"",
    );
    // A duplicate id is an error, not an idempotent no-op, and it uses up a
    // global position.
    assert_error(
        c.query_one(w, &[&"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", &"ids-0"]),
        "23505",
        "duplicate key value violates unique constraint \"messages_id\"",
    );
    let next: i64 = c.query_one(w, &[&new_id(), &"ids-0"]).unwrap().get(0);
    assert_eq!(next, 1);
    let global: i64 = count(
        &mut c,
        "SELECT max(global_position) FROM message_store.messages",
    );
    assert_eq!(global, 5);
    // The version check comes before the id is read.
    assert_error(
        c.query_one(
            "SELECT message_store.write_message('bad', 'ids-0', 'T', '{}', NULL, 7)",
            &[],
        ),
        "P0001",
        "Wrong expected version: 7 (Stream: ids-0, Stream Version: 1)",
    );
    // However many writes the session has made (Postgres may plan a repeated
    // statement once for all calls), an id that is not a uuid uses up no
    // global position.
    for _ in 0..10 {
        c.query_one(w, &[&new_id(), &"ids-1"]).unwrap();
    }
    assert_error(
        c.query_one(w, &[&"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A1", &"ids-1"]),
        "22P02",
        "invalid input syntax for type uuid: \"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A1\"",
    );
    c.query_one(w, &[&new_id(), &"ids-1"]).unwrap();
    let written: Vec<i64> = c
        .query(
            "SELECT global_position FROM message_store.messages WHERE global_position > 5 ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(written, (6..=16).collect::<Vec<i64>>());
}

#[test]
fn bad_input_changes_nothing() {
    let (_, mut c) = fresh_database("bad_input");
    write(&mut c, "bad-1", "T");
    let (state, message) = db_error(c.query_one(
        "SELECT message_store.write_message($1, 'bad-1', NULL, '{}')",
        &[&new_id()],
    ));
    assert_eq!(state, "23502");
    assert_eq!(
        message,
        "null value in column \"type\" of relation \"messages\" violates not-null constraint"
    );
    let (state, _) = db_error(c.query_one(
        "SELECT message_store.write_message($1, NULL, 'T', '{}')",
        &[&new_id()],
    ));
    assert_eq!(state, "23502");
    let (state, message) = db_error(c.query_one(
        "SELECT message_store.write_message($1, 'bad-1', 'T', '{not json')",
        &[&new_id()],
    ));
    assert_eq!(state, "22P02");
    assert_eq!(message, "invalid input syntax for type json");
    // NULL data is allowed.
    let position: i64 = c
        .query_one(
            "SELECT message_store.write_message($1, 'bad-1', 'T', NULL)",
            &[&new_id()],
        )
        .unwrap()
        .get(0);
    assert_eq!(position, 1);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM message_store.messages"),
        2
    );
    // A very long name is either stored and read back or refused with a
    // clear error; the backend survives either way.
    let long_name = format!(
        "long-{}",
        (0..20000)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect::<String>()
    );
    match c.query_one(
        "SELECT message_store.write_message($1, $2, 'T', '{}')",
        &[&new_id(), &long_name],
    ) {
        Ok(row) => assert_eq!(row.get::<_, i64>(0), 0),
        Err(e) => {
            let (state, _) = db_error(Err::<(), _>(e));
            assert_eq!(state, "54000");
        }
    }
    assert_eq!(count(&mut c, "SELECT 1::bigint"), 1);
    // Unicode names are written and read back as given.
    write(&mut c, "überweisung-straße+1", "Gebucht");
    let row = c
        .query_one(
            "SELECT stream_name, type FROM message_store.get_category_messages('überweisung')",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "überweisung-straße+1");
    assert_eq!(row.get::<_, String>(1), "Gebucht");
    // Absurd batch sizes.
    let rows = c
        .query(
            "SELECT * FROM message_store.get_stream_messages('bad-1', 0, 9223372036854775807)",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_error(
        c.query(
            "SELECT * FROM message_store.get_stream_messages('bad-1', 0, -9223372036854775808)",
            &[],
        ),
        "2201W",
        "LIMIT must not be negative",
    );
}

#[test]
fn get_stream_messages() {
    let (_, mut c) = fresh_database("stream_read");
    for _ in 0..3 {
        write(&mut c, "someStream-1", "T");
    }
    write(&mut c, "someStream-2", "T");
    let rows = stream_positions(
        &mut c,
        "SELECT * FROM message_store.get_stream_messages('someStream-1')",
    );
    assert_eq!(
        rows,
        [
            ("someStream-1".to_string(), 0, 1),
            ("someStream-1".to_string(), 1, 2),
            ("someStream-1".to_string(), 2, 3)
        ]
    );
    assert_error(
        c.query(
            "SELECT * FROM message_store.get_stream_messages('someStream')",
            &[],
        ),
        "P0001",
        "Must be a stream name: someStream",
    );
    assert_error(
        c.query("SELECT * FROM message_store.get_stream_messages(NULL)", &[]),
        "P0001",
        "Must be a stream name: <NULL>",
    );
    assert_eq!(
        batch(
            &mut c,
            "SELECT * FROM message_store.get_stream_messages('someStream-1', 0, 2)"
        ),
        [0, 1]
    );
    assert_eq!(
        batch(
            &mut c,
            "SELECT * FROM message_store.get_stream_messages('someStream-1', 1, -1)"
        ),
        [1, 2]
    );
    assert_eq!(
        batch(
            &mut c,
            "SELECT * FROM message_store.get_stream_messages('someStream-1', 0, 0)"
        ),
        Vec::<i64>::new()
    );
    assert_eq!(
        batch(
            &mut c,
            "SELECT * FROM message_store.get_stream_messages('someStream-1', NULL, NULL)"
        ),
        [0, 1, 2]
    );
    assert_error(
        c.query(
            "SELECT * FROM message_store.get_stream_messages('someStream-1', 0, -2)",
            &[],
        ),
        "2201W",
        "LIMIT must not be negative",
    );

    // The SQL condition is gated by message_store.sql_condition.
    let with_condition = "SELECT * FROM message_store.get_stream_messages('someStream-1', 0, 1000, 'global_position >= 2')";
    assert_error(
        c.query(with_condition, &[]),
        "P0001",
        "Retrieval with SQL condition is not activated",
    );
    c.batch_execute("SET message_store.sql_condition = off")
        .unwrap();
    assert_error(
        c.query(with_condition, &[]),
        "P0001",
        "Retrieval with SQL condition is not activated",
    );
    c.batch_execute("SET message_store.sql_condition = on")
        .unwrap();
    assert_eq!(batch(&mut c, with_condition), [1, 2]);
    // After SET then RESET the setting reads as '' and stays enabled.
    c.batch_execute("RESET message_store.sql_condition")
        .unwrap();
    assert_eq!(batch(&mut c, with_condition), [1, 2]);
}

#[test]
fn get_category_messages() {
    let (_, mut c) = fresh_database("category_read");
    for stream in [
        "someStream-1",
        "someStream-2",
        "someStream-3",
        "someStream-1",
        "someStream-2",
        "someStream-3",
    ] {
        write(&mut c, stream, "T");
    }
    write(&mut c, "otherStream-1", "T");
    let rows = stream_positions(
        &mut c,
        "SELECT * FROM message_store.get_category_messages('someStream')",
    );
    assert_eq!(
        rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>()[..3],
        ["someStream-1", "someStream-2", "someStream-3"]
    );
    assert_error(
        c.query(
            "SELECT * FROM message_store.get_category_messages('someStream-1')",
            &[],
        ),
        "P0001",
        "Must be a category: someStream-1",
    );
    assert_eq!(
        globals(
            &mut c,
            "SELECT * FROM message_store.get_category_messages('someStream', 1, 2)"
        ),
        [1, 2]
    );
    assert_eq!(
        globals(
            &mut c,
            "SELECT * FROM message_store.get_category_messages('someStream', 3, 2)"
        ),
        [3, 4]
    );
    assert_eq!(
        globals(
            &mut c,
            "SELECT * FROM message_store.get_category_messages('someStream', 2, -1)"
        ),
        [2, 3, 4, 5, 6]
    );
    assert_eq!(
        globals(
            &mut c,
            "SELECT * FROM message_store.get_category_messages(NULL)"
        ),
        Vec::<i64>::new()
    );
    assert_error(
        c.query(
            "SELECT * FROM message_store.get_category_messages('someStream', 1, -7)",
            &[],
        ),
        "2201W",
        "LIMIT must not be negative",
    );
}

#[test]
fn correlation() {
    let (_, mut c) = fresh_database("correlation");
    write_with_metadata(
        &mut c,
        "someStream-1",
        r#"{"correlationStreamName": "origin-1"}"#,
    );
    write_with_metadata(&mut c, "someStream-2", r#"{}"#);
    write_with_metadata(
        &mut c,
        "someStream-3",
        r#"{"correlationStreamName": "origin"}"#,
    );
    write_with_metadata(
        &mut c,
        "someStream-4",
        r#"{"correlationStreamName": "originX-99"}"#,
    );
    write(&mut c, "someStream-5", "T");
    write_with_metadata(
        &mut c,
        "someStream-6",
        r#"{"correlationStreamName": "origin-99"}"#,
    );
    assert_eq!(
        globals(
            &mut c,
            "SELECT * FROM message_store.get_category_messages('someStream', 1, 1000, 'origin')"
        ),
        [1, 3, 6]
    );
    assert_eq!(
        globals(
            &mut c,
            "SELECT * FROM message_store.get_category_messages('someStream', 1, 2, 'origin')"
        ),
        [1, 3]
    );
    assert_error(
        c.query(
            "SELECT * FROM message_store.get_category_messages('someStream', 1, 1000, 'origin-1')",
            &[],
        ),
        "P0001",
        "Correlation must be a category (Correlation: origin-1)",
    );
    c.batch_execute("SET message_store.sql_condition = on")
        .unwrap();
    assert_eq!(
        globals(&mut c, "SELECT * FROM message_store.get_category_messages('someStream', 1, 1000, 'origin', NULL, NULL, 'global_position > 1')"),
        [3, 6]
    );
}

#[test]
fn consumer_groups() {
    let (_, mut c) = fresh_database("consumer_groups");
    for _ in 0..10 {
        write(&mut c, "someStream-123", "T");
        write(&mut c, "someStream-456+x", "T");
    }
    write(&mut c, "someStream", "T");
    let read = |c: &mut Client, member: i64, size: i64| {
        c.query(
            "SELECT stream_name, global_position FROM message_store.get_category_messages('someStream', 1, 1000, NULL, $1, $2)",
            &[&member, &size],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
    };
    for size in [2i64, 3, 5] {
        let mut total = 0;
        for member in 0..size {
            let streams = read(&mut c, member, size);
            total += streams.len();
            for cardinal in ["123", "456"] {
                let owner = md5_hash(&mut c, cardinal).abs() % size;
                let here = streams.iter().filter(|s| s.contains(cardinal)).count();
                assert_eq!(
                    here,
                    if owner == member { 10 } else { 0 },
                    "size {size} member {member} {cardinal}"
                );
            }
        }
        // The stream named like its category has no cardinal id: no member gets it.
        assert_eq!(total, 20);
    }
    // Cardinal id 123 lands on member 1 of 3.
    assert_eq!(
        read(&mut c, 1, 3)
            .iter()
            .filter(|s| *s == "someStream-123")
            .count(),
        10
    );

    let suffix =
        |m: &str, s: &str| format!("(Consumer Group Member: {m}, Consumer Group Size: {s})");
    let cases = [
        (
            "1",
            "NULL",
            format!(
                "Consumer group member and size must be specified {}",
                suffix("1", "<NULL>")
            ),
        ),
        (
            "NULL",
            "1",
            format!(
                "Consumer group member and size must be specified {}",
                suffix("<NULL>", "1")
            ),
        ),
        (
            "0",
            "0",
            format!(
                "Consumer group size must not be less than 1 {}",
                suffix("0", "0")
            ),
        ),
        (
            "-1",
            "-1",
            format!(
                "Consumer group size must not be less than 1 {}",
                suffix("-1", "-1")
            ),
        ),
        (
            "-1",
            "2",
            format!(
                "Consumer group member must not be less than 0 {}",
                suffix("-1", "2")
            ),
        ),
        (
            "2",
            "2",
            format!(
                "Consumer group member must be less than the group size {}",
                suffix("2", "2")
            ),
        ),
    ];
    for (member, size, message) in cases {
        assert_error(
            c.query(
                &format!("SELECT * FROM message_store.get_category_messages('someStream', 1, 1000, NULL, {member}, {size})"),
                &[],
            ),
            "P0001",
            &message,
        );
    }
    assert_error(
        c.query("SELECT * FROM message_store.get_category_messages('someStream', 1, 1000, NULL, 0, 40000)", &[]),
        "22003",
        "smallint out of range",
    );
    // Consumer group and correlation together.
    write_with_metadata(
        &mut c,
        "someStream-123",
        r#"{"correlationStreamName": "origin-1"}"#,
    );
    write_with_metadata(
        &mut c,
        "someStream-456",
        r#"{"correlationStreamName": "origin-1"}"#,
    );
    let member_of_123 = md5_hash(&mut c, "123").abs() % 2;
    let member_of_456 = md5_hash(&mut c, "456").abs() % 2;
    let rows = c
        .query(
            "SELECT stream_name FROM message_store.get_category_messages('someStream', 1, 1000, 'origin', $1, 2)",
            &[&member_of_123],
        )
        .unwrap();
    let streams: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert!(streams.contains(&"someStream-123".to_string()));
    assert!(streams
        .iter()
        .all(|s| s == "someStream-123" || member_of_456 == member_of_123));
    // The condition gate comes after the group checks.
    assert_error(
        c.query("SELECT * FROM message_store.get_category_messages('someStream', 1, 1000, NULL, 0, 2, 'true')", &[]),
        "P0001",
        "Retrieval with SQL condition is not activated",
    );
}

#[test]
fn get_last_stream_message() {
    let (_, mut c) = fresh_database("last");
    write(&mut c, "someStream-1", "A");
    write(&mut c, "someStream-1", "A");
    write(&mut c, "someStream-1", "B");
    let last = c
        .query(
            "SELECT type, position FROM message_store.get_last_stream_message('someStream-1')",
            &[],
        )
        .unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(
        (last[0].get::<_, String>(0), last[0].get::<_, i64>(1)),
        ("B".to_string(), 2)
    );
    let last_a = c
        .query(
            "SELECT type, position FROM message_store.get_last_stream_message('someStream-1', 'A')",
            &[],
        )
        .unwrap();
    assert_eq!(
        (last_a[0].get::<_, String>(0), last_a[0].get::<_, i64>(1)),
        ("A".to_string(), 1)
    );
    assert!(c
        .query(
            "SELECT * FROM message_store.get_last_stream_message('someStream-2')",
            &[]
        )
        .unwrap()
        .is_empty());
    assert!(c
        .query(
            "SELECT * FROM message_store.get_last_stream_message('someStream-1', 'C')",
            &[]
        )
        .unwrap()
        .is_empty());
}

#[test]
fn stream_version() {
    let (_, mut c) = fresh_database("version");
    write(&mut c, "someStream-1", "T");
    write(&mut c, "someStream-1", "T");
    let row = c
        .query_one("SELECT message_store.stream_version('someStream-1'), message_store.stream_version('someStream-2')", &[])
        .unwrap();
    assert_eq!(row.get::<_, Option<i64>>(0), Some(1));
    assert_eq!(row.get::<_, Option<i64>>(1), None);
}

#[test]
fn result_shape_and_values() {
    let (_, mut c) = fresh_database("shape");
    c.query_one(
        "SELECT message_store.write_message('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'someStream-1', 'SomeType', '{\"b\":1,\"a\":2}', '{\"correlationStreamName\":\"x-1\"}')",
        &[],
    )
    .unwrap();
    let statement = c
        .prepare("SELECT * FROM message_store.get_stream_messages('someStream-1')")
        .unwrap();
    let columns: Vec<(String, Type)> = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.type_().clone()))
        .collect();
    assert_eq!(
        columns,
        [
            ("id".to_string(), Type::VARCHAR),
            ("stream_name".to_string(), Type::VARCHAR),
            ("type".to_string(), Type::VARCHAR),
            ("position".to_string(), Type::INT8),
            ("global_position".to_string(), Type::INT8),
            ("data".to_string(), Type::VARCHAR),
            ("metadata".to_string(), Type::VARCHAR),
            ("time".to_string(), Type::TIMESTAMP),
        ]
    );
    let row = c
        .query_one(
            "SELECT id, stream_name, type, position, global_position, data, metadata, time::text,
                    time = (SELECT time FROM message_store.messages) AS same_time
             FROM message_store.get_stream_messages('someStream-1')",
            &[],
        )
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    );
    assert_eq!(row.get::<_, String>(5), r#"{"a": 2, "b": 1}"#);
    assert_eq!(
        row.get::<_, String>(6),
        r#"{"correlationStreamName": "x-1"}"#
    );
    assert!(row.get::<_, bool>(8));
    // One composite column per row in the SELECT list.
    let composite: String = c
        .query_one(
            "SELECT message_store.get_stream_messages('someStream-1')::text",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(composite.starts_with("(a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,someStream-1,SomeType,0,1,\"{\"\"a\"\": 2, \"\"b\"\": 1}\""), "{composite}");
}

#[test]
fn call_styles() {
    let (_, mut c) = fresh_database("call_styles");
    // Named arguments.
    let p: i64 = c
        .query_one(
            "SELECT message_store.write_message(id => $1, stream_name => 'named-1', \"type\" => 'T', data => '{}', expected_version => -1)",
            &[&new_id()],
        )
        .unwrap()
        .get(0);
    assert_eq!(p, 0);
    // Untyped parameters: types inferred by the server, as node-pg sends them.
    c.batch_execute(&format!(
        "SET search_path = message_store, public;
         PREPARE w AS SELECT write_message($1, $2, $3, $4, $5, $6);
         EXECUTE w('{}', 'named-1', 'T', '{{\"a\":1}}', NULL, 0);
         RESET search_path;",
        new_id()
    ))
    .unwrap();
    // Typed casts, as Eventide sends them, inside a client transaction.
    let mut tx = c.transaction().unwrap();
    for expected in [1i64, 2] {
        tx.query_one(
            "SELECT message_store.write_message($1::varchar, $2::varchar, $3::varchar, $4::jsonb, $5::jsonb, $6::bigint)",
            &[&new_id(), &"named-1", &"T", &serde_json::json!({"b": 1}), &None::<serde_json::Value>, &expected],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    // In FROM, with named arguments.
    let rows = c
        .query(
            "SELECT position FROM message_store.get_stream_messages(stream_name => 'named-1', batch_size => 2, \"position\" => 1)",
            &[],
        )
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>(),
        [1, 2]
    );
    let rows = c
        .query(
            "SELECT 1 FROM message_store.get_category_messages(category => 'named', consumer_group_member => 0, consumer_group_size => 1)",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 4);
    // Unqualified, with message_store on the search_path.
    c.batch_execute("SET search_path = message_store").unwrap();
    let v: Option<i64> = c
        .query_one("SELECT stream_version('named-1')", &[])
        .unwrap()
        .get(0);
    assert_eq!(v, Some(3));
}

#[test]
fn writes_in_one_transaction_share_its_time() {
    let (_, mut c) = fresh_database("time");
    let mut tx = c.transaction().unwrap();
    for _ in 0..3 {
        tx.query_one(
            "SELECT message_store.write_message($1, 't-1', 'T', '{}'::jsonb)",
            &[&new_id()],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    write(&mut c, "t-1", "T");
    let times: Vec<String> = c
        .query(
            "SELECT time::text FROM message_store.get_stream_messages('t-1')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(times[0], times[1]);
    assert_eq!(times[1], times[2]);
    assert_ne!(times[2], times[3]);
    // UTC, to the microsecond: the default is now() AT TIME ZONE 'utc'.
    let utc: bool = c
        .query_one(
            "SELECT abs(extract(epoch FROM (now() AT TIME ZONE 'utc') - max(time))) < 60 FROM message_store.messages",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(utc);
}

#[test]
fn reporting_views() {
    let (_, mut c) = fresh_database("views");
    write(&mut c, "a-1", "X");
    write(&mut c, "a-1", "Y");
    write(&mut c, "b-1", "X");
    let row = |c: &mut Client, sql: &str| -> Vec<String> {
        c.query(&format!("SELECT t::text FROM ({sql}) t"), &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(
        row(&mut c, "SELECT * FROM message_store.stream_summary"),
        ["(a-1,2,66.67)", "(b-1,1,33.33)"]
    );
    assert_eq!(
        row(&mut c, "SELECT * FROM message_store.type_summary"),
        ["(X,2,66.67)", "(Y,1,33.33)"]
    );
    assert_eq!(
        row(&mut c, "SELECT * FROM message_store.stream_type_summary"),
        ["(a-1,X,1,33.33)", "(a-1,Y,1,33.33)", "(b-1,X,1,33.33)"]
    );
    assert_eq!(
        row(&mut c, "SELECT * FROM message_store.type_stream_summary"),
        ["(X,a-1,1,33.33)", "(X,b-1,1,33.33)", "(Y,a-1,1,33.33)"]
    );
    assert_eq!(
        row(&mut c, "SELECT * FROM message_store.category_type_summary"),
        ["(a,X,1,33.33)", "(a,Y,1,33.33)", "(b,X,1,33.33)"]
    );
    assert_eq!(
        row(&mut c, "SELECT * FROM message_store.type_category_summary"),
        ["(X,a,1,33.33)", "(X,b,1,33.33)", "(Y,a,1,33.33)"]
    );
}

#[test]
fn debug_notices() {
    let (db, _admin) = fresh_database("debug");
    let (mut c, notices) = connect_keeping_notices(&db);
    let take = || notices.take();

    c.batch_execute("SET message_store.debug_write = on")
        .unwrap();
    c.query_one(
        "SELECT message_store.write_message('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'd-1', 'T', '{\"b\":1,\"a\":2}')",
        &[],
    )
    .unwrap();
    let category_hash = md5_hash(&mut c, "d");
    assert_eq!(
        take(),
        [
            "» acquire_lock".to_string(),
            "stream_name: d-1".to_string(),
            "_category: d".to_string(),
            format!("_category_name_hash: {category_hash}"),
            "» write_message".to_string(),
            "id ($1): a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".to_string(),
            "stream_name ($2): d-1".to_string(),
            "type ($3): T".to_string(),
            "data ($4): {\"a\": 2, \"b\": 1}".to_string(),
            "metadata ($5): <NULL>".to_string(),
            "expected_version ($6): <NULL>".to_string(),
            "_stream_version: -1".to_string(),
            "_next_position: 0".to_string(),
        ]
    );
    // debug_write says nothing about reads; debug_get does; debug covers both.
    assert_eq!(
        c.query(
            "SELECT * FROM message_store.get_stream_messages('d-1')",
            &[]
        )
        .unwrap()
        .len(),
        1
    );
    assert!(take().is_empty());
    c.batch_execute("RESET message_store.debug_write; SET message_store.debug_get = on")
        .unwrap();
    assert_eq!(
        c.query(
            "SELECT * FROM message_store.get_stream_messages('d-1', NULL, 5)",
            &[]
        )
        .unwrap()
        .len(),
        1
    );
    let lines = take();
    assert_eq!(
        lines[..5],
        [
            "» get_stream_messages",
            "stream_name ($1): d-1",
            "position ($2): 0",
            "batch_size ($3): 5",
            "condition ($4): <NULL>",
        ]
    );
    assert!(
        lines[5].starts_with("Generated Command: SELECT "),
        "{lines:?}"
    );
    assert_eq!(
        c.query(
            "SELECT * FROM message_store.get_category_messages('d', NULL, NULL, NULL, 0, 1)",
            &[]
        )
        .unwrap()
        .len(),
        1
    );
    let lines = take();
    assert_eq!(
        lines[..8],
        [
            "» get_category_messages",
            "category ($1): d",
            "position ($2): 1",
            "batch_size ($3): 1000",
            "correlation ($4): <NULL>",
            "consumer_group_member ($5): 0",
            "consumer_group_size ($6): 1",
            "condition: <NULL>",
        ]
    );
    assert_eq!(
        c.query(
            "SELECT * FROM message_store.get_last_stream_message('d-1')",
            &[]
        )
        .unwrap()
        .len(),
        1
    );
    assert_eq!(
        take()[..3],
        [
            "» get_last_message",
            "stream_name ($1): d-1",
            "type ($2): <NULL>"
        ]
    );
    c.batch_execute("RESET message_store.debug_get; SET message_store.debug = on")
        .unwrap();
    assert_eq!(
        c.query_one("SELECT message_store.acquire_lock('d-2')", &[])
            .unwrap()
            .get::<_, i64>(0),
        category_hash
    );
    assert_eq!(take()[0], "» acquire_lock");
    c.batch_execute("SET message_store.debug = off").unwrap();
    write(&mut c, "d-1", "T");
    assert!(take().is_empty());
}
