//! Random SQL conditions against both engines' readers: whatever a caller
//! passes as a condition, a reader returns only rows of its own query (its
//! stream or category, at most its batch size) or an error, writes nothing,
//! and the server stays up.
//!
//! The texts are made of the pieces escapes are made of (quotes of every
//! kind, parentheses, `;`, comment marks, literal prefixes, parameters,
//! clause words) so that most of them are near misses of an escape. The
//! same texts pasted into the readers' query without the rule escape (see
//! [`escapes_through_plain_paste`]), which shows the check has teeth.

use crate::{Cell, Engine, EngineError};

/// Pieces of conditions. Some only mean something to one engine's lexer.
const PIECES: &[&str] = &[
    "true",
    "1",
    "0",
    "position",
    "type",
    "stream_name",
    "'a-1'",
    ")",
    "(",
    "(",
    ")",
    "'",
    "''",
    "\"",
    "\"\"",
    "`",
    "[",
    "]",
    ";",
    "--",
    "-",
    "/*",
    "*/",
    "/",
    "*",
    "\n",
    " ",
    " ",
    " OR ",
    " AND ",
    " = ",
    " IS NOT NULL",
    "x'",
    "X'",
    "E'",
    "e'",
    "b'",
    "N'",
    "U&'",
    "U&\"",
    "$$",
    "$a$",
    "$",
    "$1",
    "\\",
    "\\'",
    "?1",
    ":a",
    "@a",
    "#a",
    "$a(",
    "SELECT * FROM messages",
    " UNION ALL ",
    " WHERE ",
    " FROM ",
    " ORDER BY 1",
    " LIMIT 9",
    ",",
    "IN",
    "EXISTS",
    "NOT",
    "stream_name <> 'a-1'",
    "true) OR (true",
    "') OR ('",
    "'') OR (''",
    "\") OR (\"",
    "0x1",
    "1e",
    "a$$b",
];

/// splitmix64: a small, reproducible source of choices.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Expressions, valid on one engine or both.
const EXPRESSIONS: &[&str] = &[
    "true",
    "false",
    "position >= 0",
    "type = 'T'",
    "stream_name <> 'a-1'",
    "1 = 1",
    "(true)",
    "type = ';)'",
    "type = E'\\''",
    "type = $$)$$",
    "\"type\" = 'T'",
    "x'00' IS NOT NULL",
    "[type] = 'T'",
    "`type` = 'T'",
    "$a(b) IS NULL",
    "type = '--'",
];

/// What joins two expressions: operators, and the escapes themselves.
const JOINTS: &[&str] = &[
    " OR ",
    " AND ",
    ") OR (",
    ") AND (",
    ") OR ",
    " OR (",
    ")) OR ((",
    ") UNION ALL SELECT * FROM messages WHERE (",
    " ORDER BY 1 LIMIT 9) OR (",
    ", ",
    " -- ",
    " /* ",
    " */ ",
    "; SELECT 1 WHERE (",
    "\n",
];

/// Marks that open or close a literal, a quoted name or a comment in one
/// engine's lexer and not in the other's.
const MARKS: &[&str] = &[
    "'", "''", "E'", "e'", "\\", "\\'", "$$", "$a$", "x'", "b'", "U&'", "\"", "`", "[", "]", "$a(",
    "--", "/*", "*/", ";", "\n",
];

/// One condition: random pieces, or expressions joined by operators and
/// escapes with a few literal marks thrown in (most of these are valid SQL
/// once pasted without the rule, and so most escape).
fn condition(choices: &mut Choices) -> String {
    if choices.below(3) == 0 {
        let pieces = 1 + choices.below(10);
        return (0..pieces)
            .map(|_| PIECES[choices.below(PIECES.len())])
            .collect();
    }
    let mut parts: Vec<&str> = Vec::new();
    let expressions = 1 + choices.below(4);
    for i in 0..expressions {
        if i > 0 {
            parts.push(JOINTS[choices.below(JOINTS.len())]);
        }
        parts.push(EXPRESSIONS[choices.below(EXPRESSIONS.len())]);
    }
    for _ in 0..choices.below(3) {
        let at = choices.below(parts.len() + 1);
        parts.insert(at, MARKS[choices.below(MARKS.len())]);
    }
    parts.concat()
}

/// `count` condition texts, the same for the same seed.
pub fn conditions(seed: u64, count: usize) -> Vec<String> {
    let mut choices = Choices(seed);
    (0..count).map(|_| condition(&mut choices)).collect()
}

/// A SQL string literal holding `text`.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The data every check reads: other streams' messages come first in the
/// global order, so a read that escaped its filters returns them.
const SETUP: &[&str] = &[
    "SELECT write_message('00000000-0000-4000-8000-0000000000b1', 'b-1', 'T', '{}')",
    "SELECT write_message('00000000-0000-4000-8000-0000000000b2', 'b-1', 'T', '{}')",
    "SELECT write_message('00000000-0000-4000-8000-0000000000a1', 'a-1', 'T', '{}')",
    "SELECT write_message('00000000-0000-4000-8000-0000000000a2', 'a-1', 'T', '{}')",
    "SELECT write_message('00000000-0000-4000-8000-0000000000a3', 'a-1', 'T', '{}')",
    "SELECT write_message('00000000-0000-4000-8000-0000000000c1', 'a-2', 'T', '{}')",
    "SELECT set_config('message_store.sql_condition', 'on', false)",
];

const STORE: &str = "SELECT global_position, stream_name, position, id FROM messages ORDER BY 1";

fn texts(rows: &[Vec<Cell>]) -> Vec<String> {
    rows.iter()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Cell::Null => "NULL".to_string(),
                    Cell::Integer(n) => n.to_string(),
                    Cell::Real(r) => r.to_string(),
                    Cell::Text(t) => t.clone(),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn setup(engine: &mut dyn Engine) -> Vec<String> {
    for sql in SETUP {
        engine.run(sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
    texts(&engine.run(STORE).expect("read the store"))
}

/// Whether a row's stream is one the read's own query returns.
type OwnRow = fn(&str) -> bool;

/// What a read returned that its own query cannot return, if anything.
fn escaped(rows: &[String], own: impl Fn(&str) -> bool, batch: usize) -> Option<String> {
    if rows.len() > batch {
        return Some(format!("{} rows, batch size {batch}", rows.len()));
    }
    rows.iter()
        .find(|stream| !own(stream))
        .map(|stream| format!("a row of {stream}"))
}

/// Runs `cases` random conditions through the stream and the category
/// reader of `engine` (a fresh store) and panics on the first read that
/// returned rows of another query, on an error that did not come from the
/// engine (Postgres: no SQLSTATE, i.e. the connection was lost), or when
/// the store changed. Returns how many conditions were refused.
pub fn check_readers(engine: &mut dyn Engine, seed: u64, cases: usize) -> usize {
    let before = setup(engine);
    let mut refused = 0;
    for condition in conditions(seed, cases) {
        let reads: [(String, OwnRow); 2] = [
            (
                format!(
                    "SELECT stream_name FROM get_stream_messages('a-1', 0, 2, {})",
                    literal(&condition)
                ),
                |stream| stream == "a-1",
            ),
            (
                format!(
                    "SELECT stream_name FROM get_category_messages('a', 1, 2, NULL, NULL, NULL, {})",
                    literal(&condition)
                ),
                |stream| stream.starts_with("a-"),
            ),
        ];
        for (sql, own) in reads {
            match engine.run(&sql) {
                Ok(rows) => {
                    if let Some(what) = escaped(&texts(&rows), own, 2) {
                        panic!("condition {condition:?} escaped its reader: {what}\n  sql: {sql}");
                    }
                }
                Err(EngineError { sqlstate, message }) => {
                    if engine.name() == "postgres" && sqlstate.is_none() {
                        panic!("condition {condition:?} cost the connection: {message}");
                    }
                    refused += 1;
                }
            }
        }
    }
    let after = texts(&engine.run(STORE).expect("read the store after"));
    assert_eq!(after, before, "the store changed");
    refused
}

/// The negative control of [`check_readers`]: the same conditions pasted
/// into the readers' filters as plain SQL, as a reader without the rule
/// would, escape. Returns the conditions that did.
pub fn escapes_through_plain_paste(
    engine: &mut dyn Engine,
    seed: u64,
    cases: usize,
) -> Vec<String> {
    setup(engine);
    conditions(seed, cases)
        .into_iter()
        .filter(|condition| {
            let sql = format!(
                "SELECT stream_name FROM messages WHERE stream_name = 'a-1' AND position >= 0 AND ({condition}) ORDER BY position LIMIT 2"
            );
            match engine.run(&sql) {
                Ok(rows) => escaped(&texts(&rows), |stream| stream == "a-1", 2).is_some(),
                Err(_) => false,
            }
        })
        .collect()
}
