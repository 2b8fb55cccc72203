//! The SQLite extension beside its plain-SQL floor: for each operation, the
//! extension's call and a prepared statement doing the same work on the same
//! connection and data, in one criterion group (`message_store` and `floor`).
//! `cargo run -p message_store_benches --bin report` turns the results into
//! the ratios of PERFORMANCE.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use message_store_benches::{
    data, message_id, metadata, open, read_all, sqlite_data_set, stream_name, table_function,
    total_messages, Sequence, CATEGORIES, STREAMS_PER_CATEGORY, TABLE_FUNCTION_FLOOR,
};
use rusqlite::types::Value;
use rusqlite::Connection;

const COLUMNS: &str = "id, stream_name, type, position, global_position, data, metadata, time";
/// `category()` in built-in SQL, as the category index has it.
const CATEGORY: &str = "substr(stream_name, 1, instr(stream_name || '-', '-') - 1)";

fn random_stream(seq: &mut Sequence) -> Vec<Value> {
    vec![Value::Text(stream_name(
        seq.below(CATEGORIES * STREAMS_PER_CATEGORY),
    ))]
}

/// One read: the extension's query, the floor's, and the floor's read
/// through the leanest table-valued function (what SQLite's virtual-table
/// interface costs by itself), each run with the same sequence of
/// arguments, in one group.
fn read_pair(
    c: &mut Criterion,
    conn: &Connection,
    name: &str,
    [ours, floor]: [&str; 2],
    seed: u64,
    args: impl Fn(&mut Sequence) -> Vec<Value>,
) {
    let function: String = format!("floor of {name}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    table_function::register(conn, &function, floor).unwrap();
    let params = conn.prepare(floor).unwrap().parameter_count();
    let params: Vec<String> = (1..=params).map(|i| format!("?{i}")).collect();
    let through_function = format!("SELECT * FROM {function}({})", params.join(", "));
    let mut group = c.benchmark_group(name);
    for (side, sql) in [
        ("message_store", ours),
        ("floor", floor),
        (TABLE_FUNCTION_FLOOR, &through_function),
    ] {
        group.bench_function(side, |b| {
            let mut stmt = conn.prepare(sql).unwrap();
            let mut seq = Sequence::new(seed);
            b.iter(|| {
                black_box(read_all(
                    &mut stmt,
                    rusqlite::params_from_iter(args(&mut seq)),
                ))
            })
        });
    }
    group.finish();
}

fn reads(c: &mut Criterion) {
    let total = total_messages();
    let conn = open(&sqlite_data_set(total));
    let category_and_start = |seq: &mut Sequence| {
        vec![
            Value::Text(format!("cat{}", seq.below(CATEGORIES))),
            Value::Integer(1 + seq.below(total - 2000)),
        ]
    };

    read_pair(
        c,
        &conn,
        "get_stream_messages (10)",
        [
            &format!("SELECT {COLUMNS} FROM get_stream_messages(?1, 0, 10)"),
            &format!("SELECT {COLUMNS} FROM messages WHERE stream_name = ?1 AND position >= 0 ORDER BY position LIMIT 10"),
        ],
        1,
        random_stream,
    );
    let category_reads: [(&str, &str, &str); 3] = [
        ("get_category_messages (100)", "NULL, NULL, NULL", ""),
        (
            "get_category_messages (100, consumer group member of 4)",
            "NULL, 1, 4",
            " AND abs(hash_64(cardinal_id(stream_name))) % 4 = 1",
        ),
        (
            "get_category_messages (100, correlation)",
            "'origin', NULL, NULL",
            " AND substr(json_extract(metadata, '$.correlationStreamName'), 1, instr(json_extract(metadata, '$.correlationStreamName') || '-', '-') - 1) = 'origin'",
        ),
    ];
    for (name, extra_args, extra_filter) in category_reads {
        read_pair(
            c,
            &conn,
            name,
            [
                &format!("SELECT {COLUMNS} FROM get_category_messages(?1, ?2, 100, {extra_args})"),
                &format!("SELECT {COLUMNS} FROM messages WHERE {CATEGORY} = ?1 AND global_position >= ?2{extra_filter} ORDER BY global_position LIMIT 100"),
            ],
            2,
            category_and_start,
        );
    }
    read_pair(
        c,
        &conn,
        "get_last_stream_message",
        [
            &format!("SELECT {COLUMNS} FROM get_last_stream_message(?1)"),
            &format!("SELECT {COLUMNS} FROM messages WHERE stream_name = ?1 ORDER BY position DESC LIMIT 1"),
        ],
        3,
        random_stream,
    );
}

/// A write of one message to a random stream of a store that already
/// holds some, through the extension and as the plain INSERT that does the
/// same version lookup.
fn write_group(c: &mut Criterion, name: &str, connect: impl Fn() -> Connection) {
    let mut group = c.benchmark_group(name);
    group.bench_function("message_store", |b| {
        let conn = connect();
        let mut stmt = conn
            .prepare("SELECT write_message(?1, ?2, 'Written', ?3, ?4)")
            .unwrap();
        let mut i = 0i64;
        b.iter(|| {
            i += 1;
            let position: i64 = stmt
                .query_row(
                    rusqlite::params![message_id(i), stream_name(i), data(i), metadata(i)],
                    |r| r.get(0),
                )
                .unwrap();
            black_box(position)
        })
    });
    group.bench_function("floor", |b| {
        let conn = connect();
        let mut stmt = conn
            .prepare(
                "INSERT INTO messages (position, time, stream_name, type, data, metadata, id) \
                 SELECT coalesce(max(position), -1) + 1, ?1, ?2, 'Written', ?3, ?4, ?5 \
                 FROM messages WHERE stream_name = ?2 RETURNING position",
            )
            .unwrap();
        let time = "2026-11-26 12:00:00.123456";
        let mut i = 0i64;
        b.iter(|| {
            i += 1;
            let position: i64 = stmt
                .query_row(
                    rusqlite::params![time, stream_name(i), data(i), metadata(i), message_id(i)],
                    |r| r.get(0),
                )
                .unwrap();
            black_box(position)
        })
    });
    group.finish();
}

fn writes(c: &mut Criterion) {
    // Each side gets its own fresh store with the tables made by one write.
    let prepare = |conn: Connection| {
        conn.query_row(
            "SELECT write_message('ffffffff-0000-4000-8000-000000000000', 'setup-1', 'Setup', '{}')",
            [],
            |_| Ok(()),
        )
        .unwrap();
        conn
    };
    write_group(c, "write_message (:memory:)", || {
        prepare(message_store_sqlite_tests::open_in_memory())
    });
    let dir = tempfile_dir();
    let counter = std::cell::Cell::new(0);
    write_group(c, "write_message (WAL file, synchronous=NORMAL)", || {
        counter.set(counter.get() + 1);
        let conn = open(&dir.join(format!("write-{}.db", counter.get())));
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
            .unwrap();
        prepare(conn)
    });
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("message_store_bench_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

criterion_group!(benches, reads, writes);
criterion_main!(benches);
