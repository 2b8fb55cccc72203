//! The statements the readers run, as SQLite plans them: every category
//! read searches the category index by category and global position, and
//! the stream and last-message reads search the stream index, with no sort
//! and no scan, whatever the variant, the position, a SQL condition or the
//! table's statistics. SQLite uses an expression index only for a query
//! that repeats its expression, so this is where a reader's category
//! expression drifting from the index shows. `export_messages` searches by
//! global position or the category index, and `import_messages` reads each
//! id and stream version by its index, so neither scans the table.
//! `get_streams` and `get_categories` walk the stream and category indexes
//! one search per name, read lazily (a co-routine, never materialized).
//! The removals of `remove_messages` and the retention policies search the
//! category or the stream index, and each stream's last position by the
//! stream index, with no sort.
//!
//! The texts planned are the extension's own, caught by a trace of the
//! connection as the reader runs them, and every read's rows are checked
//! against the table read with plain SQL. Consumer-group membership there
//! is Message DB's md5 rule computed by the Postgres cluster (the one of
//! `tests/setup.sh`, or `MESSAGE_STORE_TEST_PG`), not by anything under test.

use std::collections::{BTreeSet, HashMap};
use std::ffi::{c_int, c_uint, c_void, CStr};
use std::sync::Mutex;

use message_store_sqlite_tests::open_in_memory;
use postgres::{Client, NoTls};
use rusqlite::types::Value;
use rusqlite::{ffi, params_from_iter, Connection};

const SELECT: &str =
    "SELECT id, stream_name, type, position, global_position, data, metadata, time";

const CATEGORY_PLAN: &str =
    "SEARCH main.messages USING INDEX messages_category (<expr>=? AND global_position>?)";
const STREAM_PLAN: &str =
    "SEARCH main.messages USING INDEX messages_stream (stream_name=? AND position>?)";
const LAST_PLAN: &str = "SEARCH main.messages USING INDEX messages_stream (stream_name=?)";

/// The SQL of every statement the connection starts, in order. Drop it
/// before the connection (declare it after).
struct Trace {
    db: *mut ffi::sqlite3,
    seen: Box<Mutex<Vec<String>>>,
}

unsafe extern "C" fn record(
    mask: c_uint,
    ctx: *mut c_void,
    stmt: *mut c_void,
    _: *mut c_void,
) -> c_int {
    if mask == ffi::SQLITE_TRACE_STMT {
        // SAFETY: `ctx` is the `Mutex` of the `Trace` that registered this
        // callback, and outlives it; `stmt` is the statement starting.
        let (seen, sql) = unsafe {
            (
                &*(ctx as *const Mutex<Vec<String>>),
                ffi::sqlite3_sql(stmt as *mut ffi::sqlite3_stmt),
            )
        };
        if !sql.is_null() {
            // SAFETY: SQLite's text of a live statement, NUL-terminated.
            let sql = unsafe { CStr::from_ptr(sql) }
                .to_string_lossy()
                .into_owned();
            seen.lock().unwrap_or_else(|p| p.into_inner()).push(sql);
        }
    }
    0
}

impl Trace {
    fn on(conn: &Connection) -> Trace {
        // SAFETY: the handle is used only to register and remove the trace.
        let db = unsafe { conn.handle() };
        let seen = Box::new(Mutex::new(Vec::new()));
        let ctx = &*seen as *const Mutex<Vec<String>> as *mut c_void;
        // SAFETY: the callback only reads `ctx`, which lives until `drop`
        // removes the callback.
        let rc = unsafe { ffi::sqlite3_trace_v2(db, ffi::SQLITE_TRACE_STMT, Some(record), ctx) };
        assert_eq!(rc, ffi::SQLITE_OK);
        Trace { db, seen }
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        // SAFETY: mask 0 removes the callback; the connection is still open.
        unsafe { ffi::sqlite3_trace_v2(self.db, 0, None, std::ptr::null_mut()) };
    }
}

/// One message as the readers return it and the table holds it.
type Row = Vec<Value>;

fn query(conn: &Connection, sql: &str, args: &[Value]) -> Vec<Row> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let columns = stmt.column_count();
    let rows = stmt
        .query_map(params_from_iter(args), |row| {
            (0..columns).map(|i| row.get::<_, Value>(i)).collect()
        })
        .unwrap()
        .collect::<Result<Vec<Row>, _>>()
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows
}

/// The plan SQLite makes for `sql` with these values bound, one line per node.
fn plan(conn: &Connection, sql: &str, args: &[Value]) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let mut stmt = conn
        .prepare(&explain)
        .unwrap_or_else(|e| panic!("{explain}: {e}"));
    for (i, value) in args.iter().enumerate().take(stmt.parameter_count()) {
        stmt.raw_bind_parameter(i + 1, value).unwrap();
    }
    let mut rows = stmt.raw_query();
    let mut lines = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        lines.push(row.get::<_, String>(3).unwrap());
    }
    lines
}

/// Runs a reader, and returns its rows and the statement it ran on the
/// table (the same text each time it started it).
fn read(conn: &Connection, trace: &Trace, sql: &str, args: &[Value]) -> (Vec<Row>, String) {
    trace.take();
    let rows = query(conn, sql, args);
    let ran: BTreeSet<String> = trace
        .take()
        .into_iter()
        .filter(|s| s.contains("FROM main.messages"))
        .collect();
    assert_eq!(ran.len(), 1, "{sql}: {ran:?}");
    (rows, ran.into_iter().next().unwrap())
}

fn text(value: &Value) -> &str {
    match value {
        Value::Text(t) => t,
        other => panic!("not text: {other:?}"),
    }
}

fn integer(value: &Value) -> i64 {
    match value {
        Value::Integer(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

/// Message DB's category: the stream name up to its first `-`.
fn category(name: &str) -> &str {
    name.split('-').next().unwrap_or_default()
}

/// Message DB's `hash_64(cardinal_id(name))` for each name, computed by
/// Postgres: md5 of the cardinal id (after the first `-`, up to the first
/// `+`), its first 16 hex digits as a bigint; NULL for a name without an id.
fn message_db_hashes(names: &BTreeSet<String>) -> HashMap<String, Option<i64>> {
    let dsn = std::env::var("MESSAGE_STORE_TEST_PG").unwrap_or_else(|_| {
        "host=127.0.0.1 port=5432 user=postgres password=postgres dbname=postgres".to_string()
    });
    let mut pg = Client::connect(&dsn, NoTls).expect("Postgres");
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    pg.query(
        "SELECT n, CASE WHEN strpos(n, '-') > 0
                   THEN ('x' || left(md5(split_part(substr(n, strpos(n, '-') + 1), '+', 1)), 16))::bit(64)::bigint
                   END
         FROM unnest($1::text[]) AS n",
        &[&names],
    )
    .unwrap()
    .iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect()
}

/// Stream names of several categories and sizes, ids compound or absent,
/// and names that only look like a category's.
fn stream_name(i: i64) -> String {
    match i % 10 {
        0..=4 => format!("big-{}", i % 40),
        5 | 6 => format!("plan1-{}", i % 23),
        7 => format!("plan1-{}+{}", i % 5, i % 3),
        8 => ["plan1", "plan1x-1", "Plan1-1", "plan1-a-b", "plan2-1"][(i / 10 % 5) as usize]
            .to_string(),
        _ => format!("small{}-{}", i % 3, i % 7),
    }
}

fn fill(conn: &Connection, count: i64) {
    conn.execute_batch("BEGIN").unwrap();
    let mut write = conn
        .prepare("SELECT write_message(gen_random_uuid(), ?1, ?2, ?3, ?4)")
        .unwrap();
    for i in 0..count {
        // Mixed, so that no kind of metadata or type follows a kind of stream.
        let mix = (i * 2_654_435_761) >> 8;
        let metadata = match mix % 4 {
            0 => Value::Text(format!(
                "{{\"correlationStreamName\": \"origin-{}\"}}",
                i % 5
            )),
            1 if mix % 3 == 0 => Value::Text("{\"correlationStreamName\": \"originX-1\"}".into()),
            2 => Value::Text("{\"n\": 1}".into()),
            _ => Value::Null,
        };
        let kind = if (mix >> 4) % 2 == 0 { "B" } else { "A" };
        let data = format!("{{\"i\": {i}}}");
        write
            .query_row(
                params_from_iter([
                    Value::Text(stream_name(i)),
                    Value::Text(kind.into()),
                    Value::Text(data),
                    metadata,
                ]),
                |_| Ok(()),
            )
            .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
}

const MESSAGES: i64 = 6000;

#[test]
fn readers_search_their_index_and_return_the_tables_rows() {
    let conn = open_in_memory();
    fill(&conn, MESSAGES);
    conn.query_row(
        "SELECT set_config('message_store.sql_condition', 'on', false)",
        [],
        |_| Ok(()),
    )
    .unwrap();
    let table = query(
        &conn,
        &format!("{SELECT} FROM messages ORDER BY global_position"),
        &[],
    );
    assert_eq!(table.len(), MESSAGES as usize);
    let names: BTreeSet<String> = table.iter().map(|row| text(&row[1]).to_string()).collect();
    let hashes = message_db_hashes(&names);
    let trace = Trace::on(&conn);
    let mut plans = 0;

    for analyzed in [false, true] {
        if analyzed {
            conn.execute_batch("ANALYZE").unwrap();
            let stat: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_stat1 WHERE idx = 'messages_category'",
                    [],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(stat, 1, "ANALYZE left statistics of the category index");
        }
        for cat in ["big", "plan1", "small0", "none"] {
            for position in [1, MESSAGES - 40] {
                for batch in [10, -1] {
                    for correlation in [None, Some("origin")] {
                        for group in [None, Some((1i64, 3i64))] {
                            for condition in [None, Some("type = 'B'")] {
                                let args = vec![
                                    Value::Text(cat.into()),
                                    Value::Integer(position),
                                    Value::Integer(batch),
                                    correlation.map_or(Value::Null, |c| Value::Text(c.into())),
                                    group.map_or(Value::Null, |(m, _)| Value::Integer(m)),
                                    group.map_or(Value::Null, |(_, s)| Value::Integer(s)),
                                    condition.map_or(Value::Null, |c| Value::Text(c.into())),
                                ];
                                let call = format!(
                                    "{SELECT} FROM get_category_messages(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                                );
                                let (got, ran) = read(&conn, &trace, &call, &args);
                                let what = format!("{args:?} (analyzed: {analyzed}): {ran}");
                                assert_eq!(plan(&conn, &ran, &args), [CATEGORY_PLAN], "{what}");
                                plans += 1;

                                let expected: Vec<Row> = table
                                    .iter()
                                    .filter(|row| category(text(&row[1])) == cat)
                                    .filter(|row| integer(&row[4]) >= position)
                                    .filter(|row| {
                                        correlation.is_none_or(|c| match &row[6] {
                                            Value::Text(m) => {
                                                let m: serde_json::Value =
                                                    serde_json::from_str(m).unwrap();
                                                m["correlationStreamName"].as_str().map(category)
                                                    == Some(c)
                                            }
                                            _ => false,
                                        })
                                    })
                                    .filter(|row| {
                                        group.is_none_or(|(member, size)| {
                                            hashes[text(&row[1])].is_some_and(|h| {
                                                h.unsigned_abs() % size as u64 == member as u64
                                            })
                                        })
                                    })
                                    .filter(|row| condition.is_none() || text(&row[2]) == "B")
                                    .take(if batch < 0 {
                                        usize::MAX
                                    } else {
                                        batch as usize
                                    })
                                    .cloned()
                                    .collect();
                                assert_eq!(got, expected, "{what}");
                                if cat != "none" && position == 1 {
                                    assert!(!expected.is_empty(), "{what}: a read that finds rows");
                                }
                            }
                        }
                    }
                }
            }
        }

        for stream in ["plan1-3", "plan1-3+1", "plan1", "big-7", "none-1"] {
            // A category is not a stream: refused, by Message DB's rule.
            let positions: &[i64] = if stream.contains('-') { &[0, 20] } else { &[] };
            for &position in positions {
                for condition in [None, Some("type = 'B'")] {
                    let args = vec![
                        Value::Text(stream.into()),
                        Value::Integer(position),
                        Value::Integer(10),
                        condition.map_or(Value::Null, |c| Value::Text(c.into())),
                    ];
                    let call = format!("{SELECT} FROM get_stream_messages(?1, ?2, ?3, ?4)");
                    let (got, ran) = read(&conn, &trace, &call, &args);
                    let what = format!("{args:?} (analyzed: {analyzed}): {ran}");
                    assert_eq!(plan(&conn, &ran, &args), [STREAM_PLAN], "{what}");
                    plans += 1;
                    let expected: Vec<Row> = table
                        .iter()
                        .filter(|row| text(&row[1]) == stream && integer(&row[3]) >= position)
                        .filter(|row| condition.is_none() || text(&row[2]) == "B")
                        .take(10)
                        .cloned()
                        .collect();
                    assert_eq!(got, expected, "{what}");
                }
            }
            for kind in [None, Some("B")] {
                let args = vec![
                    Value::Text(stream.into()),
                    kind.map_or(Value::Null, |k| Value::Text(k.into())),
                ];
                let call = format!("{SELECT} FROM get_last_stream_message(?1, ?2)");
                let (got, ran) = read(&conn, &trace, &call, &args);
                let what = format!("{args:?} (analyzed: {analyzed}): {ran}");
                assert_eq!(plan(&conn, &ran, &args), [LAST_PLAN], "{what}");
                plans += 1;
                let expected: Vec<Row> = table
                    .iter()
                    .rev()
                    .filter(|row| text(&row[1]) == stream)
                    .filter(|row| kind.is_none_or(|k| text(&row[2]) == k))
                    .take(1)
                    .cloned()
                    .collect();
                assert_eq!(got, expected, "{what}");
            }
        }
    }
    assert_eq!(plans, 2 * (4 * 2 * 2 * 2 * 2 * 2 + 4 * 2 * 2 + 5 * 2));
}

const EXPORT_PLAN: &str = "SEARCH main.messages USING INTEGER PRIMARY KEY (rowid>?)";

/// The statements an export or an import ran on the table, in the order
/// first started, each with its plan for these arguments (bound in order:
/// only the plan's shape is read).
fn ran_plans(
    conn: &Connection,
    trace: &Trace,
    sql: &str,
    args: &[Value],
) -> Vec<(String, Vec<String>)> {
    trace.take();
    query(conn, sql, args);
    let mut seen = Vec::new();
    for statement in trace.take() {
        if statement.contains("FROM main.messages") && !seen.contains(&statement) {
            seen.push(statement);
        }
    }
    seen.into_iter()
        .map(|statement| {
            let lines = plan(conn, &statement, args);
            (statement, lines)
        })
        .collect()
}

#[test]
fn the_export_get_all_messages_and_the_import_search_their_index() {
    let conn = open_in_memory();
    fill(&conn, MESSAGES);
    let trace = Trace::on(&conn);
    for analyzed in [false, true] {
        if analyzed {
            conn.execute_batch("ANALYZE").unwrap();
        }
        for position in [1, MESSAGES - 40] {
            let args = [Value::Integer(position), Value::Integer(100)];
            let ran = ran_plans(
                &conn,
                &trace,
                "SELECT line FROM export_messages(?1, ?2)",
                &args,
            );
            assert_eq!(ran.len(), 1, "{ran:?}");
            assert_eq!(ran[0].1, [EXPORT_PLAN], "{ran:?}");
            // get_all_messages reads as the export of every category does.
            let ran = ran_plans(
                &conn,
                &trace,
                "SELECT global_position FROM get_all_messages(?1, ?2)",
                &args,
            );
            assert_eq!(ran.len(), 1, "{ran:?}");
            assert_eq!(ran[0].1, [EXPORT_PLAN], "{ran:?}");
            let args = [
                Value::Text("big".into()),
                Value::Integer(position),
                Value::Integer(100),
            ];
            let ran = ran_plans(
                &conn,
                &trace,
                "SELECT line FROM export_messages(?2, ?3, ?1)",
                &args,
            );
            assert_eq!(ran.len(), 1, "{ran:?}");
            assert_eq!(ran[0].1, [CATEGORY_PLAN], "{ran:?}");
        }
        // An import reads the highest global position, then each line's
        // id and each stream's version, each by an index.
        let lines: String = (0..3)
            .map(|i| {
                format!(
                    "{{\"id\":\"00000000-0000-4000-8000-{:012}\",\"stream_name\":\"imported{analyzed}-1\",\"type\":\"A\",\"position\":{i},\"global_position\":{},\"data\":{{}},\"metadata\":null,\"time\":\"2026-11-26T18:02:26.000000\"}}\n",
                    i + u64::from(analyzed) * 10,
                    1_000_000 + i + u64::from(analyzed) * 10,
                )
            })
            .collect();
        let args = [Value::Text(lines)];
        let ran = ran_plans(&conn, &trace, "SELECT import_messages(?1)", &args);
        let plans: Vec<Vec<String>> = ran.iter().map(|(_, lines)| lines.clone()).collect();
        assert_eq!(
            plans,
            [
                ["SEARCH main.messages"],
                ["SEARCH main.messages USING INDEX messages_id (id=?)"],
                ["SEARCH main.messages USING COVERING INDEX messages_stream (stream_name=?)"],
            ],
            "{ran:?}"
        );
    }
}

/// The walk statements of the listings, as they ran, and their plans.
fn listing_plans(conn: &Connection, trace: &Trace, sql: &str) -> Vec<(String, Vec<String>)> {
    trace.take();
    query(conn, sql, &[]);
    let mut seen = Vec::new();
    for statement in trace.take() {
        let statement = statement.trim_start_matches("-- ").to_string();
        if statement.starts_with("WITH RECURSIVE") && !seen.contains(&statement) {
            seen.push(statement);
        }
    }
    seen.into_iter()
        .map(|statement| {
            // from, skip_from, limit, while_prefix, keep_prefix.
            let args = [
                Value::Text("plan1".into()),
                Value::Integer(1),
                Value::Integer(10),
                Value::Text("plan1".into()),
                Value::Text("plan1".into()),
            ];
            let lines = plan(conn, &statement, &args);
            (statement, lines)
        })
        .collect()
}

#[test]
fn the_listings_walk_their_index_one_search_per_name() {
    let conn = open_in_memory();
    fill(&conn, MESSAGES);
    let trace = Trace::on(&conn);
    let streams = [
        "CO-ROUTINE names",
        "SETUP",
        "SCAN CONSTANT ROW",
        "SCALAR SUBQUERY 1",
        "SEARCH main.messages USING COVERING INDEX messages_stream (stream_name>?)",
        "RECURSIVE STEP",
        "SCAN n",
        "CORRELATED SCALAR SUBQUERY 3",
        "SEARCH m USING COVERING INDEX messages_stream (stream_name>?)",
        "SCAN n",
        "CORRELATED SCALAR SUBQUERY 5",
        "SEARCH m USING COVERING INDEX messages_stream (stream_name=?)",
        "CORRELATED SCALAR SUBQUERY 6",
        "SEARCH m USING INDEX messages_stream (stream_name=?)",
    ];
    let categories = [
        "CO-ROUTINE categories",
        "SETUP",
        "SCAN CONSTANT ROW",
        "SCALAR SUBQUERY 1",
        "SEARCH main.messages USING INDEX messages_category (<expr>>?)",
        "RECURSIVE STEP",
        "SCAN categories",
        "CORRELATED SCALAR SUBQUERY 3",
        "SEARCH main.messages USING INDEX messages_category (<expr>>?)",
        "SCAN categories",
        "CORRELATED SCALAR SUBQUERY 5",
        "SEARCH main.messages USING INDEX messages_category (<expr>=?)",
    ];
    for analyzed in [false, true] {
        if analyzed {
            conn.execute_batch("ANALYZE").unwrap();
        }
        for sql in [
            "SELECT * FROM get_streams()",
            "SELECT * FROM get_streams('plan1', 'plan1', 3)",
        ] {
            let ran = listing_plans(&conn, &trace, sql);
            assert_eq!(ran.len(), 1, "{sql}: {ran:?}");
            assert_eq!(ran[0].1, streams, "{sql}: {ran:?}");
        }
        for sql in [
            "SELECT * FROM get_categories()",
            "SELECT * FROM get_categories('big', 2)",
        ] {
            let ran = listing_plans(&conn, &trace, sql);
            assert_eq!(ran.len(), 1, "{sql}: {ran:?}");
            assert_eq!(ran[0].1, categories, "{sql}: {ran:?}");
        }
    }
}

const REMOVE_FROM_CATEGORY_PLAN: [&str; 5] = [
    "SEARCH main.messages USING INTEGER PRIMARY KEY (rowid=?)",
    "LIST SUBQUERY 2",
    "SEARCH m USING INDEX messages_category (<expr>=? AND global_position<?)",
    "CORRELATED SCALAR SUBQUERY 1",
    "SEARCH s USING COVERING INDEX messages_stream (stream_name=?)",
];
const REMOVE_FROM_STREAM_PLAN: [&str; 5] = [
    "SEARCH main.messages USING INTEGER PRIMARY KEY (rowid=?)",
    "LIST SUBQUERY 2",
    "SEARCH m USING INDEX messages_stream (stream_name=? AND position<?)",
    "SCALAR SUBQUERY 1",
    "SEARCH s USING COVERING INDEX messages_stream (stream_name=?)",
];

/// The global positions a removal should take, by plain SQL over the
/// table: below the bounds, at least `keep_last` of its stream after it,
/// oldest first, at most `limit`.
fn due(
    conn: &Connection,
    filter: &str,
    before_global_position: i64,
    keep_last: i64,
    limit: i64,
) -> Vec<Row> {
    query(
        conn,
        &format!(
            "SELECT m.global_position FROM messages m WHERE {filter} \
             AND m.global_position < ?1 \
             AND m.position <= (SELECT max(position) FROM messages s WHERE s.stream_name = m.stream_name) - ?2 \
             ORDER BY m.global_position LIMIT ?3"
        ),
        &[
            Value::Integer(before_global_position),
            Value::Integer(keep_last),
            Value::Integer(limit),
        ],
    )
}

/// The removals walk the category index in global position order, or the
/// stream index in position order, and find each stream's last position
/// with one search of the stream index: no scan of the table and no
/// sort, with or without statistics. Each call removes what plain SQL
/// says is due.
#[test]
fn the_removals_search_their_index() {
    let conn = open_in_memory();
    fill(&conn, MESSAGES);
    let trace = Trace::on(&conn);
    for analyzed in [false, true] {
        if analyzed {
            conn.execute_batch("ANALYZE").unwrap();
        }
        let bound = if analyzed { MESSAGES } else { MESSAGES / 2 };
        // name, time bound, global position bound, limit, keep_last.
        for (call, args, filter, plan_lines) in [
            (
                "SELECT remove_messages(?1, ?2, ?3, ?4)",
                vec![
                    Value::Text("big".into()),
                    Value::Null,
                    Value::Integer(bound),
                    Value::Integer(50),
                    Value::Integer(1),
                ],
                "substr(m.stream_name, 1, instr(m.stream_name || '-', '-') - 1) = 'big'",
                REMOVE_FROM_CATEGORY_PLAN,
            ),
            (
                "SELECT remove_messages(?1, ?2, ?3, ?4)",
                vec![
                    Value::Text("plan1".into()),
                    Value::Text("2999-01-01 00:00:00".into()),
                    Value::Integer(bound),
                    Value::Integer(1000),
                    Value::Integer(1),
                ],
                "substr(m.stream_name, 1, instr(m.stream_name || '-', '-') - 1) = 'plan1'",
                REMOVE_FROM_CATEGORY_PLAN,
            ),
            (
                "SELECT remove_messages(?1, ?2, ?3, ?4)",
                vec![
                    Value::Text("big-3".into()),
                    Value::Text("2999-01-01 00:00:00".into()),
                    Value::Integer(bound),
                    Value::Integer(10),
                    Value::Integer(1),
                ],
                "m.stream_name = 'big-3'",
                REMOVE_FROM_STREAM_PLAN,
            ),
        ] {
            let limit = integer(&args[3]);
            let expected = due(&conn, filter, bound, 1, limit);
            assert!(!expected.is_empty(), "{args:?}: a removal that finds rows");
            let ran = ran_plans(&conn, &trace, call, &args[..4]);
            // `ran_plans` ran the call; its plans are explained with all
            // five parameters.
            let ran: Vec<(String, Vec<String>)> = ran
                .into_iter()
                .map(|(statement, _)| {
                    let lines = plan(&conn, &statement, &args);
                    (statement, lines)
                })
                .collect();
            assert_eq!(ran.len(), 1, "{ran:?}");
            assert!(ran[0].0.starts_with("DELETE FROM main.messages"), "{ran:?}");
            assert_eq!(ran[0].1, plan_lines, "{args:?} (analyzed: {analyzed})");
            let gone = query(
                &conn,
                "SELECT count(*) FROM messages WHERE global_position IN (SELECT value FROM json_each(?1))",
                &[Value::Text(format!(
                    "[{}]",
                    expected
                        .iter()
                        .map(|row| integer(&row[0]).to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ))],
            );
            assert_eq!(gone, [[Value::Integer(0)]], "{args:?}");
        }
        // A keep_last policy runs the category removal with keep_last 3.
        let expected = due(
            &conn,
            "substr(m.stream_name, 1, instr(m.stream_name || '-', '-') - 1) = 'small1'",
            i64::MAX,
            3,
            20,
        );
        assert!(!expected.is_empty());
        query(
            &conn,
            "SELECT set_retention_policy('small1', 'keep_last', 3)",
            &[],
        );
        trace.take();
        let removed = query(&conn, "SELECT apply_retention_policies(20)", &[]);
        assert_eq!(removed, [[Value::Integer(expected.len() as i64)]]);
        let ran: Vec<String> = trace
            .take()
            .into_iter()
            .filter(|s| s.starts_with("DELETE FROM main.messages"))
            .collect();
        assert_eq!(ran.len(), 1, "{ran:?}");
        let args = [
            Value::Text("small1".into()),
            Value::Null,
            Value::Null,
            Value::Integer(20),
            Value::Integer(3),
        ];
        assert_eq!(plan(&conn, &ran[0], &args), REMOVE_FROM_CATEGORY_PLAN);
        query(&conn, "SELECT clear_retention_policy('small1')", &[]);
    }
}
