//! SQLite has no notification between processes. The cheap way for a
//! consumer to wait for another process's write: read `PRAGMA data_version`
//! in a loop on its own connection. The value changes when another
//! connection commits to the file, and not when this connection writes; a
//! change means: read from your position again.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use message_store_sqlite_tests::{library_path, open};
use rusqlite::Connection;

const COUNT: i64 = 20;

fn data_version(conn: &Connection) -> i64 {
    conn.query_row("PRAGMA data_version", [], |row| row.get(0))
        .unwrap()
}

/// The consumer's read: the category's messages from `position`, as
/// (global position, data).
fn read_from(conn: &Connection, position: i64) -> Vec<(i64, String)> {
    let mut statement = conn
        .prepare("SELECT global_position, data FROM get_category_messages('change', ?1, 100)")
        .unwrap();
    statement
        .query_map([position], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_waiter_sees_each_commit_of_another_process_and_not_its_own_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let waiter = open(&db);
    let mode: String = waiter
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // The store is made by the first write, before the writer starts.
    waiter
        .query_row(
            "SELECT write_message('00000000-0000-4000-8000-000000000000', 'other-1', 'Own', '{}')",
            [],
            |row| row.get::<_, i64>(0),
        )
        .unwrap();

    // Its own writes leave the waiter's data_version as it is.
    let mut version = data_version(&waiter);
    for n in 1..=3 {
        waiter
            .query_row(
                "SELECT write_message(?1, 'other-1', 'Own', '{}')",
                [format!("00000000-0000-4000-8000-00000000000{n}")],
                |row| row.get::<_, i64>(0),
            )
            .unwrap();
        assert_eq!(data_version(&waiter), version);
    }

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hosts/change_writer.py");
    let writer = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(library_path())
        .arg(&db)
        .arg(COUNT.to_string())
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");

    // The consumer loop: wait for data_version to change, then read from
    // the position after the last message read.
    let mut position = 1;
    let mut changes = 0;
    let mut read = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while read.len() < COUNT as usize {
        assert!(
            Instant::now() < deadline,
            "the waiter saw {changes} changes and read {} messages in 60 s",
            read.len()
        );
        let now = data_version(&waiter);
        if now == version {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        version = now;
        changes += 1;
        let messages = read_from(&waiter, position);
        // The writer waits for each commit to be seen before the next: one
        // change, one new message.
        assert_eq!(
            messages
                .iter()
                .map(|(_, data)| data.as_str())
                .collect::<Vec<_>>(),
            // Data as the store gives it back (Postgres' jsonb text).
            [format!(r#"{{"n": {changes}}}"#)],
            "change {changes}"
        );
        position = messages.last().unwrap().0 + 1;
        read.extend(messages);
        std::fs::write(dir.path().join(format!("seen-{changes}")), b"").unwrap();
    }
    let output = writer.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the writer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(changes, COUNT);
    // The messages read are every message the writer wrote, once each, at
    // the positions after the waiter's own four.
    assert_eq!(
        read.iter()
            .map(|(position, _)| *position)
            .collect::<Vec<_>>(),
        (5..5 + COUNT).collect::<Vec<_>>()
    );
    // Nothing more: no change while nothing is committed.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(data_version(&waiter), version);
}
