//! A Rust panic inside one of the extension's functions is an SQL error,
//! never a crashed backend: the call fails with pgrx's internal error
//! (XX000, the panic's message), the same backend then runs the next query,
//! an open transaction is aborted as by any error (its writes and locks
//! gone, ROLLBACK works), and PL/pgSQL can catch it.
//!
//! The panics come from the library built with pg_ext's test-only
//! `panic_probe` feature, which tests/install.sh installs beside the
//! shipped one as `message_store_panic_probe.so`: its functions panic where
//! the setting `message_store.panic_probe` names their C symbol. The test
//! binds C functions in a schema `probe` to that library's symbols, in a
//! database that also holds the shipped extension (whose table the probes
//! write and read). `MESSAGE_STORE_PANIC_PROBE_LIB` names another library
//! to bind them to.

#[allow(dead_code)] // the library's half (reads and checks) is not used here
#[path = "../../../pg_ext/src/signatures.rs"]
mod signatures;

use message_store_pg_tests::{assert_error, fresh_database, messages_as_text, write};
use postgres::Client;
use signatures::{Function, Volatility};

fn probe_library() -> String {
    std::env::var("MESSAGE_STORE_PANIC_PROBE_LIB")
        .unwrap_or_else(|_| "$libdir/message_store_panic_probe".to_string())
}

/// `CREATE FUNCTION probe.<name>` for `function`, bound to `library`, with
/// every argument and no defaults.
fn create_function(function: &Function, library: &str) -> String {
    let args: Vec<String> = function
        .args
        .iter()
        .map(|arg| format!("\"{}\" {}", arg.name, arg.ty.catalog_name()))
        .collect();
    format!(
        "CREATE FUNCTION probe.{}({}) RETURNS {}{} {}{} LANGUAGE c AS '{library}', '{}';",
        function.name,
        args.join(", "),
        if function.returns_set { "SETOF " } else { "" },
        function.returns.catalog_name(),
        match function.volatility {
            Volatility::Immutable => "IMMUTABLE",
            Volatility::Stable => "STABLE",
            Volatility::Volatile => "VOLATILE",
        },
        if function.strict { " STRICT" } else { "" },
        function.symbol,
    )
}

/// A fresh database with the extension, and schema `probe` holding the
/// probe library's category, write_message, write_batch,
/// get_stream_messages, get_streams, get_categories, remove_messages,
/// redact_stream and apply_retention_policies.
fn probe_database(name: &str) -> Client {
    let (_db, mut client) = fresh_database(name);
    let library = probe_library();
    let mut sql = "CREATE SCHEMA probe;".to_string();
    for function in [
        &signatures::category::FUNCTION,
        &signatures::write_message::FUNCTION,
        &signatures::write_batch::FUNCTION,
        &signatures::get_stream_messages::FUNCTION,
        &signatures::get_streams::FUNCTION,
        &signatures::get_categories::FUNCTION,
        &signatures::remove_messages::FUNCTION,
        &signatures::redact_stream::FUNCTION,
        &signatures::apply_retention_policies::FUNCTION,
    ] {
        sql.push_str(&create_function(function, &library));
    }
    client.batch_execute(&sql).unwrap();
    client
}

fn backend_pid(client: &mut Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0)
}

fn set_probe(client: &mut Client, symbol: &str) {
    client
        .batch_execute(&format!("SET message_store.panic_probe = '{symbol}'"))
        .unwrap();
}

/// The connection is the same backend as before and answers a query.
#[track_caller]
fn assert_same_backend_answers(client: &mut Client, pid: i32) {
    assert_eq!(backend_pid(client), pid);
    let one: i32 = client.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
}

fn advisory_locks_of(client: &mut Client, pid: i32) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1",
            &[&pid],
        )
        .unwrap()
        .get(0)
}

const ABORTED: &str =
    "current transaction is aborted, commands ignored until end of transaction block";

#[test]
fn a_panic_in_a_scalar_function_is_an_sql_error() {
    let mut client = probe_database("panics_scalar");
    let pid = backend_pid(&mut client);
    let category = "SELECT probe.category('account-1')";
    // The probe library's functions work until the setting names them.
    let value: String = client.query_one(category, &[]).unwrap().get(0);
    assert_eq!(value, "account");
    set_probe(&mut client, "message_store_category");
    assert_error(
        client.query_one(category, &[]),
        "XX000",
        "panic probe in message_store_category",
    );
    assert_same_backend_answers(&mut client, pid);
    // The shipped library has no probe: the setting changes nothing there.
    let value: String = client
        .query_one("SELECT message_store.category('account-1')", &[])
        .unwrap()
        .get(0);
    assert_eq!(value, "account");
    // Again, from inside a query over rows.
    assert_error(
        client.query(
            "SELECT probe.category(s) FROM unnest(ARRAY['a-1', 'b-2']) AS s",
            &[],
        ),
        "XX000",
        "panic probe in message_store_category",
    );
    assert_same_backend_answers(&mut client, pid);
    client
        .batch_execute("RESET message_store.panic_probe")
        .unwrap();
    let value: String = client.query_one(category, &[]).unwrap().get(0);
    assert_eq!(value, "account");
}

#[test]
fn a_panic_in_the_writer_aborts_its_transaction() {
    let mut client = probe_database("panics_writer");
    let pid = backend_pid(&mut client);
    let probe_write = "SELECT probe.write_message(gen_random_uuid()::text, 'account-1', 'Probed', '{}', NULL, NULL)";
    set_probe(&mut client, "message_store_write_message");

    // In autocommit: the panic comes after the insert, which is undone.
    assert_error(
        client.query_one(probe_write, &[]),
        "XX000",
        "panic probe in message_store_write_message",
    );
    assert_same_backend_answers(&mut client, pid);
    assert_eq!(messages_as_text(&mut client), Vec::<String>::new());
    assert_eq!(advisory_locks_of(&mut client, pid), 0);

    // In a transaction: its earlier write, its lock and the probe's insert
    // go with it; nothing runs until ROLLBACK.
    client.batch_execute("BEGIN").unwrap();
    assert_eq!(write(&mut client, "account-1", "Opened"), 0);
    assert_error(
        client.query_one(probe_write, &[]),
        "XX000",
        "panic probe in message_store_write_message",
    );
    assert_error(client.query_one("SELECT 1", &[]), "25P02", ABORTED);
    client.batch_execute("ROLLBACK").unwrap();
    assert_same_backend_answers(&mut client, pid);
    assert_eq!(messages_as_text(&mut client), Vec::<String>::new());
    assert_eq!(advisory_locks_of(&mut client, pid), 0);

    // The backend writes on, through both libraries.
    assert_eq!(write(&mut client, "account-1", "Opened"), 0);
    client
        .batch_execute("RESET message_store.panic_probe")
        .unwrap();
    let position: i64 = client.query_one(probe_write, &[]).unwrap().get(0);
    assert_eq!(position, 1);
    let types: Vec<String> = client
        .query(
            "SELECT type FROM message_store.messages ORDER BY global_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(types, ["Opened", "Probed"]);
}

#[test]
fn a_panic_in_the_batch_writer_undoes_every_row_of_the_batch() {
    let mut client = probe_database("panics_batch");
    let pid = backend_pid(&mut client);
    let batch = r#"SELECT probe.write_batch('[{"stream_name": "account-1", "messages": [{"id": "00000000-0000-4000-8000-000000000001", "type": "A", "data": {}}, {"id": "00000000-0000-4000-8000-000000000002", "type": "B", "data": {}}]}, {"stream_name": "other-1", "messages": [{"id": "00000000-0000-4000-8000-000000000003", "type": "C", "data": {}}]}]', false)"#;
    set_probe(&mut client, "message_store_write_batch");
    // The panic comes after the rows are in: all of them are undone, and
    // both category locks released.
    assert_error(
        client.query_one(batch, &[]),
        "XX000",
        "panic probe in message_store_write_batch",
    );
    assert_same_backend_answers(&mut client, pid);
    assert_eq!(messages_as_text(&mut client), Vec::<String>::new());
    assert_eq!(advisory_locks_of(&mut client, pid), 0);
    client
        .batch_execute("RESET message_store.panic_probe")
        .unwrap();
    let positions: Vec<i64> = client.query_one(batch, &[]).unwrap().get(0);
    assert_eq!(positions, [1, 0]);
    assert_eq!(messages_as_text(&mut client).len(), 3);
}

#[test]
fn a_panic_in_retention_undoes_what_it_removed_or_redacted() {
    let mut client = probe_database("panics_retention");
    let pid = backend_pid(&mut client);
    for _ in 0..3 {
        write(&mut client, "account-1", "Opened");
    }
    client
        .batch_execute("SELECT message_store.set_retention_policy('account', 'keep_last', 1)")
        .unwrap();
    let before = messages_as_text(&mut client);
    // Each panic comes after the statement has changed its rows.
    let calls = [
        (
            "SELECT probe.remove_messages('account', NULL::timestamptz, 1000, 1000)",
            "message_store_remove_messages",
        ),
        (
            "SELECT probe.redact_stream('account-1')",
            "message_store_redact_stream",
        ),
        (
            "SELECT probe.apply_retention_policies(1000)",
            "message_store_apply_retention_policies",
        ),
    ];
    for (call, symbol) in calls {
        set_probe(&mut client, symbol);
        assert_error(
            client.query_one(call, &[]),
            "XX000",
            &format!("panic probe in {symbol}"),
        );
        assert_same_backend_answers(&mut client, pid);
        assert_eq!(messages_as_text(&mut client), before, "{call}");
    }
    client
        .batch_execute("RESET message_store.panic_probe")
        .unwrap();
    let removed: i64 = client.query_one(calls[0].0, &[]).unwrap().get(0);
    assert_eq!(removed, 2);
}

#[test]
fn a_panic_in_a_reader_aborts_its_subtransaction() {
    let mut client = probe_database("panics_reader");
    let pid = backend_pid(&mut client);
    write(&mut client, "account-1", "Opened");
    write(&mut client, "account-1", "Deposited");
    let read = "SELECT type FROM probe.get_stream_messages('account-1', 0, 10, NULL)";
    let types = |client: &mut Client| -> Vec<String> {
        client
            .query(read, &[])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    };
    assert_eq!(types(&mut client), ["Opened", "Deposited"]);
    set_probe(&mut client, "message_store_get_stream_messages");

    // The panic comes after the rows went into the result.
    assert_error(
        client.query(read, &[]),
        "XX000",
        "panic probe in message_store_get_stream_messages",
    );
    assert_same_backend_answers(&mut client, pid);

    // A savepoint takes the transaction back to before the panic.
    client.batch_execute("BEGIN; SAVEPOINT before").unwrap();
    assert_error(
        client.query(read, &[]),
        "XX000",
        "panic probe in message_store_get_stream_messages",
    );
    client
        .batch_execute("ROLLBACK TO SAVEPOINT before")
        .unwrap();
    assert_eq!(write(&mut client, "account-1", "Withdrawn"), 2);
    client.batch_execute("COMMIT").unwrap();

    // PL/pgSQL catches it as any error, and goes on.
    client
        .batch_execute(
            "DO $$
             BEGIN
               PERFORM * FROM probe.get_stream_messages('account-1', 0, 10, NULL);
               RAISE 'not reached';
             EXCEPTION WHEN internal_error THEN
               PERFORM set_config('probe.caught', SQLERRM, false);
             END $$",
        )
        .unwrap();
    let caught: String = client
        .query_one("SELECT current_setting('probe.caught')", &[])
        .unwrap()
        .get(0);
    assert_eq!(caught, "panic probe in message_store_get_stream_messages");
    assert_same_backend_answers(&mut client, pid);

    client
        .batch_execute("RESET message_store.panic_probe")
        .unwrap();
    assert_eq!(types(&mut client), ["Opened", "Deposited", "Withdrawn"]);
}

#[test]
fn a_panic_in_a_listing_is_an_sql_error() {
    let mut client = probe_database("panics_listing");
    let pid = backend_pid(&mut client);
    write(&mut client, "account-1", "Opened");
    let listings = [
        (
            "SELECT stream_name FROM probe.get_streams(NULL, NULL, 10)",
            "message_store_get_streams",
            "account-1",
        ),
        (
            "SELECT category FROM probe.get_categories(NULL, 10)",
            "message_store_get_categories",
            "account",
        ),
    ];
    for (listing, symbol, name) in listings {
        let names = |client: &mut Client| -> Vec<String> {
            client
                .query(listing, &[])
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect()
        };
        assert_eq!(names(&mut client), [name]);
        set_probe(&mut client, symbol);
        assert_error(
            client.query(listing, &[]),
            "XX000",
            &format!("panic probe in {symbol}"),
        );
        assert_same_backend_answers(&mut client, pid);
        client
            .batch_execute("RESET message_store.panic_probe")
            .unwrap();
        assert_eq!(names(&mut client), [name]);
    }
}

#[test]
fn the_shipped_library_has_no_panic_probe() {
    let mut client = probe_database("panics_shipped");
    let pkglibdir: String = client
        .query_one(
            "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'",
            &[],
        )
        .unwrap()
        .get(0);
    let contains = |file: &str, needle: &[u8]| -> bool {
        let bytes = std::fs::read(format!("{pkglibdir}/{file}"))
            .unwrap_or_else(|e| panic!("{pkglibdir}/{file}: {e}"));
        bytes.windows(needle.len()).any(|w| w == needle)
    };
    let setting = b"message_store.panic_probe";
    assert!(contains("message_store_panic_probe.so", setting));
    assert!(!contains("message_store.so", setting));
}
