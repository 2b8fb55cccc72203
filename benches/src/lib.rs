//! The benchmarks' data set and helpers. Both engines get the same shape of
//! data (the Postgres generator in `benches/pg/` follows the same rule):
//! message `i` of `total` goes to category `i % CATEGORIES`, stream
//! `(i / CATEGORIES) % STREAMS_PER_CATEGORY` of it, so with the default
//! 1,000,000 messages every stream holds 10, interleaved across the whole
//! table as real traffic is; every fourth message of each category carries a
//! `correlationStreamName`. `DATA_SET_VERSION` names the rule: a data set
//! made by an older rule is made again.
#![deny(clippy::undocumented_unsafe_blocks, unsafe_op_in_unsafe_fn)]

pub mod batch;
pub mod table_function;

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Statement};

pub const CATEGORIES: i64 = 10;
pub const STREAMS_PER_CATEGORY: i64 = 10_000;
pub const DEFAULT_TOTAL: i64 = 1_000_000;
pub const DATA_SET_VERSION: u32 = 2;

/// The benchmark side that reads the floor's query through
/// [`table_function`].
pub const TABLE_FUNCTION_FLOOR: &str = "floor_through_table_function";

pub fn stream_name(i: i64) -> String {
    format!(
        "cat{}-{}",
        i % CATEGORIES,
        (i / CATEGORIES) % STREAMS_PER_CATEGORY
    )
}

pub fn message_id(i: i64) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

pub fn data(i: i64) -> String {
    format!(r#"{{"amount": {i}, "note": "generated"}}"#)
}

pub fn metadata(i: i64) -> Option<String> {
    ((i / CATEGORIES) % 4 == 0).then(|| {
        format!(
            r#"{{"correlationStreamName": "origin-{}"}}"#,
            (i / CATEGORIES) % STREAMS_PER_CATEGORY
        )
    })
}

/// How many messages the benchmarks use: `MESSAGE_STORE_BENCH_MESSAGES`, or a million.
pub fn total_messages() -> i64 {
    std::env::var("MESSAGE_STORE_BENCH_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_TOTAL)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A SQLite database file holding `total` messages written through the
/// extension, made once and kept under `target/bench-data/`.
pub fn sqlite_data_set(total: i64) -> PathBuf {
    let dir = target_dir().join("bench-data");
    std::fs::create_dir_all(&dir).expect("bench-data directory");
    let path = dir.join(format!("sqlite-v{DATA_SET_VERSION}-{total}.db"));
    if path.exists() {
        let conn = message_store_sqlite_tests::open(&path);
        let count: i64 = conn
            .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
            .unwrap_or(0);
        if count == total {
            return path;
        }
        drop(conn);
        std::fs::remove_file(&path).expect("remove a partial data set");
    }
    eprintln!("writing {total} messages to {}", path.display());
    let conn = message_store_sqlite_tests::open(&path);
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; BEGIN")
        .unwrap();
    {
        let mut write = conn
            .prepare("SELECT write_message(?1, ?2, 'Generated', ?3, ?4)")
            .unwrap();
        for i in 0..total {
            write
                .query_row(
                    rusqlite::params![message_id(i), stream_name(i), data(i), metadata(i)],
                    |_| Ok(()),
                )
                .unwrap();
        }
    }
    conn.execute_batch("COMMIT; ANALYZE").unwrap();
    path
}

/// Steps a statement to its end and reads every column of every row, as a
/// client does; returns a sum over what was read, for `black_box`.
pub fn read_all(stmt: &mut Statement<'_>, params: impl rusqlite::Params) -> usize {
    let columns = stmt.column_count();
    let mut rows = stmt.query(params).expect("query");
    let mut seen = 0;
    while let Some(row) = rows.next().expect("row") {
        for i in 0..columns {
            seen += match row.get_ref(i).expect("column") {
                ValueRef::Text(t) | ValueRef::Blob(t) => t.len(),
                ValueRef::Integer(n) => n as usize & 1,
                _ => 0,
            };
        }
    }
    seen
}

/// A small deterministic generator, so both sides of a benchmark see the
/// same sequence of streams and positions.
pub struct Sequence(u64);

impl Sequence {
    pub fn new(seed: u64) -> Self {
        Sequence(seed | 1)
    }

    pub fn below(&mut self, bound: i64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as i64
    }
}

pub fn open(path: &Path) -> Connection {
    message_store_sqlite_tests::open(path)
}
