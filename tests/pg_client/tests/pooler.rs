//! The extension behind PgBouncer 1.18 (Debian's) in transaction mode: each
//! transaction of a client runs on whichever server connection the pooler
//! gives it, so nothing a client sets for its transaction may reach the
//! next client of that connection, and the extension keeps nothing of its
//! own across transactions that could.
//!
//! Clients here talk as a client of a 1.18 pooler must: the simple query
//! protocol, or the unnamed statement (`query_typed`), or a named statement
//! prepared and run inside one transaction. A named statement prepared in
//! one transaction and run in a later one belongs to a server connection
//! the client may not get again (PgBouncer 1.21 and later can track them,
//! with `max_prepared_statements`).

use std::time::Duration;

use message_store_core::Error;
use message_store_pg_tests::*;
use message_store_slt::run_corpus;
use postgres::types::Type;
use postgres::{Client, SimpleQueryMessage};

/// How long a listener waits before it takes it that nothing more comes.
const QUIET: Duration = Duration::from_millis(400);

/// The first column of each row of a simple query, as text (`NULL` for
/// NULL).
fn column(client: &mut Client, sql: &str) -> Result<Vec<String>, postgres::Error> {
    Ok(client
        .simple_query(sql)?
        .iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("NULL").to_string()),
            _ => None,
        })
        .collect())
}

/// The one value a simple query selects.
fn value(client: &mut Client, sql: &str) -> String {
    let rows = column(client, sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    rows[0].clone()
}

fn backend_pid(client: &mut Client) -> String {
    value(client, "SELECT pg_backend_pid()")
}

/// Asserts a simple query fails with core's error `error`.
#[track_caller]
fn assert_core_error(result: Result<Vec<String>, postgres::Error>, error: Error) {
    assert_error(result, error.sqlstate(), &error.to_string());
}

const CONDITIONAL_READ: &str = "SELECT position FROM message_store.get_stream_messages(\
     'someStream-1', 0, 1000, 'position >= 1')";

/// A fresh database `ms_test_pooler_<name>` with `someStream-1` at
/// positions 0, 1 and 2, written directly.
fn database_with_stream(name: &str) -> (String, Client) {
    let (db, mut direct) = fresh_database(&format!("pooler_{name}"));
    for _ in 0..3 {
        write(&mut direct, "someStream-1", "T");
    }
    (db, direct)
}

/// A pooler with one server connection, and two clients of it, checked to
/// run on that one server connection.
fn two_clients_one_server(name: &str, db: &str) -> (Pooler, Client, Client) {
    let pooler = Pooler::start_for_test_cluster(&format!("pooler-{name}"), 1, &[]);
    let mut a = pooler.connect(db);
    let mut b = pooler.connect(db);
    let pid = backend_pid(&mut a);
    assert_eq!(backend_pid(&mut b), pid, "both clients on one server");
    (pooler, a, b)
}

/// The shared corpus, every file through the pooler with two server
/// connections, over the simple query protocol as the corpus engine talks.
/// The search path comes from the database (`ALTER DATABASE … SET`), as a
/// pooler cannot pass `options`. The corpus's own `set_config(…, false)`
/// stays on the server connection the file's client gets each time: one
/// client per database, so one pool with one client.
#[test]
fn corpus_through_the_pooler() {
    let pooler = Pooler::start_for_test_cluster("pooler-corpus", 2, &[]);
    run_corpus(|name| {
        let (db, mut direct) = fresh_database(&format!("pooler_slt_{name}"));
        direct
            .batch_execute(&format!(
                "ALTER DATABASE {db} SET search_path = message_store, public"
            ))
            .unwrap();
        Postgres(pooler.connect(&db))
    });
    let pools = column(&mut pooler.console(), "SHOW POOLS").unwrap();
    assert!(
        pools.iter().any(|db| db.starts_with("ms_test_pooler_slt_")),
        "the corpus ran through the pooler: {pools:?}"
    );
}

/// A fresh database as [`database_with_stream`] makes it, with
/// `message_store.sql_condition` set to `off` for the database: the value
/// every server connection to it starts with and goes back to at the end
/// of each transaction that changed it with `SET LOCAL`.
fn database_with_gate_off(name: &str) -> (String, Client) {
    let (db, mut direct) = database_with_stream(name);
    direct
        .batch_execute(&format!(
            "ALTER DATABASE {db} SET message_store.sql_condition = off"
        ))
        .unwrap();
    (db, direct)
}

/// Over the database's `off`, `SET LOCAL message_store.sql_condition`
/// lasts for its transaction: the next client of the same server
/// connection gets the gate closed.
#[test]
fn sql_condition_set_local_stays_in_its_transaction() {
    let (db, _direct) = database_with_gate_off("condition_local");
    let (_pooler, mut a, mut b) = two_clients_one_server("condition-local", &db);

    a.batch_execute("BEGIN; SET LOCAL message_store.sql_condition = on")
        .unwrap();
    assert_eq!(column(&mut a, CONDITIONAL_READ).unwrap(), ["1", "2"]);
    a.batch_execute("COMMIT").unwrap();

    assert_core_error(
        column(&mut b, CONDITIONAL_READ),
        Error::SqlConditionNotActivated,
    );
    b.batch_execute("BEGIN").unwrap();
    assert_core_error(
        column(&mut b, CONDITIONAL_READ),
        Error::SqlConditionNotActivated,
    );
    b.batch_execute("ROLLBACK").unwrap();
    assert_eq!(
        value(
            &mut b,
            "SELECT current_setting('message_store.sql_condition')"
        ),
        "off"
    );

    // A's next transaction is as closed as B's, and B may open its own.
    assert_core_error(
        column(&mut a, CONDITIONAL_READ),
        Error::SqlConditionNotActivated,
    );
    b.batch_execute("BEGIN; SET LOCAL message_store.sql_condition = on")
        .unwrap();
    assert_eq!(column(&mut b, CONDITIONAL_READ).unwrap(), ["1", "2"]);
    b.batch_execute("COMMIT").unwrap();
    assert_core_error(
        column(&mut a, CONDITIONAL_READ),
        Error::SqlConditionNotActivated,
    );
    assert_eq!(backend_pid(&mut a), backend_pid(&mut b));
}

/// Without a value for the database (or role), the setting is unset until
/// a transaction sets it; when that transaction ends Postgres keeps the
/// setting on the server connection as `''`, which opens the gate
/// (Message DB's rule: only unset and `off` close it). So after one
/// client's `SET LOCAL … = on`, the next client of that server connection
/// reads with conditions; a direct session is the same after its own
/// `SET LOCAL`.
#[test]
fn without_a_value_for_the_database_a_set_local_leaves_the_gate_open() {
    let (db, _direct) = database_with_stream("condition_unset");
    let (_pooler, mut a, mut b) = two_clients_one_server("condition-unset", &db);
    assert_core_error(
        column(&mut b, CONDITIONAL_READ),
        Error::SqlConditionNotActivated,
    );

    a.batch_execute("BEGIN; SET LOCAL message_store.sql_condition = on; COMMIT")
        .unwrap();
    assert_eq!(
        value(
            &mut b,
            "SELECT coalesce(current_setting('message_store.sql_condition', true), 'unset')"
        ),
        ""
    );
    assert_eq!(column(&mut b, CONDITIONAL_READ).unwrap(), ["1", "2"]);

    let mut direct = connect(&format!("dbname={db}"));
    assert_core_error(
        column(&mut direct, CONDITIONAL_READ),
        Error::SqlConditionNotActivated,
    );
    direct
        .batch_execute("BEGIN; SET LOCAL message_store.sql_condition = on; COMMIT")
        .unwrap();
    assert_eq!(column(&mut direct, CONDITIONAL_READ).unwrap(), ["1", "2"]);
}

/// The control: a session `SET` stays on the server connection, and the
/// next client of it gets the gate open until a `RESET` takes the setting
/// back to the database's value. This is why, behind a pooler in
/// transaction mode, the setting is made with `SET LOCAL` (or for the role
/// or database).
#[test]
fn a_session_set_passes_to_the_next_client_of_the_server_connection() {
    let (db, _direct) = database_with_gate_off("condition_session");
    let (_pooler, mut a, mut b) = two_clients_one_server("condition-session", &db);

    a.batch_execute("SET message_store.sql_condition = on")
        .unwrap();
    assert_eq!(column(&mut b, CONDITIONAL_READ).unwrap(), ["1", "2"]);
    a.batch_execute("RESET message_store.sql_condition")
        .unwrap();
    assert_core_error(
        column(&mut b, CONDITIONAL_READ),
        Error::SqlConditionNotActivated,
    );
}

fn listen(db: &str) -> Client {
    let mut client = connect(&format!("dbname={db}"));
    client.batch_execute("LISTEN message_store").unwrap();
    client
}

/// Writes a message to `stream_name` over the simple protocol; returns its
/// global position.
fn write_simple(client: &mut Client, stream_name: &str) -> Result<i64, postgres::Error> {
    client.batch_execute(&format!(
        "SELECT message_store.write_message('{}', '{stream_name}', 'T', '{{}}')",
        new_id()
    ))?;
    Ok(value(
        client,
        &format!(
            "SELECT max(global_position) FROM message_store.messages \
             WHERE stream_name = '{stream_name}'"
        ),
    )
    .parse()
    .unwrap())
}

/// `SET LOCAL message_store.notify` in A's transaction: A's commit
/// notifies; B's write on the same server connection afterwards does not.
#[test]
fn notify_set_local_stays_in_its_transaction() {
    let (db, _direct) = fresh_database("pooler_notify_local");
    let mut listener = listen(&db);
    let (_pooler, mut a, mut b) = two_clients_one_server("notify-local", &db);

    a.batch_execute("BEGIN; SET LOCAL message_store.notify = on")
        .unwrap();
    let written = write_simple(&mut a, "fromA-1").unwrap();
    a.batch_execute("COMMIT").unwrap();
    assert_eq!(received(&mut listener, QUIET), [hint("fromA", written)]);

    write_simple(&mut b, "fromB-1").unwrap();
    assert_eq!(
        value(
            &mut b,
            "SELECT current_setting('message_store.notify', true)"
        ),
        ""
    );
    assert_eq!(received(&mut listener, QUIET), Vec::<String>::new());

    // B's own SET LOCAL notifies B's write only.
    b.batch_execute("BEGIN; SET LOCAL message_store.notify = on")
        .unwrap();
    let written = write_simple(&mut b, "fromB-2").unwrap();
    b.batch_execute("COMMIT").unwrap();
    write_simple(&mut a, "fromA-2").unwrap();
    assert_eq!(received(&mut listener, QUIET), [hint("fromB", written)]);
    assert_eq!(backend_pid(&mut a), backend_pid(&mut b));
}

/// A notifying transaction of A rolled back leaves nothing for B's commit
/// on the same server connection to send; an idempotent replay in B, after
/// A drew positions on that connection, writes and notifies nothing.
#[test]
fn a_rolled_back_notifying_transaction_leaves_nothing_for_the_next_client() {
    let (db, _direct) = fresh_database("pooler_notify_rollback");
    let mut listener = listen(&db);
    let (_pooler, mut a, mut b) = two_clients_one_server("notify-rollback", &db);

    a.batch_execute("BEGIN; SET LOCAL message_store.notify = on")
        .unwrap();
    write_simple(&mut a, "rolledBack-1").unwrap();
    a.batch_execute("ROLLBACK").unwrap();

    b.batch_execute("BEGIN; SET LOCAL message_store.notify = on")
        .unwrap();
    let written = write_simple(&mut b, "committed-1").unwrap();
    b.batch_execute("COMMIT").unwrap();
    assert_eq!(received(&mut listener, QUIET), [hint("committed", written)]);

    // B's messages, replayed after A's notifying write drew positions on
    // the server connection (currval is the session's).
    let replayed = format!(r#"[{{"id":"{}","type":"T","data":{{}}}}]"#, new_id());
    let replay =
        format!("SELECT message_store.write_messages('replay-1', '{replayed}', NULL, true)");
    b.batch_execute(&replay).unwrap();
    a.batch_execute("BEGIN; SET LOCAL message_store.notify = on")
        .unwrap();
    let from_a = write_simple(&mut a, "fromA-1").unwrap();
    a.batch_execute("COMMIT").unwrap();
    assert_eq!(received(&mut listener, QUIET), [hint("fromA", from_a)]);
    b.batch_execute(&format!(
        "BEGIN; SET LOCAL message_store.notify = on; {replay}; COMMIT"
    ))
    .unwrap();
    assert_eq!(received(&mut listener, QUIET), Vec::<String>::new());
    assert_eq!(
        value(
            &mut b,
            "SELECT count(*) FROM message_store.messages WHERE stream_name = 'replay-1'"
        ),
        "1"
    );
    assert_eq!(backend_pid(&mut a), backend_pid(&mut b));
}

/// A transaction of A that fails midway, after a notifying write and with
/// the gate open, is rolled back; B's next calls on the same server
/// connection get the gate closed, no notification of A's, and none of
/// A's messages.
#[test]
fn a_transaction_failed_midway_leaves_the_next_client_correct() {
    let (db, _direct) = database_with_gate_off("failed_midway");
    let mut listener = listen(&db);
    let (_pooler, mut a, mut b) = two_clients_one_server("failed-midway", &db);

    a.batch_execute(
        "BEGIN; SET LOCAL message_store.notify = on; SET LOCAL message_store.sql_condition = on",
    )
    .unwrap();
    write_simple(&mut a, "failed-1").unwrap();
    assert_eq!(column(&mut a, CONDITIONAL_READ).unwrap(), ["1", "2"]);
    assert_core_error(
        column(
            &mut a,
            &format!(
                "SELECT message_store.write_message('{}', 'failed-1', 'T', '{{}}', NULL, 5)",
                new_id()
            ),
        ),
        Error::WrongExpectedVersion {
            expected_version: 5,
            stream_name: "failed-1".into(),
            stream_version: 0,
        },
    );
    assert_error(
        column(&mut a, "SELECT 1"),
        "25P02",
        "current transaction is aborted, commands ignored until end of transaction block",
    );
    a.batch_execute("ROLLBACK").unwrap();

    assert_core_error(
        column(&mut b, CONDITIONAL_READ),
        Error::SqlConditionNotActivated,
    );
    write_simple(&mut b, "afterFailure-1").unwrap();
    assert_eq!(
        column(
            &mut b,
            "SELECT stream_name FROM message_store.messages ORDER BY global_position"
        )
        .unwrap(),
        [
            "someStream-1",
            "someStream-1",
            "someStream-1",
            "afterFailure-1"
        ]
    );
    assert_eq!(received(&mut listener, QUIET), Vec::<String>::new());
    b.batch_execute("BEGIN; SET LOCAL message_store.notify = on")
        .unwrap();
    let written = write_simple(&mut b, "afterFailure-2").unwrap();
    b.batch_execute("COMMIT").unwrap();
    assert_eq!(
        received(&mut listener, QUIET),
        [hint("afterFailure", written)]
    );
    assert_eq!(backend_pid(&mut a), backend_pid(&mut b));
}

/// The extension's backend-local state is its kept plans (statement text
/// fixed at build time, every name schema-qualified, the values bound per
/// call) and the notify record of the current transaction. A's calls leave
/// the plans made on the server connection; B's calls, with other values
/// and another search path, read B's values only, and find A's messages
/// only where they belong.
#[test]
fn kept_plans_carry_no_values_from_one_client_to_the_next() {
    let (db, _direct) = fresh_database("pooler_kept_plans");
    let (_pooler, mut a, mut b) = two_clients_one_server("kept-plans", &db);

    let a_id = new_id();
    a.batch_execute(&format!(
        "BEGIN; SET LOCAL search_path = message_store, public;
         SELECT write_message('{a_id}', 'secretA-1', 'T', '{{\"of\":\"A\"}}');
         SELECT write_messages('secretA-2', '[{{\"id\":\"{}\",\"type\":\"T\",\"data\":{{}}}}]');
         COMMIT",
        new_id()
    ))
    .unwrap();
    assert_eq!(
        column(
            &mut a,
            "SELECT data FROM message_store.get_stream_messages('secretA-1')"
        )
        .unwrap(),
        [r#"{"of": "A"}"#]
    );
    assert_eq!(
        column(
            &mut a,
            "SELECT stream_name FROM message_store.get_category_messages('secretA')"
        )
        .unwrap(),
        ["secretA-1", "secretA-2"]
    );

    // B: the same functions, other values, unqualified names in A's plans
    // would meet another search path.
    b.batch_execute("BEGIN; SET LOCAL search_path = public")
        .unwrap();
    b.batch_execute("CREATE TEMP TABLE messages (stream_name text)")
        .unwrap();
    let b_id = new_id();
    b.batch_execute(&format!(
        "SELECT message_store.write_message('{b_id}', 'otherB-1', 'T', '{{\"of\":\"B\"}}')"
    ))
    .unwrap();
    assert_eq!(
        column(
            &mut b,
            "SELECT id || ' ' || data::text FROM message_store.get_stream_messages('otherB-1')"
        )
        .unwrap(),
        [format!(r#"{b_id} {{"of": "B"}}"#)]
    );
    assert_eq!(
        column(
            &mut b,
            "SELECT count(*) FROM message_store.get_stream_messages('secretA-9')"
        )
        .unwrap(),
        ["0"]
    );
    assert_eq!(
        column(
            &mut b,
            "SELECT stream_name FROM message_store.get_category_messages('otherB')"
        )
        .unwrap(),
        ["otherB-1"]
    );
    assert_eq!(
        value(&mut b, "SELECT message_store.stream_version('otherB-1')"),
        "0"
    );
    b.batch_execute("ROLLBACK").unwrap();
    assert_eq!(
        column(
            &mut a,
            "SELECT id FROM message_store.get_stream_messages('secretA-1')"
        )
        .unwrap(),
        [a_id]
    );
    assert_eq!(backend_pid(&mut a), backend_pid(&mut b));
}

/// `ALTER ROLE … SET message_store.sql_condition = on` opens the gate for
/// that role's every server connection, with no SET from the client.
#[test]
fn alter_role_set_opens_the_gate_for_that_role_through_the_pooler() {
    const ROLE: &str = "ms_test_pooler_condition_reader";
    let (db, mut direct) = database_with_stream("alter_role");
    client_role(&mut direct, ROLE);
    direct
        .batch_execute(&format!(
            "ALTER ROLE {ROLE} SET message_store.sql_condition = on"
        ))
        .unwrap();
    {
        let pooler = Pooler::start_for_test_cluster("pooler-alter-role", 1, &[]);
        pooler.add_user(ROLE, "client");
        let mut reader = pooler.connect_as(&db, ROLE, "client", "").unwrap();
        assert_eq!(column(&mut reader, CONDITIONAL_READ).unwrap(), ["1", "2"]);
        reader.batch_execute("BEGIN").unwrap();
        assert_eq!(column(&mut reader, CONDITIONAL_READ).unwrap(), ["1", "2"]);
        reader.batch_execute("COMMIT").unwrap();
        // Other roles' pools keep the gate closed.
        let mut other = pooler.connect(&db);
        assert_core_error(
            column(&mut other, CONDITIONAL_READ),
            Error::SqlConditionNotActivated,
        );
    }
    drop(direct);
    let mut admin = connect("");
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
    admin.batch_execute(&format!("DROP ROLE {ROLE}")).unwrap();
}

/// Startup `options` (`-c message_store.sql_condition=on`, as Eventide's
/// clients turn conditions on): PgBouncer 1.18 refuses the connection, and
/// with `ignore_startup_parameters = options` lets it in without them.
#[test]
fn startup_options_do_not_pass_pgbouncer_1_18() {
    let (db, _direct) = database_with_stream("startup_options");
    let options = "options='-c message_store.sql_condition=on'";
    let pooler = Pooler::start_for_test_cluster("pooler-options", 1, &[]);
    assert_error(
        pooler
            .connect_as(&db, "postgres", "postgres", options)
            .map(|_| "connected"),
        "08P01",
        "unsupported startup parameter: options",
    );

    let ignoring = Pooler::start_for_test_cluster(
        "pooler-options-ignored",
        1,
        &["ignore_startup_parameters = options"],
    );
    let mut client = ignoring
        .connect_as(&db, "postgres", "postgres", options)
        .unwrap();
    assert_eq!(
        value(
            &mut client,
            "SELECT coalesce(current_setting('message_store.sql_condition', true), 'unset')"
        ),
        "unset"
    );
    assert_core_error(
        column(&mut client, CONDITIONAL_READ),
        Error::SqlConditionNotActivated,
    );
}

/// `LISTEN` through a pooler in transaction mode: the LISTEN succeeds on
/// the server connection of its transaction, and the client never gets the
/// notifications, which that server connection receives while no client
/// holds it. A consumer that waits for writes needs a direct connection.
#[test]
fn listen_through_the_pooler_delivers_nothing() {
    let (db, mut direct) = fresh_database("pooler_listen");
    let pooler = Pooler::start_for_test_cluster("pooler-listen", 1, &[]);
    let mut pooled = pooler.connect(&db);
    pooled.batch_execute("LISTEN message_store").unwrap();
    let pid = backend_pid(&mut pooled);
    let mut listener = listen(&db);

    direct
        .batch_execute("SET message_store.notify = on")
        .unwrap();
    let written = write_simple(&mut direct, "woken-1").unwrap();
    assert_eq!(received(&mut listener, QUIET), [hint("woken", written)]);
    // The pooled client's next transactions, on the same server connection.
    for _ in 0..3 {
        assert_eq!(value(&mut pooled, "SELECT 1"), "1");
    }
    assert_eq!(received(&mut pooled, QUIET), Vec::<String>::new());
    // Still the server connection that listens, which keeps listening for
    // whichever client it serves next.
    assert_eq!(backend_pid(&mut pooled), pid);
    assert_eq!(
        column(&mut pooled, "SELECT pg_listening_channels()").unwrap(),
        ["message_store"]
    );
}

/// What a client of a 1.18 pooler in transaction mode may use besides the
/// simple protocol: the unnamed statement, parsed, bound and run in one
/// go, from any client on any server connection; a named statement only
/// inside the transaction that prepared it. A named statement prepared in
/// one transaction is gone when a later one gets another server connection.
#[test]
fn prepared_statements_through_the_pooler() {
    let (db, _direct) = database_with_stream("prepared");
    let pooler = Pooler::start_for_test_cluster("pooler-prepared", 1, &[]);
    let mut a = pooler.connect(&db);
    let mut b = pooler.connect(&db);
    let read = "SELECT position FROM message_store.get_stream_messages($1, $2, 1000)";
    for (on_a, from) in [(true, 1_i64), (false, 2), (true, 0)] {
        let client = if on_a { &mut a } else { &mut b };
        let positions: Vec<i64> = client
            .query_typed(read, &[(&"someStream-1", Type::TEXT), (&from, Type::INT8)])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(positions, (from..3).collect::<Vec<i64>>());
    }

    let mut transaction = a.transaction().unwrap();
    let statement = transaction.prepare(read).unwrap();
    let rows = transaction
        .query(&statement, &[&"someStream-1", &1_i64])
        .unwrap();
    assert_eq!(rows.len(), 2);
    transaction.commit().unwrap();

    // A named statement prepared outside a transaction, then the server
    // connection closed (as a pooler closes them at server_lifetime).
    let statement = a.prepare(read).unwrap();
    pooler
        .console()
        .simple_query(&format!("RECONNECT {db}"))
        .unwrap();
    let (sqlstate, message) = db_error(a.query(&statement, &[&"someStream-1", &1_i64]));
    assert_eq!(sqlstate, "26000");
    assert!(
        message.starts_with("prepared statement \"s") && message.ends_with("\" does not exist"),
        "{message}"
    );
}

/// `lock_timeout` bounds `get_all_messages`' wait for a writer in flight;
/// set with `SET LOCAL` through the pooler it bounds that transaction's
/// reads and is gone for the next client of the server connection, which
/// waits until the writer ends.
#[test]
fn a_lock_timeout_set_local_bounds_get_all_messages_in_its_transaction() {
    let (db, mut direct) = fresh_database("pooler_lock_timeout");
    write(&mut direct, "early-1", "T");
    let mut late = connect(&format!("dbname={db}"));
    late.batch_execute("BEGIN").unwrap();
    write(&mut late, "late-1", "T");
    let (_pooler, mut a, mut b) = two_clients_one_server("lock-timeout", &db);

    a.batch_execute("BEGIN; SET LOCAL lock_timeout = '50ms'")
        .unwrap();
    assert_error(
        column(
            &mut a,
            "SELECT stream_name FROM message_store.get_all_messages(1)",
        ),
        "55P03",
        "canceling statement due to lock timeout",
    );
    a.batch_execute("ROLLBACK").unwrap();

    assert_eq!(value(&mut b, "SHOW lock_timeout"), "0");
    let committer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        late.batch_execute("COMMIT").unwrap();
    });
    // The highest position visible when the call starts is early-1's; the
    // call reads up to it once the writer in flight has ended.
    let started = std::time::Instant::now();
    assert_eq!(
        column(
            &mut b,
            "SELECT stream_name FROM message_store.get_all_messages(1)"
        )
        .unwrap(),
        ["early-1"]
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "waited {:?}",
        started.elapsed()
    );
    committer.join().unwrap();
    assert_eq!(backend_pid(&mut a), backend_pid(&mut b));
}
