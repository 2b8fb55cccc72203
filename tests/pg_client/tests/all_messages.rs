//! `get_all_messages` on Postgres: every category's messages in global
//! order, and the promise that makes it usable: a reader that polls from
//! the last global position it saw + 1 receives every committed message
//! exactly once and in order, while writers of several categories commit in
//! another order than the one in which they drew their positions.
//!
//! The late-commit test runs four writers, each on its own category and in
//! its own way of writing (`write_message`, `write_messages`, `write_batch`,
//! and Message DB's clients' `acquire_lock` then INSERT), each sleeping a
//! random 0–20 ms between its insert and its commit and rolling back one
//! transaction in eight, and three readers polling from their last position.
//! Every reader must end with exactly the committed messages, in order. Its
//! negative control runs the same harness with readers of a plain
//! `global_position >= $1` query, which must be seen to skip a message.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use message_store_pg_tests::{
    assert_error, connect, fresh_database, new_id, write, ThrowawayCluster,
};
use postgres::Client;

const WRITERS: usize = 4;
const TRANSACTIONS: usize = 40;
const READERS: usize = 3;
const BATCH_SIZE: i64 = 5;

/// A small random number source for the writers' sleeps and rollbacks.
struct Random(u64);

impl Random {
    fn new(seed: u64) -> Self {
        Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn db_connect(db: &str) -> Client {
    connect(&format!("dbname={db}"))
}

/// One transaction of writer `w`, inside BEGIN, in the writer's own way.
fn write_in_transaction(client: &mut Client, w: usize, t: usize) {
    let stream = format!("late{w}-{}", t % 3);
    match w {
        0 => {
            client
                .execute(
                    "SELECT message_store.write_message($1, $2, 'Late', '{}'::jsonb)",
                    &[&new_id(), &stream],
                )
                .unwrap();
        }
        1 => {
            let messages = serde_json::json!([
                {"id": new_id(), "type": "Late", "data": {"t": t}},
                {"id": new_id(), "type": "Late", "data": {"t": t}},
            ]);
            client
                .execute(
                    "SELECT message_store.write_messages($1, $2::text::jsonb)",
                    &[&stream, &messages.to_string()],
                )
                .unwrap();
        }
        2 => {
            let batch = serde_json::json!([
                {"stream_name": stream, "messages": [{"id": new_id(), "type": "Late", "data": {}}]},
                {"stream_name": format!("late{w}-x"), "messages": [{"id": new_id(), "type": "Late", "data": {}}]},
            ]);
            client
                .execute(
                    "SELECT message_store.write_batch($1::text::jsonb)",
                    &[&batch.to_string()],
                )
                .unwrap();
        }
        _ => {
            // Message DB's clients: the category lock, then a plain INSERT
            // that draws its global position from the sequence.
            client
                .execute("SELECT message_store.acquire_lock($1)", &[&stream])
                .unwrap();
            client
                .execute(
                    "INSERT INTO message_store.messages (id, stream_name, position, type, data) \
                     VALUES ($1::text::uuid, $2::varchar, \
                     coalesce(message_store.stream_version($2::varchar), -1) + 1, 'Late', '{}')",
                    &[&new_id(), &stream],
                )
                .unwrap();
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ReadWith {
    GetAllMessages,
    /// The read that skips: no wait for writers in flight.
    PlainQuery,
}

fn read_batch(client: &mut Client, with: ReadWith, position: i64) -> Vec<(i64, String)> {
    let sql = match with {
        ReadWith::GetAllMessages => {
            "SELECT global_position, id FROM message_store.get_all_messages($1, $2)"
        }
        ReadWith::PlainQuery => {
            "SELECT global_position, id::text FROM message_store.messages \
             WHERE global_position >= $1 ORDER BY global_position LIMIT $2"
        }
    };
    client
        .query(sql, &[&position, &BATCH_SIZE])
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// Runs the writers and the readers; returns the committed messages (from
/// the table, in global order) and what each reader received.
#[allow(clippy::type_complexity)]
fn run(db: &str, with: ReadWith, seed: u64) -> (Vec<(i64, String)>, Vec<Vec<(i64, String)>>) {
    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(WRITERS + READERS));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (db, start) = (db.to_string(), Arc::clone(&start));
            thread::spawn(move || {
                let mut client = db_connect(&db);
                let mut random = Random::new(seed + w as u64);
                start.wait();
                for t in 0..TRANSACTIONS {
                    client.batch_execute("BEGIN").unwrap();
                    write_in_transaction(&mut client, w, t);
                    thread::sleep(Duration::from_micros(random.below(20_000)));
                    let end = if random.below(8) == 0 {
                        "ROLLBACK"
                    } else {
                        "COMMIT"
                    };
                    client.batch_execute(end).unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (db, start, done) = (db.to_string(), Arc::clone(&start), Arc::clone(&done));
            thread::spawn(move || {
                let mut client = db_connect(&db);
                client
                    .batch_execute("SET statement_timeout = '30s'")
                    .unwrap();
                let mut seen: Vec<(i64, String)> = Vec::new();
                start.wait();
                loop {
                    // Read after the writers are done, so the last read
                    // sees every commit.
                    let finished = done.load(Ordering::SeqCst);
                    let next = seen.last().map_or(1, |(position, _)| position + 1);
                    let batch = read_batch(&mut client, with, next);
                    if batch.is_empty() {
                        if finished {
                            return seen;
                        }
                        thread::sleep(Duration::from_micros(500));
                    }
                    seen.extend(batch);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let reads: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let committed = db_connect(db)
        .query(
            "SELECT global_position, id::text FROM message_store.messages ORDER BY global_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    (committed, reads)
}

/// The first difference between what a reader received and the committed
/// messages, if any.
fn first_difference(committed: &[(i64, String)], read: &[(i64, String)]) -> Option<String> {
    let missing: Vec<i64> = committed
        .iter()
        .filter(|m| !read.contains(m))
        .map(|m| m.0)
        .collect();
    if !missing.is_empty() {
        return Some(format!("skipped global positions {missing:?}"));
    }
    if read != committed {
        return Some(format!(
            "received {} messages, not the {} committed, in order",
            read.len(),
            committed.len()
        ));
    }
    None
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[test]
fn readers_polling_get_all_messages_receive_every_late_commit_once_and_in_order() {
    let (db, _) = fresh_database("all_late_commits");
    let seed = seed();
    let (committed, reads) = run(&db, ReadWith::GetAllMessages, seed);
    // The writers committed in another order than they drew positions,
    // and rolled some back: there are holes in the global positions.
    assert!(
        committed.len() > WRITERS * TRANSACTIONS / 2,
        "{}",
        committed.len()
    );
    let holes = committed
        .windows(2)
        .filter(|p| p[1].0 != p[0].0 + 1)
        .count();
    assert!(holes > 0, "no transaction rolled back (seed {seed})");
    for (r, read) in reads.iter().enumerate() {
        assert_eq!(
            first_difference(&committed, read),
            None,
            "reader {r} (seed {seed})"
        );
    }
}

/// The negative control: the same harness, read with a plain
/// `global_position >= $1` query, skips a message that commits late.
#[test]
fn negative_control_a_plain_global_position_read_skips_a_late_commit() {
    for round in 0..3 {
        let (db, _) = fresh_database("all_late_commits_control");
        let seed = seed();
        let (committed, reads) = run(&db, ReadWith::PlainQuery, seed);
        let skipped = reads
            .iter()
            .filter_map(|read| first_difference(&committed, read))
            .find(|difference| difference.starts_with("skipped"));
        if let Some(skipped) = skipped {
            eprintln!("round {round}: a plain read {skipped}");
            return;
        }
    }
    panic!("in three rounds, no plain read skipped a late commit");
}

/// The pid of a client's server process.
fn backend_pid(client: &mut Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0)
}

/// Waits until the backend waits on a virtual transaction lock (or panics
/// after ten seconds).
fn wait_until_waiting_on_a_transaction(observer: &mut Client, pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: Option<String> = observer
            .query_one(
                "SELECT wait_event FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .unwrap()
            .get(0);
        if waiting.as_deref() == Some("virtualxid") {
            return;
        }
        assert!(Instant::now() < deadline, "the reader did not wait");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Calls `get_all_messages()` from a session of its own on a thread;
/// returns the session's pid and the thread, which returns each message's
/// global position and stream name.
fn read_all_in_background(db: &str) -> (i32, thread::JoinHandle<Vec<(i64, String)>>) {
    let mut reader = db_connect(db);
    let pid = backend_pid(&mut reader);
    let read = thread::spawn(move || {
        reader
            .query(
                "SELECT global_position, stream_name FROM message_store.get_all_messages()",
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    });
    (pid, read)
}

#[test]
fn a_read_waits_for_a_writer_in_flight_and_then_returns_its_message() {
    let (db, mut first) = fresh_database("all_waits");
    write(&mut first, "early-1", "T");
    let mut late = db_connect(&db);
    late.batch_execute("BEGIN").unwrap();
    write(&mut late, "late-1", "T");
    // A message drawn after the late one commits first.
    write(&mut first, "other-1", "T");
    let (pid, read) = read_all_in_background(&db);
    let mut observer = db_connect(&db);
    wait_until_waiting_on_a_transaction(&mut observer, pid);
    // The writer's lock held by an idle transaction: the reader still waits.
    thread::sleep(Duration::from_millis(100));
    assert!(!read.is_finished());
    late.batch_execute("COMMIT").unwrap();
    assert_eq!(
        read.join().unwrap(),
        [
            (1, "early-1".to_string()),
            (2, "late-1".to_string()),
            (3, "other-1".to_string())
        ]
    );
}

#[test]
fn a_writer_in_flight_that_rolls_back_leaves_a_hole_the_reader_goes_past() {
    let (db, mut first) = fresh_database("all_rollback");
    let mut late = db_connect(&db);
    late.batch_execute("BEGIN").unwrap();
    write(&mut late, "late-1", "T");
    write(&mut first, "other-1", "T");
    let (pid, read) = read_all_in_background(&db);
    wait_until_waiting_on_a_transaction(&mut db_connect(&db), pid);
    late.batch_execute("ROLLBACK").unwrap();
    assert_eq!(read.join().unwrap(), [(2, "other-1".to_string())]);
}

#[test]
fn a_read_with_nothing_new_returns_at_once_without_waiting() {
    let (db, mut first) = fresh_database("all_nothing_new");
    write(&mut first, "early-1", "T");
    let mut late = db_connect(&db);
    late.batch_execute("BEGIN").unwrap();
    write(&mut late, "late-1", "T");
    // Nothing from position 2 is visible: the reader has nothing to miss
    // and asks again from 2.
    let mut reader = db_connect(&db);
    reader.batch_execute("SET lock_timeout = '50ms'").unwrap();
    let rows = reader
        .query("SELECT * FROM message_store.get_all_messages(2)", &[])
        .unwrap();
    assert_eq!(rows.len(), 0);
    // From 1 it must wait for the late writer; lock_timeout bounds the
    // wait with Postgres' own error.
    assert_error(
        reader.query("SELECT * FROM message_store.get_all_messages(1)", &[]),
        "55P03",
        "canceling statement due to lock timeout",
    );
    late.batch_execute("ROLLBACK").unwrap();
}

#[test]
fn locks_that_are_no_writer_in_flight_do_not_delay_a_read() {
    let (db, mut first) = fresh_database("all_other_locks");
    write(&mut first, "early-1", "T");
    // A session lock held by an idle session, outside any transaction; a
    // shared transaction lock; a lock on two int4 keys.
    let mut idle = db_connect(&db);
    idle.batch_execute("SELECT pg_advisory_lock(42)").unwrap();
    let mut shared = db_connect(&db);
    shared
        .batch_execute("BEGIN; SELECT pg_advisory_xact_lock_shared(43)")
        .unwrap();
    let mut pair = db_connect(&db);
    pair.batch_execute("BEGIN; SELECT pg_advisory_xact_lock(1, 2)")
        .unwrap();
    // The reader's own transaction's writes and locks.
    let mut reader = db_connect(&db);
    reader.batch_execute("SET lock_timeout = '2s'").unwrap();
    reader.batch_execute("BEGIN").unwrap();
    write(&mut reader, "own-1", "T");
    let rows: Vec<String> = reader
        .query(
            "SELECT stream_name FROM message_store.get_all_messages()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(rows, ["early-1", "own-1"]);
    reader.batch_execute("COMMIT").unwrap();
    shared.batch_execute("COMMIT").unwrap();
    pair.batch_execute("COMMIT").unwrap();
}

#[test]
fn a_transaction_whose_snapshot_is_taken_once_is_refused() {
    let (_db, mut client) = fresh_database("all_isolation");
    write(&mut client, "early-1", "T");
    for level in ["REPEATABLE READ", "SERIALIZABLE"] {
        client
            .batch_execute(&format!("BEGIN ISOLATION LEVEL {level}"))
            .unwrap();
        assert_error(
            client.query("SELECT * FROM message_store.get_all_messages()", &[]),
            "0A000",
            &format!(
                "get_all_messages runs only at READ COMMITTED, and this transaction is {level}: \
                 its snapshot, taken once, would not see the messages that writers still in \
                 flight commit below the positions it returns"
            ),
        );
        client.batch_execute("ROLLBACK").unwrap();
    }
    // READ UNCOMMITTED runs as READ COMMITTED.
    client
        .batch_execute("BEGIN ISOLATION LEVEL READ UNCOMMITTED")
        .unwrap();
    let rows = client
        .query("SELECT * FROM message_store.get_all_messages()", &[])
        .unwrap();
    assert_eq!(rows.len(), 1);
    client.batch_execute("COMMIT").unwrap();
}

#[test]
fn a_sequence_that_hands_out_values_in_ranges_is_refused() {
    let (_db, mut client) = fresh_database("all_sequence_cache");
    write(&mut client, "early-1", "T");
    client
        .batch_execute("ALTER SEQUENCE message_store.messages_global_position_seq CACHE 20")
        .unwrap();
    assert_error(
        client.query("SELECT * FROM message_store.get_all_messages()", &[]),
        "55000",
        "get_all_messages needs message_store.messages_global_position_seq to hand out its \
         values in order, one at a time (CACHE 1), and its cache is 20",
    );
    client
        .batch_execute("ALTER SEQUENCE message_store.messages_global_position_seq CACHE 1")
        .unwrap();
    let rows = client
        .query("SELECT * FROM message_store.get_all_messages()", &[])
        .unwrap();
    assert_eq!(rows.len(), 1);
}

#[test]
fn arguments_take_the_category_readers_rules() {
    let (_db, mut client) = fresh_database("all_arguments");
    for stream in ["a-1", "b-1", "a-2"] {
        write(&mut client, stream, "T");
    }
    let positions = |client: &mut Client, sql: &str| -> Vec<i64> {
        client
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    };
    let all = "SELECT global_position FROM message_store.get_all_messages";
    assert_eq!(positions(&mut client, &format!("{all}()")), [1, 2, 3]);
    assert_eq!(positions(&mut client, &format!("{all}(2)")), [2, 3]);
    assert_eq!(positions(&mut client, &format!("{all}(1, 2)")), [1, 2]);
    assert_eq!(
        positions(&mut client, &format!("{all}(NULL, NULL, NULL)")),
        [1, 2, 3]
    );
    assert_eq!(
        positions(
            &mut client,
            &format!("{all}(batch_size => -1, \"position\" => 3)")
        ),
        [3]
    );
    assert_error(
        client.query(&format!("{all}(1, -2)"), &[]),
        "2201W",
        "LIMIT must not be negative",
    );
    assert_error(
        client.query(&format!("{all}(1, 10, 'stream_name = ''b-1''')"), &[]),
        "P0001",
        "Retrieval with SQL condition is not activated",
    );
    client
        .batch_execute("SET message_store.sql_condition = on")
        .unwrap();
    assert_eq!(
        positions(
            &mut client,
            &format!("{all}(1, 10, 'stream_name = ''b-1''')")
        ),
        [2]
    );
    assert_error(
        client.query(&format!("{all}(1, 10, 'true) OR (true')"), &[]),
        "42601",
        "SQL condition must be one boolean expression: \")\" would close a parenthesis the \
         condition did not open",
    );
    // The same columns as the other readers.
    let row = client
        .query_one(
            "SELECT id::text, stream_name, type, position, global_position, data, metadata, \
             time IS NOT NULL FROM message_store.get_all_messages(3, 1)",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(1), "a-2");
    assert_eq!(row.get::<_, i64>(3), 0);
    assert_eq!(row.get::<_, i64>(4), 3);
    assert_eq!(row.get::<_, String>(5), "{}");
    assert_eq!(row.get::<_, Option<String>>(6), None);
    assert!(row.get::<_, bool>(7));
}

/// On a hot standby the primary's locks are not visible, so the call
/// cannot know which writers are in flight: it is refused, while the
/// category reader works there.
#[test]
fn on_a_hot_standby_it_is_refused() {
    let primary = ThrowawayCluster::start("all-primary", &[]);
    let mut writer = primary.connect("postgres");
    writer
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    write(&mut writer, "replicated-1", "T");
    let standby = ThrowawayCluster::standby_of(&primary, "all-standby");
    let mut reader = standby.connect("postgres");
    write(&mut writer, "replicated-2", "T");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let replayed: i64 = reader
            .query_one("SELECT count(*) FROM message_store.messages", &[])
            .unwrap()
            .get(0);
        if replayed == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby replayed {replayed} of 2"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let in_recovery: bool = reader
        .query_one("SELECT pg_is_in_recovery()", &[])
        .unwrap()
        .get(0);
    assert!(in_recovery);
    assert_error(
        reader.query("SELECT * FROM message_store.get_all_messages()", &[]),
        "0A000",
        "get_all_messages cannot run on a standby: the primary's writers still in flight, \
         which it waits for, are not visible during recovery; read every category on the \
         primary",
    );
    let rows = reader
        .query(
            "SELECT global_position FROM message_store.get_category_messages('replicated')",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 2);
    // The same call on the primary reads both.
    let rows = writer
        .query("SELECT * FROM message_store.get_all_messages()", &[])
        .unwrap();
    assert_eq!(rows.len(), 2);
}
