//! Batch writes under concurrency on Postgres (issue 15).
//!
//! - Eight sessions batch into one category at once (`write_messages` and
//!   `write_batch`, some with an expected version, some refused for a
//!   stored id) while two category readers poll from their last global
//!   position + 1. A reader fails the test the moment a global position
//!   appears at or below one it already read (it counts the category's
//!   rows at or below its last position after every poll), and at the end
//!   each reader holds exactly the committed messages, in order. Then:
//!   positions 0..n-1 in every stream, each acknowledged call's messages at
//!   consecutive positions of their stream ending at the positions it
//!   returned, in input order, global positions rising in input order,
//!   every message as sent, and nothing of a refused call stored.
//! - Two sessions call `write_batch` many times with entries of the same
//!   two categories in opposite orders, each in a transaction that sleeps
//!   after the call, with `deadlock_timeout` at its lowest (1 ms): no call
//!   fails (a deadlock would be 40P01), because the locks are taken in one
//!   order whatever the input's.
//!
//! Negative controls, kept here because they are cheap: the same
//! opposite-order loop on category locks taken in input order (plain
//! `acquire_lock` calls, and a PL/pgSQL `write_batch` that writes its
//! entries one `write_messages` at a time) does deadlock; and the reader's
//! check catches a row that commits below what a reader already read
//! (an INSERT that skipped the category lock).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use message_store_pg_tests::{connect, fresh_database, new_id};
use postgres::Client;
use serde_json::{json, Value};

const CATEGORY: &str = "batchConc";
const WRITERS: usize = 8;
const CALLS: usize = 40;
const MOST_MESSAGES: u64 = 50;
const STREAMS: u64 = 6;
const READERS: usize = 2;

/// A small xorshift generator: the writers' choices need no quality. The
/// seed is printed when a check fails.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[derive(Clone, Debug)]
struct Message {
    id: String,
    data: Value,
    metadata: Option<Value>,
    /// `metadata` is NULL: sent as JSON `null` rather than left out.
    null_key: bool,
}

impl Message {
    fn new(rng: &mut Rng, writer: usize, call: usize, entry: usize, i: usize) -> Message {
        let metadata = (rng.below(3) == 0).then(|| json!({"correlationStreamName": "other-1"}));
        Message {
            id: new_id(),
            data: json!({"writer": writer, "call": call, "entry": entry, "i": i}),
            metadata,
            null_key: rng.below(2) == 0,
        }
    }

    fn json(&self) -> Value {
        let mut message = json!({"id": self.id, "type": "Batched", "data": self.data});
        match (&self.metadata, self.null_key) {
            (Some(metadata), _) => message["metadata"] = metadata.clone(),
            (None, true) => message["metadata"] = Value::Null,
            (None, false) => {}
        }
        message
    }
}

#[derive(Debug)]
enum Function {
    /// `write_messages`; `read_version` is the stream's version read just
    /// before, when the call passed an expected version.
    Messages {
        expected_version: Option<i64>,
        read_version: Option<i64>,
    },
    Batch,
}

#[derive(Debug)]
enum Outcome {
    Acknowledged(Vec<i64>),
    Refused { sqlstate: String, message: String },
}

#[derive(Debug)]
struct Call {
    writer: usize,
    number: usize,
    function: Function,
    entries: Vec<(String, Vec<Message>)>,
    /// The id of an acknowledged message the call sends again (its last).
    reused: Option<String>,
    outcome: Outcome,
}

fn stream_version(client: &mut Client, stream: &str) -> Option<i64> {
    client
        .query_one("SELECT message_store.stream_version($1)", &[&stream])
        .unwrap()
        .get(0)
}

/// Splits `total` messages over `entries` entries, at least one each.
fn split(rng: &mut Rng, total: usize, entries: usize) -> Vec<usize> {
    let mut sizes = vec![1; entries];
    for _ in entries..total {
        sizes[rng.below(entries as u64) as usize] += 1;
    }
    sizes
}

fn outcome<T>(result: Result<T, postgres::Error>, positions: impl Fn(T) -> Vec<i64>) -> Outcome {
    match result {
        Ok(value) => Outcome::Acknowledged(positions(value)),
        Err(e) => match e.as_db_error() {
            Some(db) => Outcome::Refused {
                sqlstate: db.code().code().to_string(),
                message: db.message().to_string(),
            },
            None => panic!("not a server error: {e}"),
        },
    }
}

/// One session's calls: write_messages without and with an expected
/// version, write_batch over two to four streams (a stream may be named
/// twice), and one call in ten sends an id it already had acknowledged.
fn writer(db: &str, writer: usize, seed: u64, start: &Barrier) -> Vec<Call> {
    let mut client = connect(&format!("dbname={db}"));
    let mut rng = Rng(seed);
    let mut acknowledged: Vec<String> = Vec::new();
    let mut calls = Vec::new();
    start.wait();
    for number in 0..CALLS {
        let total = 1 + rng.below(MOST_MESSAGES) as usize;
        let choice = rng.below(10);
        let reused = (choice == 9 && !acknowledged.is_empty())
            .then(|| acknowledged[rng.below(acknowledged.len() as u64) as usize].clone());
        let stream = |rng: &mut Rng| format!("{CATEGORY}-{}", rng.below(STREAMS));
        // 6 to 8, and half of 9: write_batch.
        let (function, sizes) = if (6..9).contains(&choice) || (choice == 9 && rng.below(2) == 0) {
            let entries = (2 + rng.below(3) as usize).min(total);
            (Function::Batch, split(&mut rng, total, entries))
        } else {
            (
                Function::Messages {
                    expected_version: None,
                    read_version: None,
                },
                vec![total],
            )
        };
        let mut entries: Vec<(String, Vec<Message>)> = sizes
            .iter()
            .enumerate()
            .map(|(entry, &size)| {
                let messages = (0..size)
                    .map(|i| Message::new(&mut rng, writer, number, entry, i))
                    .collect();
                (stream(&mut rng), messages)
            })
            .collect();
        if let Some(id) = &reused {
            entries.last_mut().unwrap().1.last_mut().unwrap().id = id.clone();
        }
        let messages_json =
            |messages: &[Message]| Value::Array(messages.iter().map(Message::json).collect());
        let (function, outcome) = match function {
            Function::Messages { .. } => {
                let (name, messages) = &entries[0];
                // 4: the version just read; 5: one behind it, which
                // another session's write may make right again.
                let read_version = (choice == 4 || choice == 5)
                    .then(|| stream_version(&mut client, name).unwrap_or(-1));
                let expected_version =
                    read_version.map(|v| if choice == 5 { (v - 1).max(-1) } else { v });
                let result = client.query_one(
                    "SELECT message_store.write_messages($1, $2, $3)",
                    &[name, &messages_json(messages), &expected_version],
                );
                (
                    Function::Messages {
                        expected_version,
                        read_version,
                    },
                    outcome(result, |row| vec![row.get::<_, i64>(0)]),
                )
            }
            Function::Batch => {
                let batch = Value::Array(
                    entries
                        .iter()
                        .map(|(name, messages)| {
                            json!({"stream_name": name, "expected_version": null,
                                   "messages": messages_json(messages)})
                        })
                        .collect(),
                );
                let result = client.query_one("SELECT message_store.write_batch($1)", &[&batch]);
                (
                    Function::Batch,
                    outcome(result, |row| row.get::<_, Vec<i64>>(0)),
                )
            }
        };
        if let Outcome::Acknowledged(_) = outcome {
            acknowledged.extend(
                entries
                    .iter()
                    .flat_map(|(_, m)| m.iter().map(|m| m.id.clone())),
            );
        }
        calls.push(Call {
            writer,
            number,
            function,
            entries,
            reused,
            outcome,
        });
    }
    calls
}

/// Polls `category` from its last global position + 1 until `done` was set
/// before a poll that found nothing new. After every poll it counts the
/// category's rows at or below the last position read: more than it read
/// means a row committed below a position it had already passed, which a
/// consumer would never see. Returns what it read, in order.
fn reader(
    db: &str,
    category: &str,
    done: &AtomicBool,
    last_read: &AtomicI64,
) -> Result<Vec<(i64, String)>, String> {
    let mut client = connect(&format!("dbname={db}"));
    let mut read: Vec<(i64, String)> = Vec::new();
    let mut last = 0_i64;
    loop {
        let finished = done.load(Ordering::SeqCst);
        let rows = client
            .query(
                "SELECT global_position, id::text
                 FROM message_store.get_category_messages($1, $2, 100)",
                &[&category, &(last + 1)],
            )
            .unwrap();
        for row in &rows {
            let global_position: i64 = row.get(0);
            if global_position <= last {
                return Err(format!(
                    "global position {global_position} read after {last}"
                ));
            }
            last = global_position;
            read.push((global_position, row.get(1)));
        }
        last_read.store(last, Ordering::SeqCst);
        let below: i64 = client
            .query_one(
                "SELECT count(*) FROM message_store.messages
                 WHERE message_store.category(stream_name) = $1 AND global_position <= $2",
                &[&category, &last],
            )
            .unwrap()
            .get(0);
        if below != read.len() as i64 {
            return Err(format!(
                "{below} messages at or below global position {last}, {} read",
                read.len()
            ));
        }
        if rows.is_empty() {
            if finished {
                return Ok(read);
            }
            thread::sleep(Duration::from_millis(1));
        }
    }
}

struct Stored {
    stream: String,
    position: i64,
    global_position: i64,
    message_type: String,
    data: Value,
    metadata: Option<Value>,
}

#[test]
fn eight_sessions_batching_into_one_category() {
    let (db, mut client) = fresh_database("batch_concurrency");
    let seed = uuid::Uuid::new_v4().as_u128() as u64 | 1;
    let start = Arc::new(Barrier::new(WRITERS + READERS));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (db, start, done) = (db.clone(), start.clone(), done.clone());
            thread::spawn(move || {
                start.wait();
                reader(&db, CATEGORY, &done, &AtomicI64::new(0))
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (db, start) = (db.clone(), start.clone());
            let seed = seed.wrapping_add(w as u64 * 0x9e37_79b9_7f4a_7c15) | 1;
            thread::spawn(move || writer(&db, w, seed, &start))
        })
        .collect();
    let calls: Vec<Call> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    done.store(true, Ordering::SeqCst);
    let read: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let context = format!("seed {seed}");

    let rows = client
        .query(
            "SELECT id::text, stream_name, position, global_position, type, data::text,
                    metadata::text
             FROM message_store.messages ORDER BY global_position",
            &[],
        )
        .unwrap();
    let committed: Vec<(i64, String)> = rows.iter().map(|r| (r.get(3), r.get(0))).collect();
    for (i, read) in read.into_iter().enumerate() {
        let read = read.unwrap_or_else(|e| panic!("reader {i} ({context}): {e}"));
        assert!(
            read == committed,
            "reader {i} ({context}) did not read every committed message in order"
        );
    }
    let mut stored: HashMap<String, Stored> = HashMap::new();
    let mut streams: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in &rows {
        let stream: String = row.get(1);
        streams.entry(stream.clone()).or_default().push(row.get(2));
        let metadata: Option<String> = row.get(6);
        stored.insert(
            row.get(0),
            Stored {
                stream,
                position: row.get(2),
                global_position: row.get(3),
                message_type: row.get(4),
                data: serde_json::from_str(row.get(5)).unwrap(),
                metadata: metadata.map(|m| serde_json::from_str(&m).unwrap()),
            },
        );
    }
    assert_eq!(stored.len(), rows.len(), "ids are unique");
    // The sessions wrote at once: in global order, the rows change writer
    // often, not once per writer.
    let writers: Vec<Value> = committed
        .iter()
        .map(|(_, id)| stored[id].data["writer"].clone())
        .collect();
    let writer_changes = writers.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        writer_changes >= 10 * WRITERS,
        "{context}: {writer_changes} changes of writer in global order"
    );
    for (stream, positions) in &streams {
        let n = positions.len() as i64;
        assert_eq!(
            positions,
            &(0..n).collect::<Vec<_>>(),
            "{stream} ({context})"
        );
    }

    let mut acknowledged = 0;
    let (mut batches, mut version_refusals, mut duplicate_refusals) = (0, 0, 0);
    for call in &calls {
        let what = format!("writer {} call {} ({context})", call.writer, call.number);
        match &call.outcome {
            Outcome::Acknowledged(last_positions) => {
                assert!(
                    call.reused.is_none(),
                    "{what} reused a stored id and was acknowledged"
                );
                assert_eq!(last_positions.len(), call.entries.len(), "{what}");
                let mut previous_global = 0;
                for ((stream, messages), &last) in call.entries.iter().zip(last_positions) {
                    let first = last - messages.len() as i64 + 1;
                    for (i, message) in messages.iter().enumerate() {
                        let row = stored
                            .get(&message.id)
                            .unwrap_or_else(|| panic!("{what}: {} is not stored", message.id));
                        assert_eq!(
                            (row.stream.as_str(), row.position),
                            (stream.as_str(), first + i as i64),
                            "{what}: message {i} of {stream}"
                        );
                        assert!(
                            row.global_position > previous_global,
                            "{what}: global positions rise in input order"
                        );
                        previous_global = row.global_position;
                        assert_eq!(row.message_type, "Batched", "{what}");
                        assert_eq!(row.data, message.data, "{what}");
                        assert_eq!(row.metadata, message.metadata, "{what}");
                    }
                    acknowledged += messages.len();
                }
                match call.function {
                    Function::Messages {
                        expected_version: Some(expected),
                        ..
                    } => assert_eq!(first_position(call, &stored), expected + 1, "{what}"),
                    Function::Batch => batches += 1,
                    _ => {}
                }
            }
            Outcome::Refused { sqlstate, message } => {
                for (_, messages) in &call.entries {
                    for m in messages {
                        if Some(&m.id) != call.reused.as_ref() {
                            assert!(
                                !stored.contains_key(&m.id),
                                "{what}: refused, yet {} is stored",
                                m.id
                            );
                        }
                    }
                }
                if call.reused.is_some() {
                    assert_eq!(
                        (sqlstate.as_str(), message.as_str()),
                        (
                            "23505",
                            "duplicate key value violates unique constraint \"messages_id\""
                        ),
                        "{what}"
                    );
                    duplicate_refusals += 1;
                    continue;
                }
                let Function::Messages {
                    expected_version: Some(expected),
                    read_version: Some(read),
                } = call.function
                else {
                    panic!("{what} failed: {sqlstate} {message}");
                };
                let stream = &call.entries[0].0;
                let prefix = format!(
                    "Wrong expected version: {expected} (Stream: {stream}, Stream Version: "
                );
                let version: i64 = message
                    .strip_prefix(&prefix)
                    .and_then(|rest| rest.strip_suffix(')'))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{what}: {sqlstate} {message}"));
                assert_eq!(sqlstate, "P0001", "{what}");
                assert!(version >= read && version != expected, "{what}: {message}");
                version_refusals += 1;
            }
        }
    }
    assert_eq!(
        rows.len(),
        acknowledged,
        "{context}: rows stored and messages acknowledged"
    );
    eprintln!(
        "{context}: {acknowledged} messages; {batches} write_batch calls acknowledged, \
         {version_refusals} calls refused for their version, {duplicate_refusals} for a stored id; \
         {writer_changes} changes of writer in global order"
    );
    // The run did what it is meant to test.
    assert!(batches > 0 && version_refusals > 0 && duplicate_refusals > 0,
        "{context}: {batches} write_batch calls acknowledged, {version_refusals} refused for their version, {duplicate_refusals} for a stored id");
}

/// The position of a single-entry call's first message.
fn first_position(call: &Call, stored: &HashMap<String, Stored>) -> i64 {
    stored[&call.entries[0].1[0].id].position
}

/// Two sessions, each running `body(client, reversed, iteration)` in a
/// loop with `deadlock_timeout` at 1 ms; every failed iteration is rolled
/// back and kept as (session, iteration, SQLSTATE, message, how long the
/// failing statement took). With `stop_at_first`, both stop once one fails.
type Failure = (usize, usize, String, String, Duration);

fn opposite_orders(
    db: &str,
    iterations: usize,
    stop_at_first: bool,
    body: fn(&mut Client, bool, usize, &mut Instant) -> Result<(), postgres::Error>,
) -> Vec<Failure> {
    let start = Arc::new(Barrier::new(2));
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let sessions: Vec<_> = (0..2)
        .map(|session| {
            let (db, start, stop, failures) = (
                db.to_string(),
                start.clone(),
                stop.clone(),
                failures.clone(),
            );
            thread::spawn(move || {
                let mut client = connect(&format!("dbname={db}"));
                client
                    .batch_execute("SET deadlock_timeout = '1ms'")
                    .unwrap();
                let shown: String = client
                    .query_one("SHOW deadlock_timeout", &[])
                    .unwrap()
                    .get(0);
                assert_eq!(shown, "1ms");
                start.wait();
                for iteration in 0..iterations {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let mut sent = Instant::now();
                    if let Err(e) = body(&mut client, session == 1, iteration, &mut sent) {
                        let took = sent.elapsed();
                        let db_error = e.as_db_error().unwrap_or_else(|| panic!("{e}"));
                        failures.lock().unwrap().push((
                            session,
                            iteration,
                            db_error.code().code().to_string(),
                            db_error.message().to_string(),
                            took,
                        ));
                        client.batch_execute("ROLLBACK").unwrap();
                        if stop_at_first {
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    for session in sessions {
        session.join().unwrap();
    }
    Arc::try_unwrap(failures).unwrap().into_inner().unwrap()
}

const DEADLOCK_ITERATIONS: usize = 200;
const ENTRY_MESSAGES: usize = 10;

/// `[A-1, B-1]` for the first session, `[B-1, A-1]` for the second.
fn opposite_batch(reversed: bool, iteration: usize) -> Value {
    let entry = |stream: &str| {
        let messages: Vec<Value> = (0..ENTRY_MESSAGES)
            .map(|i| json!({"id": new_id(), "type": "Crossed", "data": {"iteration": iteration, "i": i}}))
            .collect();
        json!({"stream_name": stream, "expected_version": null, "messages": messages})
    };
    let (first, second) = if reversed {
        ("deadlockB-1", "deadlockA-1")
    } else {
        ("deadlockA-1", "deadlockB-1")
    };
    json!([entry(first), entry(second)])
}

fn batch_in_transaction(
    client: &mut Client,
    function: &str,
    reversed: bool,
    iteration: usize,
    sent: &mut Instant,
) -> Result<(), postgres::Error> {
    client.batch_execute("BEGIN")?;
    *sent = Instant::now();
    client.query_one(
        &format!("SELECT {function}($1)"),
        &[&opposite_batch(reversed, iteration)],
    )?;
    client.batch_execute("SELECT pg_sleep(0.001)")?;
    client.batch_execute("COMMIT")
}

#[test]
fn write_batch_in_opposite_orders_never_deadlocks() {
    let (db, mut client) = fresh_database("batch_deadlock");
    let failures = opposite_orders(&db, DEADLOCK_ITERATIONS, false, |c, reversed, i, sent| {
        batch_in_transaction(c, "message_store.write_batch", reversed, i, sent)
    });
    assert_eq!(failures, Vec::new());
    let n = (2 * DEADLOCK_ITERATIONS * ENTRY_MESSAGES) as i64;
    for stream in ["deadlockA-1", "deadlockB-1"] {
        let (count, last): (i64, Option<i64>) = {
            let row = client
                .query_one(
                    "SELECT count(*), max(position) FROM message_store.messages WHERE stream_name = $1",
                    &[&stream],
                )
                .unwrap();
            (row.get(0), row.get(1))
        };
        assert_eq!((count, last), (n, Some(n - 1)), "{stream}");
    }
}

/// Negative control: the loop above sees a deadlock when the category locks
/// are taken in input order, one `acquire_lock` at a time with a sleep
/// between. The first deadlock is reported within well under a second (the
/// server's default `deadlock_timeout`), so the 1 ms setting applies.
#[test]
fn negative_control_locks_in_input_order_deadlock() {
    let (db, _client) = fresh_database("batch_deadlock_control");
    let failures = opposite_orders(&db, 20, true, |c, reversed, _, sent| {
        let (first, second) = if reversed {
            ("deadlockB-1", "deadlockA-1")
        } else {
            ("deadlockA-1", "deadlockB-1")
        };
        c.batch_execute("BEGIN")?;
        c.query_one("SELECT message_store.acquire_lock($1)", &[&first])?;
        c.batch_execute("SELECT pg_sleep(0.005)")?;
        *sent = Instant::now();
        c.query_one("SELECT message_store.acquire_lock($1)", &[&second])?;
        c.batch_execute("COMMIT")
    });
    assert_deadlocked(&failures);
    let fastest = failures.iter().map(|f| f.4).min().unwrap();
    assert!(
        fastest < Duration::from_millis(500),
        "deadlock reported after {fastest:?}"
    );
}

/// Negative control of the batch loop itself: a `write_batch` that writes
/// its entries in input order, one `write_message` (and so one category
/// lock) at a time, deadlocks in the very loop the real one passes.
#[test]
fn negative_control_batch_in_input_order_deadlocks() {
    let (db, mut client) = fresh_database("batch_deadlock_input_order");
    client
        .batch_execute(
            "CREATE FUNCTION input_order_write_batch(batch jsonb) RETURNS void
             LANGUAGE plpgsql AS $$
             DECLARE entry jsonb; message jsonb;
             BEGIN
               FOR entry IN SELECT value FROM jsonb_array_elements(batch) LOOP
                 FOR message IN SELECT value FROM jsonb_array_elements(entry->'messages') LOOP
                   PERFORM message_store.write_message(message->>'id', entry->>'stream_name',
                     message->>'type', message->'data');
                 END LOOP;
               END LOOP;
             END $$",
        )
        .unwrap();
    let failures = opposite_orders(&db, DEADLOCK_ITERATIONS, true, |c, reversed, i, sent| {
        batch_in_transaction(c, "input_order_write_batch", reversed, i, sent)
    });
    assert_deadlocked(&failures);
}

#[track_caller]
fn assert_deadlocked(failures: &[Failure]) {
    assert!(!failures.is_empty(), "no deadlock");
    for (session, iteration, sqlstate, message, _) in failures {
        assert_eq!(
            (sqlstate.as_str(), message.as_str()),
            ("40P01", "deadlock detected"),
            "session {session} iteration {iteration}"
        );
    }
}

/// Negative control of the readers' check: a row inserted without the
/// category lock draws its global position, then commits after another
/// session's write of the category that a reader has already read. The
/// reader reports it.
#[test]
fn negative_control_reader_sees_a_row_commit_below_its_position() {
    let (db, mut client) = fresh_database("batch_reader_control");
    let done = Arc::new(AtomicBool::new(false));
    let last_read = Arc::new(AtomicI64::new(0));
    let reader = {
        let (db, done, last_read) = (db.clone(), done.clone(), last_read.clone());
        thread::spawn(move || reader(&db, "readerCtl", &done, &last_read))
    };
    let mut unlocked = connect(&format!("dbname={db}"));
    unlocked.batch_execute("BEGIN").unwrap();
    let skipped: i64 = unlocked
        .query_one(
            "INSERT INTO message_store.messages (id, stream_name, type, position, data)
             VALUES (gen_random_uuid(), 'readerCtl-1', 'Unlocked', 0, '{}')
             RETURNING global_position",
            &[],
        )
        .unwrap()
        .get(0);
    client
        .query_one(
            "SELECT message_store.write_message($1, 'readerCtl-2', 'Locked', '{}')",
            &[&new_id()],
        )
        .unwrap();
    let written: i64 = client
        .query_one(
            "SELECT max(global_position) FROM message_store.messages",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(written > skipped);
    let deadline = Instant::now() + Duration::from_secs(10);
    while last_read.load(Ordering::SeqCst) < written {
        assert!(Instant::now() < deadline, "the reader never read {written}");
        thread::sleep(Duration::from_millis(1));
    }
    unlocked.batch_execute("COMMIT").unwrap();
    done.store(true, Ordering::SeqCst);
    assert_eq!(
        reader.join().unwrap(),
        Err(format!(
            "2 messages at or below global position {written}, 1 read"
        ))
    );
}
