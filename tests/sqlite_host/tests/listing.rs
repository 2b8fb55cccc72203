//! `get_streams(prefix, after, limit)` and `get_categories(after, limit)`
//! on SQLite: paging through every name with small limits gives each name
//! once, in bytewise order, with the values a `GROUP BY` of the table
//! gives; a prefix lists exactly the names that start with it; the
//! refusals' texts; arguments read back through the hidden columns; and
//! the same rows as Postgres for the same messages.

use message_store_sqlite_tests::{error_message, open_in_memory, postgres_database, rows};
use rusqlite::{params, Connection};

/// Names that compare in every way the listing must get right: a stream
/// named exactly a prefix, names on both sides of `-`, characters above
/// ASCII, upper case.
const NAMES: &[&str] = &[
    "account",
    "account-",
    "account-1",
    "account-10",
    "account-2",
    "account-2+x",
    "accounts",
    "accounts-1",
    "Account-1",
    "a-1",
    "A-1",
    "a-2",
    "b-1",
    "B-1",
    "café-1",
    "cafe-1",
    "ünïcode-1",
    "ζ-1",
    "日本-1",
    "z",
];

/// `count` messages spread over `NAMES`, round robin.
fn fill(conn: &Connection, count: usize) {
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..count {
        conn.query_row(
            "SELECT write_message(gen_random_uuid(), ?1, 'A', '{}')",
            params![NAMES[i % NAMES.len()]],
            |_| Ok(()),
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
}

type StreamRow = (String, i64, String);

fn stream_rows(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> Vec<StreamRow> {
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map(args, |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn streams(
    conn: &Connection,
    prefix: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Vec<StreamRow> {
    stream_rows(
        conn,
        "SELECT stream_name, version, last_time FROM get_streams(?1, ?2, ?3)",
        params![prefix, after, limit],
    )
}

fn categories(conn: &Connection, after: Option<&str>, limit: i64) -> Vec<(String, i64)> {
    let mut stmt = conn
        .prepare("SELECT category, head_global_position FROM get_categories(?1, ?2)")
        .unwrap();
    stmt.query_map(params![after, limit], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn page_through(conn: &Connection, prefix: Option<&str>, limit: i64) -> Vec<StreamRow> {
    let mut listed: Vec<StreamRow> = Vec::new();
    loop {
        let after = listed.last().map(|row| row.0.clone());
        let page = streams(conn, prefix, after.as_deref(), limit);
        assert!(page.len() as i64 <= limit);
        if page.is_empty() {
            return listed;
        }
        listed.extend(page);
    }
}

#[test]
fn pages_list_every_name_once_in_bytewise_order() {
    let conn = open_in_memory();
    fill(&conn, 3 * NAMES.len() + 5);
    let table = stream_rows(
        &conn,
        "SELECT m.stream_name, m.position, m.time FROM messages m
         JOIN (SELECT stream_name, max(position) AS version FROM messages GROUP BY stream_name) v
           ON v.stream_name = m.stream_name AND v.version = m.position
         ORDER BY m.stream_name",
        [],
    );
    let mut bytewise: Vec<&str> = NAMES.to_vec();
    bytewise.sort();
    assert_eq!(
        table.iter().map(|row| row.0.as_str()).collect::<Vec<_>>(),
        bytewise
    );
    let mut stmt = conn
        .prepare(
            "SELECT substr(stream_name, 1, instr(stream_name || '-', '-') - 1) AS c,
                    max(global_position) FROM messages GROUP BY c ORDER BY c",
        )
        .unwrap();
    let category_table: Vec<(String, i64)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for limit in [1, 2, 3, 7, 100] {
        assert_eq!(page_through(&conn, None, limit), table, "limit {limit}");
        for prefix in message_store_slt::LISTING_PREFIXES.iter().copied() {
            let expected: Vec<StreamRow> = table
                .iter()
                .filter(|row| row.0.starts_with(prefix))
                .cloned()
                .collect();
            assert_eq!(
                page_through(&conn, Some(prefix), limit),
                expected,
                "prefix {prefix:?}, limit {limit}"
            );
        }
        let mut listed: Vec<(String, i64)> = Vec::new();
        loop {
            let after = listed.last().map(|row| row.0.clone());
            let page = categories(&conn, after.as_deref(), limit);
            if page.is_empty() {
                break;
            }
            listed.extend(page);
        }
        assert_eq!(listed, category_table, "categories, limit {limit}");
    }
}

#[test]
fn refusals_name_the_argument() {
    let conn = open_in_memory();
    fill(&conn, 5);
    for (sql, message) in [
        (
            "SELECT * FROM get_streams(NULL, NULL, 0)",
            "get_streams: limit must be at least 1 (limit: 0)",
        ),
        (
            "SELECT * FROM get_categories('a', -9223372036854775808)",
            "get_categories: limit must be at least 1 (limit: -9223372036854775808)",
        ),
        (
            "SELECT * FROM get_streams('account' || char(0))",
            "get_streams: prefix holds a NUL character, which no name holds",
        ),
        (
            "SELECT * FROM get_streams(NULL, char(0) || 'a')",
            "get_streams: after holds a NUL character, which no name holds",
        ),
        (
            "SELECT * FROM get_categories(char(0))",
            "get_categories: after holds a NUL character, which no name holds",
        ),
        (
            "SELECT * FROM get_streams(x'00')",
            "get_streams: argument \"prefix\" must be text, not a blob",
        ),
        (
            "SELECT * FROM get_streams(NULL, NULL, 1.5)",
            "get_streams: argument \"limit\" must be an integer, not 1.5",
        ),
        (
            "SELECT * FROM get_streams(CAST(x'ff' AS TEXT))",
            "invalid byte sequence for encoding \"UTF8\": 0xff",
        ),
    ] {
        assert_eq!(
            conn.prepare(sql)
                .and_then(|mut stmt| stmt.query([])?.next().map(|_| ()))
                .map_err(error_message),
            Err(message.to_string()),
            "{sql}"
        );
    }
    // NULL limits take the default; a whole real is an integer; the
    // arguments read back through the hidden columns.
    assert_eq!(
        rows(
            &conn,
            "SELECT count(*) FROM get_streams(NULL, NULL, NULL) UNION ALL \
             SELECT count(*) FROM get_streams(NULL, NULL, 2.0)"
        )
        .unwrap(),
        [["5"], ["2"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT stream_name, arg_prefix, arg_after, arg_limit \
             FROM get_streams('account-', 'account-1', 1)"
        )
        .unwrap(),
        [["account-10", "account-", "account-1", "1"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT category, head_global_position, arg_after, arg_limit FROM get_categories('a')"
        )
        .unwrap(),
        [["account", "5", "a", "NULL"]]
    );
}

#[test]
fn an_empty_database_lists_nothing_and_stays_empty() {
    let conn = open_in_memory();
    assert_eq!(
        rows(
            &conn,
            "SELECT (SELECT count(*) FROM get_streams()) + (SELECT count(*) FROM get_categories())"
        )
        .unwrap(),
        [["0"]]
    );
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM sqlite_schema").unwrap(),
        [["0"]]
    );
}

#[test]
fn both_engines_list_the_same_names() {
    let conn = open_in_memory();
    let (_db, mut pg) = postgres_database("listing_engines");
    for (i, name) in NAMES.iter().cycle().take(2 * NAMES.len() + 3).enumerate() {
        let id = format!("00000000-0000-4000-8000-{i:012}");
        conn.query_row(
            "SELECT write_message(?1, ?2, 'A', '{}')",
            params![id, name],
            |_| Ok(()),
        )
        .unwrap();
        pg.execute(
            "SELECT message_store.write_message($1, $2, 'A', '{}')",
            &[&id, name],
        )
        .unwrap();
    }
    for (prefix, after, limit) in [
        (None, None, 100),
        (Some("account"), None, 100),
        (Some("account-"), Some("account-1"), 2),
        (None, Some("cafe-1"), 3),
        (Some("日"), None, 100),
    ] {
        let sqlite: Vec<(String, i64)> = streams(&conn, prefix, after, limit)
            .into_iter()
            .map(|row| (row.0, row.1))
            .collect();
        let postgres: Vec<(String, i64)> = pg
            .query(
                "SELECT stream_name, version FROM message_store.get_streams($1, $2, $3)",
                &[&prefix, &after, &limit],
            )
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        assert_eq!(sqlite, postgres, "{prefix:?} {after:?} {limit}");
    }
    for (after, limit) in [(None, 100), (Some("account"), 2), (Some("z"), 100)] {
        let postgres: Vec<(String, i64)> = pg
            .query(
                "SELECT category, head_global_position FROM message_store.get_categories($1, $2)",
                &[&after, &limit],
            )
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        assert_eq!(
            categories(&conn, after, limit),
            postgres,
            "{after:?} {limit}"
        );
    }
}
