//! Read replicas: a primary and a hot standby made with `pg_basebackup -R`
//! in throwaway data directories. The readers work on the standby, every
//! writer refuses there at once (25006), `write_position()` and
//! `wait_for_replay()` give read-your-writes, and a category reader polling
//! the standby never skips a message that commits late on the primary; the
//! corpus runs with its reads answered by the standby.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use message_store_pg_tests::{assert_error, new_id, write, Postgres, ThrowawayCluster};
use message_store_slt::{run_corpus, Cell, Engine, EngineError};
use postgres::Client;

fn primary_and_standby(name: &str) -> (ThrowawayCluster, ThrowawayCluster) {
    let primary = ThrowawayCluster::start(&format!("{name}-primary"), &[]);
    primary
        .connect("postgres")
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    let standby = ThrowawayCluster::standby_of(&primary, &format!("{name}-standby"));
    (primary, standby)
}

/// Waits on the standby for everything the primary has written so far.
fn replayed(primary: &mut Client, standby: &mut Client) {
    let lsn: String = primary
        .query_one("SELECT message_store.write_position()::text", &[])
        .unwrap()
        .get(0);
    let reached: bool = standby
        .query_one(
            "SELECT message_store.wait_for_replay($1::text::pg_lsn, 30000)",
            &[&lsn],
        )
        .unwrap()
        .get(0);
    assert!(reached, "the standby did not replay {lsn} in 30 s");
}

const WRITERS: &[(&str, &str)] = &[
    (
        "write_message",
        "SELECT message_store.write_message(gen_random_uuid()::text, 'account-1', 'T', '{}')",
    ),
    (
        "write_messages",
        "SELECT message_store.write_messages('account-1', '[{\"type\": \"T\", \"data\": {}}]')",
    ),
    (
        "write_batch",
        "SELECT message_store.write_batch('[{\"stream_name\": \"account-1\", \"messages\": [{\"type\": \"T\", \"data\": {}}]}]')",
    ),
    (
        "import_messages",
        "SELECT message_store.import_messages('{\"id\":\"8f3c3f64-0b7e-4b52-9d0e-000000000001\",\"stream_name\":\"account-9\",\"type\":\"T\",\"position\":0,\"global_position\":1000,\"data\":{},\"metadata\":null,\"time\":\"2026-01-01T00:00:00Z\"}')",
    ),    // Retention and erasure: refused before they look at a message or a
    // policy, so a call that would remove or change nothing is refused
    // too.
    (
        "remove_messages",
        "SELECT message_store.remove_messages('account', NULL, 1000)",
    ),
    (
        "redact_stream",
        "SELECT message_store.redact_stream('account-1')",
    ),
    (
        "set_retention_policy",
        "SELECT message_store.set_retention_policy('account', 'keep_last', 1)",
    ),
    (
        "clear_retention_policy",
        "SELECT message_store.clear_retention_policy('account')",
    ),
    (
        "apply_retention_policies",
        "SELECT message_store.apply_retention_policies()",
    ),
];

#[test]
fn on_a_standby_the_readers_work_and_every_writer_refuses_at_once() {
    let (primary, standby) = primary_and_standby("replica-rw");
    let mut writer = primary.connect("postgres");
    let mut reader = standby.connect("postgres");
    write(&mut writer, "account-1", "Opened");
    writer
        .execute(
            "SELECT message_store.write_message($1, 'account-1', 'Deposited', '{\"amount\": 5}', \
             '{\"correlationStreamName\": \"payment-7\"}')",
            &[&new_id()],
        )
        .unwrap();
    write(&mut writer, "account-2", "Opened");
    replayed(&mut writer, &mut reader);

    let readers: &[(&str, &str)] = &[
        (
            "SELECT string_agg(type || ':' || position, ',' ORDER BY position) \
             FROM message_store.get_stream_messages('account-1')",
            "Opened:0,Deposited:1",
        ),
        (
            "SELECT string_agg(stream_name || ':' || global_position, ',' ORDER BY global_position) \
             FROM message_store.get_category_messages('account')",
            "account-1:1,account-1:2,account-2:3",
        ),
        (
            "SELECT string_agg(stream_name, ',') \
             FROM message_store.get_category_messages('account', 1, 10, 'payment')",
            "account-1",
        ),
        (
            "SELECT string_agg(stream_name || ':' || global_position, ',') \
             FROM message_store.get_category_messages('account', 1, 10, NULL, 0, 2)",
            "account-1:1,account-1:2",
        ),
        (
            "SELECT type FROM message_store.get_last_stream_message('account-1')",
            "Deposited",
        ),
        ("SELECT message_store.stream_version('account-1')::text", "1"),
        (
            "SELECT string_agg(stream_name || ':' || version, ',') FROM message_store.get_streams('account-')",
            "account-1:1,account-2:0",
        ),
        (
            "SELECT string_agg(category || ':' || head_global_position, ',') FROM message_store.get_categories()",
            "account:3",
        ),
        (
            "SELECT string_agg(stream_name || ':' || message_count, ',' ORDER BY stream_name) \
             FROM message_store.stream_summary",
            "account-1:2,account-2:1",
        ),
        (
            "SELECT count(*)::text FROM message_store.export_messages()",
            "3",
        ),
    ];
    for (query, expected) in readers {
        let got: String = reader
            .query_one(*query, &[])
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .get(0);
        assert_eq!(&got, expected, "{query}");
        let on_primary: String = writer.query_one(*query, &[]).unwrap().get(0);
        assert_eq!(got, on_primary, "{query}");
    }

    for (function, call) in WRITERS {
        assert_error(
            reader.query(*call, &[]),
            "25006",
            &format!(
                "cannot execute {function} during recovery: this server is a standby, \
                 which is read-only; write on the primary"
            ),
        );
        // In a read-only transaction on the primary, the same refusal
        // names the transaction.
        writer.batch_execute("BEGIN READ ONLY").unwrap();
        assert_error(
            writer.query(*call, &[]),
            "25006",
            &format!("cannot execute {function} in a read-only transaction"),
        );
        writer.batch_execute("ROLLBACK").unwrap();
    }
    // The refusal comes before the category lock: none is taken on the
    // standby.
    let locks: i64 = reader
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(locks, 0);
    let count: i64 = reader
        .query_one("SELECT count(*) FROM message_store.messages", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 3);
}

#[test]
fn read_your_writes_waits_for_the_standby_to_replay_a_write() {
    let (primary, standby) = primary_and_standby("replica-ryw");
    let mut writer = primary.connect("postgres");
    let mut reader = standby.connect("postgres");
    for round in 0..20 {
        let stream = format!("order-{round}");
        write(&mut writer, &stream, "Placed");
        // Read after the commit, on any connection to the primary.
        let lsn: String = writer
            .query_one("SELECT message_store.write_position()::text", &[])
            .unwrap()
            .get(0);
        let reached: bool = reader
            .query_one(
                "SELECT message_store.wait_for_replay($1::text::pg_lsn)",
                &[&lsn],
            )
            .unwrap()
            .get(0);
        assert!(reached);
        let version: Option<i64> = reader
            .query_one("SELECT message_store.stream_version($1)", &[&stream])
            .unwrap()
            .get(0);
        assert_eq!(version, Some(0), "round {round}: the write is not visible");
    }

    // A position the standby will not reach in time: false, after the
    // timeout and not long before.
    let started = Instant::now();
    let reached: bool = reader
        .query_one(
            "SELECT message_store.wait_for_replay('FFFFFFFF/0', 200)",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!reached);
    assert!(started.elapsed() >= Duration::from_millis(200));
    // On the primary every committed write is visible: true at once.
    let reached: bool = writer
        .query_one(
            "SELECT message_store.wait_for_replay('FFFFFFFF/0', 60000)",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(reached);

    assert_error(
        reader.query("SELECT message_store.wait_for_replay(NULL)", &[]),
        "22004",
        "wait_for_replay: lsn must not be NULL",
    );
    assert_error(
        reader.query("SELECT message_store.wait_for_replay('0/0', -1)", &[]),
        "22023",
        "wait_for_replay: timeout_ms must be 0 or more (timeout_ms: -1)",
    );
    assert_error(
        reader.query("SELECT message_store.write_position()", &[]),
        "55000",
        "recovery is in progress",
    );
}

/// Polls the standby's category reader from after the last position read
/// while `writers` write on the primary, each holding its transaction open
/// for a while after its insert; returns what the reader read, and every
/// message of the category the standby holds at the end.
fn poll_standby_while_writing(
    primary: &ThrowawayCluster,
    standby: &ThrowawayCluster,
    category: &str,
    insert: &'static str,
) -> (Vec<i64>, Vec<i64>) {
    let done = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for w in 0..3 {
        let mut client = primary.connect("postgres");
        let category = category.to_string();
        handles.push(thread::spawn(move || {
            for i in 0..40 {
                let mut tx = client.transaction().unwrap();
                tx.execute(insert, &[&format!("{category}-{w}"), &new_id()])
                    .unwrap();
                thread::sleep(Duration::from_millis(((w * 7 + i * 3) % 11) as u64));
                tx.commit().unwrap();
            }
        }));
    }
    let mut reader = standby.connect("postgres");
    let poll = |reader: &mut Client, read: &mut Vec<i64>| {
        let from = read.last().map_or(1, |last| last + 1);
        for row in reader
            .query(
                "SELECT global_position FROM message_store.get_category_messages($1, $2, 1000)",
                &[&category, &from],
            )
            .unwrap()
        {
            read.push(row.get(0));
        }
    };
    let mut read = Vec::new();
    let poller_done = done.clone();
    let writers = thread::spawn(move || {
        for handle in handles {
            handle.join().unwrap();
        }
        poller_done.store(true, Ordering::SeqCst);
    });
    while !done.load(Ordering::SeqCst) {
        poll(&mut reader, &mut read);
    }
    writers.join().unwrap();
    let mut writer = primary.connect("postgres");
    replayed(&mut writer, &mut reader);
    poll(&mut reader, &mut read);
    let all = reader
        .query(
            "SELECT global_position FROM message_store.messages \
             WHERE message_store.category(stream_name) = $1 ORDER BY global_position",
            &[&category],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    (read, all)
}

#[test]
fn a_category_reader_on_the_standby_never_skips_a_late_commit() {
    let (primary, standby) = primary_and_standby("replica-late");
    // The store's writers hold the category's lock until they commit, so
    // a category's commits replay in global position order.
    let (read, all) = poll_standby_while_writing(
        &primary,
        &standby,
        "late",
        "SELECT message_store.write_message($2, $1, 'T', '{}')",
    );
    assert_eq!(all.len(), 120);
    assert_eq!(read, all, "the standby's reader skipped messages");

    // The negative control: inserts that take no category lock commit out
    // of global position order, and the same reader skips some of them.
    let (read, all) = poll_standby_while_writing(
        &primary,
        &standby,
        "unlocked",
        "INSERT INTO message_store.messages (id, stream_name, type, position, data) \
         SELECT $2::text::uuid, $1, 'T', coalesce(max(position) + 1, 0), '{}' \
         FROM message_store.messages WHERE stream_name = $1",
    );
    assert_eq!(all.len(), 120);
    assert!(
        read.len() < all.len(),
        "the control's reader read all {} messages: the test could not see a skip",
        all.len()
    );
}

/// The corpus with its reads answered by a hot standby. Each statement
/// runs on the standby first; one the standby refuses because it writes
/// (25006, the extension's writers' refusal and Postgres' own for
/// INSERT and UPDATE) runs on the primary, and the standby then waits
/// until it has replayed it, so the next read there sees it. A
/// transaction runs whole on the primary (its reads see its own writes);
/// settings are made on both; `get_all_messages`, which a standby refuses
/// (0A000), reads on the primary.
struct Replicated {
    primary: Postgres,
    standby: Postgres,
    in_transaction: bool,
    /// Statements the standby answered: reads, and the errors of bad
    /// input.
    on_standby: Arc<AtomicUsize>,
}

impl Replicated {
    fn on_primary(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>, EngineError> {
        let result = self.primary.run(sql);
        if !self.in_transaction {
            replayed(&mut self.primary.0, &mut self.standby.0);
        }
        result
    }
}

/// A statement's first word, in upper case.
fn first_word(sql: &str) -> String {
    sql.split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// Whether a corpus statement writes: it calls a function that writes, or
/// is an INSERT, UPDATE, DELETE or CREATE (a table of the case's own).
fn writes(sql: &str) -> bool {
    const WRITERS: [&str; 10] = [
        "write_message(",
        "write_messages(",
        "write_batch(",
        "import_messages(",
        "remove_messages(",
        "redact_stream(",
        "set_retention_policy(",
        "clear_retention_policy(",
        "apply_retention_policies(",
        "nextval(",
    ];
    let first_word = first_word(sql);
    matches!(
        first_word.as_str(),
        "INSERT" | "UPDATE" | "DELETE" | "CREATE" | "DROP"
    ) || WRITERS.iter().any(|writer| sql.contains(writer))
}

impl Engine for Replicated {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn run(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>, EngineError> {
        let first_word = first_word(sql);
        let ends_transaction = matches!(first_word.as_str(), "COMMIT" | "END")
            || (first_word == "ROLLBACK" && !sql.to_ascii_uppercase().contains(" TO "));
        if matches!(first_word.as_str(), "BEGIN" | "START") {
            self.in_transaction = true;
        }
        if self.in_transaction {
            let result = self.primary.run(sql);
            if ends_transaction {
                self.in_transaction = false;
                replayed(&mut self.primary.0, &mut self.standby.0);
            }
            return result;
        }
        if matches!(first_word.as_str(), "SET" | "RESET") || sql.contains("set_config(") {
            let on_standby = self.standby.run(sql);
            let on_primary = self.primary.run(sql);
            assert_eq!(on_standby, on_primary, "{sql}");
            return on_primary;
        }
        match self.standby.run(sql) {
            Err(EngineError {
                sqlstate: Some(state),
                message,
            }) if state == "25006" => {
                // Only a write may be refused: a reader refused here would
                // be a reader a standby cannot serve.
                assert!(
                    writes(sql),
                    "the standby refused a statement that only reads: {sql}: {message}"
                );
                self.on_primary(sql)
            }
            Err(EngineError {
                sqlstate: Some(state),
                message,
            }) if state == "0A000"
                && message.starts_with("get_all_messages cannot run on a standby") =>
            {
                self.primary.run(sql)
            }
            answered => {
                self.on_standby.fetch_add(1, Ordering::Relaxed);
                answered
            }
        }
    }
}

#[test]
fn the_corpus_reads_on_the_standby() {
    let (primary, standby) = primary_and_standby("replica-corpus");
    let mut admin = primary.connect("postgres");
    let on_standby = Arc::new(AtomicUsize::new(0));
    let mut cases = 0;
    run_corpus(|name| {
        cases += 1;
        let db = format!(
            "slt_{}",
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        let mut writer = primary.connect(&db);
        writer
            .batch_execute(
                "CREATE EXTENSION message_store; SET search_path = message_store, public",
            )
            .unwrap();
        replayed(&mut admin, &mut standby.connect("postgres"));
        let mut reader = standby.connect(&db);
        reader
            .batch_execute("SET search_path = message_store, public")
            .unwrap();
        Replicated {
            primary: Postgres(writer),
            standby: Postgres(reader),
            in_transaction: false,
            on_standby: Arc::clone(&on_standby),
        }
    });
    // Every case ran, and the standby answered its reads (329 of the
    // corpus' statements when this was written; the rest are writes and
    // transactions, which ran on the primary).
    assert!(cases >= 16, "{cases} cases");
    let answered = on_standby.load(Ordering::Relaxed);
    assert!(
        answered >= 300,
        "the standby answered {answered} statements"
    );
}
