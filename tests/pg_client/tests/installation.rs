//! The extension as an installed object: client roles and their privileges,
//! any search_path, concurrency between sessions, and pg_dump/pg_restore.

use message_store_pg_tests::*;
use postgres::Client;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;

#[test]
fn client_role_with_empty_search_path() {
    let (db, mut admin) = fresh_database("client_role");
    client_role(&mut admin, "ms_test_client");
    let mut c = connect_as(&db, "ms_test_client", "options='-c search_path='");
    let path: String = c.query_one("SHOW search_path", &[]).unwrap().get(0);
    assert_eq!(path, "");

    let p: i64 = c
        .query_one(
            "SELECT message_store.write_message($1, 'account-1', 'Opened', '{}'::jsonb)",
            &[&new_id()],
        )
        .unwrap()
        .get(0);
    assert_eq!(p, 0);
    let p: i64 = c
        .query_one(
            "SELECT message_store.write_message($1, 'account-1', 'Deposited', '{\"amount\": 5}'::jsonb, NULL, 0)",
            &[&new_id()],
        )
        .unwrap()
        .get(0);
    assert_eq!(p, 1);
    assert_eq!(
        c.query(
            "SELECT * FROM message_store.get_stream_messages('account-1')",
            &[]
        )
        .unwrap()
        .len(),
        2
    );
    assert_eq!(
        c.query(
            "SELECT * FROM message_store.get_category_messages('account', 1, 10, NULL, 0, 1)",
            &[]
        )
        .unwrap()
        .len(),
        2
    );
    assert_eq!(
        c.query(
            "SELECT * FROM message_store.get_last_stream_message('account-1', 'Opened')",
            &[]
        )
        .unwrap()
        .len(),
        1
    );
    let row = c
        .query_one(
            "SELECT message_store.stream_version('account-1'), message_store.acquire_lock('account-1'),
                    message_store.hash_64('account'), message_store.message_store_version()",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, Option<i64>>(0), Some(1));
    assert_eq!(row.get::<_, i64>(1), row.get::<_, i64>(2));
    let total: i64 = c
        .query_one(
            "SELECT sum(message_count)::bigint FROM message_store.stream_summary",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(total, 2);
    // Read and append only.
    assert_eq!(
        db_error(c.execute("UPDATE message_store.messages SET type = 'x'", &[])).0,
        "42501"
    );
    assert_eq!(
        db_error(c.execute("DELETE FROM message_store.messages", &[])).0,
        "42501"
    );
    assert_eq!(
        db_error(c.execute("TRUNCATE message_store.messages", &[])).0,
        "42501"
    );
    // The grant helper is for administrators.
    assert_eq!(
        db_error(c.execute(
            "SELECT message_store.grant_client_privileges('public')",
            &[]
        ))
        .0,
        "42501"
    );
    // Without message_store on the path, unqualified names are not found,
    // as for any schema.
    assert_eq!(
        db_error(c.query("SELECT stream_version('account-1')", &[])).0,
        "42883"
    );
    drop(c);
    // The SQL condition enabled through the startup options, as Eventide's
    // client does it.
    let mut c = connect_as(
        &db,
        "ms_test_client",
        "options='-c message_store.sql_condition=on'",
    );
    let rows = c
        .query(
            "SELECT position FROM message_store.get_stream_messages('account-1', 0, 10, 'type = ''Deposited''')",
            &[],
        )
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>(),
        [1]
    );
    drop(c);
    admin
        .batch_execute("DROP OWNED BY ms_test_client; DROP ROLE ms_test_client")
        .unwrap();
}

#[test]
fn privileges_are_exactly_message_dbs() {
    let (_, mut admin) = fresh_database("privileges");
    client_role(&mut admin, "ms_test_grants");
    let table: Vec<String> = admin
        .query(
            "SELECT privilege_type FROM information_schema.role_table_grants
             WHERE grantee = 'ms_test_grants' AND table_name = 'messages' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(table, ["INSERT", "SELECT"]);
    let row = admin
        .query_one(
            "SELECT has_schema_privilege('ms_test_grants', 'message_store', 'USAGE'),
                    has_schema_privilege('ms_test_grants', 'message_store', 'CREATE'),
                    has_sequence_privilege('ms_test_grants', 'message_store.messages_global_position_seq', 'USAGE'),
                    has_sequence_privilege('ms_test_grants', 'message_store.messages_global_position_seq', 'SELECT'),
                    has_sequence_privilege('ms_test_grants', 'message_store.messages_global_position_seq', 'UPDATE')",
            &[],
        )
        .unwrap();
    assert_eq!(
        (0..5).map(|i| row.get::<_, bool>(i)).collect::<Vec<_>>(),
        [true, false, true, true, false]
    );
    let views: i64 = admin
        .query_one(
            "SELECT count(*) FROM information_schema.role_table_grants
             WHERE grantee = 'ms_test_grants' AND table_name LIKE '%summary' AND privilege_type = 'SELECT'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(views, 6);
    admin
        .batch_execute("DROP OWNED BY ms_test_grants; DROP ROLE ms_test_grants")
        .unwrap();
}

/// Two writers to one category, committing in whatever order; a reader that
/// polls from its last global position + 1 must end up with every message.
#[test]
fn category_readers_never_skip_a_late_commit() {
    let (db, mut admin) = fresh_database("category_order");
    const PER_WRITER: usize = 150;
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let db = db.clone();
            thread::spawn(move || {
                let mut c = connect(&format!("dbname={db}"));
                for i in 0..PER_WRITER {
                    let mut tx = c.transaction().unwrap();
                    tx.query_one(
                        "SELECT message_store.write_message($1, $2, 'T', '{}'::jsonb)",
                        &[&new_id(), &format!("race-{w}x{}", i % 7)],
                    )
                    .unwrap();
                    // Hold the transaction open a little, so commits interleave.
                    if i % 3 == w {
                        tx.batch_execute("SELECT pg_sleep(0.002)").unwrap();
                    }
                    tx.commit().unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let db = db.clone();
        thread::spawn(move || {
            let mut c = connect(&format!("dbname={db}"));
            let mut seen: Vec<i64> = Vec::new();
            let mut next = 1i64;
            while seen.len() < 2 * PER_WRITER {
                let rows = c
                    .query(
                        "SELECT global_position FROM message_store.get_category_messages('race', $1, 50)",
                        &[&next],
                    )
                    .unwrap();
                for row in rows {
                    let g: i64 = row.get(0);
                    seen.push(g);
                    next = g + 1;
                }
            }
            seen
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    let seen = reader.join().unwrap();
    let all: Vec<i64> = admin
        .query(
            "SELECT global_position FROM message_store.messages ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seen, all);
}

#[test]
fn same_expected_version_exactly_one_writer_wins() {
    let (db, _admin) = fresh_database("expected_race");
    for round in 0..5 {
        let barrier = Arc::new(Barrier::new(2));
        let results: Vec<Result<i64, (String, String)>> = (0..2)
            .map(|_| {
                let db = db.clone();
                let barrier = barrier.clone();
                thread::spawn(move || {
                    let mut c = connect(&format!("dbname={db}"));
                    let mut tx = c.transaction().unwrap();
                    barrier.wait();
                    let result = tx.query_one(
                        "SELECT message_store.write_message($1, $2, 'T', '{}'::jsonb, NULL, -1)",
                        &[&new_id(), &format!("claim-{round}")],
                    );
                    match result {
                        Ok(row) => {
                            thread::sleep(std::time::Duration::from_millis(20));
                            tx.commit().unwrap();
                            Ok(row.get::<_, i64>(0))
                        }
                        Err(e) => Err(db_error(Err::<(), _>(e))),
                    }
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let wins: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(wins, [&0], "round {round}: {results:?}");
        let loss = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert_eq!(
            loss,
            &(
                "P0001".to_string(),
                format!("Wrong expected version: -1 (Stream: claim-{round}, Stream Version: 0)")
            )
        );
    }
}

fn pg_tool(tool: &str) -> Command {
    let mut command = Command::new(format!("/usr/lib/postgresql/15/bin/{tool}"));
    command
        .env("PGHOST", "127.0.0.1")
        .env("PGUSER", "postgres")
        .env("PGPASSWORD", "postgres");
    command
}

#[test]
fn pg_dump_and_restore_keep_every_message() {
    let (db, mut c) = fresh_database("dump_source");
    for i in 0..5 {
        write(&mut c, &format!("dump-{}", i % 2), "T");
    }
    // A failed write leaves a gap in global positions; the dump keeps it.
    let id: String = c
        .query_one("SELECT id::text FROM message_store.messages LIMIT 1", &[])
        .unwrap()
        .get(0);
    assert!(c
        .query_one(
            "SELECT message_store.write_message($1, 'dump-9', 'T', '{}')",
            &[&id]
        )
        .is_err());
    write(&mut c, "dump-1", "T");
    // A retention policy is the users' too.
    c.batch_execute("SELECT message_store.set_retention_policy('dump', 'keep_last', 7)")
        .unwrap();
    let snapshot = |c: &mut Client| -> Vec<String> {
        c.query(
            "SELECT m::text FROM message_store.messages m ORDER BY global_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    let before = snapshot(&mut c);
    assert_eq!(before.len(), 6);

    let dump = std::env::temp_dir().join("message_store_dump_test.dump");
    let status = pg_tool("pg_dump")
        .args(["-Fc", "-f"])
        .arg(&dump)
        .arg(&db)
        .status()
        .unwrap();
    assert!(status.success());
    let mut admin = connect("");
    admin
        .batch_execute("DROP DATABASE IF EXISTS ms_test_dump_target WITH (FORCE)")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE ms_test_dump_target TEMPLATE template0 ENCODING 'UTF8'")
        .unwrap();
    let output = pg_tool("pg_restore")
        .args(["--exit-on-error", "-d", "ms_test_dump_target"])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_file(&dump).ok();

    let mut restored = connect("dbname=ms_test_dump_target");
    assert_eq!(snapshot(&mut restored), before);
    assert_eq!(
        strings(
            &mut restored,
            "SELECT category || ' ' || kind || ' ' || amount FROM message_store.retention_policies"
        ),
        ["dump keep_last 7"]
    );
    // The sequence continues after the restored messages.
    let max_before: i64 = c
        .query_one(
            "SELECT max(global_position) FROM message_store.messages",
            &[],
        )
        .unwrap()
        .get(0);
    write(&mut restored, "dump-1", "T");
    let newest = restored
        .query_one(
            "SELECT position, global_position FROM message_store.get_last_stream_message('dump-1')",
            &[],
        )
        .unwrap();
    assert_eq!(newest.get::<_, i64>(0), 3);
    assert_eq!(newest.get::<_, i64>(1), max_before + 1);
}

/// A connection to `db` whose every statement, the functions' own
/// included, sends its plan as a notice (auto_explain).
fn explaining_connection(db: &str) -> (Client, Notices) {
    let (mut c, notices) = connect_keeping_notices(db);
    c.batch_execute(
        "LOAD 'auto_explain';
         SET auto_explain.log_min_duration = 0;
         SET auto_explain.log_nested_statements = on;
         SET auto_explain.log_level = notice;
         SET client_min_messages = notice;",
    )
    .unwrap();
    (c, notices)
}

/// Category reads run one kept, generic plan on the category index: the plan
/// carries the parameters (so no call plans its statement again), starts and
/// ends the index scan at the bounds, and never sorts or scans the table,
/// whatever the values, the category's size or whether one exists.
#[test]
fn category_reads_keep_one_plan_on_the_category_index() {
    let (db, mut admin) = fresh_database("plans");
    admin
        .batch_execute(
            "SELECT count(message_store.write_message(
               gen_random_uuid()::text,
               'plan' || (i % 3) || '-' || (i % 50),
               'T',
               '{}',
               CASE WHEN i % 4 = 0 THEN '{\"correlationStreamName\": \"origin-1\"}'::jsonb END))
             FROM generate_series(1, 3000) AS i;
             ANALYZE message_store.messages;",
        )
        .unwrap();
    let (mut c, notices) = explaining_connection(&db);

    let reads = [
        ("'plan1', 1, 10", 10),
        ("'plan1', 2980, 10", 7),
        ("'plan2', 1, 1000", 1000),
        ("'none', 1, 10", 0),
        ("'plan0', 1, 10, 'origin'", 10),
        ("'plan0', 1, 1000, 'origin'", 250),
        ("'plan1', 1, 10, NULL, 1, 4", 10),
        ("'plan2', 100, 1000, NULL, 0, 2", 482),
        ("'plan0', 1, 10, 'origin', 0, 3", 10),
        ("'plan0', 1, 1000, 'origin', 2, 3", 60),
    ];
    for (args, expected) in reads {
        let sql = format!("SELECT * FROM message_store.get_category_messages({args})");
        let rows = c.query(sql.as_str(), &[]).unwrap().len();
        assert_eq!(rows, expected, "{sql}");
        let plans: Vec<String> = notices
            .take()
            .into_iter()
            .filter(|n| n.contains("FROM message_store.messages"))
            .collect();
        assert_eq!(plans.len(), 1, "{sql}: {plans:?}");
        let plan = &plans[0];
        assert!(
            plan.contains("Index Scan using messages_category on messages"),
            "{sql}: {plan}"
        );
        assert!(
            plan.contains(">= ($1)::text) AND ((message_store.category((stream_name)::character varying))::text <= ($1)::text) AND (global_position >= $2)"),
            "{sql}: {plan}"
        );
        assert!(!plan.contains("Sort"), "{sql}: {plan}");
        assert!(!plan.contains("Seq Scan"), "{sql}: {plan}");
    }
}

/// Removals run their kept, generic plans on the indexes: over a category
/// the category index from the bound on, each stream's last position one
/// backward probe of the stream index, the rows deleted by primary key;
/// over a stream the stream index. No plan scans the table or sorts.
#[test]
fn removals_keep_their_plans_on_the_indexes() {
    let (db, mut admin) = fresh_database("removal_plans");
    admin
        .batch_execute(
            "SELECT count(message_store.write_message(
               gen_random_uuid()::text, 'plan' || (i % 3) || '-' || (i % 50), 'T', '{}'))
             FROM generate_series(1, 3000) AS i;
             ANALYZE message_store.messages;",
        )
        .unwrap();
    let (mut c, notices) = explaining_connection(&db);
    let removals = [
        ("'plan1', NULL, 1500, 10", 10, "messages_category"),
        ("'plan2', 'infinity', NULL, 1000", 950, "messages_category"),
        ("'none', NULL, 100, 10", 0, "messages_category"),
        ("'plan0-7', NULL, 3000, 1000", 19, "messages_stream"),
        ("'plan0-8', 'infinity', 10, 5", 0, "messages_stream"),
    ];
    for (args, expected, index) in removals {
        let sql = format!("SELECT message_store.remove_messages({args})");
        let removed: i64 = c.query_one(sql.as_str(), &[]).unwrap().get(0);
        assert_eq!(removed, expected, "{sql}");
        let plans: Vec<String> = notices
            .take()
            .into_iter()
            .filter(|n| n.contains("DELETE FROM message_store.messages"))
            .collect();
        assert_eq!(plans.len(), 1, "{sql}: {plans:?}");
        let plan = &plans[0];
        assert!(
            plan.contains(&format!("Index Scan using {index} on messages m")),
            "{sql}: {plan}"
        );
        assert!(
            plan.contains("Index Only Scan Backward using messages_stream on messages s")
                || plan.contains("Index Scan Backward using messages_stream on messages s"),
            "{sql}: {plan}"
        );
        assert!(
            plan.contains("Index Scan using messages_pkey on messages"),
            "{sql}: {plan}"
        );
        assert!(!plan.contains("Sort"), "{sql}: {plan}");
        assert!(!plan.contains("Seq Scan"), "{sql}: {plan}");
    }
}
