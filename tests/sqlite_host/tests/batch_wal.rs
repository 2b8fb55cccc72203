//! Batch writes from several processes into one WAL-mode database file
//! (issue 15): four Python processes (`tests/hosts/batch_writer.py`) each
//! make 100 calls of `write_messages` and `write_batch` into shared
//! streams, in autocommit and inside BEGIN IMMEDIATE transactions, some
//! with an expected version and some refused for an id already stored
//! (those fail after the messages before it were inserted). Each process
//! prints every call before sending it and its outcome after. Then the
//! file's rows, read with plain SQL, are checked against the calls: no
//! (stream, position) twice, positions 0..n-1 in every stream, every
//! acknowledged call wholly stored (each entry's messages at consecutive
//! positions of its stream ending at the position the call returned,
//! global positions rising in input order, data and metadata as sent),
//! nothing of a refused call stored, and no row no call sent. The same
//! writers SIGKILLed mid-run leave every call, answered or not, stored
//! wholly or not at all.
//!
//! Negative control (kept, it takes a second): a deliberately wrong batch
//! writer (one `write_message` per message in autocommit) killed midway
//! leaves a partly stored batch, and the same check reports it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use message_store_sqlite_tests::library_path;
use serde_json::Value;

const WRITERS: usize = 4;
const CALLS: usize = 100;

#[derive(Debug)]
enum Outcome {
    Acknowledged(Vec<i64>),
    Refused(String),
}

/// A call as its writer printed it before sending it, and what came of it.
#[derive(Debug)]
struct Call {
    name: String,
    function: String,
    /// Each entry's stream and messages, as sent.
    entries: Vec<(String, Vec<Value>)>,
    expected_version: Option<i64>,
    read_version: Option<i64>,
    reused: Option<String>,
    outcome: Option<Outcome>,
}

impl Call {
    fn ids(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .flat_map(|(_, messages)| messages.iter().map(|m| m["id"].as_str().unwrap()))
    }

    /// Its ids, but the one it sent again.
    fn own_ids(&self) -> impl Iterator<Item = &str> {
        self.ids()
            .filter(move |id| Some(*id) != self.reused.as_deref())
    }
}

struct Row {
    stream: String,
    position: i64,
    global_position: i64,
    message_type: String,
    data: Value,
    metadata: Option<Value>,
}

fn writer_command(db: &Path, writer: usize, calls: usize, dir: &Path) -> Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hosts/batch_writer.py");
    let mut command = Command::new("/usr/bin/python3");
    command
        .arg(script)
        .arg(library_path())
        .arg(db)
        .arg(writer.to_string())
        .arg(calls.to_string())
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A new database file in WAL mode. Switching to WAL needs the file to
/// itself, which the busy timeout does not wait for: it is switched once,
/// before the writers start (the mode stays with the file).
fn wal_file(dir: &Path) -> PathBuf {
    let db = dir.join("store.db");
    let mode: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    db
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Adds a writer's lines to `calls`, in the order it printed them.
/// A last line cut by a kill (no newline) is left out: its call was sent,
/// or not, and never answered.
fn read_log(text: &str, calls: &mut Vec<Call>, index: &mut HashMap<String, usize>) {
    let whole = text.rfind('\n').map_or("", |end| &text[..end]);
    for line in whole.lines() {
        let line = json(line);
        if let Some(name) = line["try"].as_str() {
            let entries = line["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|entry| {
                    (
                        entry[0].as_str().unwrap().to_string(),
                        entry[1].as_array().unwrap().clone(),
                    )
                })
                .collect();
            index.insert(name.to_string(), calls.len());
            calls.push(Call {
                name: name.to_string(),
                function: line["function"].as_str().unwrap().to_string(),
                entries,
                expected_version: line["expected_version"].as_i64(),
                read_version: line["read_version"].as_i64(),
                reused: line["reused"].as_str().map(str::to_string),
                outcome: None,
            });
        } else if let Some(name) = line["ack"].as_str() {
            let positions = line["positions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_i64().unwrap())
                .collect();
            calls[index[name]].outcome = Some(Outcome::Acknowledged(positions));
        } else if let Some(name) = line["refused"].as_str() {
            let error = line["error"].as_str().unwrap().to_string();
            calls[index[name]].outcome = Some(Outcome::Refused(error));
        } else {
            assert!(line["held"].is_string(), "{line}");
        }
    }
}

/// Every message of the file, by id, read with plain SQL (no extension).
fn stored_rows(db: &Path) -> Vec<(String, Row)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, stream_name, position, global_position, type, data, metadata
             FROM messages ORDER BY global_position",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |row| {
            let metadata: Option<String> = row.get(6)?;
            Ok((
                row.get(0)?,
                Row {
                    stream: row.get(1)?,
                    position: row.get(2)?,
                    global_position: row.get(3)?,
                    message_type: row.get(4)?,
                    data: json(&row.get::<_, String>(5)?),
                    metadata: metadata.map(|m| json(&m)),
                },
            ))
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

#[derive(Debug, Default, PartialEq)]
struct Summary {
    acknowledged_calls: usize,
    acknowledged_batches: usize,
    acknowledged_messages: usize,
    version_refusals: usize,
    duplicate_refusals: usize,
}

/// Checks the stored rows against the calls; the first thing wrong is the
/// error.
fn check(calls: &[Call], rows: &[(String, Row)]) -> Result<Summary, String> {
    let mut stored: HashMap<&str, &Row> = HashMap::new();
    let mut places = HashSet::new();
    let mut streams: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (id, row) in rows {
        if stored.insert(id, row).is_some() {
            return Err(format!("{id} is stored twice"));
        }
        if !places.insert((&row.stream, row.position)) {
            return Err(format!(
                "{} position {} is stored twice",
                row.stream, row.position
            ));
        }
        streams.entry(&row.stream).or_default().push(row.position);
    }
    for (stream, positions) in &streams {
        if *positions != (0..positions.len() as i64).collect::<Vec<_>>() {
            return Err(format!(
                "{stream}: positions in global order are {positions:?}"
            ));
        }
    }
    let sent: HashSet<&str> = calls.iter().flat_map(Call::ids).collect();
    if let Some((id, _)) = rows.iter().find(|(id, _)| !sent.contains(id.as_str())) {
        return Err(format!("{id} is stored but no call sent it"));
    }

    let mut summary = Summary::default();
    for call in calls {
        let name = format!("call {} ({})", call.name, call.function);
        let own = call.own_ids().count();
        let own_stored = call.own_ids().filter(|id| stored.contains_key(id)).count();
        match &call.outcome {
            None if own_stored == 0 => {}
            None if own_stored < own => {
                return Err(format!(
                    "{name} partly stored: {own_stored} of {own} messages"
                ))
            }
            // Sent and never answered, yet wholly stored: as acknowledged,
            // without the positions.
            None => check_stored(&name, call, None, &stored)?,
            Some(Outcome::Acknowledged(positions)) => {
                if call.reused.is_some() {
                    return Err(format!("{name} sent a stored id and was acknowledged"));
                }
                check_stored(&name, call, Some(positions), &stored)?;
                summary.acknowledged_calls += 1;
                summary.acknowledged_messages += own;
                if call.function == "write_batch" {
                    summary.acknowledged_batches += 1;
                }
            }
            Some(Outcome::Refused(error)) => {
                if own_stored > 0 {
                    return Err(format!(
                        "{name} was refused ({error}), yet {own_stored} of its {own} messages are stored"
                    ));
                }
                expected_refusal(&name, call, error)?;
                if call.reused.is_some() {
                    summary.duplicate_refusals += 1;
                } else {
                    summary.version_refusals += 1;
                }
            }
        }
    }
    Ok(summary)
}

/// An acknowledged call's messages: each entry at consecutive positions of
/// its stream, ending at the position the call returned for it (`None`:
/// not known), global positions rising in input order, as sent.
fn check_stored(
    name: &str,
    call: &Call,
    positions: Option<&Vec<i64>>,
    stored: &HashMap<&str, &Row>,
) -> Result<(), String> {
    if let Some(positions) = positions {
        if positions.len() != call.entries.len() {
            return Err(format!(
                "{name} returned {positions:?} for {} entries",
                call.entries.len()
            ));
        }
    }
    let mut previous_global = 0;
    for (e, (stream, messages)) in call.entries.iter().enumerate() {
        let mut next = None;
        for (i, message) in messages.iter().enumerate() {
            let id = message["id"].as_str().unwrap();
            let row = stored
                .get(id)
                .ok_or_else(|| format!("{name}: entry {e} message {i} ({id}) is not stored"))?;
            let first = *next.get_or_insert(match positions {
                Some(positions) => positions[e] - messages.len() as i64 + 1,
                None => row.position,
            });
            let expected = first + i as i64;
            if (&row.stream, row.position) != (stream, expected) {
                return Err(format!(
                    "{name}: entry {e} message {i} is at {} position {}, not {stream} position {expected}",
                    row.stream, row.position
                ));
            }
            if row.global_position <= previous_global {
                return Err(format!(
                    "{name}: entry {e} message {i} has global position {}, after {previous_global}",
                    row.global_position
                ));
            }
            previous_global = row.global_position;
            let metadata = message.get("metadata").filter(|m| !m.is_null());
            if row.message_type != message["type"]
                || row.data != message["data"]
                || row.metadata.as_ref() != metadata
            {
                return Err(format!(
                    "{name}: entry {e} message {i} is stored as {} {} {:?}",
                    row.message_type, row.data, row.metadata
                ));
            }
        }
    }
    if let (Some(expected), Some(positions)) = (call.expected_version, positions) {
        let first = positions[0] - call.entries[0].1.len() as i64 + 1;
        if first != expected + 1 {
            return Err(format!(
                "{name}: written at {first} with expected version {expected}"
            ));
        }
    }
    Ok(())
}

/// A refusal is for a stored id the call sent again, or for a stale
/// expected version; anything else is an error.
fn expected_refusal(name: &str, call: &Call, error: &str) -> Result<(), String> {
    if call.reused.is_some() {
        return match error {
            "duplicate key value violates unique constraint \"messages_id\"" => Ok(()),
            _ => Err(format!("{name} sent a stored id and was refused: {error}")),
        };
    }
    let (Some(expected), Some(read)) = (call.expected_version, call.read_version) else {
        return Err(format!("{name} was refused: {error}"));
    };
    let stream = &call.entries[0].0;
    let prefix = format!("Wrong expected version: {expected} (Stream: {stream}, Stream Version: ");
    let version: Option<i64> = error
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|v| v.parse().ok());
    match version {
        // Streams only grow: the version at the write is at least the one read.
        Some(version) if version >= read && version != expected => Ok(()),
        _ => Err(format!("{name} was refused: {error}")),
    }
}

/// A writer's printed lines go to a file: a pipe that fills while the test
/// waits for another writer would stop this one, perhaps holding the
/// database's write lock.
fn log_path(dir: &Path, writer: usize) -> PathBuf {
    dir.join(format!("writer-{writer}.log"))
}

fn spawn(db: &Path, writer: usize, calls: usize, dir: &Path, broken: bool) -> Child {
    let mut command = writer_command(db, writer, calls, dir);
    if broken {
        command.arg("broken");
    } else {
        command.stdout(std::fs::File::create(log_path(dir, writer)).unwrap());
    }
    command.spawn().expect("python3")
}

#[test]
fn four_processes_batching_into_one_wal_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = wal_file(dir.path());
    let children: Vec<Child> = (0..WRITERS)
        .map(|w| spawn(&db, w, CALLS, dir.path(), false))
        .collect();
    // The store is made by the first write; every writer races for it too.
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(dir.path().join("go"), b"").unwrap();
    // Every writer is waited for before any is judged, so the report shows
    // the writer that failed first.
    let outputs: Vec<_> = children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    let failures: Vec<String> = outputs
        .iter()
        .enumerate()
        .filter(|(_, output)| !output.status.success())
        .map(|(w, output)| {
            format!(
                "writer {w}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "writers failed:\n{}",
        failures.join("\n")
    );
    let (mut calls, mut index) = (Vec::new(), HashMap::new());
    for w in 0..WRITERS {
        let log = std::fs::read_to_string(log_path(dir.path(), w)).unwrap();
        read_log(&log, &mut calls, &mut index);
    }
    assert_eq!(calls.len(), WRITERS * CALLS);
    let unanswered: Vec<&str> = calls
        .iter()
        .filter(|c| c.outcome.is_none())
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(unanswered, Vec::<&str>::new());

    let rows = stored_rows(&db);
    let summary = check(&calls, &rows).unwrap_or_else(|e| panic!("{e}"));
    // The writers ran at once: in global order, the rows change writer
    // often, not once per writer.
    let writer_changes = rows
        .windows(2)
        .filter(|pair| pair[0].1.data["writer"] != pair[1].1.data["writer"])
        .count();
    eprintln!("{summary:?}, {writer_changes} changes of writer in global order");
    assert!(
        writer_changes >= 10 * WRITERS,
        "{writer_changes} changes of writer"
    );
    assert_eq!(rows.len(), summary.acknowledged_messages);
    // The run did what it is meant to test.
    assert!(
        summary.acknowledged_batches > 0
            && summary.version_refusals > 0
            && summary.duplicate_refusals > 0,
        "{summary:?}"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

/// Four writers SIGKILLed while they batch, several calls sent and never
/// answered among them: each such call is stored wholly or not at all, as
/// is every other, and the file is sound. A kill can fall while every
/// writer is between calls; such a round proves less, so it is checked
/// like the others and the writers run again on a new file, up to ten
/// rounds, until a kill finds a call under way.
#[test]
fn four_processes_killed_while_batching_leave_no_batch_in_part() {
    for round in 1..=10 {
        let unanswered = kill_round();
        if unanswered > 0 {
            return;
        }
        eprintln!("round {round}: the kill found no call under way");
    }
    panic!("in ten rounds, no kill found a call under way");
}

/// The last whole line of a writer's log, if it is a call sent and not
/// yet answered.
fn sent_and_unanswered(log: &str) -> bool {
    let whole = log.rfind('\n').map_or("", |end| &log[..end]);
    whole
        .lines()
        .last()
        .is_some_and(|line| line.starts_with("{\"try\""))
}

/// One run of four writers killed mid-run; checks the file and returns
/// how many calls were sent and never answered.
fn kill_round() -> usize {
    let dir = tempfile::tempdir().unwrap();
    let db = wal_file(dir.path());
    std::fs::write(dir.path().join("go"), b"").unwrap();
    let mut children: Vec<Child> = (0..WRITERS)
        .map(|w| spawn(&db, w, 1_000_000, dir.path(), false))
        .collect();
    let logs = || -> Vec<String> {
        (0..WRITERS)
            .map(|w| std::fs::read_to_string(log_path(dir.path(), w)).unwrap())
            .collect()
    };
    // Until every writer has had calls answered (the loading of Python
    // and the library takes a while), and then until one has a call sent
    // and not answered, so that the kill most likely falls inside it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let logs = logs();
        if logs.iter().all(|log| log.matches("\"ack\"").count() >= 20)
            && logs.iter().any(|log| sent_and_unanswered(log))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the writers did not write"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for child in &mut children {
        child.kill().unwrap();
    }
    for mut child in children {
        child.wait().unwrap();
    }
    let (mut calls, mut index) = (Vec::new(), HashMap::new());
    for log in logs() {
        read_log(&log, &mut calls, &mut index);
    }
    let unanswered = calls.iter().filter(|c| c.outcome.is_none()).count();
    let rows = stored_rows(&db);
    let summary = check(&calls, &rows).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{summary:?}, {unanswered} calls unanswered at the kill");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    unanswered
}

/// The check above, on what a batch writer that is not atomic leaves when
/// it is killed midway: one `write_message` per message in autocommit,
/// SIGKILLed after 3 of 6.
#[test]
fn negative_control_a_batch_written_message_by_message_and_killed_is_partly_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = wal_file(dir.path());
    std::fs::write(dir.path().join("go"), b"").unwrap();
    let mut child = spawn(&db, 0, 1, dir.path(), true);
    let mut log = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    while !log.contains("\"held\"") {
        let before = log.len();
        stdout.read_line(&mut log).unwrap();
        if log.len() == before {
            let output = child.wait_with_output().unwrap();
            panic!(
                "the broken writer ended: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut calls, mut index) = (Vec::new(), HashMap::new());
    read_log(&log, &mut calls, &mut index);
    assert_eq!(
        check(&calls, &stored_rows(&db)),
        Err("call 0.0 (write_messages) partly stored: 3 of 6 messages".to_string())
    );
}
