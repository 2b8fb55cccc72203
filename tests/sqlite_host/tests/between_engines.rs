//! Moving a store between the engines with `export_messages` and
//! `import_messages`, through the README's two shell pipelines (psql and
//! the sqlite3 CLI only), run here exactly as the README prints them:
//! Postgres → SQLite → Postgres and SQLite → Postgres → SQLite keep every
//! column of every message (ids, positions, global positions with their
//! gaps, data and metadata text, times to the microsecond), the exports
//! of source and copies are the same bytes, a pipeline run again resumes
//! and stores nothing twice, and the copies' next writes go above every
//! moved global position.
//!
//! Needs the Postgres cluster of `tests/setup.sh` (or `MESSAGE_STORE_TEST_PG`,
//! whose host, port, user and password the pipelines get as `PG*`
//! variables) and the sqlite3 CLI.

use std::path::Path;
use std::process::Command;

use message_store_sqlite_tests::{library_path, open, postgres_admin, postgres_database, rows};
use postgres::Client;

/// The value of `key` in the admin connection string, if given.
fn admin_setting(key: &str) -> Option<String> {
    postgres_admin().split_whitespace().find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

/// The README's fenced `sh` block whose first line is `first_line`.
fn readme_pipeline(first_line: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md");
    let mut blocks = readme.split("```sh\n").skip(1);
    let block = blocks
        .find(|block| block.starts_with(first_line))
        .unwrap_or_else(|| panic!("README.md has no ```sh block starting with {first_line:?}"));
    block
        .split("```")
        .next()
        .expect("a fenced block ends")
        .to_string()
}

const TO_SQLITE: &str = "# Postgres -> SQLite";
const TO_POSTGRES: &str = "# SQLite -> Postgres";

/// Runs a README pipeline in `dir` against Postgres database `db` and the
/// SQLite file `store`; returns its progress lines (stderr).
fn run_pipeline(first_line: &str, dir: &Path, db: &str, store: &Path) -> Vec<String> {
    let script = readme_pipeline(first_line);
    let mut command = Command::new("bash");
    command
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env("STORE", store)
        .env("LIB", library_path())
        .env("PGDATABASE", db);
    for (key, variable) in [
        ("host", "PGHOST"),
        ("port", "PGPORT"),
        ("user", "PGUSER"),
        ("password", "PGPASSWORD"),
    ] {
        if let Some(value) = admin_setting(key) {
            command.env(variable, value);
        }
    }
    let output = command.output().expect("bash runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{first_line} failed ({}):\n{stderr}",
        output.status
    );
    assert!(
        !dir.join("chunk.ndjson").exists(),
        "{first_line} leaves no chunk behind"
    );
    stderr.lines().map(str::to_string).collect()
}

/// Every message's eight columns as text, in global-position order, as
/// Postgres prints them.
fn postgres_rows(client: &mut Client) -> Vec<Vec<String>> {
    client
        .query(
            // Ordered by the column, not by its text (the output name).
            "SELECT id::text, stream_name, type, position::text, global_position::text, \
             data::text, metadata::text, time::text FROM message_store.messages AS m \
             ORDER BY m.global_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| {
            (0..8)
                .map(|i| {
                    row.get::<_, Option<String>>(i)
                        .unwrap_or_else(|| "NULL".to_string())
                })
                .collect()
        })
        .collect()
}

/// The same columns from a SQLite store (its `time` is Postgres' text).
fn sqlite_rows(store: &Path) -> Vec<Vec<String>> {
    rows(
        &open(store),
        "SELECT id, stream_name, type, position, global_position, data, metadata, time \
         FROM messages ORDER BY global_position",
    )
    .unwrap()
}

fn postgres_export(client: &mut Client) -> String {
    client
        .query(
            "SELECT line FROM message_store.export_messages() AS line",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get::<_, String>(0) + "\n")
        .collect()
}

fn sqlite_export(store: &Path) -> String {
    rows(&open(store), "SELECT line FROM export_messages()")
        .unwrap()
        .into_iter()
        .map(|row| row[0].clone() + "\n")
        .collect()
}

/// The data of message `n`: every kind of JSON value, nested objects and
/// arrays, text that JSON escapes and text it keeps (non-ASCII), numbers
/// past a bigint and a double's precision.
fn data(n: usize) -> String {
    match n % 7 {
        0 => format!(
            r#"{{"n": {n}, "name": "Zoë 😀 — ☃", "nested": {{"a": [1, {{"b": null}}, "c"]}}}}"#
        ),
        1 => format!(r#"{{"big": 123456789012345678901234567890, "exp": 1.5e300, "n": {n}}}"#),
        2 => r#""a \"quoted\" \\ string\twith\ncontrols \u0001""#.to_string(),
        3 => format!("[{n}, 2.50, -0, true, false, null]"),
        4 => "null".to_string(),
        5 => format!("{n}"),
        _ => format!(r#"{{"deep": {{"er": {{"est": [[["{n}"]]]}}}}}}"#),
    }
}

fn metadata(n: usize) -> Option<String> {
    match n % 4 {
        0 => None,
        1 => Some(r#"{"correlationStreamName": "other-1", "schemaVersion": "1"}"#.to_string()),
        2 => Some(format!(r#"{{"causation": {n}, "ünï": "çödé"}}"#)),
        _ => Some("{}".to_string()),
    }
}

fn stream(n: usize) -> String {
    match n % 5 {
        0 => format!("account-{}", n % 13),
        1 => format!("withdrawal-{}+retry", n % 7),
        2 => format!("ünïcode-{}", n % 3),
        3 => format!("quote\"back\\slash-{}", n % 2),
        _ => "command:position".to_string(),
    }
}

/// The time of message `n`: microseconds of every size, whole seconds,
/// and the first and last days a line holds.
fn time(n: usize) -> String {
    let day = format!(
        "2026-{:02}-{:02} {:02}:{:02}:{:02}",
        n % 12 + 1,
        n % 28 + 1,
        n % 24,
        n % 60,
        (n * 7) % 60
    );
    match n % 50 {
        0 => "0001-01-01 00:00:00".to_string(),
        1 => "9999-12-31 23:59:59.999999".to_string(),
        2 => day,
        3 => format!("{day}.5"),
        // Six digits, the last one odd: Postgres prints all six.
        _ => format!("{day}.{:06}", ((n * 7919) % 1_000_000) | 1),
    }
}

const MESSAGES: usize = 3000;

fn id(n: usize, salt: u8) -> String {
    format!("{salt:02x}000000-0000-4000-8000-{n:012x}")
}

/// A Postgres source: the messages above, written with write_message, with
/// gaps in the global positions (rolled-back writes) and one stream whose
/// oldest messages were removed, then every time set.
fn fill_postgres(client: &mut Client) {
    for n in 0..MESSAGES {
        let mut transaction = client.transaction().unwrap();
        transaction
            .execute(
                "SELECT message_store.write_message($1, $2, $3, $4::text::jsonb, $5::text::jsonb)",
                &[
                    &id(n, 1),
                    &stream(n),
                    &format!("Type{}", n % 3),
                    &data(n),
                    &metadata(n),
                ],
            )
            .unwrap();
        if n % 97 == 0 {
            transaction.rollback().unwrap();
        } else {
            transaction.commit().unwrap();
        }
    }
    client
        .batch_execute(
            "DELETE FROM message_store.messages WHERE stream_name = 'account-3' AND position < 5",
        )
        .unwrap();
    for n in 0..MESSAGES {
        client
            .execute(
                "UPDATE message_store.messages SET time = $2::text::timestamp WHERE id = $1::text::uuid",
                &[&id(n, 1), &time(n)],
            )
            .unwrap();
    }
}

/// The same kind of store written on SQLite.
fn fill_sqlite(store: &Path) {
    let conn = open(store);
    for n in 0..MESSAGES {
        conn.execute("BEGIN", []).unwrap();
        conn.query_row(
            "SELECT write_message(?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                id(n, 2),
                stream(n),
                format!("Type{}", n % 3),
                data(n),
                metadata(n)
            ],
            |_| Ok(()),
        )
        .unwrap();
        conn.execute(if n % 89 == 0 { "ROLLBACK" } else { "COMMIT" }, [])
            .unwrap();
    }
    conn.execute(
        "DELETE FROM messages WHERE stream_name = 'account-3' AND position < 5",
        [],
    )
    .unwrap();
    for n in 0..MESSAGES {
        conn.execute(
            "UPDATE messages SET time = ?2 WHERE id = ?1",
            rusqlite::params![id(n, 2), time(n)],
        )
        .unwrap();
    }
}

/// The source holds what the test means it to: gaps, a stream that starts
/// late, and every kind of time.
fn check_source(rows: &[Vec<String>]) {
    assert!(rows.len() > MESSAGES * 9 / 10, "{} messages", rows.len());
    let global: Vec<i64> = rows.iter().map(|row| row[4].parse().unwrap()).collect();
    assert!(
        global.windows(2).any(|pair| pair[1] > pair[0] + 1),
        "global positions have gaps"
    );
    assert!(rows
        .iter()
        .any(|row| row[1] == "account-3" && row[3] == "5"));
    assert!(!rows
        .iter()
        .any(|row| row[1] == "account-3" && row[3] == "0"));
    assert!(rows.iter().any(|row| row[7] == "0001-01-01 00:00:00"));
    assert!(rows
        .iter()
        .any(|row| row[7] == "9999-12-31 23:59:59.999999"));
    assert!(rows.iter().any(|row| row[6] == "NULL"));
    assert!(rows.iter().any(|row| row[5] == "null"));
}

/// The next write on a copy goes above every moved global position.
fn next_write_above_postgres(client: &mut Client, highest: i64) {
    let position: i64 = client
        .query_one(
            "SELECT message_store.write_message('ffffffff-0000-4000-8000-000000000001', 'after-1', 'After', '{}')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(position, 0);
    let global: i64 = client
        .query_one(
            "SELECT global_position FROM message_store.messages WHERE stream_name = 'after-1'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(global > highest, "next write at {global}, above {highest}");
}

fn next_write_above_sqlite(store: &Path, highest: i64) {
    let conn = open(store);
    conn.query_row(
        "SELECT write_message('ffffffff-0000-4000-8000-000000000002', 'after-1', 'After', '{}')",
        [],
        |_| Ok(()),
    )
    .unwrap();
    let global: i64 = conn
        .query_row(
            "SELECT global_position FROM messages WHERE stream_name = 'after-1'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(global > highest, "next write at {global}, above {highest}");
}

/// Two stores' rows are the same: on a difference, says how many rows
/// each has and shows the first row that differs.
fn assert_same_rows(got: &[Vec<String>], expected: &[Vec<String>], what: &str) {
    if got == expected {
        return;
    }
    let first = got
        .iter()
        .zip(expected)
        .position(|(g, e)| g != e)
        .unwrap_or(got.len().min(expected.len()));
    panic!(
        "{what}: {} rows, expected {}; first difference at row {first}:\n  got      {:?}\n  expected {:?}",
        got.len(),
        expected.len(),
        got.get(first),
        expected.get(first)
    );
}

/// Two exports are the same bytes: on a difference, shows the first line
/// that differs.
fn assert_same_export(got: &str, expected: &str, what: &str) {
    if got == expected {
        return;
    }
    let got_lines: Vec<&str> = got.lines().collect();
    let expected_lines: Vec<&str> = expected.lines().collect();
    let first = got_lines
        .iter()
        .zip(&expected_lines)
        .position(|(g, e)| g != e)
        .unwrap_or(got_lines.len().min(expected_lines.len()));
    panic!(
        "{what}: {} lines, expected {}; first difference at line {}:\n  got      {:?}\n  expected {:?}",
        got_lines.len(),
        expected_lines.len(),
        first + 1,
        got_lines.get(first),
        expected_lines.get(first)
    );
}

fn highest(rows: &[Vec<String>]) -> i64 {
    rows.last().expect("messages")[4].parse().unwrap()
}

#[test]
fn postgres_to_sqlite_to_postgres_keeps_every_column() {
    let dir = tempfile::tempdir().unwrap();
    let (source_db, mut source) = postgres_database("move_pg_source");
    fill_postgres(&mut source);
    let expected = postgres_rows(&mut source);
    check_source(&expected);
    let export = postgres_export(&mut source);

    let store = dir.path().join("copy.db");
    let progress = run_pipeline(TO_SQLITE, dir.path(), &source_db, &store);
    assert!(
        !progress.is_empty()
            && progress
                .last()
                .unwrap()
                .contains(&highest(&expected).to_string()),
        "progress: {progress:?}"
    );
    assert_same_rows(&sqlite_rows(&store), &expected, "Postgres -> SQLite");
    assert_same_export(
        &sqlite_export(&store),
        &export,
        "the exports, byte for byte",
    );

    let (copy_db, mut copy) = postgres_database("move_pg_copy");
    run_pipeline(TO_POSTGRES, dir.path(), &copy_db, &store);
    assert_same_rows(&postgres_rows(&mut copy), &expected, "SQLite -> Postgres");
    assert_same_export(&postgres_export(&mut copy), &export, "export");

    // Run again, each pipeline stores nothing twice and changes nothing.
    run_pipeline(TO_SQLITE, dir.path(), &source_db, &store);
    run_pipeline(TO_POSTGRES, dir.path(), &copy_db, &store);
    assert_same_rows(&sqlite_rows(&store), &expected, "again");
    assert_same_rows(&postgres_rows(&mut copy), &expected, "again");

    next_write_above_postgres(&mut copy, highest(&expected));
    next_write_above_sqlite(&store, highest(&expected));
}

#[test]
fn sqlite_to_postgres_to_sqlite_keeps_every_column() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.db");
    fill_sqlite(&source);
    let expected = sqlite_rows(&source);
    check_source(&expected);
    let export = sqlite_export(&source);

    let (db, mut postgres_copy) = postgres_database("move_sqlite_copy");
    run_pipeline(TO_POSTGRES, dir.path(), &db, &source);
    assert_same_rows(
        &postgres_rows(&mut postgres_copy),
        &expected,
        "SQLite -> Postgres",
    );
    assert_same_export(&postgres_export(&mut postgres_copy), &export, "export");

    let copy = dir.path().join("copy.db");
    run_pipeline(TO_SQLITE, dir.path(), &db, &copy);
    assert_same_rows(&sqlite_rows(&copy), &expected, "Postgres -> SQLite");
    assert_same_export(&sqlite_export(&copy), &export, "export");

    next_write_above_postgres(&mut postgres_copy, highest(&expected));
    next_write_above_sqlite(&copy, highest(&expected));
}

/// A move stopped half way (here: the first 1,000 messages already in the
/// target) finishes when the pipeline runs.
#[test]
fn a_pipeline_finishes_a_move_stopped_half_way() {
    let dir = tempfile::tempdir().unwrap();
    let (source_db, mut source) = postgres_database("move_resume_source");
    fill_postgres(&mut source);
    let expected = postgres_rows(&mut source);
    let first: String = source
        .query(
            "SELECT line FROM message_store.export_messages(1, 1000) AS line",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get::<_, String>(0) + "\n")
        .collect();
    let store = dir.path().join("copy.db");
    let stored: i64 = open(&store)
        .query_row("SELECT import_messages(?1)", [&first], |row| row.get(0))
        .unwrap();
    assert_eq!(stored, 1000);
    run_pipeline(TO_SQLITE, dir.path(), &source_db, &store);
    assert_same_rows(&sqlite_rows(&store), &expected, "again");
}
