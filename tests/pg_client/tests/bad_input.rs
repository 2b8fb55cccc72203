//! Postgres' side of the bad-input cases the SQLite extension is tested on:
//! the position overflow both engines shared, and what Postgres does where
//! the README says SQLite answers differently.

use message_store_pg_tests::{assert_error, fresh_database, messages_as_text, write};

#[test]
fn a_stream_at_the_largest_position_takes_no_more_messages() {
    let (_db, mut client) = fresh_database("bad_position_overflow");
    write(&mut client, "account-1", "Opened");
    client
        .batch_execute(
            "INSERT INTO message_store.messages (id, stream_name, type, position, data)
             VALUES (gen_random_uuid(), 'account-2', 'X', 9223372036854775807, '{}')",
        )
        .unwrap();
    let before = messages_as_text(&mut client);
    let last_global: i64 = client
        .query_one(
            "SELECT last_value FROM message_store.messages_global_position_seq",
            &[],
        )
        .unwrap()
        .get(0);
    for expected in [None, Some(i64::MAX)] {
        assert_error(
            client.query_one(
                "SELECT message_store.write_message(gen_random_uuid()::text, 'account-2', 'X', '{}', NULL, $1)",
                &[&expected],
            ),
            "22003",
            "bigint out of range",
        );
    }
    assert_error(
        client.query_one(
            "SELECT message_store.write_message(gen_random_uuid()::text, 'account-2', 'X', '{}', NULL, 0)",
            &[],
        ),
        "P0001",
        "Wrong expected version: 0 (Stream: account-2, Stream Version: 9223372036854775807)",
    );
    assert_eq!(messages_as_text(&mut client), before);
    // Refused before a global position is drawn.
    let global: i64 = client
        .query_one(
            "SELECT last_value FROM message_store.messages_global_position_seq",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(global, last_global);
}

#[test]
fn a_statement_of_several_writes_keeps_none_after_a_failure() {
    let (_db, mut client) = fresh_database("bad_several_writes");
    assert_error(
        client.query(
            "SELECT message_store.write_message(gen_random_uuid()::text, 'account-1', 'X', '{}', NULL, value::bigint)
             FROM jsonb_array_elements_text('[-1, 0, 5, 1]') AS value",
            &[],
        ),
        "P0001",
        "Wrong expected version: 5 (Stream: account-1, Stream Version: 1)",
    );
    assert_eq!(messages_as_text(&mut client), Vec::<String>::new());
}

#[test]
fn a_reader_in_a_writing_statement_reads_its_snapshot() {
    let (_db, mut client) = fresh_database("bad_reader_snapshot");
    write(&mut client, "account-1", "Opened");
    let positions: Vec<i64> = client
        .query(
            "SELECT message_store.write_message(gen_random_uuid()::text, 'account-1', 'Copy', '{}')
             FROM message_store.get_stream_messages('account-1', 0, 5)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(positions, [1]);
}

#[test]
fn the_readme_sqlite_example_runs_twice_on_postgres() {
    let (_db, mut client) = fresh_database("bad_readme_example");
    client
        .batch_execute("SET search_path = message_store, public")
        .unwrap();
    for run in 0..2i64 {
        let statements = message_store_slt::readme::sqlite_example();
        let position: i64 = client.query_one(&statements[0], &[]).unwrap().get(0);
        assert_eq!(position, run);
        for statement in &statements[1..] {
            client
                .query(statement.as_str(), &[])
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }
    let version: i64 = client
        .query_one("SELECT stream_version('account-123')", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 1);
}

#[test]
fn the_readme_batch_example_gives_the_results_it_shows() {
    let (_db, mut client) = fresh_database("bad_readme_batch_example");
    // The example follows the quick start's first write.
    assert_eq!(write(&mut client, "account-123", "Opened"), 0);
    let examples = message_store_slt::readme::batch_example();
    assert_eq!(examples.len(), 2, "{examples:?}");
    let position: i64 = client.query_one(&examples[0].0, &[]).unwrap().get(0);
    assert_eq!(position.to_string(), examples[0].1);
    let positions: Vec<i64> = client.query_one(&examples[1].0, &[]).unwrap().get(0);
    assert_eq!(
        format!(
            "{{{}}}",
            positions
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
        examples[1].1
    );
}
