//! `get_streams(prefix, after, limit)` and `get_categories(after, limit)`
//! on Postgres: paging through every name with small limits gives each
//! name once, in the stream index's order, with the values a `GROUP BY`
//! of the table gives; a prefix lists exactly the names that start with
//! it, also under a collation where those names are not contiguous (ICU);
//! the refusals' texts and SQLSTATEs; the statements walk the indexes
//! (their generic plans hold no sequential scan) and read about as many
//! buffers for a page of names whatever the number of messages.

use message_store_pg_tests::{assert_error, connect, connect_keeping_notices, fresh_database};
use postgres::Client;

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

/// Writes `count` messages spread over `NAMES` (round robin).
fn fill(client: &mut Client, count: usize) {
    client
        .execute(
            "SELECT pg_catalog.count(message_store.write_message(
                 pg_catalog.gen_random_uuid()::varchar, n.name, 'A', '{}'))
             FROM pg_catalog.generate_series(0, $1::bigint - 1) AS i,
                  LATERAL (SELECT ($2::text[])[i % pg_catalog.array_length($2, 1) + 1] AS name) n",
            &[&(count as i64), &NAMES],
        )
        .unwrap();
}

type StreamRow = (String, i64, String);

/// The table's streams as a GROUP BY gives them, in the index's order.
fn streams_of_table(client: &mut Client) -> Vec<StreamRow> {
    client
        .query(
            "SELECT m.stream_name, m.position, m.time::text FROM message_store.messages m
             JOIN (SELECT stream_name, max(position) AS version FROM message_store.messages
                   GROUP BY stream_name) v
               ON v.stream_name = m.stream_name AND v.version = m.position
             ORDER BY m.stream_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

fn categories_of_table(client: &mut Client) -> Vec<(String, i64)> {
    client
        .query(
            "SELECT message_store.category(stream_name)::text, max(global_position)
             FROM message_store.messages GROUP BY 1 ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

fn streams(
    client: &mut Client,
    prefix: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Vec<StreamRow> {
    client
        .query(
            "SELECT stream_name, version, last_time::text
             FROM message_store.get_streams($1, $2, $3)",
            &[&prefix, &after, &limit],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

fn categories(client: &mut Client, after: Option<&str>, limit: i64) -> Vec<(String, i64)> {
    client
        .query(
            "SELECT category::text, head_global_position
             FROM message_store.get_categories($1, $2)",
            &[&after, &limit],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// Every page of `limit` names of a prefix, from the start.
fn page_through(client: &mut Client, prefix: Option<&str>, limit: i64) -> Vec<StreamRow> {
    let mut listed: Vec<StreamRow> = Vec::new();
    loop {
        let after = listed.last().map(|row| row.0.clone());
        let page = streams(client, prefix, after.as_deref(), limit);
        assert!(page.len() as i64 <= limit);
        if page.is_empty() {
            return listed;
        }
        listed.extend(page);
    }
}

/// Checks every listing against the table, for several prefixes and limits.
fn check_against_the_table(client: &mut Client) {
    let table = streams_of_table(client);
    assert_eq!(table.len(), NAMES.len());
    for limit in [1, 2, 3, 7, 100] {
        assert_eq!(page_through(client, None, limit), table, "limit {limit}");
        for prefix in message_store_slt::LISTING_PREFIXES.iter().copied() {
            let expected: Vec<StreamRow> = table
                .iter()
                .filter(|row| row.0.starts_with(prefix))
                .cloned()
                .collect();
            assert_eq!(
                page_through(client, Some(prefix), limit),
                expected,
                "prefix {prefix:?}, limit {limit}"
            );
        }
        let table = categories_of_table(client);
        let mut listed: Vec<(String, i64)> = Vec::new();
        loop {
            let after = listed.last().map(|row| row.0.clone());
            let page = categories(client, after.as_deref(), limit);
            assert!(page.len() as i64 <= limit);
            if page.is_empty() {
                break;
            }
            listed.extend(page);
        }
        assert_eq!(listed, table, "categories, limit {limit}");
    }
}

#[test]
fn pages_list_every_name_once_in_the_index_order() {
    let (_db, mut client) = fresh_database("listing_pages");
    fill(&mut client, 3 * NAMES.len() + 5);
    check_against_the_table(&mut client);
    // The database is C.UTF-8: the order is the bytes' order.
    let names: Vec<String> = streams(&mut client, None, None, 100)
        .into_iter()
        .map(|row| row.0)
        .collect();
    let mut bytewise: Vec<String> = NAMES.iter().map(|name| name.to_string()).collect();
    bytewise.sort();
    assert_eq!(names, bytewise);
    // A cursor that is no stream's name, and the defaults by name.
    let after: Vec<String> = client
        .query(
            "SELECT stream_name FROM message_store.get_streams(after => 'account-11', \"limit\" => 2)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(after, ["account-2", "account-2+x"]);
    let count: i64 = client
        .query_one(
            "SELECT count(*) FROM message_store.get_streams(prefix => 'account-')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(count, 5);
}

#[test]
fn a_prefix_is_kept_under_a_collation_that_splits_it() {
    // ICU's English order puts "A-1" between "a-1" and "a-2" (case is a
    // later level than letters), so the names of a prefix are not one
    // range of the index.
    let db = "ms_test_listing_icu";
    let mut admin = connect("");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {db} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' \
             LOCALE_PROVIDER icu ICU_LOCALE 'en'"
        ))
        .unwrap();
    let mut client = connect(&format!("dbname={db}"));
    client
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    fill(&mut client, 2 * NAMES.len());
    let order: Vec<String> = streams(&mut client, None, None, 100)
        .into_iter()
        .map(|row| row.0)
        .collect();
    let a = |name: &str| order.iter().position(|n| n == name).unwrap();
    assert!(
        a("a-1") < a("A-1") && a("A-1") < a("a-2"),
        "the ICU order splits the prefix a-: {order:?}"
    );
    check_against_the_table(&mut client);
    assert_eq!(
        streams(&mut client, Some("a-"), None, 100)
            .into_iter()
            .map(|row| row.0)
            .collect::<Vec<_>>(),
        ["a-1", "a-2"]
    );
    assert_eq!(
        streams(&mut client, Some("a-"), Some("a-1"), 1)
            .into_iter()
            .map(|row| row.0)
            .collect::<Vec<_>>(),
        ["a-2"]
    );
}

#[test]
fn refusals_name_the_argument_and_list_nothing() {
    let (_db, mut client) = fresh_database("listing_refusals");
    fill(&mut client, 5);
    for (sql, state, text) in [
        (
            "SELECT * FROM message_store.get_streams(NULL, NULL, 0)",
            "2201W",
            "get_streams: limit must be at least 1 (limit: 0)",
        ),
        (
            "SELECT * FROM message_store.get_streams('account-', 'account-1', -7)",
            "2201W",
            "get_streams: limit must be at least 1 (limit: -7)",
        ),
        (
            "SELECT * FROM message_store.get_streams(\"limit\" => -9223372036854775807 - 1)",
            "2201W",
            "get_streams: limit must be at least 1 (limit: -9223372036854775808)",
        ),
        (
            "SELECT * FROM message_store.get_categories(NULL, 0)",
            "2201W",
            "get_categories: limit must be at least 1 (limit: 0)",
        ),
        (
            "SELECT * FROM message_store.get_categories(\"limit\" => -1)",
            "2201W",
            "get_categories: limit must be at least 1 (limit: -1)",
        ),
    ] {
        assert_error(client.query(sql, &[]), state, text);
    }
    // NULL limits take the default, 100.
    let count: i64 = client
        .query_one(
            "SELECT count(*) FROM message_store.get_streams(NULL, NULL, NULL)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(count, 5);
    // Read only: the listings run in a read-only transaction.
    let mut transaction = client.transaction().unwrap();
    transaction
        .batch_execute("SET TRANSACTION READ ONLY")
        .unwrap();
    let count: i64 = transaction
        .query_one(
            "SELECT (SELECT count(*) FROM message_store.get_streams())
                  + (SELECT count(*) FROM message_store.get_categories())",
            &[],
        )
        .unwrap()
        .get(0);
    // Five streams of one category.
    assert_eq!(count, 5 + 1);
    transaction.commit().unwrap();
}

/// The statement a listing ran, from its debug notice.
fn generated_command(db: &str, call: &str) -> String {
    let (mut client, notices) = connect_keeping_notices(db);
    client
        .batch_execute("SET message_store.debug_get = on")
        .unwrap();
    client.query(call, &[]).unwrap();
    notices
        .take()
        .into_iter()
        .find_map(|line| line.strip_prefix("Generated Command: ").map(str::to_string))
        .unwrap_or_else(|| panic!("{call}: no Generated Command notice"))
}

/// The generic plan of a listing's statement, as its kept plan is.
fn generic_plan(client: &mut Client, command: &str, types: &str, args: &str) -> String {
    client
        .batch_execute(&format!(
            "DEALLOCATE ALL; SET plan_cache_mode = force_generic_plan; \
             PREPARE listing({types}) AS {command}"
        ))
        .unwrap();
    client
        .query(
            &format!("EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF) EXECUTE listing({args})"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The buffers a listing reads: its function scan's shared hits and reads.
fn buffers(client: &mut Client, call: &str) -> i64 {
    // The first call prepares the statement and reads the catalog.
    client.query(call, &[]).unwrap();
    let plan: serde_json::Value = client
        .query_one(
            &format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {call}"),
            &[],
        )
        .unwrap()
        .get(0);
    let node = &plan[0]["Plan"];
    node["Shared Hit Blocks"].as_i64().unwrap() + node["Shared Read Blocks"].as_i64().unwrap()
}

#[test]
fn the_listings_walk_the_indexes_not_the_table() {
    let (db, mut client) = fresh_database("listing_plans");
    fill(&mut client, 2 * NAMES.len());
    // A page of names reads buffers by the names it lists: with 60,040
    // messages each probe descends an index a level or two taller than
    // with 40, and the page reads far fewer buffers than the table has.
    let calls = [
        "SELECT * FROM message_store.get_streams(NULL, NULL, 10)",
        "SELECT * FROM message_store.get_streams('account', NULL, 3)",
        "SELECT * FROM message_store.get_categories(NULL, 10)",
    ];
    let small: Vec<i64> = calls
        .iter()
        .map(|call| buffers(&mut client, call))
        .collect();
    fill(&mut client, 60_000);
    let streams = generated_command(&db, "SELECT * FROM message_store.get_streams('account')");
    let categories = generated_command(&db, "SELECT * FROM message_store.get_categories()");
    // The generic plans, as kept, of a store of some size (on a page or
    // two a sequential scan costs as little as an index), before and
    // after ANALYZE.
    for analyzed in [false, true] {
        if analyzed {
            client
                .batch_execute("ANALYZE message_store.messages")
                .unwrap();
        }
        let plan = generic_plan(
            &mut client,
            &streams,
            "text, boolean, bigint, text, text",
            "'account', false, 10, 'account', 'account'",
        );
        assert!(!plan.contains("Seq Scan"), "{plan}");
        assert!(!plan.contains("Sort"), "{plan}");
        // The first name, then one probe for each next name.
        assert_eq!(
            plan.matches("Index Only Scan using messages_stream")
                .count(),
            2,
            "{plan}"
        );
        assert!(
            plan.contains("Index Scan Backward using messages_stream"),
            "{plan}"
        );
        let plan = generic_plan(
            &mut client,
            &categories,
            "text, boolean, bigint",
            "'', false, 10",
        );
        assert!(!plan.contains("Seq Scan"), "{plan}");
        assert!(!plan.contains("Sort"), "{plan}");
        assert!(!plan.contains("messages_pkey"), "{plan}");
        assert_eq!(
            plan.matches("Index Scan using messages_category").count(),
            2,
            "{plan}"
        );
        assert!(
            plan.contains("Index Scan Backward using messages_category"),
            "{plan}"
        );
    }
    let pages: i64 = client
        .query_one(
            "SELECT pg_catalog.pg_relation_size('message_store.messages') / 8192",
            &[],
        )
        .unwrap()
        .get(0);
    for (call, small) in calls.iter().zip(small) {
        let large = buffers(&mut client, call);
        assert!(
            large <= small * 3 && large * 4 < pages,
            "{call}: {small} buffers with 40 messages, {large} with 60,040 ({pages} pages)"
        );
    }
}
