//! The conformance corpus: `.slt` files in `tests/slt/cases`, run unchanged
//! against the Postgres extension and the SQLite extension. Each engine's
//! test crate implements [`Engine`]; values are rendered here, once.
//!
//! Format (a small sqllogictest dialect):
//!
//! ```text
//! # a comment
//! statement ok
//! SELECT write_message('…', 'account-1', 'Opened', '{}')
//!
//! statement error P0001 Must be a stream name: account
//! SELECT * FROM get_stream_messages('account')
//!
//! query TIB
//! SELECT stream_name, position, is_category(stream_name) FROM get_stream_messages('account-1')
//! ----
//! account-1 | 0 | false
//! ```
//!
//! A record runs until a blank line. `query` takes one letter per column:
//! `T` text, `I` integer, `B` boolean. Rows are cells joined by ` | `; NULL
//! is `NULL`, the empty string `(empty)`. An error record gives the
//! SQLSTATE (checked where the engine reports one, i.e. on Postgres) and the
//! exact message. A line `onlyif <engine> # why` or `skipif <engine> # why`
//! before a record limits it to, or spares it from, one engine; the reason
//! is required.

pub mod escapes;
pub mod readme;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
    Boolean,
}

/// An error the engine reported for a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    /// `None` where the engine has no SQLSTATE (SQLite).
    pub sqlstate: Option<String>,
    pub message: String,
}

/// One cell as the engine returned it, before rendering.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    /// Text as the engine prints it (Postgres' text output for any type).
    Text(String),
}

pub trait Engine {
    /// `postgres` or `sqlite`, as `onlyif`/`skipif` name it.
    fn name(&self) -> &'static str;
    /// Runs one statement and returns its rows (none for a statement
    /// without results).
    fn run(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>, EngineError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Ok,
    Error {
        sqlstate: String,
        message: String,
    },
    Rows {
        types: Vec<ColumnType>,
        rows: Vec<String>,
    },
}

#[derive(Debug, Clone)]
struct Record {
    line: usize,
    only: Option<String>,
    skip: Option<String>,
    sql: String,
    expect: Expect,
}

fn parse(text: &str) -> Result<Vec<Record>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::new();
    let mut i = 0;
    let (mut only, mut skip) = (None, None);
    while i < lines.len() {
        let line = lines[i].trim_end();
        let number = i + 1;
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let condition = |rest: &str| -> Result<String, String> {
            let (engine, why) = rest
                .split_once('#')
                .ok_or(format!("line {number}: onlyif/skipif needs a '# reason'"))?;
            if why.trim().is_empty() {
                return Err(format!("line {number}: the reason is empty"));
            }
            Ok(engine.trim().to_string())
        };
        if let Some(rest) = line.strip_prefix("onlyif ") {
            only = Some(condition(rest)?);
            continue;
        }
        if let Some(rest) = line.strip_prefix("skipif ") {
            skip = Some(condition(rest)?);
            continue;
        }
        let expect_header = line;
        let mut sql = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() && lines[i].trim_end() != "----" {
            sql.push(lines[i]);
            i += 1;
        }
        if sql.is_empty() {
            return Err(format!("line {number}: a record needs SQL"));
        }
        let expect = if expect_header == "statement ok" {
            Expect::Ok
        } else if let Some(rest) = expect_header.strip_prefix("statement error ") {
            let (sqlstate, message) = rest.split_once(' ').ok_or(format!(
                "line {number}: statement error <SQLSTATE> <message>"
            ))?;
            Expect::Error {
                sqlstate: sqlstate.to_string(),
                message: message.to_string(),
            }
        } else if let Some(letters) = expect_header.strip_prefix("query ") {
            let types = letters
                .trim()
                .chars()
                .map(|c| match c {
                    'T' => Ok(ColumnType::Text),
                    'I' => Ok(ColumnType::Integer),
                    'B' => Ok(ColumnType::Boolean),
                    other => Err(format!("line {number}: unknown column type {other:?}")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            if i >= lines.len() || lines[i].trim_end() != "----" {
                return Err(format!("line {number}: a query needs ---- and its rows"));
            }
            i += 1;
            let mut rows = Vec::new();
            while i < lines.len() && !lines[i].trim().is_empty() {
                rows.push(lines[i].trim_end().to_string());
                i += 1;
            }
            Expect::Rows { types, rows }
        } else {
            return Err(format!("line {number}: unknown record {expect_header:?}"));
        };
        records.push(Record {
            line: number,
            only: only.take(),
            skip: skip.take(),
            sql: sql.join("\n"),
            expect,
        });
    }
    Ok(records)
}

fn render(cell: &Cell, column: ColumnType) -> String {
    match (cell, column) {
        (Cell::Null, _) => "NULL".to_string(),
        (Cell::Integer(0), ColumnType::Boolean) => "false".to_string(),
        (Cell::Integer(1), ColumnType::Boolean) => "true".to_string(),
        (Cell::Text(t), ColumnType::Boolean) if t == "t" => "true".to_string(),
        (Cell::Text(t), ColumnType::Boolean) if t == "f" => "false".to_string(),
        (Cell::Integer(n), _) => n.to_string(),
        (Cell::Real(r), _) => format!("{r:?}"),
        (Cell::Text(t), _) if t.is_empty() => "(empty)".to_string(),
        (Cell::Text(t), _) => t.clone(),
    }
}

fn render_rows(rows: &[Vec<Cell>], types: &[ColumnType]) -> Result<Vec<String>, String> {
    rows.iter()
        .map(|row| {
            if row.len() != types.len() {
                return Err(format!(
                    "{} columns returned, {} expected",
                    row.len(),
                    types.len()
                ));
            }
            Ok(row
                .iter()
                .zip(types)
                .map(|(cell, &t)| render(cell, t))
                .collect::<Vec<_>>()
                .join(" | "))
        })
        .collect()
}

/// Runs one file; returns the failures, each with its line number.
pub fn run_file(engine: &mut dyn Engine, path: &Path) -> Vec<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return vec![format!("{}: {e}", path.display())],
    };
    let records = match parse(&text) {
        Ok(records) => records,
        Err(e) => return vec![format!("{}: {e}", path.display())],
    };
    let name = engine.name();
    let mut failures = Vec::new();
    for record in records {
        if record.only.as_deref().is_some_and(|only| only != name)
            || record.skip.as_deref() == Some(name)
        {
            continue;
        }
        let outcome = engine.run(&record.sql);
        let problem = match (&record.expect, outcome) {
            (Expect::Ok, Ok(_)) => None,
            (Expect::Rows { types, rows }, Ok(got)) => match render_rows(&got, types) {
                Ok(got) if &got == rows => None,
                Ok(got) => Some(format!(
                    "rows differ\n  expected:\n    {}\n  got:\n    {}",
                    rows.join("\n    "),
                    got.join("\n    ")
                )),
                Err(e) => Some(e),
            },
            (Expect::Error { sqlstate, message }, Err(error)) => {
                let state_ok = error.sqlstate.as_deref().is_none_or(|s| s == sqlstate);
                (!state_ok || &error.message != message).then(|| {
                    format!(
                        "error differs\n  expected: {sqlstate} {message}\n  got:      {} {}",
                        error.sqlstate.as_deref().unwrap_or("-----"),
                        error.message
                    )
                })
            }
            (Expect::Error { sqlstate, message }, Ok(_)) => {
                Some(format!("succeeded; expected error {sqlstate} {message}"))
            }
            (_, Err(error)) => Some(format!(
                "failed: {} {}",
                error.sqlstate.as_deref().unwrap_or("-----"),
                error.message
            )),
        };
        if let Some(problem) = problem {
            let mut text = String::new();
            let _ = write!(
                text,
                "{}:{} [{name}] {problem}\n  sql: {}",
                path.display(),
                record.line,
                record.sql.replace('\n', "\n       ")
            );
            failures.push(text);
        }
    }
    failures
}

/// The corpus files, in name order.
pub fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "slt"))
        .collect();
    files.sort();
    files
}

/// Runs every corpus file, each on a fresh database from `open`, and panics
/// with every failure found.
pub fn run_corpus<E: Engine>(mut open: impl FnMut(&str) -> E) {
    let files = corpus();
    assert!(!files.is_empty(), "the corpus is empty");
    let mut failures = Vec::new();
    for path in &files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut engine = open(&stem);
        failures.extend(run_file(&mut engine, path));
    }
    assert!(
        failures.is_empty(),
        "{} corpus failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The prefixes both engines' listing tests page `get_streams` through:
/// a category's, one a name starts with but is not a category, one of a
/// name exactly, names above ASCII, case, none, and the empty prefix.
pub const LISTING_PREFIXES: &[&str] = &[
    "account",
    "account-",
    "account-2",
    "accounts",
    "a",
    "A",
    "a-",
    "caf",
    "café",
    "ü",
    "日",
    "z",
    "none",
    "",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records() {
        let records = parse(
            "# c\nstatement ok\nSELECT 1\n\nskipif sqlite # because\nquery IT\nSELECT 1,\n 'a'\n----\n1 | a\n\nstatement error P0001 Must be a category: a-1\nSELECT 2\n",
        )
        .unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].expect, Expect::Ok);
        assert_eq!(records[1].skip.as_deref(), Some("sqlite"));
        assert_eq!(records[1].sql, "SELECT 1,\n 'a'");
        assert_eq!(
            records[1].expect,
            Expect::Rows {
                types: vec![ColumnType::Integer, ColumnType::Text],
                rows: vec!["1 | a".into()]
            }
        );
        assert_eq!(
            records[2].expect,
            Expect::Error {
                sqlstate: "P0001".into(),
                message: "Must be a category: a-1".into()
            }
        );
        assert!(parse("skipif sqlite\nstatement ok\nSELECT 1\n").is_err());
    }

    #[test]
    fn renders_cells_alike_for_both_engines() {
        let types = [ColumnType::Boolean, ColumnType::Text, ColumnType::Integer];
        let sqlite = vec![vec![
            Cell::Integer(1),
            Cell::Text(String::new()),
            Cell::Null,
        ]];
        let postgres = vec![vec![
            Cell::Text("t".into()),
            Cell::Text(String::new()),
            Cell::Null,
        ]];
        assert_eq!(
            render_rows(&sqlite, &types),
            Ok(vec!["true | (empty) | NULL".into()])
        );
        assert_eq!(render_rows(&postgres, &types), render_rows(&sqlite, &types));
    }
}
