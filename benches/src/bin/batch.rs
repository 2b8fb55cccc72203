//! Batch writes beside their floors, on both engines, in alternating runs
//! (benches/batch.sh runs all three steps):
//!
//!   cargo run --release -p message_store_benches --bin batch -- sqlite
//!   cargo run --release -p message_store_benches --bin batch -- postgres
//!   cargo run --release -p message_store_benches --bin batch -- report benches/batch_writes.svg
//!
//! The first two measure and write `target/bench-results/batch-<engine>.tsv`
//! (`-- postgres write_messages 1` measures one call's rows and only prints them);
//! `report` prints PERFORMANCE.md's batch tables from them and draws the plot.
//!
//! SQLite: each run writes into a fresh WAL file (synchronous=NORMAL), one
//! connection. The floor is one `INSERT … SELECT … FROM json_each(?)` that
//! reads the stream's version in the same statement. Postgres: a database
//! of its own (`message_store_bench_batch_<pid>`, dropped at the end), each run into
//! freshly truncated tables, one connection per client, each client its
//! own categories. The floor sends, in one round trip, `BEGIN`, the
//! category's advisory lock, one `INSERT … SELECT … FROM
//! jsonb_array_elements($1) WITH ORDINALITY` whose version lookup is in
//! the same statement, and `COMMIT`, into `floor.messages` (the table with
//! the same indexes in plain SQL).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use message_store_benches::batch::{
    alternate, Call, Kind, Measured, Side, Timing, BATCH_STREAMS, SIZES, STREAMS_PER_CATEGORY,
};
use tokio_postgres::types::{ToSql, Type};

fn results_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-results");
    std::fs::create_dir_all(&dir).expect("results directory");
    dir
}

/// One measured row: what was called and each side's messages per second.
struct Row {
    kind: Kind,
    size: usize,
    clients: usize,
    sync: &'static str,
    sides: Vec<Measured>,
}

/// The rows a run measures: all, or those of one call and optionally one
/// size (`batch postgres write_messages 1`), which are printed only, so
/// the results file keeps a whole run.
struct Only(Option<(Kind, Option<usize>)>);

impl Only {
    fn from_args(args: &[String]) -> Only {
        Only(args.first().map(|kind| {
            let kind = Kind::parse(kind).expect("write_messages or write_batch");
            (
                kind,
                args.get(1).map(|size| size.parse().expect("a batch size")),
            )
        }))
    }

    fn takes(&self, kind: Kind, size: usize) -> bool {
        match self.0 {
            None => true,
            Some((k, s)) => k == kind && s.is_none_or(|s| s == size),
        }
    }

    fn write_results(&self, engine: &str, rows: &[Row]) {
        if self.0.is_none() {
            write_results(engine, rows);
        }
    }
}

fn write_results(engine: &str, rows: &[Row]) {
    let mut out = String::new();
    for row in rows {
        for side in &row.sides {
            let runs: Vec<String> = side.runs.iter().map(|r| format!("{r:.0}")).collect();
            out.push_str(&format!(
                "{engine}\t{}\t{}\t{}\t{}\t{}\t{:.0}\t{}\n",
                row.kind.name(),
                row.size,
                row.clients,
                row.sync,
                side.side,
                side.median,
                runs.join(",")
            ));
        }
    }
    let path = results_dir().join(format!("batch-{engine}.tsv"));
    std::fs::write(&path, out).expect("write results");
    eprintln!("wrote {}", path.display());
}

fn print_row(engine: &str, row: &Row) {
    let sides: Vec<String> = row
        .sides
        .iter()
        .map(|s| format!("{} {:.0} msg/s {:?}", s.side, s.median, s.runs))
        .collect();
    eprintln!(
        "{engine} {} ({}), {} client(s), synchronous_commit {}: {}",
        row.kind.name(),
        row.size,
        row.clients,
        row.sync,
        sides.join("; ")
    );
}

// ---------------------------------------------------------------- SQLite

/// SQLite's stores, in the results' `sync` column: a WAL file with
/// synchronous=NORMAL, and `:memory:`, which leaves the CPU work alone.
const STORE_FILE: &str = "WAL";
const STORE_MEMORY: &str = ":memory:";

const SQLITE_TIME: &str = "2026-12-02 06:00:00.123456";

const SQLITE_FLOOR_MESSAGES: &str = "\
INSERT INTO messages (position, time, stream_name, type, data, metadata, id) \
SELECT v.p + m.key + 1, ?3, ?1, m.value ->> 'type', m.value -> 'data', \
       nullif(m.value -> 'metadata', 'null'), m.value ->> 'id' \
FROM (SELECT coalesce(max(position), -1) AS p FROM messages WHERE stream_name = ?1) AS v, \
     json_each(?2) AS m";

// Each entry's version is looked up once (MATERIALIZED keeps SQLite from
// folding the lookup into every message's row).
const SQLITE_FLOOR_BATCH: &str = "\
WITH e AS MATERIALIZED ( \
  SELECT e.key AS k, e.value ->> 'stream_name' AS s, e.value -> 'messages' AS ms, \
         (SELECT coalesce(max(position), -1) FROM messages \
          WHERE stream_name = e.value ->> 'stream_name') AS p \
  FROM json_each(?1) AS e) \
INSERT INTO messages (position, time, stream_name, type, data, metadata, id) \
SELECT e.p + m.key + 1, ?2, e.s, m.value ->> 'type', m.value -> 'data', \
       nullif(m.value -> 'metadata', 'null'), m.value ->> 'id' \
FROM e, json_each(e.ms) AS m";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    /// write_messages or write_batch.
    Function,
    Floor,
    /// SQLite: the floor's statement inside a savepoint, as the function
    /// runs its insert.
    FloorInSavepoint,
    /// One write_message call per message.
    WriteMessage,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Function => "message_store",
            Way::Floor => "floor",
            Way::FloorInSavepoint => "floor_in_savepoint",
            Way::WriteMessage => "write_message",
        }
    }
}

struct SqliteSide {
    kind: Kind,
    way: Way,
    /// The store's file, or `None` for `:memory:`.
    path: Option<PathBuf>,
}

impl SqliteSide {
    /// A fresh store holding one message, so the tables exist.
    fn fresh(&self) -> rusqlite::Connection {
        let conn = match &self.path {
            Some(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
                let conn = message_store_benches::open(path);
                conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
                    .unwrap();
                conn
            }
            None => message_store_sqlite_tests::open_in_memory(),
        };
        conn.query_row(
            "SELECT write_message('ffffffff-0000-4000-8000-000000000000', 'setup-1', 'Setup', '{}')",
            [],
            |_| Ok(()),
        )
        .unwrap();
        conn
    }

    fn sql(&self) -> &'static str {
        match (self.way, self.kind) {
            (Way::Function, Kind::Messages) => "SELECT write_messages(?1, ?2)",
            (Way::Function, Kind::Batch) => "SELECT write_batch(?1)",
            (Way::Floor | Way::FloorInSavepoint, Kind::Messages) => SQLITE_FLOOR_MESSAGES,
            (Way::Floor | Way::FloorInSavepoint, Kind::Batch) => SQLITE_FLOOR_BATCH,
            (Way::WriteMessage, _) => "SELECT write_message(?1, ?2, ?3, ?4, ?5)",
        }
    }

    fn call(&self, conn: &rusqlite::Connection, stmt: &mut rusqlite::Statement<'_>, call: &Call) {
        use rusqlite::params;
        if self.way == Way::FloorInSavepoint {
            // Two short statements, parsed in a few microseconds.
            conn.execute_batch("SAVEPOINT floor").unwrap();
        }
        match (self.way, self.kind) {
            (Way::Function, Kind::Messages) => {
                let last: i64 = stmt
                    .query_row(params![call.entries[0].stream_name, call.json], |r| {
                        r.get(0)
                    })
                    .unwrap();
                std::hint::black_box(last);
            }
            (Way::Function, Kind::Batch) => {
                let last: String = stmt.query_row(params![call.json], |r| r.get(0)).unwrap();
                std::hint::black_box(last);
            }
            (Way::Floor | Way::FloorInSavepoint, Kind::Messages) => {
                let rows = stmt
                    .execute(params![call.entries[0].stream_name, call.json, SQLITE_TIME])
                    .unwrap();
                assert_eq!(rows, call.messages());
            }
            (Way::Floor | Way::FloorInSavepoint, Kind::Batch) => {
                let rows = stmt.execute(params![call.json, SQLITE_TIME]).unwrap();
                assert_eq!(rows, call.messages());
            }
            (Way::WriteMessage, _) => {
                for entry in &call.entries {
                    for m in &entry.messages {
                        let position: i64 = stmt
                            .query_row(
                                params![m.id, entry.stream_name, m.type_, m.data, m.metadata],
                                |r| r.get(0),
                            )
                            .unwrap();
                        std::hint::black_box(position);
                    }
                }
            }
        }
        if self.way == Way::FloorInSavepoint {
            conn.execute_batch("RELEASE floor").unwrap();
        }
    }
}

impl Side for SqliteSide {
    fn name(&self) -> &'static str {
        self.way.name()
    }

    fn run(&mut self, calls: &[Vec<Call>]) -> Duration {
        assert_eq!(calls.len(), 1, "SQLite runs one connection");
        let conn = self.fresh();
        // Prepared, and its first call made, before the clock starts.
        let mut stmt = conn.prepare(self.sql()).unwrap();
        self.call(&conn, &mut stmt, &Call::new(self.kind, 1, 9, 0));
        let started = Instant::now();
        for call in &calls[0] {
            self.call(&conn, &mut stmt, call);
        }
        started.elapsed()
    }
}

/// The rows a store holds apart from the setup message, data and metadata
/// as JSON values (the extension stores jsonb's text, the floor SQLite's).
fn sqlite_rows(conn: &rusqlite::Connection) -> Vec<(String, i64, String, String, String)> {
    let mut stmt = conn
        .prepare(
            "SELECT stream_name, position, type, data, metadata, id FROM messages \
             WHERE type <> 'Setup' ORDER BY global_position",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            let json = |text: Option<String>| -> String {
                text.map(|t| {
                    serde_json::from_str::<serde_json::Value>(&t)
                        .unwrap()
                        .to_string()
                })
                .unwrap_or_else(|| "NULL".into())
            };
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                format!("{} {}", r.get::<_, String>(2)?, r.get::<_, String>(5)?),
                json(r.get(3)?),
                json(r.get(4)?),
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn sqlite(only: &Only) {
    let timing = Timing::from_env();
    // A directory of this process's own, so that runs at the same time
    // never share a store; those of runs that ended without removing
    // theirs go first.
    let parent = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
    std::fs::create_dir_all(&parent).unwrap();
    for entry in std::fs::read_dir(&parent).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("batch-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = parent.join(format!("batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let side = |kind, way: Way, store: &str| -> Box<dyn Side> {
        Box::new(SqliteSide {
            kind,
            way,
            path: (store == STORE_FILE)
                .then(|| dir.join(format!("{}-{}.db", kind.name(), way.name()))),
        })
    };
    // The floor stores what the function stores: the same call, twice
    // into each store, gives the same rows.
    for kind in [Kind::Messages, Kind::Batch] {
        let calls = check_calls(kind);
        let [ours, floor] = [Way::Function, Way::Floor].map(|way| {
            let side = SqliteSide {
                kind,
                way,
                path: Some(dir.join(format!("check-{}.db", way.name()))),
            };
            let conn = side.fresh();
            let mut stmt = conn.prepare(side.sql()).unwrap();
            for call in &calls {
                side.call(&conn, &mut stmt, call);
            }
            drop(stmt);
            sqlite_rows(&conn)
        });
        assert_eq!(ours.len(), 200);
        assert!(
            ours == floor,
            "SQLite {}: the floor stores other rows",
            kind.name()
        );
    }
    let mut rows = Vec::new();
    for store in [STORE_FILE, STORE_MEMORY] {
        for kind in [Kind::Messages, Kind::Batch] {
            for size in SIZES {
                if !only.takes(kind, size) {
                    continue;
                }
                let mut sides = vec![
                    side(kind, Way::Function, store),
                    side(kind, Way::Floor, store),
                ];
                if size == 1 && kind == Kind::Messages {
                    sides.push(side(kind, Way::WriteMessage, store));
                }
                // BATCH_SAVEPOINT=1: also the floor inside a savepoint, what
                // SQLite's sub-journal costs a statement (the batch writers
                // once opened one).
                if size > 1 && store == STORE_FILE && std::env::var_os("BATCH_SAVEPOINT").is_some()
                {
                    sides.push(side(kind, Way::FloorInSavepoint, store));
                }
                let row = Row {
                    kind,
                    size,
                    clients: 1,
                    sync: store,
                    sides: alternate(kind, size, 1, timing, &mut sides),
                };
                print_row("sqlite", &row);
                rows.push(row);
            }
        }
    }
    only.write_results("sqlite", &rows);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two calls of 100 messages into the same streams (call numbers a whole
/// cycle of streams apart), the second continuing each stream.
fn check_calls(kind: Kind) -> [Call; 2] {
    [
        Call::new(kind, 100, 0, 0),
        Call::new(kind, 100, 0, STREAMS_PER_CATEGORY),
    ]
}

// -------------------------------------------------------------- Postgres

/// The database of this process's run: runs at the same time never share
/// one.
fn pg_db() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| format!("{PG_DB_PREFIX}{}", std::process::id()))
}

const PG_DB_PREFIX: &str = "message_store_bench_batch_";

fn pg_conninfo(dbname: &str, sync: &str) -> String {
    let base = std::env::var("MESSAGE_STORE_TEST_PG").unwrap_or_else(|_| {
        "host=127.0.0.1 port=5432 user=postgres password=postgres dbname=postgres".into()
    });
    let mut info: String = base
        .split_whitespace()
        .filter(|part| !part.starts_with("dbname="))
        .collect::<Vec<_>>()
        .join(" ");
    info.push_str(&format!(" dbname={dbname}"));
    if !sync.is_empty() {
        info.push_str(&format!(" options='-c synchronous_commit={sync}'"));
    }
    info
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn pg_connect(info: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(info, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to Postgres ({info}): {e}"));
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            panic!("Postgres connection: {e}");
        }
    });
    client
}

/// An error's text, with the server's message and SQLSTATE when it has them.
fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Runs SQL on a connection of its own.
fn pg_execute(dbname: &str, sql: &str) {
    runtime().block_on(async {
        let client = pg_connect(&pg_conninfo(dbname, "")).await;
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {}", pg_error(&e)));
    });
}

const PG_FLOOR_TABLE: &str = "\
CREATE SCHEMA floor;
CREATE TABLE floor.messages (
  global_position bigserial PRIMARY KEY,
  position bigint NOT NULL,
  time timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  stream_name text NOT NULL,
  type text NOT NULL,
  data jsonb,
  metadata jsonb,
  id uuid NOT NULL DEFAULT gen_random_uuid()
);
CREATE UNIQUE INDEX ON floor.messages (id);
CREATE UNIQUE INDEX ON floor.messages (stream_name, position);
CREATE INDEX ON floor.messages (split_part(stream_name, '-', 1), global_position, split_part(metadata->>'correlationStreamName', '-', 1));";

const PG_LOCK_STREAM: &str = "SELECT pg_advisory_xact_lock(('x' || substr(md5(split_part($1, '-', 1)), 1, 16))::bit(64)::bigint)";
// Every category once, in ascending key order. The floor is told the
// categories (its client knows its streams) rather than reading the batch
// a second time for them.
const PG_LOCK_CATEGORIES: &str = "\
SELECT pg_advisory_xact_lock(k) FROM (\
  SELECT DISTINCT ('x' || substr(md5(c), 1, 16))::bit(64)::bigint AS k FROM unnest($1::text[]) AS c) AS keys \
ORDER BY k";
const PG_FLOOR_MESSAGES: &str = "\
INSERT INTO floor.messages (id, stream_name, position, type, data, metadata) \
SELECT (m.value ->> 'id')::uuid, $1, v.p + m.ordinality, m.value ->> 'type', m.value -> 'data', \
       CASE WHEN m.value -> 'metadata' = 'null'::jsonb THEN NULL ELSE m.value -> 'metadata' END \
FROM (SELECT coalesce(max(position), -1) AS p FROM floor.messages WHERE stream_name = $1) AS v, \
     jsonb_array_elements($2::jsonb) WITH ORDINALITY AS m \
ORDER BY m.ordinality";
const PG_FLOOR_BATCH: &str = "\
INSERT INTO floor.messages (id, stream_name, position, type, data, metadata) \
SELECT (m.value ->> 'id')::uuid, e.value ->> 'stream_name', v.p + m.ordinality, m.value ->> 'type', m.value -> 'data', \
       CASE WHEN m.value -> 'metadata' = 'null'::jsonb THEN NULL ELSE m.value -> 'metadata' END \
FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e \
CROSS JOIN LATERAL (SELECT coalesce(max(position), -1) AS p FROM floor.messages \
                    WHERE stream_name = e.value ->> 'stream_name') AS v \
CROSS JOIN LATERAL jsonb_array_elements(e.value -> 'messages') WITH ORDINALITY AS m \
ORDER BY e.ordinality, m.ordinality";

struct PgSide {
    kind: Kind,
    way: Way,
    sync: &'static str,
}

impl PgSide {
    fn table(&self) -> &'static str {
        match self.way {
            Way::Floor => "floor.messages",
            _ => "message_store.messages",
        }
    }
}

/// One client's prepared statements.
struct PgClient {
    client: tokio_postgres::Client,
    statements: Vec<tokio_postgres::Statement>,
}

impl PgClient {
    async fn new(side: &PgSide) -> PgClient {
        let client = pg_connect(&pg_conninfo(pg_db(), side.sync)).await;
        let text = Type::TEXT;
        let sql: Vec<(&str, Vec<Type>)> = match (side.way, side.kind) {
            (Way::FloorInSavepoint, _) => unreachable!("a side of SQLite's only"),
            (Way::Function, Kind::Messages) => vec![(
                "SELECT message_store.write_messages($1, $2::jsonb)",
                vec![text.clone(), text],
            )],
            (Way::Function, Kind::Batch) => {
                vec![("SELECT message_store.write_batch($1::jsonb)", vec![text])]
            }
            (Way::WriteMessage, _) => vec![(
                "SELECT message_store.write_message($1, $2, $3, $4::jsonb, $5::jsonb)",
                vec![text; 5],
            )],
            (Way::Floor, kind) => vec![
                ("BEGIN", vec![]),
                match kind {
                    Kind::Messages => (PG_LOCK_STREAM, vec![text.clone()]),
                    Kind::Batch => (PG_LOCK_CATEGORIES, vec![Type::TEXT_ARRAY]),
                },
                match kind {
                    Kind::Messages => (PG_FLOOR_MESSAGES, vec![text.clone(), text]),
                    Kind::Batch => (PG_FLOOR_BATCH, vec![text]),
                },
                ("COMMIT", vec![]),
            ],
        };
        let mut statements = Vec::new();
        for (sql, types) in sql {
            statements.push(
                client
                    .prepare_typed(sql, &types)
                    .await
                    .unwrap_or_else(|e| panic!("prepare {sql}: {}", pg_error(&e))),
            );
        }
        PgClient { client, statements }
    }

    async fn call(&self, side: &PgSide, call: &Call) {
        let s = &self.statements;
        let c = &self.client;
        let fail = |e: tokio_postgres::Error| -> ! {
            panic!("{} {}: {}", side.way.name(), side.kind.name(), pg_error(&e))
        };
        match (side.way, side.kind) {
            (Way::FloorInSavepoint, _) => unreachable!("a side of SQLite's only"),
            (Way::Function, Kind::Messages) => {
                let stream = &call.entries[0].stream_name;
                c.execute(&s[0], &[stream, &call.json])
                    .await
                    .unwrap_or_else(|e| fail(e));
            }
            (Way::Function, Kind::Batch) => {
                c.execute(&s[0], &[&call.json])
                    .await
                    .unwrap_or_else(|e| fail(e));
            }
            (Way::WriteMessage, _) => {
                for entry in &call.entries {
                    for m in &entry.messages {
                        let params: [&(dyn ToSql + Sync); 5] =
                            [&m.id, &entry.stream_name, &m.type_, &m.data, &m.metadata];
                        c.execute(&s[0], &params).await.unwrap_or_else(|e| fail(e));
                    }
                }
            }
            (Way::Floor, kind) => {
                // One round trip: the four are sent before the first answer
                // is read.
                let stream = &call.entries[0].stream_name;
                let lock = async {
                    match kind {
                        Kind::Messages => c.execute(&s[1], &[stream]).await,
                        Kind::Batch => c.execute(&s[1], &[&call.categories]).await,
                    }
                };
                let insert = async {
                    match kind {
                        Kind::Messages => c.execute(&s[2], &[stream, &call.json]).await,
                        Kind::Batch => c.execute(&s[2], &[&call.json]).await,
                    }
                };
                let (_, _, inserted, _) = futures_util::future::try_join4(
                    c.execute(&s[0], &[]),
                    lock,
                    insert,
                    c.execute(&s[3], &[]),
                )
                .await
                .unwrap_or_else(|e| fail(e));
                assert_eq!(inserted as usize, call.messages());
            }
        }
    }
}

impl Side for PgSide {
    fn name(&self) -> &'static str {
        self.way.name()
    }

    fn run(&mut self, calls: &[Vec<Call>]) -> Duration {
        pg_execute(pg_db(), &format!("TRUNCATE {}", self.table()));
        let barrier = Arc::new(Barrier::new(calls.len() + 1));
        let this = &*self;
        std::thread::scope(|scope| {
            let clients: Vec<_> = calls
                .iter()
                .map(|calls| {
                    let barrier = barrier.clone();
                    scope.spawn(move || {
                        runtime().block_on(async {
                            let client = PgClient::new(this).await;
                            barrier.wait();
                            for call in calls {
                                client.call(this, call).await;
                            }
                            Instant::now()
                        })
                    })
                })
                .collect();
            barrier.wait();
            let started = Instant::now();
            let ended = clients
                .into_iter()
                .map(|c| c.join().expect("client"))
                .max()
                .unwrap();
            ended - started
        })
    }
}

fn pg_rows(table: &str) -> Vec<Vec<Option<String>>> {
    runtime().block_on(async {
        let client = pg_connect(&pg_conninfo(pg_db(), "")).await;
        client
            .query(
                &format!(
                    "SELECT id::text, stream_name, position::text, type, data::text, metadata::text \
                     FROM {table} ORDER BY global_position"
                ),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| (0..6).map(|i| row.get(i)).collect())
            .collect()
    })
}

fn postgres(only: &Only) {
    let timing = Timing::from_env();
    // The databases of earlier runs that ended without dropping theirs:
    // those without a connection (a run keeps one open throughout).
    let stale: Vec<String> = runtime().block_on(async {
        let client = pg_connect(&pg_conninfo("postgres", "")).await;
        client
            .query(
                "SELECT datname::text FROM pg_database d WHERE starts_with(datname, $1) \
                 AND NOT EXISTS (SELECT FROM pg_stat_activity a WHERE a.datname = d.datname)",
                &[&PG_DB_PREFIX],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    });
    for name in stale {
        pg_execute(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
    }
    pg_execute("postgres", &format!("CREATE DATABASE {}", pg_db()));
    let holder_runtime = runtime();
    let holder = holder_runtime.block_on(pg_connect(&pg_conninfo(pg_db(), "")));
    pg_execute(
        pg_db(),
        &format!("CREATE EXTENSION message_store; {PG_FLOOR_TABLE}"),
    );
    // The floor stores what the function stores: the same calls, twice
    // into each table, give the same rows.
    for kind in [Kind::Messages, Kind::Batch] {
        let calls = vec![Vec::from(check_calls(kind))];
        let stored = [Way::Function, Way::Floor].map(|way| {
            let mut side = PgSide {
                kind,
                way,
                sync: "",
            };
            side.run(&calls);
            pg_rows(side.table())
        });
        assert_eq!(stored[0].len(), 200);
        assert!(
            stored[0] == stored[1],
            "Postgres {}: the floor stores other rows",
            kind.name()
        );
    }
    let mut rows = Vec::new();
    let mut measure = |kind, size, clients, sync: &'static str, with_write_message: bool| {
        if !only.takes(kind, size) {
            return;
        }
        let mut sides: Vec<Box<dyn Side>> = vec![
            Box::new(PgSide {
                kind,
                way: Way::Function,
                sync,
            }),
            Box::new(PgSide {
                kind,
                way: Way::Floor,
                sync,
            }),
        ];
        if with_write_message {
            sides.push(Box::new(PgSide {
                kind,
                way: Way::WriteMessage,
                sync,
            }));
        }
        let row = Row {
            kind,
            size,
            clients,
            sync,
            sides: alternate(kind, size, clients, timing, &mut sides),
        };
        print_row("postgres", &row);
        rows.push(row);
    };
    // synchronous_commit off leaves the work of the call itself; on (the
    // default) adds the commit's flush to the disk, the same for both
    // sides, whose time on this shared machine varies widely.
    for sync in ["off", "on"] {
        for kind in [Kind::Messages, Kind::Batch] {
            for size in SIZES {
                for clients in [1, 2] {
                    let single = size == 1 && kind == Kind::Messages;
                    measure(kind, size, clients, sync, single);
                }
            }
        }
    }
    only.write_results("postgres", &rows);
    drop(holder);
    drop(holder_runtime);
    pg_execute(
        "postgres",
        &format!("DROP DATABASE {} WITH (FORCE)", pg_db()),
    );
}

// ---------------------------------------------------------------- report

/// Each side's messages per second in every run, by (engine, call, size,
/// clients, setting): the setting is synchronous_commit on Postgres, the
/// store on SQLite.
type Table = BTreeMap<(String, &'static str, usize, usize, String), BTreeMap<String, Vec<f64>>>;

fn read_results(engine: &str, table: &mut Table) {
    let path = results_dir().join(format!("batch-{engine}.tsv"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("{} is missing: not measured", path.display());
        return;
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let kind = Kind::parse(f[1]).expect("kind");
        let runs = f[7].split(',').map(|r| r.parse().unwrap()).collect();
        table
            .entry((
                f[0].to_string(),
                kind.name(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4].to_string(),
            ))
            .or_default()
            .insert(f[5].to_string(), runs);
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The median of the runs' ratios: each run of one side is paired with
/// the other's run of the same calls, taken right after it.
fn ratio(a: &[f64], b: &[f64]) -> f64 {
    median(a.iter().zip(b).map(|(a, b)| a / b).collect())
}

fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The target column: at 100 and 1,000 messages, at least 0.85 of the floor.
fn target(size: usize, ratio: f64) -> String {
    if size < 100 {
        String::new()
    } else if ratio >= 0.85 {
        "≥ 0.85: met".into()
    } else {
        format!("≥ 0.85: missed by {:.2}", 0.85 - ratio)
    }
}

fn call_name(kind: &str, size: usize) -> String {
    if kind == "write_batch" && size > 1 {
        format!("write_batch, {} streams", size.min(BATCH_STREAMS))
    } else {
        kind.to_string()
    }
}

fn report(svg: &Path) {
    let mut table = Table::new();
    read_results("postgres", &mut table);
    read_results("sqlite", &mut table);
    let rows = |engine: &'static str| {
        let mut rows: Vec<_> = table
            .iter()
            .filter(move |(k, sides)| {
                k.0 == engine && sides.contains_key("message_store") && sides.contains_key("floor")
            })
            .collect();
        // write_messages before write_batch; SQLite's file before :memory:.
        rows.sort_by_key(|(k, _)| (k.4 != "WAL", k.1 != "write_messages", k.2, k.3));
        rows
    };
    for sync in ["off", "on"] {
        let what = if sync == "off" {
            "the calls' own work"
        } else {
            "the default: each commit also waits for the disk"
        };
        println!("Postgres, synchronous_commit {sync} ({what}), each client writing its own categories:\n");
        println!("| call | messages per call | clients | message_store msg/s | floor msg/s | ratio to floor | target |");
        println!("|---|---|---|---|---|---|---|");
        for ((_, kind, size, clients, setting), sides) in rows("postgres") {
            if setting != sync {
                continue;
            }
            let (ours, floor) = (&sides["message_store"], &sides["floor"]);
            let r = ratio(ours, floor);
            println!(
                "| {} | {} | {clients} | {} | {} | {r:.2} | {} |",
                call_name(kind, *size),
                thousands(*size as f64),
                thousands(median(ours.clone())),
                thousands(median(floor.clone())),
                target(*size, r)
            );
        }
        println!();
    }
    let savepoint = rows("sqlite")
        .iter()
        .any(|(_, sides)| sides.contains_key("floor_in_savepoint"));
    if savepoint {
        println!("SQLite, one connection; the floor also inside a savepoint:\n");
        println!("| store | call | messages per call | message_store msg/s | floor msg/s | ratio to floor | target | floor in a savepoint msg/s | ratio to it |");
        println!("|---|---|---|---|---|---|---|---|---|");
    } else {
        println!("SQLite, one connection:\n");
        println!("| store | call | messages per call | message_store msg/s | floor msg/s | ratio to floor | target |");
        println!("|---|---|---|---|---|---|---|");
    }
    for ((_, kind, size, _, store), sides) in rows("sqlite") {
        let (ours, floor) = (&sides["message_store"], &sides["floor"]);
        let r = ratio(ours, floor);
        let in_savepoint = match sides.get("floor_in_savepoint") {
            Some(runs) => format!(
                " {} | {:.2} |",
                thousands(median(runs.clone())),
                ratio(ours, runs)
            ),
            None if savepoint => "  |  |".to_string(),
            None => String::new(),
        };
        let store = if store == "WAL" {
            "WAL file, synchronous=NORMAL"
        } else {
            store.as_str()
        };
        println!(
            "| {store} | {} | {} | {} | {} | {r:.2} | {} |{in_savepoint}",
            call_name(kind, *size),
            thousands(*size as f64),
            thousands(median(ours.clone())),
            thousands(median(floor.clone())),
            target(*size, r)
        );
    }
    println!("\nOne message: `write_messages` with a batch of one beside `write_message`, in the same runs:\n");
    println!("| engine | clients | setting | write_messages msg/s | write_message msg/s | time ratio | target |");
    println!("|---|---|---|---|---|---|---|");
    let mut singles: Vec<_> = table
        .iter()
        .filter(|(_, sides)| sides.contains_key("write_message"))
        .collect();
    singles.sort_by_key(|(k, _)| (k.0 != "postgres", k.4 != "on" && k.4 != "WAL", k.3));
    for ((engine, _, _, clients, setting), sides) in singles {
        let (ours, single) = (&sides["message_store"], &sides["write_message"]);
        let r = ratio(single, ours);
        let (engine, setting) = match (engine.as_str(), setting.as_str()) {
            ("sqlite", "WAL") => ("SQLite", "WAL file, synchronous=NORMAL".to_string()),
            ("sqlite", store) => ("SQLite", store.to_string()),
            (_, sync) => ("Postgres", format!("synchronous_commit {sync}")),
        };
        let met = if r <= 1.1 {
            "≤ 1.1: met".to_string()
        } else {
            format!("≤ 1.1: missed by {:.2}", r - 1.1)
        };
        println!(
            "| {engine} | {clients} | {setting} | {} | {} | {r:.2} | {met} |",
            thousands(median(ours.clone())),
            thousands(median(single.clone())),
        );
    }
    plot(&table, svg).expect("draw the plot");
    eprintln!("wrote {}", svg.display());
}

/// One line of the plot: its legend, colour, whether dashed (a floor), and
/// its (messages per call, messages per second) points.
type Series = (String, plotters::style::RGBColor, bool, Vec<(f64, f64)>);

fn decade_below(v: f64) -> f64 {
    10f64.powf(v.log10().floor())
}

fn decade_above(v: f64) -> f64 {
    10f64.powf(v.log10().ceil())
}

fn plot(table: &Table, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (1300, 960)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((2, 2));
    let shown = [
        ("postgres", "off", "Postgres (synchronous_commit off)"),
        ("postgres", "on", "Postgres (synchronous_commit on)"),
        ("sqlite", "WAL", "SQLite (WAL file, synchronous=NORMAL)"),
        ("sqlite", ":memory:", "SQLite (:memory:)"),
    ];
    for (panel, (engine, setting, title)) in panels.iter().zip(shown) {
        // A colour per call and number of clients, the same in every panel.
        let color = |kind: &str, clients: usize| match (kind, clients) {
            ("write_messages", 1) => RGBColor(31, 119, 180),
            ("write_messages", _) => RGBColor(44, 160, 44),
            (_, 1) => RGBColor(214, 39, 40),
            _ => RGBColor(255, 127, 14),
        };
        let mut series: Vec<Series> = Vec::new();
        for kind in ["write_messages", "write_batch"] {
            for clients in [1usize, 2] {
                let points = |side: &str| -> Vec<(f64, f64)> {
                    table
                        .iter()
                        .filter(|(k, _)| {
                            k.0 == engine && k.1 == kind && k.3 == clients && k.4 == setting
                        })
                        .filter_map(|(k, sides)| {
                            sides
                                .get(side)
                                .map(|runs| (k.2 as f64, median(runs.clone())))
                        })
                        .collect()
                };
                let ours = points("message_store");
                if ours.is_empty() {
                    continue;
                }
                let who = if engine == "postgres" {
                    let s = if clients == 1 { "" } else { "s" };
                    format!("{kind}, {clients} client{s}")
                } else {
                    kind.to_string()
                };
                let c = color(kind, clients);
                series.push((who.clone(), c, false, ours));
                series.push((format!("{who}: floor"), c, true, points("floor")));
            }
        }
        let values = || series.iter().flat_map(|s| s.3.iter().map(|p| p.1));
        let (min, max) = (
            values().fold(f64::MAX, f64::min),
            values().fold(1.0, f64::max),
        );
        if series.is_empty() {
            continue;
        }
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (0.8f64..1250f64).log_scale(),
                (decade_below(min)..decade_above(max)).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_desc("messages per call")
            .y_desc("messages per second")
            .x_label_formatter(&|x| thousands(*x))
            .y_label_formatter(&|y| thousands(*y))
            .draw()?;
        for (label, color, dashed, points) in series {
            let style = ShapeStyle::from(color).stroke_width(2);
            if dashed {
                chart
                    .draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 8, y)], style));
            } else {
                chart
                    .draw_series(LineSeries::new(points.clone(), style))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("sqlite") => sqlite(&Only::from_args(&args[1..])),
        Some("postgres") => postgres(&Only::from_args(&args[1..])),
        Some("report") => report(Path::new(
            args.get(1)
                .map(String::as_str)
                .unwrap_or("benches/batch_writes.svg"),
        )),
        _ => {
            eprintln!("usage: batch sqlite | postgres | report [SVG path]");
            std::process::exit(2);
        }
    }
}
