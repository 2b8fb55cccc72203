//! The readers' SQL condition on Postgres: what the corpus cannot show —
//! the server and the connection survive every escape attempt, any role is
//! refused alike, the lexical rule follows `standard_conforming_strings`,
//! rows of another shape never enter a result, and random conditions never
//! make a reader return another query's rows.

use message_store_pg_tests::*;
use postgres::Client;

const ESCAPE_TEXT: &str = "SQL condition must be one boolean expression: \")\" would close a parenthesis the condition did not open";

fn server_identity(client: &mut Client) -> (i32, String) {
    let row = client
        .query_one(
            "SELECT pg_backend_pid(), pg_postmaster_start_time()::text",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn stacked_statements_are_refused_and_the_server_stays_up() {
    let (_, mut client) = fresh_database("cond_stacked");
    write(&mut client, "a-1", "T");
    write(&mut client, "b-1", "T");
    let before = messages_as_text(&mut client);
    let server = server_identity(&mut client);
    client
        .batch_execute("SET message_store.sql_condition = on")
        .unwrap();
    let attempts = [
        // The text that crashed the backend (a bigint row read as a varchar).
        (
            "true); DELETE FROM message_store.messages; SELECT 1 AS position WHERE (true",
            ESCAPE_TEXT,
        ),
        // The one that deleted every message and returned normally.
        (
            "true); DELETE FROM message_store.messages; SELECT id::varchar, stream_name::varchar, \
             type::varchar, position, global_position, data::varchar, metadata::varchar, time \
             FROM message_store.messages WHERE (true",
            ESCAPE_TEXT,
        ),
        // Inside a condition's own parentheses a statement is no expression.
        (
            "(DELETE FROM message_store.messages RETURNING true)",
            "syntax error at or near \"FROM\"",
        ),
    ];
    for (condition, text) in attempts {
        assert_error(
            client.query(
                "SELECT * FROM message_store.get_stream_messages('a-1', 0, 10, $1)",
                &[&condition],
            ),
            "42601",
            text,
        );
    }
    assert_eq!(server_identity(&mut client), server);
    assert_eq!(messages_as_text(&mut client), before);
}

#[test]
fn a_client_role_is_refused_alike() {
    let (db, mut admin) = fresh_database("cond_client_role");
    write(&mut admin, "a-1", "T");
    write(&mut admin, "b-1", "T");
    let before = messages_as_text(&mut admin);
    client_role(&mut admin, "ms_cond_client");
    let mut client = connect_as(&db, "ms_cond_client", "");
    client
        .batch_execute("SET message_store.sql_condition = on")
        .unwrap();
    assert_error(
        client.query(
            "SELECT * FROM message_store.get_category_messages('a', 1, 10, NULL, NULL, NULL, \
             'true) OR (true')",
            &[],
        ),
        "42601",
        ESCAPE_TEXT,
    );
    let rows = client
        .query(
            "SELECT stream_name FROM message_store.get_category_messages('a', 1, 10, NULL, NULL, NULL, \
             'type = '')''')",
            &[],
        )
        .unwrap();
    assert!(rows.is_empty());
    assert_eq!(messages_as_text(&mut admin), before);
}

#[test]
fn the_lexical_rule_follows_standard_conforming_strings() {
    let (_, mut client) = fresh_database("cond_strings");
    write(&mut client, "a-1", "T");
    write(&mut client, "b-1", "T");
    client
        .batch_execute("SET message_store.sql_condition = on")
        .unwrap();
    // With standard strings the backslash is a character: one literal.
    let condition = "type = '\\'') OR (true) OR (type = '";
    let read = "SELECT stream_name::text FROM message_store.get_stream_messages('a-1', 0, 10, $1)";
    assert!(client.query(read, &[&condition]).unwrap().is_empty());
    // Without them it escapes the quote, and the rest is SQL.
    client
        .batch_execute("SET standard_conforming_strings = off")
        .unwrap();
    assert_error(client.query(read, &[&condition]), "42601", ESCAPE_TEXT);
}

#[test]
fn rows_of_another_shape_never_enter_a_result() {
    let (_, mut client) = fresh_database("cond_shape");
    write(&mut client, "a-1", "T");
    let server = server_identity(&mut client);
    client
        .batch_execute(
            "SET message_store.sql_condition = on;
             ALTER TYPE message_store.message ALTER ATTRIBUTE position TYPE integer",
        )
        .unwrap();
    for sql in [
        "SELECT * FROM message_store.get_stream_messages('a-1')",
        "SELECT * FROM message_store.get_stream_messages('a-1', 0, 10, 'true')",
        "SELECT * FROM message_store.get_category_messages('a')",
        "SELECT * FROM message_store.get_category_messages('a', 1, 10, NULL, NULL, NULL, 'true')",
        "SELECT * FROM message_store.get_last_stream_message('a-1')",
    ] {
        let error = db_error(client.query(sql, &[]));
        assert_eq!(
            error,
            (
                "42804".to_string(),
                "structure of query does not match function result type".to_string()
            ),
            "{sql}"
        );
    }
    assert_eq!(server_identity(&mut client), server);
}

#[test]
fn random_conditions_never_escape_a_reader() {
    let (db, _) = fresh_database("cond_random");
    let mut engine = Postgres(connect(&format!(
        "dbname={db} options='-c search_path=message_store,public'"
    )));
    let server = server_identity(&mut engine.0);
    let refused = message_store_slt::escapes::check_readers(&mut engine, 0x5eed_0001, 3000);
    eprintln!("{refused} of 6000 reads refused");
    assert!(refused > 3000, "most random texts are refused: {refused}");
    assert_eq!(server_identity(&mut engine.0), server);
}

/// The negative control: pasted as plain SQL, the same texts escape.
#[test]
fn random_conditions_escape_a_plain_paste() {
    let (db, _) = fresh_database("cond_random_plain");
    let mut engine = Postgres(connect(&format!(
        "dbname={db} options='-c search_path=message_store,public'"
    )));
    let escaped =
        message_store_slt::escapes::escapes_through_plain_paste(&mut engine, 0x5eed_0001, 3000);
    eprintln!("{} of 3000 escape a plain paste", escaped.len());
    assert!(escaped.len() >= 10, "escapes found: {escaped:?}");
}
