//! Several processes writing one database file in WAL mode: no position is
//! lost or given twice, and expected-version conflicts are refused with the
//! same error as on Postgres.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use message_store_sqlite_tests::{library_path, open};

const WRITERS: usize = 4;
const EACH: i64 = 400;
const ROUNDS: i64 = 25;

#[test]
fn processes_hammering_one_file_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hosts/hammer.py");
    // Switching a file to WAL needs it to itself, which the busy timeout
    // does not wait for: the file is switched once, before the writers
    // start (WAL mode stays with the file).
    let mode: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let children: Vec<_> = (0..WRITERS)
        .map(|writer| {
            Command::new("/usr/bin/python3")
                .arg(&script)
                .arg(library_path())
                .arg(&db)
                .arg(writer.to_string())
                .arg(WRITERS.to_string())
                .arg(EACH.to_string())
                .arg(ROUNDS.to_string())
                .arg(dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("python3")
        })
        .collect();
    // The store is made by the first write; let every writer race for it too.
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(dir.path().join("go"), b"").unwrap();
    // Every writer is waited for before any is judged, so the report shows
    // the writer that failed first, not only the others giving up on it.
    let outputs: Vec<_> = children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    let failures: Vec<String> = outputs
        .iter()
        .enumerate()
        .filter(|(_, output)| !output.status.success())
        .map(|(writer, output)| {
            format!(
                "writer {writer}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "writers failed:\n{}",
        failures.join("\n")
    );
    let mut refused = 0;
    for output in &outputs {
        refused += String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse::<i64>()
            .expect("refused count");
    }
    let total = WRITERS as i64 * EACH;

    let conn = open(&db);
    for (stream, count) in [("hammer-1", total), ("race-1", ROUNDS)] {
        let positions: Vec<i64> = conn
            .prepare("SELECT position FROM get_stream_messages(?1, 0, -1)")
            .unwrap()
            .query_map([stream], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(positions, (0..count).collect::<Vec<_>>(), "{stream}");
    }
    // Each writer's messages are in its own order, and all are there.
    let mut by_writer: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut stmt = conn
        .prepare("SELECT json_extract(data, '$.writer'), json_extract(data, '$.i') FROM get_category_messages('hammer', 1, -1)")
        .unwrap();
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .unwrap();
    for row in rows {
        let (writer, i) = row.unwrap();
        by_writer.entry(writer).or_default().push(i);
    }
    assert_eq!(by_writer.len(), WRITERS);
    for (writer, seen) in by_writer {
        assert_eq!(seen, (0..EACH).collect::<Vec<_>>(), "writer {writer}");
    }
    let (count, distinct): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT global_position) FROM messages",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((count, distinct), (total + ROUNDS, total + ROUNDS));
    // Each race has one winner; every other writer got Message DB's error.
    assert_eq!(refused, ROUNDS * (WRITERS as i64 - 1));
}
