//! Retention and erasure on Postgres: `remove_messages` keeps each
//! stream's last message and removes in bounded batches, oldest first;
//! `redact_stream` empties a stream's data and metadata and keeps its rows;
//! the stored policies are applied by one call; bad input removes nothing;
//! only the owner and the roles of `grant_operator_privileges` may run
//! them; a removal does not hold up writers.

use message_store_pg_tests::*;
use postgres::Client;

/// Every message as `stream_name/position@global_position`, in global
/// order.
fn stored(client: &mut Client) -> Vec<String> {
    strings(
        client,
        "SELECT stream_name || '/' || position || '@' || global_position
         FROM message_store.messages ORDER BY global_position",
    )
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// Writes `streams` in turn, one message each, `rounds` times.
fn write_rounds(client: &mut Client, streams: &[&str], rounds: usize) {
    for _ in 0..rounds {
        for stream in streams {
            write(client, stream, "T");
        }
    }
}

/// Sets every stored time to `2026-01-01 00:00:00` plus the message's
/// global position in seconds, so each time is known.
fn known_times(client: &mut Client) {
    client
        .batch_execute(
            "UPDATE message_store.messages
             SET time = '2026-01-01 00:00:00'::timestamp + make_interval(secs => global_position)",
        )
        .unwrap();
}

#[test]
fn a_category_removal_keeps_each_streams_last_message() {
    let (_db, mut client) = fresh_database("retention_category");
    // Names around the category: another category with the same start,
    // one with a type suffix, and a stream named as the category itself.
    write_rounds(&mut client, &["acc-1", "acc-2", "accx-1"], 3);
    write_rounds(&mut client, &["acc:command-1", "acc"], 2);
    write(&mut client, "acc-3", "T");
    let removed = count(
        &mut client,
        "SELECT message_store.remove_messages('acc', before_global_position => 1000)",
    );
    // acc-1 and acc-2 keep their last; the stream named `acc`, of category
    // acc, keeps its last; acc-3 has only its last.
    assert_eq!(removed, 5);
    assert_eq!(
        stored(&mut client),
        [
            "accx-1/0@3",
            "accx-1/1@6",
            "acc-1/2@7",
            "acc-2/2@8",
            "accx-1/2@9",
            "acc:command-1/0@10",
            "acc:command-1/1@12",
            "acc/1@13",
            "acc-3/0@14",
        ]
    );
    // Versions stay, the next write takes the next position, and an
    // expected version behind the stream is refused as before.
    assert_eq!(
        count(&mut client, "SELECT message_store.stream_version('acc-1')"),
        2
    );
    let position: i64 = client
        .query_one(
            "SELECT message_store.write_message(gen_random_uuid()::text, 'acc-1', 'T', '{}', NULL, 2)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(position, 3);
    assert_error(
        client.query(
            "SELECT message_store.write_message(gen_random_uuid()::text, 'acc-1', 'T', '{}', NULL, 1)",
            &[],
        ),
        "P0001",
        "Wrong expected version: 1 (Stream: acc-1, Stream Version: 3)",
    );
    let positions: Vec<i64> = client
        .query(
            "SELECT position FROM message_store.get_stream_messages('acc-1')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(positions, [2, 3]);
    let last: i64 = client
        .query_one(
            "SELECT position FROM message_store.get_last_stream_message('acc-2')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(last, 2);
    // Only acc-1's position 2 is left to remove, now that 3 is its last.
    assert_eq!(
        count(
            &mut client,
            "SELECT message_store.remove_messages('acc', '2999-01-01 00:00:00+00', 1000)"
        ),
        1
    );
}

#[test]
fn a_stream_name_removes_from_that_stream_only() {
    let (_db, mut client) = fresh_database("retention_stream");
    write_rounds(&mut client, &["acc-1", "acc-10", "acc-1+x"], 3);
    let removed = count(
        &mut client,
        "SELECT message_store.remove_messages('acc-1', NULL, 1000)",
    );
    assert_eq!(removed, 2);
    assert_eq!(
        stored(&mut client),
        [
            "acc-10/0@2",
            "acc-1+x/0@3",
            "acc-10/1@5",
            "acc-1+x/1@6",
            "acc-1/2@7",
            "acc-10/2@8",
            "acc-1+x/2@9",
        ]
    );
}

#[test]
fn the_bounds_are_strict_and_all_apply() {
    let (_db, mut client) = fresh_database("retention_bounds");
    write_rounds(&mut client, &["acc-1"], 8);
    known_times(&mut client);
    // Below global position 3: positions 1 and 2 (global 1, 2).
    assert_eq!(
        count(
            &mut client,
            "SELECT message_store.remove_messages('acc', NULL, 3)"
        ),
        2
    );
    // Older than the stored time of global position 5 (UTC, given here
    // in another zone): 3 and 4.
    assert_eq!(
        count(
            &mut client,
            "SELECT message_store.remove_messages('acc', '2026-01-01 02:00:05+02')"
        ),
        2
    );
    assert_eq!(
        stored(&mut client),
        ["acc-1/4@5", "acc-1/5@6", "acc-1/6@7", "acc-1/7@8"]
    );
    // Both bounds: below both, whichever is lower.
    assert_eq!(
        count(
            &mut client,
            "SELECT message_store.remove_messages('acc', '2026-01-01 00:00:07+00', 6)"
        ),
        1
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT message_store.remove_messages('acc', '2026-01-01 00:00:07+00', 100)"
        ),
        1
    );
    assert_eq!(stored(&mut client), ["acc-1/6@7", "acc-1/7@8"]);
    // -infinity is below everything, infinity above it.
    assert_eq!(
        count(
            &mut client,
            "SELECT message_store.remove_messages('acc', '-infinity')"
        ),
        0
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT message_store.remove_messages('acc', 'infinity')"
        ),
        1
    );
    assert_eq!(stored(&mut client), ["acc-1/7@8"]);
}

#[test]
fn removal_runs_in_batches_of_the_limit_oldest_first() {
    let (_db, mut client) = fresh_database("retention_batches");
    write_rounds(&mut client, &["acc-1", "acc-2", "acc-3"], 4);
    let all = stored(&mut client);
    let mut calls = Vec::new();
    loop {
        let removed = count(
            &mut client,
            "SELECT message_store.remove_messages('acc', NULL, 1000, 4)",
        );
        calls.push(removed);
        if calls.len() == 1 {
            // The four lowest global positions went first.
            assert_eq!(stored(&mut client), all[4..]);
        }
        if removed < 4 {
            break;
        }
    }
    assert_eq!(calls, [4, 4, 1]);
    assert_eq!(
        stored(&mut client),
        ["acc-1/3@10", "acc-2/3@11", "acc-3/3@12"]
    );
    // A stream's removal runs in position order in the same way.
    write_rounds(&mut client, &["acc-1"], 3);
    assert_eq!(
        count(
            &mut client,
            "SELECT message_store.remove_messages('acc-1', NULL, 1000, 2)"
        ),
        2
    );
    assert_eq!(
        stored(&mut client),
        ["acc-2/3@11", "acc-3/3@12", "acc-1/5@14", "acc-1/6@15"]
    );
}

#[test]
fn a_redacted_stream_keeps_its_rows_and_positions() {
    let (_db, mut client) = fresh_database("retention_redact");
    write_with_metadata(&mut client, "acc-1", r#"{"correlationStreamName": "x-1"}"#);
    write_with_metadata(&mut client, "acc-1", r#"{"a": 1}"#);
    write_with_metadata(&mut client, "acc-2", r#"{"a": 2}"#);
    write_with_metadata(&mut client, "acc", r#"{"a": 3}"#);
    let before = messages_as_text(&mut client);
    let identities = |client: &mut Client| -> Vec<String> {
        strings(
            client,
            "SELECT id || ' ' || stream_name || ' ' || type || ' ' || position || ' '
                    || global_position || ' ' || time
             FROM message_store.messages ORDER BY global_position",
        )
    };
    let identities_before = identities(&mut client);
    assert_eq!(
        count(&mut client, "SELECT message_store.redact_stream('acc-1')"),
        2
    );
    let rows = client
        .query(
            "SELECT position, global_position, type, data IS NULL, metadata IS NULL
             FROM message_store.get_stream_messages('acc-1')",
            &[],
        )
        .unwrap();
    let rows: Vec<(i64, i64, String, bool, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        rows,
        [
            (0, 1, "SomeType".to_string(), true, true),
            (1, 2, "SomeType".to_string(), true, true)
        ]
    );
    // The category reader gives the rows with NULL data and metadata, and
    // the other streams' as they were.
    let category: Vec<(String, Option<String>)> = client
        .query(
            "SELECT stream_name, data FROM message_store.get_category_messages('acc')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        category,
        [
            ("acc-1".to_string(), None),
            ("acc-1".to_string(), None),
            ("acc-2".to_string(), Some("{}".to_string())),
            ("acc".to_string(), Some("{}".to_string())),
        ]
    );
    assert_eq!(messages_as_text(&mut client)[2..], before[2..]);
    // Ids, streams, types, positions and times stay.
    assert_eq!(identities(&mut client), identities_before);
    assert_eq!(
        count(&mut client, "SELECT message_store.stream_version('acc-1')"),
        1
    );
    // The name is one stream, matched exactly: a category name redacts
    // only a stream of that name.
    assert_eq!(
        count(&mut client, "SELECT message_store.redact_stream('acc')"),
        1
    );
    assert_eq!(
        count(&mut client, "SELECT message_store.redact_stream('none-1')"),
        0
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM message_store.messages WHERE data IS NOT NULL"
        ),
        1
    );
}

#[test]
fn stored_policies_are_set_replaced_cleared_and_applied() {
    let (_db, mut client) = fresh_database("retention_policies");
    let policies = |client: &mut Client| -> Vec<String> {
        strings(
            client,
            "SELECT category || ' ' || kind || ' ' || amount
             FROM message_store.retention_policies ORDER BY category",
        )
    };
    client
        .batch_execute(
            "SELECT message_store.set_retention_policy('cmd', 'keep_last', 3);
             SELECT message_store.set_retention_policy('cmd', 'keep_last', 2);
             SELECT message_store.set_retention_policy('evt', 'keep_seconds', 3600);
             SELECT message_store.set_retention_policy('gone', 'keep_last', 1);",
        )
        .unwrap();
    assert_eq!(
        policies(&mut client),
        [
            "cmd keep_last 2",
            "evt keep_seconds 3600",
            "gone keep_last 1"
        ]
    );
    let cleared: (bool, bool) = {
        let row = client
            .query_one(
                "SELECT message_store.clear_retention_policy('gone'),
                        message_store.clear_retention_policy('none')",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(cleared, (true, false));
    assert_eq!(
        policies(&mut client),
        ["cmd keep_last 2", "evt keep_seconds 3600"]
    );

    write_rounds(&mut client, &["cmd-1", "cmd-2"], 4);
    write_rounds(&mut client, &["evt-1"], 3);
    write_rounds(&mut client, &["gone-1", "other-1"], 2);
    // evt-1's first two messages are two hours old, its last one too.
    client
        .batch_execute(
            "UPDATE message_store.messages SET time = time - interval '2 hours'
             WHERE stream_name = 'evt-1' AND position IN (0, 1)",
        )
        .unwrap();
    // One call with limit 3: each policy removes at most 3 of its
    // category's messages (cmd has 4 due, evt 2).
    assert_eq!(
        count(
            &mut client,
            "SELECT message_store.apply_retention_policies(3)"
        ),
        5
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT message_store.apply_retention_policies()"
        ),
        1
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT message_store.apply_retention_policies()"
        ),
        0
    );
    assert_eq!(
        stored(&mut client),
        [
            "cmd-1/2@5",
            "cmd-2/2@6",
            "cmd-1/3@7",
            "cmd-2/3@8",
            "evt-1/2@11",
            "gone-1/0@12",
            "other-1/0@13",
            "gone-1/1@14",
            "other-1/1@15",
        ]
    );
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let (_db, mut client) = fresh_database("retention_bad_input");
    write_rounds(&mut client, &["acc-1", "acc-2"], 3);
    client
        .batch_execute("SELECT message_store.set_retention_policy('acc', 'keep_last', 1)")
        .unwrap();
    let before = messages_as_text(&mut client);
    let cases: &[(&str, &str, &str)] = &[
        (
            "SELECT message_store.remove_messages(NULL, NULL, 10)",
            "22004",
            "remove_messages: stream_or_category must not be NULL",
        ),
        (
            "SELECT message_store.remove_messages('acc')",
            "22023",
            "remove_messages: before_time and before_global_position are both NULL; give at least one bound (with neither, every message but each stream's last would go)",
        ),
        (
            "SELECT message_store.remove_messages('acc', NULL, 10, 0)",
            "2201W",
            "remove_messages: limit must be at least 1 (limit: 0)",
        ),
        (
            "SELECT message_store.remove_messages('acc', NULL, 10, -5)",
            "2201W",
            "remove_messages: limit must be at least 1 (limit: -5)",
        ),
        (
            "SELECT message_store.redact_stream(NULL)",
            "22004",
            "redact_stream: stream_name must not be NULL",
        ),
        (
            "SELECT message_store.set_retention_policy('acc', 'keep_forever', 1)",
            "22023",
            "unknown retention policy kind: \"keep_forever\" (the kinds are keep_seconds and keep_last)",
        ),
        (
            "SELECT message_store.set_retention_policy('acc', 'keep_last', 0)",
            "22023",
            "retention policy keep_last needs an amount of at least 1 (amount: 0)",
        ),
        (
            "SELECT message_store.set_retention_policy('acc', 'keep_seconds', -1)",
            "22023",
            "retention policy keep_seconds needs an amount of at least 1 (amount: -1)",
        ),
        (
            "SELECT message_store.set_retention_policy('acc-1', 'keep_last', 1)",
            "P0001",
            "Must be a category: acc-1",
        ),
        (
            "SELECT message_store.set_retention_policy(NULL, 'keep_last', 1)",
            "22004",
            "set_retention_policy: category must not be NULL",
        ),
        (
            "SELECT message_store.set_retention_policy('acc', NULL, 1)",
            "22004",
            "set_retention_policy: kind must not be NULL",
        ),
        (
            "SELECT message_store.set_retention_policy('acc', 'keep_last', NULL)",
            "22004",
            "set_retention_policy: amount must not be NULL",
        ),
        (
            "SELECT message_store.clear_retention_policy(NULL)",
            "22004",
            "clear_retention_policy: category must not be NULL",
        ),
        (
            "SELECT message_store.clear_retention_policy('acc-1')",
            "P0001",
            "Must be a category: acc-1",
        ),
        (
            "SELECT message_store.apply_retention_policies(0)",
            "2201W",
            "apply_retention_policies: limit must be at least 1 (limit: 0)",
        ),
    ];
    for (call, sqlstate, message) in cases {
        assert_error(client.query(*call, &[]), sqlstate, message);
        assert_eq!(messages_as_text(&mut client), before, "{call}");
        assert_eq!(
            count(
                &mut client,
                "SELECT count(*) FROM message_store.retention_policies WHERE category = 'acc' AND kind = 'keep_last' AND amount = 1"
            ),
            1,
            "{call}"
        );
    }
    // A row stored past set_retention_policy's rules is refused by name
    // when applied, and nothing is removed.
    client
        .batch_execute(
            "INSERT INTO message_store.retention_policies VALUES ('bad-1', 'keep_last', 1)",
        )
        .unwrap();
    assert_error(
        client.query("SELECT message_store.apply_retention_policies()", &[]),
        "P0001",
        "apply_retention_policies: the stored policy of category \"bad-1\" is refused: Must be a category: bad-1",
    );
    assert_eq!(messages_as_text(&mut client), before);
    // The table's own checks hold the kinds and amounts.
    assert_error(
        client.query(
            "INSERT INTO message_store.retention_policies VALUES ('x', 'keep', 1)",
            &[],
        ),
        "23514",
        "new row for relation \"retention_policies\" violates check constraint \"retention_policies_kind_check\"",
    );
    assert_error(
        client.query(
            "INSERT INTO message_store.retention_policies VALUES ('x', 'keep_last', 0)",
            &[],
        ),
        "23514",
        "new row for relation \"retention_policies\" violates check constraint \"retention_policies_amount_check\"",
    );
}

/// The calls of every operator function.
const OPERATOR_CALLS: &[(&str, &str)] = &[
    (
        "remove_messages",
        "SELECT message_store.remove_messages('acc', NULL, 1000)",
    ),
    (
        "redact_stream",
        "SELECT message_store.redact_stream('acc-2')",
    ),
    (
        "set_retention_policy",
        "SELECT message_store.set_retention_policy('acc', 'keep_last', 1)",
    ),
    (
        "apply_retention_policies",
        "SELECT message_store.apply_retention_policies()",
    ),
    (
        "clear_retention_policy",
        "SELECT message_store.clear_retention_policy('acc')",
    ),
];

#[test]
fn only_the_owner_and_operator_roles_may_remove() {
    let (db, mut admin) = fresh_database("retention_privileges");
    client_role(&mut admin, "ms_retention_client");
    admin
        .batch_execute(
            "DROP ROLE IF EXISTS ms_retention_operator;
             CREATE ROLE ms_retention_operator LOGIN PASSWORD 'client' NOINHERIT;
             SELECT message_store.grant_operator_privileges('ms_retention_operator');",
        )
        .unwrap();
    let mut client = connect_as(&db, "ms_retention_client", "");
    write_rounds(&mut client, &["acc-1", "acc-2"], 3);
    let before = messages_as_text(&mut admin);
    for (function, call) in OPERATOR_CALLS {
        assert_error(
            client.query(*call, &[]),
            "42501",
            &format!("permission denied for function {function}"),
        );
    }
    for grant in ["grant_operator_privileges", "grant_client_privileges"] {
        assert_error(
            client.query(
                &format!("SELECT message_store.{grant}('ms_retention_client')"),
                &[],
            ),
            "42501",
            &format!("permission denied for function {grant}"),
        );
    }
    assert_error(
        client.query("DELETE FROM message_store.messages", &[]),
        "42501",
        "permission denied for table messages",
    );
    assert_error(
        client.query("SELECT * FROM message_store.retention_policies", &[]),
        "42501",
        "permission denied for table retention_policies",
    );
    assert_eq!(messages_as_text(&mut admin), before);

    // The operator runs each of them, and reads and writes nothing else.
    let mut operator = connect_as(&db, "ms_retention_operator", "");
    let results: Vec<String> = OPERATOR_CALLS
        .iter()
        .map(|(_, call)| {
            operator
                .simple_query(call)
                .unwrap()
                .iter()
                .find_map(|message| match message {
                    postgres::SimpleQueryMessage::Row(row) => {
                        Some(row.get(0).unwrap_or("NULL").to_string())
                    }
                    _ => None,
                })
                .unwrap()
        })
        .collect();
    assert_eq!(results, ["4", "1", "", "0", "t"]);
    assert_eq!(stored(&mut admin), ["acc-1/2@5", "acc-2/2@6"]);
    assert_error(
        operator.query(
            "SELECT message_store.write_message(gen_random_uuid()::text, 'acc-1', 'T', '{}')",
            &[],
        ),
        "42501",
        "permission denied for table messages",
    );
}

#[test]
fn an_open_removal_holds_up_no_writer() {
    let (db, mut admin) = fresh_database("retention_writers");
    write_rounds(&mut admin, &["acc-1", "other-1"], 3);
    let mut remover = connect(&format!("dbname={db}"));
    let mut writer = connect(&format!("dbname={db} options='-c lock_timeout=1000'"));
    remover.batch_execute("BEGIN").unwrap();
    assert_eq!(
        count(
            &mut remover,
            "SELECT message_store.remove_messages('acc', NULL, 1000)"
        ),
        2
    );
    // With the removal's transaction open, writers of its category (its
    // very stream) and of others go on.
    assert_eq!(write(&mut writer, "acc-1", "T"), 3);
    assert_eq!(write(&mut writer, "other-1", "T"), 3);
    remover.batch_execute("COMMIT").unwrap();
    assert_eq!(
        stored(&mut admin),
        [
            "other-1/0@2",
            "other-1/1@4",
            "acc-1/2@5",
            "other-1/2@6",
            "acc-1/3@7",
            "other-1/3@8"
        ]
    );
    // The negative control: a transaction holding a lock that writers
    // wait for, which the removal does not take, holds the same write up
    // past the writer's lock timeout.
    remover
        .batch_execute("BEGIN; LOCK TABLE message_store.messages IN SHARE MODE")
        .unwrap();
    assert_error(
        writer.query(
            "SELECT message_store.write_message(gen_random_uuid()::text, 'other-1', 'T', '{}')",
            &[],
        ),
        "55P03",
        "canceling statement due to lock timeout",
    );
    remover.batch_execute("ROLLBACK").unwrap();
}

#[test]
fn a_client_role_granted_on_the_last_release_gets_no_operator_function_on_upgrade() {
    let (db, mut admin) = fresh_database_at("0.1.0", "retention_upgrade");
    client_role(&mut admin, "ms_retention_old_client");
    admin
        .batch_execute("ALTER EXTENSION message_store UPDATE")
        .unwrap();
    let mut client = connect_as(&db, "ms_retention_old_client", "");
    write_rounds(&mut client, &["acc-1"], 2);
    for (function, call) in OPERATOR_CALLS {
        assert_error(
            client.query(*call, &[]),
            "42501",
            &format!("permission denied for function {function}"),
        );
    }
    // grant_client_privileges, run again after the upgrade, grants the
    // release's new client functions and still no operator function.
    admin
        .batch_execute("SELECT message_store.grant_client_privileges('ms_retention_old_client')")
        .unwrap();
    let listed: i64 = client
        .query_one("SELECT count(*) FROM message_store.get_streams()", &[])
        .unwrap()
        .get(0);
    assert_eq!(listed, 1);
    assert_error(
        client.query(OPERATOR_CALLS[0].1, &[]),
        "42501",
        "permission denied for function remove_messages",
    );
    assert_eq!(stored(&mut admin), ["acc-1/0@1", "acc-1/1@2"]);
}
