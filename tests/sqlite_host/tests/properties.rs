//! Both engines, one behaviour: random sequences of writes and reads give
//! the same results (ids, positions, global positions, data text, errors) on
//! the Postgres extension and the SQLite extension; consumer-group
//! assignment of many random stream names is the same on both. Consumer-group
//! rows are also checked against Message DB's rule in plain SQL, computed by
//! Postgres itself (md5 of the cardinal id), not by core or either extension.
//!
//! Needs the Postgres cluster of `tests/setup.sh` (or `MESSAGE_STORE_TEST_PG`).

use message_store_sqlite_tests::{error_message, open_in_memory, postgres_database};
use postgres::types::ToSql;
use postgres::Client;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rusqlite::types::{Value, ValueRef};

/// A fresh Postgres database with the extension.
fn postgres(name: &str) -> Client {
    postgres_database(name).1
}

/// One argument, bound the same way on both engines.
#[derive(Clone, Debug)]
enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
}

#[derive(Clone, Debug)]
enum Op {
    Write {
        id: usize,
        stream: String,
        kind: String,
        data: Option<String>,
        metadata: Option<String>,
        expected_version: Option<i64>,
    },
    Stream {
        stream: String,
        position: Option<i64>,
        batch: Option<i64>,
    },
    Category {
        category: String,
        position: Option<i64>,
        batch: Option<i64>,
        correlation: Option<String>,
        member: Option<i64>,
        size: Option<i64>,
    },
    Last {
        stream: String,
        kind: Option<String>,
    },
    Version {
        stream: String,
    },
}

const COLUMNS: &str = "id, stream_name, type, position, global_position, data, metadata";

/// Message DB's `hash_64(cardinal_id(name))` of the text column `name` in
/// plain SQL: md5 of the cardinal id (after the first `-`, up to the first
/// `+`), its first 16 hex digits as a bigint.
macro_rules! message_db_hash {
    ($name:literal) => {
        concat!(
            "('x' || left(md5(split_part(substr(",
            $name,
            ", strpos(",
            $name,
            ", '-') + 1), '+', 1)), 16))::bit(64)::bigint"
        )
    };
}

/// A category read with a consumer group as Message DB defines it, in plain
/// SQL over Postgres' table, with the reader's parameters: its category,
/// position, batch size and correlation rules, and a stream's membership
/// by the md5 of its cardinal id (none without an id).
const GROUP_READ: &str = concat!(
    "SELECT id::text, stream_name, type, position, global_position, data::text, metadata::text
     FROM message_store.messages
     WHERE split_part(stream_name, '-', 1) = $1::varchar
       AND global_position >= coalesce($2::bigint, 1)
       AND ($4::varchar IS NULL OR split_part(metadata->>'correlationStreamName', '-', 1) = $4::varchar)
       AND strpos(stream_name, '-') > 0
       AND mod(abs(",
    message_db_hash!("stream_name"),
    "), $6::bigint) = $5::bigint
     ORDER BY global_position
     LIMIT nullif(coalesce($3::bigint, 1000), -1)"
);

impl Op {
    /// The SQL for each engine (Postgres' with casts for its parameters) and the arguments.
    fn call(&self) -> (String, String, Vec<Arg>) {
        let t = |s: &str| Arg::Text(Some(s.to_string()));
        let ot = |s: &Option<String>| Arg::Text(s.clone());
        match self {
            Op::Write { id, stream, kind, data, metadata, expected_version } => (
                "SELECT write_message($1::varchar, $2::varchar, $3::varchar, $4::text::jsonb, $5::text::jsonb, $6::bigint)".into(),
                "SELECT write_message(?1, ?2, ?3, ?4, ?5, ?6)".into(),
                vec![t(&format!("00000000-0000-4000-8000-{id:012}")), t(stream), t(kind), ot(data), ot(metadata), Arg::Int(*expected_version)],
            ),
            Op::Stream { stream, position, batch } => (
                format!("SELECT {COLUMNS} FROM get_stream_messages($1::varchar, $2::bigint, $3::bigint)"),
                format!("SELECT {COLUMNS} FROM get_stream_messages(?1, ?2, ?3)"),
                vec![t(stream), Arg::Int(*position), Arg::Int(*batch)],
            ),
            Op::Category { category, position, batch, correlation, member, size } => (
                format!("SELECT {COLUMNS} FROM get_category_messages($1::varchar, $2::bigint, $3::bigint, $4::varchar, $5::bigint, $6::bigint)"),
                format!("SELECT {COLUMNS} FROM get_category_messages(?1, ?2, ?3, ?4, ?5, ?6)"),
                vec![t(category), Arg::Int(*position), Arg::Int(*batch), ot(correlation), Arg::Int(*member), Arg::Int(*size)],
            ),
            Op::Last { stream, kind } => (
                format!("SELECT {COLUMNS} FROM get_last_stream_message($1::varchar, $2::varchar)"),
                format!("SELECT {COLUMNS} FROM get_last_stream_message(?1, ?2)"),
                vec![t(stream), ot(kind)],
            ),
            Op::Version { stream } => (
                "SELECT stream_version($1::varchar)".into(),
                "SELECT stream_version(?1)".into(),
                vec![t(stream)],
            ),
        }
    }
}

type Outcome = Result<Vec<Vec<Option<String>>>, String>;

fn on_postgres(client: &mut Client, sql: &str, args: &[Arg]) -> Outcome {
    let params: Vec<Box<dyn ToSql + Sync>> = args
        .iter()
        .map(|a| -> Box<dyn ToSql + Sync> {
            match a {
                Arg::Text(v) => Box::new(v.clone()),
                Arg::Int(v) => Box::new(*v),
            }
        })
        .collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|b| b.as_ref()).collect();
    let rows = client
        .query(sql, &refs)
        .map_err(|e| match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        })?;
    Ok(rows
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| {
                    if *row.columns()[i].type_() == postgres::types::Type::INT8 {
                        row.get::<_, Option<i64>>(i).map(|n| n.to_string())
                    } else {
                        row.get::<_, Option<String>>(i)
                    }
                })
                .collect()
        })
        .collect())
}

fn on_sqlite(conn: &rusqlite::Connection, sql: &str, args: &[Arg]) -> Outcome {
    let values: Vec<Value> = args
        .iter()
        .map(|a| match a {
            Arg::Text(Some(s)) => Value::Text(s.clone()),
            Arg::Int(Some(n)) => Value::Integer(*n),
            _ => Value::Null,
        })
        .collect();
    let mut stmt = conn.prepare(sql).map_err(error_message)?;
    let columns = stmt.column_count();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(values.iter()))
        .map_err(error_message)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(error_message)? {
        out.push(
            (0..columns)
                .map(|i| match row.get_ref(i).unwrap() {
                    ValueRef::Null => None,
                    ValueRef::Integer(n) => Some(n.to_string()),
                    ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                    other => Some(format!("{other:?}")),
                })
                .collect(),
        );
    }
    Ok(out)
}

/// JSON text with the liberties a client may take: any key order,
/// duplicate keys, whitespace, number forms, escapes; sometimes invalid.
fn json_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        (any::<i16>(), 0u32..1000, 0usize..3)
            .prop_map(|(i, f, pad)| format!("{i}.{f}{}", "0".repeat(pad))),
        (1u32..99, -20i32..20, prop::bool::ANY)
            .prop_map(|(m, e, upper)| format!("{m}{}{e}", if upper { "E" } else { "e" })),
        Just("-0".to_string()),
        Just("0.000".to_string()),
    ];
    let string = prop_oneof![
        "[a-zA-Z0-9 ]{0,8}".prop_map(|s| format!("\"{s}\"")),
        Just(r#""tab\there \"q\" \\ \/ \u00e9 \u6F22 \ud83d\ude00 \u0007""#.to_string()),
        Just("\"é漢\"".to_string()),
    ];
    let leaf = prop_oneof![
        number,
        string,
        Just("true".to_string()),
        Just("false".to_string()),
        Just("null".to_string()),
    ];
    let value = leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec(("[a-d]{0,3}", inner, " {0,2}"), 0..5).prop_map(|fields| {
                let body: Vec<String> = fields
                    .into_iter()
                    .map(|(k, v, space)| format!("\"{k}\"{space}:{space}{v}"))
                    .collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    });
    prop_oneof![
        8 => value,
        1 => Just("{\"a\":".to_string()),
        1 => Just("[1,]".to_string()),
    ]
}

fn metadata() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        json_text().prop_map(Some),
        prop::sample::select(vec!["origin", "origin-1", "origin-2", "originX-1", "other"])
            .prop_map(|c| Some(format!("{{\"correlationStreamName\": \"{c}\", \"n\": 1}}"))),
    ]
}

fn stream() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "acct-1", "acct-2", "acct-3+x", "acct", "cart-1", "cart-9", "b-é",
    ])
    .prop_map(str::to_string)
}

fn category() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["acct", "cart", "b", "acct-1", "none"]).prop_map(str::to_string)
}

fn small() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![Just(None), (-3i64..8).prop_map(Some)]
}

/// A consumer group's member and size: any, or half the time a member of
/// a group (so that reads of groups find rows).
fn consumer_group() -> impl Strategy<Value = (Option<i64>, Option<i64>)> {
    prop_oneof![
        (
            small(),
            prop_oneof![Just(None), (-1i64..4).prop_map(Some), Just(Some(40000))]
        ),
        (1i64..4)
            .prop_flat_map(|size| (0..size).prop_map(move |member| (Some(member), Some(size)))),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (stream(), "[AB]", prop::option::of(json_text()), metadata(), prop_oneof![3 => Just(None), 1 => (-1i64..4).prop_map(Some)])
            .prop_map(|(stream, kind, data, metadata, expected_version)| Op::Write { id: 0, stream, kind, data, metadata, expected_version }),
        1 => (stream(), small(), small()).prop_map(|(stream, position, batch)| Op::Stream { stream, position, batch }),
        2 => (category(), small(), small(), prop::option::of(prop::sample::select(vec!["origin".to_string(), "originX".to_string(), "origin-1".to_string()])), consumer_group())
            .prop_map(|(category, position, batch, correlation, (member, size))| Op::Category { category, position, batch, correlation, member, size }),
        1 => (stream(), prop::option::of("[ABC]")).prop_map(|(stream, kind)| Op::Last { stream, kind }),
        1 => stream().prop_map(|stream| Op::Version { stream }),
    ]
}

#[test]
fn random_writes_and_reads_agree() {
    let pg = std::cell::RefCell::new(postgres("properties"));
    pg.borrow_mut()
        .batch_execute("SET search_path = message_store, public")
        .unwrap();
    // How many grouped reads, and rows, Message DB's rule checked.
    let oracle_reads = std::cell::Cell::new((0usize, 0usize));
    let mut runner = TestRunner::new(Config {
        cases: 200,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(op(), 1..40), |mut ops| {
            // Ids are fresh per write: a duplicate id costs Postgres a
            // sequence value and SQLite none (a listed divergence).
            for (n, op) in ops.iter_mut().enumerate() {
                if let Op::Write { id, .. } = op {
                    *id = n + 1;
                }
            }
            let mut pg = pg.borrow_mut();
            pg.batch_execute("TRUNCATE message_store.messages RESTART IDENTITY")
                .unwrap();
            let sqlite = open_in_memory();
            for (step, op) in ops.iter().enumerate() {
                let (pg_sql, sqlite_sql, args) = op.call();
                let expected = on_postgres(&mut pg, &pg_sql, &args);
                let got = on_sqlite(&sqlite, &sqlite_sql, &args);
                if let (
                    Op::Category {
                        member: Some(_),
                        size: Some(_),
                        ..
                    },
                    Ok(_),
                ) = (op, &expected)
                {
                    let plain = on_postgres(&mut pg, GROUP_READ, &args);
                    let (reads, rows) = oracle_reads.get();
                    let found = plain.as_ref().map_or(0, |rows| rows.len());
                    oracle_reads.set((reads + 1, rows + found));
                    prop_assert_eq!(
                        &got,
                        &plain,
                        "step {} of {:?}: Message DB's rule",
                        step,
                        ops
                    );
                }
                prop_assert_eq!(got, expected, "step {} of {:?}", step, ops);
            }
            Ok(())
        })
        .unwrap();
    let (reads, rows) = oracle_reads.get();
    eprintln!("Message DB's rule checked {reads} grouped reads, {rows} rows");
    assert!(
        reads >= 100 && rows >= 10,
        "{reads} grouped reads, {rows} rows"
    );
}

/// Distinct stream ids from a fixed-seed generator: letters, digits,
/// punctuation and non-ASCII, some compound (`id+part`).
fn random_stream_ids(count: usize) -> std::collections::BTreeSet<String> {
    const ALPHABET: [char; 18] = [
        'a', 'B', 'z', '0', '7', '9', '_', ':', '.', 'é', '漢', 'ß', 'Q', 'x', '1', '~', ' ', '$',
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut ids = std::collections::BTreeSet::new();
    while ids.len() < count {
        let len = 1 + (next() % 12) as usize;
        let mut id: String = (0..len).map(|_| ALPHABET[(next() % 18) as usize]).collect();
        if next() % 4 == 0 {
            id.push('+');
            id.push(ALPHABET[(next() % 18) as usize]);
        }
        ids.insert(id);
    }
    ids
}

#[test]
fn consumer_groups_assign_streams_alike() {
    let mut pg = postgres("groups");
    pg.batch_execute("SET search_path = message_store, public")
        .unwrap();
    let sqlite = open_in_memory();
    let names = random_stream_ids(2000);
    let mut tx = pg.transaction().unwrap();
    sqlite.execute_batch("BEGIN").unwrap();
    for (n, id) in names.iter().enumerate() {
        let stream = format!("grp-{id}");
        let uuid = format!("00000000-0000-4000-8000-{n:012}");
        let write = "SELECT write_message($1::varchar, $2::varchar, 'T', '{}')";
        tx.execute(write, &[&uuid, &stream]).unwrap();
        sqlite
            .query_row(
                "SELECT write_message(?1, ?2, 'T', '{}')",
                [&uuid, &stream],
                |_| Ok(()),
            )
            .unwrap();
    }
    tx.commit().unwrap();
    sqlite.execute_batch("COMMIT").unwrap();

    // The expected members: SQLite's table read with plain SQL, and each
    // stream name's membership by Message DB's md5 rule, computed by Postgres.
    let written: Vec<String> = sqlite
        .prepare("SELECT stream_name FROM messages ORDER BY global_position")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(written.len(), names.len());
    let members = concat!(
        "SELECT name FROM unnest($1::text[]) WITH ORDINALITY AS written (name, n)
         WHERE mod(abs(",
        message_db_hash!("name"),
        "), $3::bigint) = $2::bigint
         ORDER BY n"
    );

    for size in [1i64, 2, 3, 7] {
        let mut assigned = 0;
        for member in 0..size {
            let read = "SELECT stream_name FROM get_category_messages('grp', 1, -1, NULL, $1::bigint, $2::bigint)";
            let by_postgres = on_postgres(
                &mut pg,
                read,
                &[Arg::Int(Some(member)), Arg::Int(Some(size))],
            )
            .unwrap();
            let got = on_sqlite(
                &sqlite,
                "SELECT stream_name FROM get_category_messages('grp', 1, -1, NULL, ?1, ?2)",
                &[Arg::Int(Some(member)), Arg::Int(Some(size))],
            )
            .unwrap();
            let expected: Vec<Vec<Option<String>>> = pg
                .query(members, &[&written, &member, &size])
                .unwrap()
                .iter()
                .map(|row| vec![Some(row.get(0))])
                .collect();
            assert_eq!(
                got, expected,
                "member {member} of {size}: Message DB's rule"
            );
            assert_eq!(got, by_postgres, "member {member} of {size}: Postgres");
            assigned += got.len();
        }
        assert_eq!(
            assigned,
            names.len(),
            "every stream has one member of {size}"
        );
    }
}
