//! Crash recovery: writer processes on one WAL-mode database file, killed
//! with SIGKILL mid-burst, several times, new writers starting on the same
//! file each time. Then the file is sound (`PRAGMA integrity_check`), every
//! acknowledged write is there as written, no transaction is partly stored,
//! positions have no gaps, and a new write works.
//!
//! The writers are Python processes loading the built library
//! (`tests/hosts/crash_writer.py`); each prints a line before each write and
//! acknowledges it only after the write (or its transaction's COMMIT)
//! returned. In every other round the kill finds a transaction open, its
//! writes done and its pages in the WAL; in the others it lands wherever
//! the writers are. Acknowledging a transaction's writes before its COMMIT
//! returned makes the test fail, and so does writing without a journal
//! (`journal_mode=OFF`, `synchronous=OFF`): the kills then leave indexes
//! that miss rows, duplicate positions and half transactions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use message_store_sqlite_tests::{library_path, open};
use serde_json::Value;

const WRITERS: usize = 3;
const ROUNDS: usize = 4;
/// Acknowledged writes in a round before the kill, at least (and one of
/// each writer: the lock's busy waits are not fair, one writer may wait
/// long while the others write).
const ACKNOWLEDGED: usize = 300;
const PATIENCE: Duration = Duration::from_secs(30);

/// One write as a writer sent it, and its position once acknowledged.
#[derive(Debug, Default)]
struct Attempt {
    transaction: Option<String>,
    stream: String,
    message_type: String,
    data: Value,
    metadata: Option<Value>,
    acknowledged: Option<i64>,
}

/// What the writers printed, by message id, and the transactions they held
/// open for the kill.
#[derive(Default)]
struct Log {
    attempts: HashMap<String, Attempt>,
    held: HashSet<String>,
    /// Acknowledgements in this round, by writer.
    acknowledged: Vec<usize>,
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Reads a writer's lines as they come. A line cut by the kill (no newline)
/// is left out: its write was never acknowledged.
fn read_lines(stdout: ChildStdout, writer: usize, log: Arc<Mutex<Log>>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 || !line.ends_with('\n') {
                return;
            }
            let fields: Vec<&str> = line.trim_end().splitn(7, ' ').collect();
            let mut log = log.lock().unwrap();
            match fields[..] {
                ["try", transaction, id, stream, message_type, metadata, data] => {
                    let attempt = Attempt {
                        transaction: (transaction != "-").then(|| transaction.to_string()),
                        stream: stream.to_string(),
                        message_type: message_type.to_string(),
                        data: json(data),
                        metadata: Some(json(metadata)).filter(|m| !m.is_null()),
                        acknowledged: None,
                    };
                    assert!(log.attempts.insert(id.to_string(), attempt).is_none());
                }
                ["ack", id, position] => {
                    let attempt = log.attempts.get_mut(id).expect("ack of a write never sent");
                    attempt.acknowledged = Some(position.parse().unwrap());
                    log.acknowledged[writer] += 1;
                }
                ["held", transaction] => {
                    log.held.insert(transaction.to_string());
                }
                _ => panic!("writer {writer} printed {line:?}"),
            }
        }
    })
}

fn spawn_writer(db: &Path, number: usize, writer: usize, hold: &Path) -> Child {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hosts/crash_writer.py");
    Command::new("/usr/bin/python3")
        .arg(script)
        .arg(library_path())
        .arg(db)
        .arg(format!("{number}"))
        .arg(format!("{writer}"))
        .arg(hold)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3")
}

/// Starts the writers, waits until each has written, then kills them all;
/// with `hold`, once a transaction is held open.
fn round(db: &Path, dir: &Path, number: usize, hold: bool, log: &Arc<Mutex<Log>>) {
    let hold_file: PathBuf = dir.join(format!("hold-{number}"));
    log.lock().unwrap().acknowledged = vec![0; WRITERS];
    let mut children: Vec<Child> = (0..WRITERS)
        .map(|w| spawn_writer(db, number, w, &hold_file))
        .collect();
    let readers: Vec<JoinHandle<()>> = children
        .iter_mut()
        .enumerate()
        .map(|(w, child)| read_lines(child.stdout.take().unwrap(), w, log.clone()))
        .collect();
    let alive = |children: &mut Vec<Child>| {
        for (w, child) in children.iter_mut().enumerate() {
            if let Some(status) = child.try_wait().unwrap() {
                let mut stderr = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
                panic!("writer {w} stopped before the kill ({status}): {stderr}");
            }
        }
    };
    let deadline = Instant::now() + PATIENCE;
    let written = |log: &Log| {
        log.acknowledged.iter().all(|&n| n > 0)
            && log.acknowledged.iter().sum::<usize>() >= ACKNOWLEDGED
    };
    while !written(&log.lock().unwrap()) {
        alive(&mut children);
        assert!(
            Instant::now() < deadline,
            "round {number}: writers made too few writes: {:?}",
            log.lock().unwrap().acknowledged
        );
        thread::sleep(Duration::from_millis(5));
    }
    if hold {
        let held_before = log.lock().unwrap().held.len();
        std::fs::write(&hold_file, b"").unwrap();
        while log.lock().unwrap().held.len() == held_before {
            alive(&mut children);
            assert!(
                Instant::now() < deadline,
                "round {number}: no transaction was held"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }
    alive(&mut children);
    for child in &mut children {
        child.kill().unwrap(); // SIGKILL
    }
    for child in &mut children {
        child.wait().unwrap();
    }
    for reader in readers {
        reader.join().unwrap();
    }
}

/// The stored rows: id, global position, position, stream, type, data,
/// metadata.
type Row = (
    String,
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
);

#[test]
fn acknowledged_writes_survive_sigkill_of_the_writers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    // WAL stays with the file; switching needs the file to itself, so it is
    // done once, before any writer starts.
    let mode: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");

    let log = Arc::new(Mutex::new(Log::default()));
    for number in 0..ROUNDS {
        round(&db, dir.path(), number, number % 2 == 1, &log);
    }
    let log = Arc::try_unwrap(log).ok().unwrap().into_inner().unwrap();
    let acknowledged = log
        .attempts
        .values()
        .filter(|a| a.acknowledged.is_some())
        .count();
    eprintln!(
        "{ROUNDS} kills: {acknowledged} writes acknowledged, {} sent, {} transactions held",
        log.attempts.len(),
        log.held.len()
    );
    assert_eq!(log.held.len(), ROUNDS / 2);

    // The killed writers left the WAL behind for the next opener to recover
    // (a clean close checkpoints it and removes it).
    let wal = std::fs::metadata(dir.path().join("store.db-wal")).expect("the WAL file");
    assert!(wal.len() > 0);

    let conn = open(&db);
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(integrity, ["ok"]);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");

    let rows: Vec<Row> = conn
        .prepare(
            "SELECT id, global_position, position, stream_name, type, data, metadata
             FROM messages ORDER BY global_position",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();

    // Every row is a write that was sent, as it was sent.
    let mut stored: HashMap<&str, &Row> = HashMap::new();
    for row in &rows {
        let (id, global, _, stream, message_type, data, metadata) = row;
        let attempt = log
            .attempts
            .get(id)
            .unwrap_or_else(|| panic!("a row nobody wrote: {row:?}"));
        assert_eq!(
            (
                stream,
                message_type,
                data.as_deref().map(json),
                metadata.as_deref().map(json)
            ),
            (
                &attempt.stream,
                &attempt.message_type,
                Some(attempt.data.clone()),
                attempt.metadata.clone()
            ),
            "row {global}"
        );
        assert!(stored.insert(id, row).is_none(), "{id} is stored twice");
    }

    // Every acknowledged write is there, at its position.
    let mut lost = Vec::new();
    for (id, attempt) in &log.attempts {
        if let Some(position) = attempt.acknowledged {
            match stored.get(id.as_str()) {
                Some(row) => assert_eq!((&row.3, row.2), (&attempt.stream, position), "{id}"),
                None => lost.push(format!("{id} {} {position}", attempt.stream)),
            }
        }
    }
    assert!(
        lost.is_empty(),
        "{} acknowledged writes are missing after the kills, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );

    // A transaction is there whole or not at all; a held one, not at all.
    let mut transactions: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (id, attempt) in &log.attempts {
        if let Some(transaction) = &attempt.transaction {
            let entry = transactions.entry(transaction).or_default();
            entry.0 += 1;
            entry.1 += usize::from(stored.contains_key(id.as_str()));
        }
    }
    for (transaction, (sent, kept)) in &transactions {
        assert!(
            *kept == 0 || kept == sent,
            "transaction {transaction}: {kept} of its {sent} messages are stored"
        );
    }
    for transaction in &log.held {
        assert_eq!(
            transactions[transaction.as_str()].1,
            0,
            "held transaction {transaction} is stored"
        );
    }

    // Positions of each stream are 0..n in global order; stream_version
    // and the reader agree with the table.
    let mut streams: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for row in &rows {
        streams.entry(&row.3).or_default().push(row);
    }
    for (stream, rows) in &streams {
        let positions: Vec<i64> = rows.iter().map(|r| r.2).collect();
        assert_eq!(
            positions,
            (0..rows.len() as i64).collect::<Vec<_>>(),
            "{stream}"
        );
        let version: Option<i64> = conn
            .query_row("SELECT stream_version(?1)", [stream], |r| r.get(0))
            .unwrap();
        assert_eq!(version, Some(rows.len() as i64 - 1), "{stream}");
        let read: Vec<(String, i64)> = conn
            .prepare("SELECT id, global_position FROM get_stream_messages(?1, 0, -1)")
            .unwrap()
            .query_map([stream], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<(String, i64)> = rows.iter().map(|r| (r.0.clone(), r.1)).collect();
        assert_eq!(read, expected, "{stream}");
    }

    // A new write works: the stream's next position, above every global
    // position.
    let max = rows.last().map_or(0, |r| r.1);
    let next = streams.get("crashA-0").map_or(0, |rows| rows.len() as i64);
    let position: i64 = conn
        .query_row(
            "SELECT write_message(gen_random_uuid(), 'crashA-0', 'AfterCrash', '{}')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(position, next);
    let global: i64 = conn
        .query_row(
            "SELECT global_position FROM get_last_stream_message('crashA-0')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(global > max, "{global} after {max}");
}
