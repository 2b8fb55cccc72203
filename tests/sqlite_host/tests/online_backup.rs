//! An online backup of a WAL-mode store file while other processes write
//! to it. Three Python processes loading the built library write all the
//! while (`write_message`, `write_messages` and `write_batch`, a few
//! milliseconds apart, every call in autocommit, a checkpoint every 100
//! pages of WAL) while the test takes 15 copies of the file in the two ways
//! the README shows:
//!
//! - `VACUUM INTO '<file>'`, from the sqlite3 CLI without the extension
//!   (the README's one-liner) and from a connection with it loaded: the
//!   store's schema uses only SQLite's own functions, so the extension is
//!   not needed;
//! - SQLite's online backup API, from Python's `sqlite3.Connection.backup`
//!   (all pages in one step, its default), without the extension.
//!
//! Once the writers have stopped, every copy is judged against the store:
//! `PRAGMA integrity_check` is `ok`; the extension's readers
//! (`get_category_messages`, `get_stream_messages`) on the copy return its
//! rows; the copy holds the store's rows up to its highest global position,
//! the same in every column, and none is missing below it (a prefix in
//! global-position order); each stream's positions run 0..n-1; and every
//! call is in the copy with all its messages or not at all. Each copy holds
//! more messages than the one before and every writer was still writing
//! after it, so the copies were taken from a file being written.
//!
//! Negative controls: a copy that passed, altered (a message deleted from
//! the middle of a stream, a stream's last message deleted, the store cut
//! inside a call, one column changed), fails with the error of the check
//! meant for it; and plain file copies made while the writers run (the
//! database file, then its `-wal` file, as `cp store.db store.db-wal
//! backup/` does) are caught as damaged whenever a checkpoint and a WAL
//! restart fall between the two copies.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use message_store_sqlite_tests::{library_path, open};

const WRITERS: usize = 3;
const BACKUPS: usize = 15;
/// Plain file copies in the negative control.
const COPIES: usize = 30;
const STREAMS: [&str; 6] = [
    "backupA-0",
    "backupA-1",
    "backupA-2",
    "backupA-3",
    "backupB-0",
    "backupB-1",
];
const CATEGORIES: [&str; 2] = ["backupA", "backupB"];

/// A writer: `python3 -c WRITER LIB DB WRITER DIR STREAMS` (STREAMS
/// separated by commas). Writes one call after another, each in autocommit,
/// until the file DIR/stop exists, then prints `CALLS MESSAGES`. A message's data names its writer, its call and its
/// place in the call, so a copy can be checked call by call.
const WRITER: &str = r#"
import json, os, random, sqlite3, sys, time, uuid
lib, path, writer, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
streams = sys.argv[5].split(",")
conn = sqlite3.connect(path, timeout=60, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(lib)
conn.enable_load_extension(False)
# A checkpoint every 100 pages of WAL, not 1000: many checkpoints, and WAL
# restarts after them, fall while a copy is taken.
conn.execute("PRAGMA wal_autocheckpoint = 100")
rng = random.Random()

def messages(call, entry, count):
    return [{"id": str(uuid.uuid4()), "type": "Copied",
             "data": {"writer": writer, "call": call, "entry": entry, "i": i},
             "metadata": rng.choice([None, {"correlationStreamName": "other-1"}])}
            for i in range(count)]

calls = written = 0
deadline = time.monotonic() + 120
while not os.path.exists(os.path.join(sync, "stop")):
    if time.monotonic() > deadline:
        sys.exit("writer %d: not stopped after 120 s" % writer)
    # Without a pause the writer that just committed would take the lock
    # back at once, and the writers would write in turns.
    time.sleep(rng.random() * 0.003)
    kind = rng.randrange(3)
    if kind == 0:
        data = {"writer": writer, "call": calls, "entry": 0, "i": 0}
        conn.execute("SELECT write_message(gen_random_uuid(), ?, 'Copied', ?)",
                     (rng.choice(streams), json.dumps(data))).fetchone()
        count = 1
    elif kind == 1:
        batch = messages(calls, 0, rng.randrange(2, 30))
        conn.execute("SELECT write_messages(?, ?)",
                     (rng.choice(streams), json.dumps(batch))).fetchone()
        count = len(batch)
    else:
        batch = [{"stream_name": rng.choice(streams), "expected_version": None,
                  "messages": messages(calls, e, rng.randrange(1, 10))}
                 for e in range(rng.randrange(2, 5))]
        conn.execute("SELECT write_batch(?)", (json.dumps(batch),)).fetchone()
        count = sum(len(entry["messages"]) for entry in batch)
    calls += 1
    written += count
print(calls, written)
"#;

/// The backup API from Python: `python3 -c BACKUP DB COPY`, the README's
/// snippet. `backup` copies every page in one step by default, under one
/// read transaction of the source.
const BACKUP: &str = r#"
import sqlite3, sys
source = sqlite3.connect(sys.argv[1], timeout=5)
target = sqlite3.connect(sys.argv[2])
source.backup(target)
target.close()
source.close()
"#;

/// The two tests' writers would share the machine's two cores: they run
/// one after the other.
static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A message as stored, every column.
#[derive(Debug, PartialEq)]
struct Row {
    global_position: i64,
    id: String,
    stream_name: String,
    message_type: String,
    position: i64,
    data: String,
    metadata: Option<String>,
    time: String,
}

impl Row {
    /// The writer and the call it came from.
    fn call(&self) -> Result<(i64, i64), String> {
        let data: serde_json::Value = serde_json::from_str(&self.data)
            .map_err(|e| format!("global position {}: data {e}", self.global_position))?;
        match (data["writer"].as_i64(), data["call"].as_i64()) {
            (Some(writer), Some(call)) => Ok((writer, call)),
            _ => Err(format!(
                "global position {}: data {} names no call",
                self.global_position, self.data
            )),
        }
    }
}

const COLUMNS: &str = "global_position, id, stream_name, type, position, data, metadata, time";

fn query_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    argument: Option<&str>,
) -> Result<Vec<Row>, String> {
    let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
    let read = |row: &rusqlite::Row| {
        Ok(Row {
            global_position: row.get(0)?,
            id: row.get(1)?,
            stream_name: row.get(2)?,
            message_type: row.get(3)?,
            position: row.get(4)?,
            data: row.get(5)?,
            metadata: row.get(6)?,
            time: row.get(7)?,
        })
    };
    let rows = match argument {
        Some(argument) => stmt.query_map([argument], read),
        None => stmt.query_map([], read),
    };
    rows.and_then(|rows| rows.collect())
        .map_err(|e| format!("{sql}: {e}"))
}

/// Every message of a file, in global-position order, read with plain SQL
/// (no extension).
fn stored_rows(db: &Path) -> Result<Vec<Row>, String> {
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    query_rows(
        &conn,
        &format!("SELECT {COLUMNS} FROM messages ORDER BY global_position"),
        None,
    )
}

/// Messages and calls of a copy that passed.
#[derive(Debug)]
struct Judged {
    messages: usize,
    calls: usize,
}

/// Judges a copy against the store's rows after the writers stopped; the
/// first thing wrong is the error.
fn judge(copy: &Path, store: &[Row]) -> Result<Judged, String> {
    let plain = rusqlite::Connection::open(copy).map_err(|e| e.to_string())?;
    let integrity: Vec<String> = plain
        .prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(|e| format!("integrity_check: {e}"))?;
    if integrity != ["ok"] {
        // One report line per problem; the first few name it.
        let problems: Vec<&str> = integrity.iter().flat_map(|row| row.lines()).collect();
        return Err(format!(
            "integrity_check: {} ({} lines)",
            problems[..problems.len().min(3)].join("; "),
            problems.len()
        ));
    }
    let rows = query_rows(
        &plain,
        &format!("SELECT {COLUMNS} FROM messages ORDER BY global_position"),
        None,
    )?;
    drop(plain);

    // The extension's readers on the copy see exactly its rows.
    let conn = open(copy);
    let mut by_category = Vec::new();
    for category in CATEGORIES {
        by_category.extend(query_rows(
            &conn,
            &format!("SELECT {COLUMNS} FROM get_category_messages(?1, 1, -1)"),
            Some(category),
        )?);
    }
    by_category.sort_by_key(|row| row.global_position);
    if by_category != rows {
        return Err(format!(
            "get_category_messages returned {} rows, the table holds {}",
            by_category.len(),
            rows.len()
        ));
    }
    for stream in STREAMS {
        let read = query_rows(
            &conn,
            &format!("SELECT {COLUMNS} FROM get_stream_messages(?1, 0, -1)"),
            Some(stream),
        )?;
        let positions: Vec<i64> = read.iter().map(|row| row.position).collect();
        if positions != (0..read.len() as i64).collect::<Vec<_>>() {
            return Err(format!("{stream}: positions {positions:?}"));
        }
        let stored: Vec<&Row> = rows.iter().filter(|r| r.stream_name == stream).collect();
        if read.iter().collect::<Vec<_>>() != stored {
            return Err(format!(
                "get_stream_messages({stream}) differs from the table's rows"
            ));
        }
    }
    if let Some(row) = rows
        .iter()
        .find(|row| !STREAMS.contains(&&*row.stream_name))
    {
        return Err(format!("a message in stream {}", row.stream_name));
    }

    // A prefix of the store in global-position order.
    let last = rows.last().map_or(0, |row| row.global_position);
    let below: Vec<&Row> = store
        .iter()
        .take_while(|row| row.global_position <= last)
        .collect();
    for i in 0..rows.len().max(below.len()) {
        match (rows.get(i), below.get(i)) {
            (Some(copied), Some(&stored)) if copied == stored => {}
            (Some(copied), Some(&stored)) if copied.global_position == stored.global_position => {
                return Err(format!(
                    "global position {} differs: {copied:?} in the copy, {stored:?} in the store",
                    copied.global_position
                ))
            }
            (Some(copied), Some(&stored)) if stored.global_position < copied.global_position => {
                return Err(format!(
                    "global position {} is missing from the copy, whose highest is {last}",
                    stored.global_position
                ))
            }
            (None, Some(&stored)) => {
                return Err(format!(
                    "global position {} is missing from the copy, whose highest is {last}",
                    stored.global_position
                ))
            }
            (Some(copied), _) => {
                return Err(format!(
                    "global position {} is in the copy, not in the store",
                    copied.global_position
                ))
            }
            (None, None) => unreachable!(),
        }
    }

    // No call in part.
    let mut in_store: HashMap<(i64, i64), usize> = HashMap::new();
    for row in store {
        *in_store.entry(row.call()?).or_default() += 1;
    }
    let mut in_copy: BTreeMap<(i64, i64), usize> = BTreeMap::new();
    for row in &rows {
        *in_copy.entry(row.call()?).or_default() += 1;
    }
    for ((writer, call), copied) in &in_copy {
        let stored = in_store.get(&(*writer, *call)).copied().unwrap_or(0);
        if *copied != stored {
            return Err(format!(
                "writer {writer} call {call}: {copied} of its {stored} messages are in the copy"
            ));
        }
    }
    Ok(Judged {
        messages: rows.len(),
        calls: in_copy.len(),
    })
}

/// A new database file in WAL mode (switched once, before the writers
/// start: the switch needs the file to itself).
fn wal_file(dir: &Path) -> PathBuf {
    let db = dir.join("store.db");
    let mode: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    db
}

/// Writer processes on one store file; killed if the test fails before it
/// stops them.
struct Writers {
    dir: PathBuf,
    children: Vec<Child>,
}

impl Writers {
    /// Starts them and waits until they have written.
    fn start(dir: &Path, db: &Path) -> Writers {
        let children = (0..WRITERS)
            .map(|writer| {
                Command::new("/usr/bin/python3")
                    .arg("-c")
                    .arg(WRITER)
                    .arg(library_path())
                    .arg(db)
                    .arg(writer.to_string())
                    .arg(dir)
                    .arg(STREAMS.join(","))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("python3")
            })
            .collect();
        let writers = Writers {
            dir: dir.to_path_buf(),
            children,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while stored_rows(db).map_or(0, |rows| rows.len()) < 500 {
            assert!(Instant::now() < deadline, "the writers did not write");
            std::thread::sleep(Duration::from_millis(50));
        }
        writers
    }

    /// Every writer is still writing.
    fn assert_running(&mut self) {
        for (writer, child) in self.children.iter_mut().enumerate() {
            if let Some(status) = child.try_wait().unwrap() {
                let mut stderr = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
                panic!("writer {writer} ended ({status}): {}", stderr.trim());
            }
        }
    }

    /// Stops them; the calls and messages they wrote in all.
    fn stop(mut self) -> (usize, usize) {
        std::fs::write(self.dir.join("stop"), b"").unwrap();
        let outputs: Vec<Output> = std::mem::take(&mut self.children)
            .into_iter()
            .map(|child| child.wait_with_output().unwrap())
            .collect();
        let (mut calls, mut messages) = (0, 0);
        for (writer, output) in outputs.iter().enumerate() {
            assert!(
                output.status.success(),
                "writer {writer}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            let printed = String::from_utf8_lossy(&output.stdout);
            let counts: Vec<usize> = printed
                .split_whitespace()
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(counts.len(), 2, "writer {writer} printed {printed}");
            calls += counts[0];
            messages += counts[1];
        }
        (calls, messages)
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// A path as an SQL string literal.
fn literal(path: &Path) -> String {
    format!("'{}'", path.to_str().unwrap().replace('\'', "''"))
}

#[derive(Clone, Copy, Debug)]
enum Way {
    /// `sqlite3 store.db ".timeout 5000" "VACUUM INTO '…'"`, no extension.
    VacuumIntoFromTheCli,
    /// `VACUUM INTO` on a connection of the test's, the extension loaded.
    VacuumIntoWithTheExtension,
    /// Python's `sqlite3.Connection.backup`, no extension.
    BackupApiFromPython,
}

fn back_up(way: Way, db: &Path, copy: &Path) {
    match way {
        Way::VacuumIntoFromTheCli => run(Command::new("sqlite3")
            .arg(db)
            .arg(".timeout 5000")
            .arg(format!("VACUUM INTO {}", literal(copy)))),
        Way::VacuumIntoWithTheExtension => {
            let conn = open(db);
            conn.busy_timeout(Duration::from_secs(5)).unwrap();
            conn.execute_batch(&format!("VACUUM INTO {}", literal(copy)))
                .unwrap();
        }
        Way::BackupApiFromPython => run(Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(BACKUP)
            .arg(db)
            .arg(copy)),
    }
}

/// The salt in the -wal file's header, new each time a writer starts the
/// WAL over after a checkpoint.
fn wal_salt(db: &Path) -> [u8; 8] {
    let mut wal = std::fs::File::open(db.with_extension("db-wal")).unwrap();
    let mut header = [0; 32];
    std::io::Read::read_exact(&mut wal, &mut header).unwrap();
    header[16..24].try_into().unwrap()
}

/// The store after the writers stopped: it holds what they wrote.
fn final_rows(db: &Path, calls: usize, messages: usize) -> Vec<Row> {
    let store = stored_rows(db).unwrap();
    assert_eq!(store.len(), messages);
    let mut seen: Vec<(i64, i64)> = store.iter().map(|row| row.call().unwrap()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), calls);
    store
}

#[test]
fn vacuum_into_and_the_backup_api_copy_a_prefix_while_processes_write() {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let db = wal_file(dir.path());
    let mut writers = Writers::start(dir.path(), &db);
    let ways = [
        Way::VacuumIntoFromTheCli,
        Way::VacuumIntoWithTheExtension,
        Way::BackupApiFromPython,
    ];
    let mut copies = Vec::new();
    let mut salts = Vec::new();
    for n in 0..BACKUPS {
        salts.push(wal_salt(&db));
        let way = ways[n % ways.len()];
        let copy = dir.path().join(format!("backup-{n}.db"));
        let started = Instant::now();
        back_up(way, &db, &copy);
        writers.assert_running();
        eprintln!("backup {n}: {way:?} in {:?}", started.elapsed());
        copies.push((way, copy));
        std::thread::sleep(Duration::from_millis(150));
    }
    let (calls, messages) = writers.stop();
    let store = final_rows(&db, calls, messages);
    // Checkpoints ran and the WAL was started over while the backups were
    // taken.
    salts.sort();
    salts.dedup();
    eprintln!("{} WAL salts seen", salts.len());
    assert!(salts.len() >= 3, "{} WAL salts seen", salts.len());

    let (mut previous, mut previous_calls) = (0, 0);
    for (n, (way, copy)) in copies.iter().enumerate() {
        let judged = judge(copy, &store).unwrap_or_else(|e| panic!("backup {n} ({way:?}): {e}"));
        eprintln!("backup {n} ({way:?}): {judged:?}");
        assert!(
            judged.messages > previous && judged.calls > previous_calls,
            "backup {n} ({way:?}) holds {judged:?}, the one before {previous} messages of {previous_calls} calls"
        );
        (previous, previous_calls) = (judged.messages, judged.calls);
    }
    assert!(
        previous < store.len(),
        "nothing was written after the last backup"
    );
    // A copy made by VACUUM INTO is a rollback-journal file; the backup API
    // copies the source's pages as they are, WAL mode included.
    for (way, copy) in &copies {
        let mode: String = rusqlite::Connection::open(copy)
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        let expected = match way {
            Way::BackupApiFromPython => "wal",
            _ => "delete",
        };
        assert_eq!(mode, expected, "{way:?}");
    }
    eprintln!("{calls} calls, {messages} messages in the store");

    // Negative controls: a backup that passed, altered four ways, each
    // caught by the check meant for it.
    let (_, good) = &copies[BACKUPS / 2];
    let rows = stored_rows(good).unwrap();
    let altered = |name: &str, sql: &str| {
        let path = dir.path().join(format!("{name}.db"));
        std::fs::copy(good, &path).unwrap();
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        judge(&path, &store)
    };
    // A message from the middle of a stream: a gap in its positions.
    let row = rows[rows.len() / 2..]
        .iter()
        .find(|r| {
            rows.iter()
                .any(|o| o.stream_name == r.stream_name && o.position > r.position)
        })
        .unwrap();
    let stream: Vec<i64> = rows
        .iter()
        .filter(|r| r.stream_name == row.stream_name && r.global_position != row.global_position)
        .map(|r| r.position)
        .collect();
    assert_eq!(
        altered(
            "middle",
            &format!(
                "DELETE FROM messages WHERE global_position = {}",
                row.global_position
            )
        )
        .unwrap_err(),
        format!("{}: positions {stream:?}", row.stream_name)
    );
    // A stream's last message, below the copy's highest global position:
    // the positions stay whole, the prefix does not.
    let last = rows.last().unwrap().global_position;
    let row = STREAMS
        .iter()
        .filter_map(|stream| rows.iter().rfind(|r| r.stream_name == *stream))
        .find(|r| r.global_position < last)
        .unwrap();
    assert_eq!(
        altered(
            "stream_end",
            &format!(
                "DELETE FROM messages WHERE global_position = {}",
                row.global_position
            )
        )
        .unwrap_err(),
        format!(
            "global position {} is missing from the copy, whose highest is {last}",
            row.global_position
        )
    );
    // Everything from a call's last message on: a prefix, with the call in
    // part.
    let mut sizes: BTreeMap<(i64, i64), (usize, i64)> = BTreeMap::new();
    for row in &rows {
        let size = sizes.entry(row.call().unwrap()).or_default();
        size.0 += 1;
        size.1 = row.global_position;
    }
    let (&(writer, call), &(size, end)) = sizes.iter().find(|(_, (size, _))| *size > 1).unwrap();
    assert_eq!(
        altered(
            "cut",
            &format!("DELETE FROM messages WHERE global_position >= {end}")
        )
        .unwrap_err(),
        format!(
            "writer {writer} call {call}: {} of its {size} messages are in the copy",
            size - 1
        )
    );
    // One column changed.
    let row = &rows[rows.len() / 3];
    let error = altered(
        "changed",
        &format!(
            "UPDATE messages SET type = 'Altered' WHERE global_position = {}",
            row.global_position
        ),
    )
    .unwrap_err();
    assert!(
        error.starts_with(&format!(
            "global position {} differs: ",
            row.global_position
        )),
        "{error}"
    );
}

/// Plain file copies made while the writers run: the database file, then
/// its `-wal` file, as `cp` copies them one after the other. A checkpoint
/// (which moves pages from the WAL into the database file, and after which
/// the next writer starts the WAL over from its beginning) between or during
/// the two copies leaves a copy that pairs an old database file with newer
/// WAL frames: pages from different moments.
///
/// This file is small: its two copies follow each other within a
/// millisecond and mostly pass, where a store of gigabytes takes seconds to
/// copy. Every other copy here waits 300 ms between the two, as such a copy
/// would; most of those are caught (by `integrity_check`), and the test asks
/// for one.
#[test]
fn negative_control_a_file_copy_while_processes_write_is_caught() {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let db = wal_file(dir.path());
    let wal = dir.path().join("store.db-wal");
    let mut writers = Writers::start(dir.path(), &db);
    let mut copies = Vec::new();
    for n in 0..COPIES {
        let copy = dir.path().join(format!("copy-{n}.db"));
        std::fs::copy(&db, &copy).unwrap();
        // Every other copy waits as long as copying a larger database file
        // takes before the -wal file is copied.
        let gap = Duration::from_millis(if n % 2 == 0 { 0 } else { 300 });
        std::thread::sleep(gap);
        std::fs::copy(&wal, dir.path().join(format!("copy-{n}.db-wal"))).unwrap();
        copies.push((gap, copy));
        std::thread::sleep(Duration::from_millis(50));
    }
    writers.assert_running();
    let (calls, messages) = writers.stop();
    let store = final_rows(&db, calls, messages);
    let (mut caught, mut caught_after_a_gap) = (0, 0);
    for (n, (gap, copy)) in copies.iter().enumerate() {
        match judge(copy, &store) {
            Ok(judged) => eprintln!("copy {n} ({gap:?}): passes, {judged:?}"),
            Err(e) => {
                eprintln!("copy {n} ({gap:?}): {e}");
                caught += 1;
                if !gap.is_zero() {
                    caught_after_a_gap += 1;
                }
            }
        }
    }
    eprintln!(
        "{caught} of {COPIES} copies caught, {caught_after_a_gap} of {} after a gap",
        COPIES / 2
    );
    assert!(caught_after_a_gap > 0, "no file copy was caught");
}
