//! `get_all_messages` on SQLite while other processes write: SQLite's
//! writers are serialised (one write transaction at a time), so global
//! position order is commit order, and a reader polling from the last
//! global position it saw + 1 receives every committed message exactly once
//! and in order. Three Python writer processes write in BEGIN IMMEDIATE
//! transactions that sleep between their insert and their commit and roll
//! back one in eight; a reader in this process polls the file.
//! (The sleeps keep each transaction open while the reader polls.)

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use message_store_sqlite_tests::{library_path, open};

const WRITERS: usize = 3;
const TRANSACTIONS: usize = 40;

const WRITER: &str = r#"
import random, sqlite3, sys, time, uuid
lib, path, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
conn = sqlite3.connect(path, timeout=60, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(lib)
rng = random.Random(writer)
for t in range(count):
    conn.execute("BEGIN IMMEDIATE")
    for i in range(rng.randrange(1, 4)):
        conn.execute("SELECT write_message(?, ?, 'Late', '{}')",
                     (str(uuid.uuid4()), "late%d-%d" % (writer, t % 3))).fetchone()
    time.sleep(rng.random() * 0.02)
    conn.execute("ROLLBACK" if rng.randrange(8) == 0 else "COMMIT")
"#;

#[test]
fn a_reader_polling_get_all_messages_receives_every_commit_once_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let conn = open(&db);
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // The store exists before the writers race for it.
    conn.query_row(
        "SELECT write_message('00000000-0000-4000-8000-000000000001', 'first-1', 'T', '{}')",
        [],
        |_| Ok(()),
    )
    .unwrap();
    let mut children: Vec<_> = (0..WRITERS)
        .map(|w| {
            Command::new("/usr/bin/python3")
                .args(["-c", WRITER])
                .arg(library_path())
                .arg(&db)
                .arg(w.to_string())
                .arg(TRANSACTIONS.to_string())
                .stderr(Stdio::piped())
                .spawn()
                .expect("python3")
        })
        .collect();
    let mut seen: Vec<(i64, String)> = Vec::new();
    let mut read = conn
        .prepare("SELECT global_position, id FROM get_all_messages(?1, 5)")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let finished = children
            .iter_mut()
            .all(|child| child.try_wait().unwrap().is_some());
        let next = seen.last().map_or(1, |(position, _)| position + 1);
        let batch: Vec<(i64, String)> = read
            .query_map([next], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        if batch.is_empty() {
            if finished {
                break;
            }
            assert!(Instant::now() < deadline, "the writers did not finish");
            std::thread::sleep(Duration::from_micros(500));
        }
        seen.extend(batch);
    }
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let committed: Vec<(i64, String)> = conn
        .prepare("SELECT global_position, id FROM messages ORDER BY global_position")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        committed.len() > WRITERS * TRANSACTIONS / 2,
        "{}",
        committed.len()
    );
    // A rolled-back transaction's positions are handed out again: the
    // AUTOINCREMENT counter rolls back with it, so no hole is left.
    assert!(committed.windows(2).all(|pair| pair[1].0 == pair[0].0 + 1));
    assert_eq!(seen, committed);
}
