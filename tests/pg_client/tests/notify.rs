//! Consumers woken on write: with `message_store.notify` on, a consumer
//! that runs `LISTEN message_store` is told at each commit, once per
//! category, which categories have new messages and the highest global
//! position written to each, as `{"category":…,"global_position":…}`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use message_store_pg_tests::*;
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;

/// How long a listener waits before it takes it that nothing more comes.
const QUIET: Duration = Duration::from_millis(400);

fn listen(db: &str) -> Client {
    let mut client = connect(&format!("dbname={db}"));
    client.batch_execute("LISTEN message_store").unwrap();
    client
}

fn write_at(client: &mut Client, stream_name: &str) -> i64 {
    write(client, stream_name, "T");
    client
        .query_one(
            "SELECT max(global_position) FROM message_store.messages WHERE stream_name = $1",
            &[&stream_name],
        )
        .unwrap()
        .get(0)
}

fn highest_position(client: &mut Client) -> i64 {
    client
        .query_one(
            "SELECT max(global_position) FROM message_store.messages",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn off_by_default_and_on_per_session() {
    let (db, mut writer) = fresh_database("notify_session");
    let mut listener = listen(&db);
    write(&mut writer, "account-1", "T");
    assert_eq!(received(&mut listener, QUIET), Vec::<String>::new());

    writer
        .batch_execute("SET message_store.notify = on")
        .unwrap();
    let position = write_at(&mut writer, "account-2");
    assert_eq!(received(&mut listener, QUIET), [hint("account", position)]);

    // Postgres' booleans, any case; off again notifies nothing.
    for on in ["true", "YES", "1", "t"] {
        writer
            .batch_execute(&format!("SET message_store.notify = '{on}'"))
            .unwrap();
        let position = write_at(&mut writer, "account-2");
        assert_eq!(
            received(&mut listener, QUIET),
            [hint("account", position)],
            "{on}"
        );
    }
    for off in ["off", "false", "no", "0", ""] {
        writer
            .batch_execute(&format!("SET message_store.notify = '{off}'"))
            .unwrap();
        write(&mut writer, "account-2", "T");
        assert_eq!(
            received(&mut listener, QUIET),
            Vec::<String>::new(),
            "{off}"
        );
    }

    // A value that is not a boolean refuses the write, which stores nothing.
    writer
        .batch_execute("SET message_store.notify = 'maybe'")
        .unwrap();
    let before = highest_position(&mut writer);
    assert_error(
        writer.query_one(
            "SELECT message_store.write_message($1, 'account-3', 'T', '{}'::jsonb)",
            &[&new_id()],
        ),
        "22023",
        "invalid value for parameter \"message_store.notify\": \"maybe\" \
         (a Boolean: on, off, true, false, yes, no, 1, 0)",
    );
    assert_eq!(highest_position(&mut writer), before);

    // SET LOCAL: for one transaction only.
    writer.batch_execute("RESET message_store.notify").unwrap();
    writer
        .batch_execute(
            "BEGIN; SET LOCAL message_store.notify = on;
             SELECT message_store.write_message(gen_random_uuid()::text, 'local-1', 'T', '{}');
             COMMIT",
        )
        .unwrap();
    let position = highest_position(&mut writer);
    assert_eq!(received(&mut listener, QUIET), [hint("local", position)]);
    write(&mut writer, "local-1", "T");
    assert_eq!(received(&mut listener, QUIET), Vec::<String>::new());
}

#[test]
fn on_per_role() {
    let (db, mut admin) = fresh_database("notify_role");
    client_role(&mut admin, "ms_notify_writer");
    admin
        .batch_execute(&format!(
            "ALTER ROLE ms_notify_writer IN DATABASE {db} SET message_store.notify = on"
        ))
        .unwrap();
    let mut listener = listen(&db);
    let mut writer = connect_as(&db, "ms_notify_writer", "");
    let position = write_at(&mut writer, "role-1");
    assert_eq!(received(&mut listener, QUIET), [hint("role", position)]);
    // Other roles keep the default.
    write(&mut admin, "role-1", "T");
    assert_eq!(received(&mut listener, QUIET), Vec::<String>::new());
    drop(writer);
    admin
        .batch_execute("DROP OWNED BY ms_notify_writer; DROP ROLE ms_notify_writer")
        .unwrap();
}

#[test]
fn one_notification_per_category_per_transaction_with_its_highest_position() {
    let (db, mut writer) = fresh_database("notify_per_category");
    let mut listener = listen(&db);
    writer
        .batch_execute("SET message_store.notify = on")
        .unwrap();
    writer.batch_execute("BEGIN").unwrap();
    let first = write_at(&mut writer, "account-1");
    let second = write_at(&mut writer, "withdrawal-1");
    let third = write_at(&mut writer, "account-2");
    // Nothing before the commit.
    assert_eq!(received(&mut listener, QUIET), Vec::<String>::new());
    writer.batch_execute("COMMIT").unwrap();
    assert!(first < second && second < third);
    assert_eq!(
        received(&mut listener, QUIET),
        [hint("account", third), hint("withdrawal", second)]
    );

    // The next transaction starts with nothing recorded.
    writer.batch_execute("BEGIN").unwrap();
    let fourth = write_at(&mut writer, "deposit-1");
    writer.batch_execute("COMMIT").unwrap();
    assert_eq!(received(&mut listener, QUIET), [hint("deposit", fourth)]);
}

#[test]
fn batches_and_imports() {
    let (db, mut writer) = fresh_database("notify_batches");
    let mut listener = listen(&db);
    writer
        .batch_execute("SET message_store.notify = on")
        .unwrap();
    let message = || format!(r#"{{"id":"{}","type":"T","data":{{}}}}"#, new_id());

    writer
        .query_one(
            "SELECT message_store.write_messages('orders-1', $1::text::jsonb)",
            &[&format!("[{},{},{}]", message(), message(), message())],
        )
        .unwrap();
    let orders = highest_position(&mut writer);
    assert_eq!(received(&mut listener, QUIET), [hint("orders", orders)]);

    // Several categories: each its own highest position, whatever order
    // the entries come in.
    let batch = format!(
        r#"[{{"stream_name":"b-1","messages":[{m},{m2}]}},
            {{"stream_name":"a-1","messages":[{m3}]}},
            {{"stream_name":"b-2","messages":[{m4}]}},
            {{"stream_name":"a:command-1","messages":[{m5}]}}]"#,
        m = message(),
        m2 = message(),
        m3 = message(),
        m4 = message(),
        m5 = message()
    );
    writer
        .query_one(
            "SELECT message_store.write_batch($1::text::jsonb)",
            &[&batch],
        )
        .unwrap();
    let max = |client: &mut Client, category: &str| -> i64 {
        client
            .query_one(
                "SELECT max(global_position) FROM message_store.messages \
                 WHERE message_store.category(stream_name) = $1",
                &[&category],
            )
            .unwrap()
            .get(0)
    };
    let (a, b, command) = (
        max(&mut writer, "a"),
        max(&mut writer, "b"),
        max(&mut writer, "a:command"),
    );
    assert_eq!(
        received(&mut listener, QUIET),
        [hint("a", a), hint("a:command", command), hint("b", b)]
    );
    // One entry of one message goes through write_message's statement.
    writer
        .query_one(
            "SELECT message_store.write_batch($1::text::jsonb)",
            &[&format!(
                r#"[{{"stream_name":"c-1","messages":[{}]}}]"#,
                message()
            )],
        )
        .unwrap();
    let c = highest_position(&mut writer);
    assert_eq!(received(&mut listener, QUIET), [hint("c", c)]);
    // An idempotent replay writes nothing and notifies nothing.
    let replayed = format!(r#"[{}]"#, message());
    for _ in 0..2 {
        writer
            .query_one(
                "SELECT message_store.write_messages('replay-1', $1::text::jsonb, NULL, true)",
                &[&replayed],
            )
            .unwrap();
    }
    let replay = highest_position(&mut writer);
    assert_eq!(received(&mut listener, QUIET), [hint("replay", replay)]);

    // An import: the global positions its lines give.
    let lines: Vec<String> = writer
        .query("SELECT message_store.export_messages(1, -1)", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let target = empty_database("notify_batches_import", None);
    let mut importer = connect(&format!("dbname={target}"));
    importer
        .batch_execute("CREATE EXTENSION message_store; SET message_store.notify = on")
        .unwrap();
    let mut import_listener = listen(&target);
    let imported: i64 = importer
        .query_one(
            "SELECT message_store.import_messages($1)",
            &[&(lines.join("\n") + "\n")],
        )
        .unwrap()
        .get(0);
    assert_eq!(imported, lines.len() as i64);
    assert_eq!(
        received(&mut import_listener, QUIET),
        [
            hint("a", a),
            hint("a:command", command),
            hint("b", b),
            hint("c", c),
            hint("orders", orders),
            hint("replay", replay)
        ]
    );
    // Nothing new: nothing stored, nothing told.
    importer
        .query_one(
            "SELECT message_store.import_messages($1)",
            &[&(lines.join("\n") + "\n")],
        )
        .unwrap();
    assert_eq!(received(&mut import_listener, QUIET), Vec::<String>::new());
    assert_eq!(received(&mut listener, QUIET), Vec::<String>::new());
}

#[test]
fn rollbacks_and_failed_writes() {
    let (db, mut writer) = fresh_database("notify_rollback");
    let mut listener = listen(&db);
    writer
        .batch_execute("SET message_store.notify = on")
        .unwrap();

    writer.batch_execute("BEGIN").unwrap();
    write(&mut writer, "gone-1", "T");
    writer.batch_execute("ROLLBACK").unwrap();
    assert_eq!(received(&mut listener, QUIET), Vec::<String>::new());

    // A savepoint rolled back forgets its writes; one released keeps them;
    // a failed write (its savepoint rolled back) does not stop the rest.
    writer.batch_execute("BEGIN").unwrap();
    let kept = write_at(&mut writer, "kept-1");
    writer.batch_execute("SAVEPOINT s1").unwrap();
    write(&mut writer, "forgotten-1", "T");
    write(&mut writer, "kept-2", "T");
    writer.batch_execute("SAVEPOINT s2").unwrap();
    write(&mut writer, "forgotten-2", "T");
    writer.batch_execute("ROLLBACK TO SAVEPOINT s1").unwrap();
    writer.batch_execute("SAVEPOINT s3").unwrap();
    let released = write_at(&mut writer, "released-1");
    writer.batch_execute("RELEASE SAVEPOINT s3").unwrap();
    writer.batch_execute("SAVEPOINT s4").unwrap();
    assert_error(
        writer.query_one(
            "SELECT message_store.write_message($1, 'released-1', 'T', '{}'::jsonb, NULL, 5)",
            &[&new_id()],
        ),
        "P0001",
        "Wrong expected version: 5 (Stream: released-1, Stream Version: 0)",
    );
    writer.batch_execute("ROLLBACK TO SAVEPOINT s4").unwrap();
    let after = write_at(&mut writer, "after-1");
    writer.batch_execute("COMMIT").unwrap();
    assert_eq!(
        received(&mut listener, QUIET),
        [
            hint("after", after),
            hint("kept", kept),
            hint("released", released)
        ]
    );

    // A transaction that fails at its commit (a deferred constraint)
    // notifies nothing, and leaves nothing for the next one.
    writer
        .batch_execute("CREATE TABLE public.once (v int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
        .unwrap();
    writer.batch_execute("BEGIN").unwrap();
    write(&mut writer, "failed-1", "T");
    writer
        .batch_execute("INSERT INTO public.once VALUES (1), (1)")
        .unwrap();
    assert_eq!(db_error(writer.batch_execute("COMMIT")).0, "23505");
    assert_eq!(received(&mut listener, QUIET), Vec::<String>::new());
    let next = write_at(&mut writer, "next-1");
    assert_eq!(received(&mut listener, QUIET), [hint("next", next)]);
}

#[test]
fn a_category_too_long_for_a_payload_is_not_named() {
    let (db, mut writer) = fresh_database("notify_long");
    let mut listener = listen(&db);
    writer
        .batch_execute("SET message_store.notify = on")
        .unwrap();
    // Postgres takes payloads of up to 7999 bytes. Positions here have one
    // digit.
    let fits = 7999 - r#"{"category":"","global_position":1}"#.len();
    let longest = "x".repeat(fits);
    let position = write_at(&mut writer, &format!("{longest}-1"));
    assert_eq!(position, 1);
    let payloads = received(&mut listener, QUIET);
    assert_eq!(payloads, [hint(&longest, 1)]);
    assert_eq!(payloads[0].len(), 7999);

    writer.batch_execute("BEGIN").unwrap();
    let too_long = "y".repeat(fits + 1);
    write(&mut writer, &format!("{too_long}-1"), "T");
    write(&mut writer, &format!("{}-1", "z".repeat(20_000)), "T");
    let short = write_at(&mut writer, "short-1");
    writer.batch_execute("COMMIT").unwrap();
    assert_eq!(short, 4);
    assert_eq!(
        received(&mut listener, QUIET),
        [
            hint("short", 4),
            r#"{"category":null,"global_position":3}"#.to_string()
        ]
    );
}

/// A consumer loop: read the category from its position, wait for a
/// notification (or a timeout), read again. It disconnects and connects
/// again in the middle while the writers go on, and still reads every
/// message exactly once.
#[test]
fn a_consumer_that_reconnects_reads_every_message_once() {
    const WRITERS: usize = 2;
    const TRANSACTIONS: usize = 60;
    let (db, _admin) = fresh_database("notify_consumer");
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let db = db.clone();
            thread::spawn(move || {
                let mut client = connect(&format!("dbname={db}"));
                client
                    .batch_execute("SET message_store.notify = on")
                    .unwrap();
                for t in 0..TRANSACTIONS {
                    let mut transaction = client.transaction().unwrap();
                    for m in 0..=(t % 3) {
                        transaction
                            .query_one(
                                "SELECT message_store.write_message($1, $2, 'T', '{}'::jsonb)",
                                &[&new_id(), &format!("consume-{w}x{m}")],
                            )
                            .unwrap();
                    }
                    transaction.commit().unwrap();
                    thread::sleep(Duration::from_millis(5 + (t as u64 * 7) % 20));
                }
                TRANSACTIONS
            })
        })
        .collect();

    let mut seen: Vec<i64> = Vec::new();
    let mut position = 1i64;
    let mut connections = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    'consumer: loop {
        let mut client = connect(&format!("dbname={db}"));
        client.batch_execute("LISTEN message_store").unwrap();
        connections += 1;
        let mut reads = 0;
        loop {
            assert!(Instant::now() < deadline, "the consumer did not finish");
            let rows = client
                .query(
                    "SELECT global_position FROM message_store.get_category_messages('consume', $1, 10)",
                    &[&position],
                )
                .unwrap();
            for row in &rows {
                let global_position: i64 = row.get(0);
                seen.push(global_position);
                position = global_position + 1;
            }
            reads += 1;
            if !rows.is_empty() {
                // A full batch: read on at once.
                if rows.len() == 10 {
                    continue;
                }
            } else if done.load(Ordering::SeqCst) {
                break 'consumer;
            }
            // Disconnect, every few reads, in the middle of the writes.
            if reads % 7 == 0 && connections < 5 {
                continue 'consumer;
            }
            let mut notifications = client.notifications();
            let _ = notifications
                .timeout_iter(Duration::from_millis(500))
                .next()
                .unwrap();
            if writers.iter().all(|writer| writer.is_finished()) {
                done.store(true, Ordering::SeqCst);
            }
        }
    }
    for writer in writers {
        assert_eq!(writer.join().unwrap(), TRANSACTIONS);
    }
    assert!(
        connections >= 3,
        "the consumer connected {connections} times"
    );
    let mut admin = connect(&format!("dbname={db}"));
    let all: Vec<i64> = admin
        .query(
            "SELECT global_position FROM message_store.messages ORDER BY global_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        all.len(),
        WRITERS * (0..TRANSACTIONS).map(|t| t % 3 + 1).sum::<usize>()
    );
    assert_eq!(seen, all);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), all.len());
}

#[test]
fn prepare_transaction_works_with_the_setting_on_and_notifies_nothing() {
    // The shared test cluster has max_prepared_transactions 0.
    let cluster = ThrowawayCluster::start("notify-prepare", &["max_prepared_transactions=4"]);
    let mut writer = cluster.connect("postgres");
    writer
        .batch_execute("CREATE EXTENSION message_store; SET message_store.notify = on")
        .unwrap();
    let mut listener = cluster.connect("postgres");
    listener.batch_execute("LISTEN message_store").unwrap();

    writer.batch_execute("BEGIN").unwrap();
    write(&mut writer, "prepared-1", "T");
    writer.batch_execute("PREPARE TRANSACTION 'p1'").unwrap();
    assert_eq!(received(&mut listener, QUIET), Vec::<String>::new());
    writer.batch_execute("COMMIT PREPARED 'p1'").unwrap();
    assert_eq!(received(&mut listener, QUIET), Vec::<String>::new());
    let stored: i64 = writer
        .query_one(
            "SELECT count(*) FROM message_store.messages WHERE stream_name = 'prepared-1'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);

    // The prepared transaction's record is gone: the next one sends only
    // its own.
    let next = write_at(&mut writer, "next-1");
    assert_eq!(received(&mut listener, QUIET), [hint("next", next)]);
}
