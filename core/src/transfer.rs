//! The rules of `export_messages` and `import_messages` that do not touch
//! storage: the line each stored message is written as, the reading of such
//! lines, and the plan that stores them exactly as they were.
//!
//! ## A line
//!
//! One JSON object, the eight columns of `messages` as its keys:
//!
//! ```text
//! {"id":"<uuid>","stream_name":"<text>","type":"<text>","position":<int>,
//!  "global_position":<int>,"data":<jsonb text>|null,"metadata":<jsonb text>|null,
//!  "time":"YYYY-MM-DDTHH:MM:SS.ffffff"}
//! ```
//!
//! (one line, without the break shown here). [`export_line`] writes exactly
//! that: keys in that order, no space between the line's own members, `id`
//! in the canonical uuid form, `data` and `metadata` as their jsonb text
//! (so with jsonb's own `", "` and `": "` inside them), `time` in UTC with
//! always six fraction digits, years 0001 to 9999. Strings are escaped only
//! where JSON requires it: `"` and `\` as `\"` and `\\`; U+0008, U+000C,
//! U+000A, U+000D and U+0009 as `\b`, `\f`, `\n`, `\r` and `\t`; the other
//! characters below U+0020 as `\u00XX` with lowercase hex digits. Everything
//! else, U+007F and non-ASCII included, is written as its UTF-8.
//!
//! ## Reading lines
//!
//! [`parse_lines`] takes more than it writes, and checks, in this order:
//! 1. the size of the text, [`MAX_BYTES`] bytes at most, then the number of
//!    lines, [`MAX_MESSAGES`] at most, before any line is read;
//! 2. each line in turn, numbered from 1: the text splits on `\n`; a final
//!    `\n` ends the last line rather than starting an empty one, and an empty
//!    text has no lines (nothing to import). A line that is empty, or only
//!    whitespace, is refused. JSON's whitespace (space, tab, carriage return)
//!    may stand around any of the line's tokens, so a line ended by `\r\n`
//!    reads as one ended by `\n`;
//! 3. in a line, its syntax first: one object, its keys the eight columns,
//!    in any order, each once (keys may use JSON escapes); byte offsets in
//!    errors count from 0;
//! 4. then the columns in the order above, the first fault being the error:
//!    `id` a JSON string in any form Postgres' `uuid_in` takes (stored in
//!    the canonical form); `stream_name` and `type` non-empty JSON strings;
//!    `position` an integer from 0 and `global_position` one from 1, both at
//!    most the largest bigint, written as JSON integers (`1.0`, `1e3`, `-0`,
//!    `01` and strings are refused); `data` and `metadata` any JSON value,
//!    read by Postgres' json rules and kept as their jsonb text, their
//!    jsonb text [`MAX_BYTES`] bytes at most over the whole call; `time` a
//!    JSON string of exactly the exported form, a real date and time (no
//!    leap second).
//!
//! JSON `null` as `data` is jsonb `null` and as `metadata` SQL NULL, as in a
//! `write_messages` message. A line cannot tell SQL NULL from jsonb `null`,
//! so an export writes both as `null`, and an import restores them by that
//! rule; a message stored with SQL NULL data or jsonb `null` metadata comes
//! back with the other one. When an import meets such a message stored, it
//! takes either for the line's `null`.
//!
//! ## Storing lines
//!
//! [`plan_import`] decides against the target's state, in line order: an id
//! given twice in the call is refused; an id stored identically (every
//! column as the line gives it) is skipped, so that an import stopped half
//! way finishes when run again, and an id stored otherwise is refused. Each
//! line not skipped must take its stream's next position, after the
//! target's messages of the stream and the call's own earlier lines; a
//! stream without messages in the target, first met in the call, may start
//! at any position (a store whose oldest messages were removed still
//! moves). Global positions of the lines not skipped must rise strictly,
//! from above the target's highest.
//!
//! Errors name the line; nothing of the call is stored when one is raised.
//! SQLSTATEs: `22P02` for a line that is not well formed, `23505` for an id
//! stored otherwise or repeated, `22023` for a position or global position
//! out of order, `54000` for the limits, and `22008` for an export of a time
//! outside years 0001 to 9999.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use crate::batch::{self, Limits, Reader};
use crate::error::Error;
use crate::json::canonical_json_within;
use crate::time::{days_from_civil, days_in_month, format_timestamp, push_integer, push_timestamp};
use crate::uuid::{format_uuid, parse_uuid};

pub use crate::batch::{MAX_BYTES, MAX_MESSAGES};

/// The earliest time a line holds: 0001-01-01 00:00:00.000000.
pub const MIN_TIME: i64 = -62_135_596_800_000_000;
/// The latest time a line holds: 9999-12-31 23:59:59.999999.
pub const MAX_TIME: i64 = 253_402_300_799_999_999;

/// The columns, in the order a line gives them.
const COLUMNS: [&str; 8] = [
    "id",
    "stream_name",
    "type",
    "position",
    "global_position",
    "data",
    "metadata",
    "time",
];
const KEYS: &str = "\"id\", \"stream_name\", \"type\", \"position\", \"global_position\", \
                    \"data\", \"metadata\" and \"time\"";

/// The function whose call the limits are of.
const IMPORT: &str = "import_messages";

/// One stored message as an engine reads it for export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row<'a> {
    /// The canonical uuid form.
    pub id: &'a str,
    pub stream_name: &'a str,
    pub type_: &'a str,
    pub position: i64,
    pub global_position: i64,
    /// jsonb text; `None` for SQL NULL.
    pub data: Option<&'a str>,
    /// jsonb text; `None` for SQL NULL.
    pub metadata: Option<&'a str>,
    /// Microseconds since 1970-01-01 00:00:00 UTC.
    pub time: i64,
}

/// A message with every column: a line read, or one read back by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The canonical uuid form.
    pub id: String,
    pub stream_name: String,
    pub type_: String,
    pub position: i64,
    pub global_position: i64,
    /// jsonb text; `None` for SQL NULL (a line's data never is).
    pub data: Option<String>,
    /// jsonb text; `None` for SQL NULL.
    pub metadata: Option<String>,
    /// Microseconds since 1970-01-01 00:00:00 UTC.
    pub time: i64,
}

impl Message {
    pub fn row(&self) -> Row<'_> {
        Row {
            id: &self.id,
            stream_name: &self.stream_name,
            type_: &self.type_,
            position: self.position,
            global_position: self.global_position,
            data: self.data.as_deref(),
            metadata: self.metadata.as_deref(),
            time: self.time,
        }
    }
}

/// One line read: its number (from 1), its id's bytes, its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportLine {
    pub line: usize,
    pub uuid: [u8; 16],
    pub message: Message,
}

/// What an import stores: the lines to insert, in order, and how many lines
/// were found stored already.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportPlan<'l> {
    pub rows: Vec<&'l ImportLine>,
    pub skipped: usize,
}

/// Where a position a line must follow comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The target, as it was before the call.
    Stored,
    /// An earlier line of the call.
    Line(usize),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Stored => write!(f, "in the store"),
            Source::Line(line) => write!(f, "on line {line}"),
        }
    }
}

/// What is wrong with an import, or with one of its lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The `lines` argument is SQL NULL.
    Null,
    TooManyLines {
        limit: usize,
        count: usize,
    },
    TooManyBytes {
        limit: usize,
        len: usize,
    },
    /// A line that is empty or only whitespace.
    Empty,
    /// The line's JSON text breaks off or goes wrong at `offset`.
    Syntax {
        offset: usize,
        expected: &'static str,
    },
    /// `found` is what the line holds instead, as in [`Fault::NotAnInteger`].
    NotAnObject {
        found: String,
    },
    /// `key` is the key's JSON text, quotes included.
    UnknownKey {
        key: String,
    },
    RepeatedKey {
        key: String,
    },
    Missing {
        name: &'static str,
    },
    /// `found` is the value's JSON text as the line gives it, cut short
    /// when long; so for the other `found` fields.
    NotAString {
        name: &'static str,
        found: String,
    },
    EmptyString {
        name: &'static str,
    },
    InvalidId {
        input: String,
    },
    NotAnInteger {
        name: &'static str,
        min: i64,
        found: String,
    },
    /// `error` is what core's json module (Postgres' jsonb input) says.
    InvalidJson {
        name: &'static str,
        error: Box<Error>,
    },
    /// The call's data and metadata together are past the limit as jsonb text.
    JsonTooLong {
        name: &'static str,
        limit: usize,
    },
    /// `reason` is `None` when `found` is not of the form at all.
    InvalidTime {
        found: String,
        reason: Option<String>,
    },
    /// `id` is the canonical form.
    RepeatedId {
        id: String,
        first: usize,
    },
    /// `column` is the first column, in line order, that differs.
    StoredOtherwise {
        id: String,
        column: &'static str,
        stream_name: String,
        position: i64,
        global_position: i64,
    },
    /// `expected` is `None` when the stream is at the largest bigint.
    PositionNotNext {
        stream_name: String,
        position: i64,
        expected: Option<i64>,
        after: i64,
        source: Source,
    },
    GlobalPositionNotAbove {
        global_position: i64,
        highest: i64,
        source: Source,
    },
}

impl Fault {
    /// The SQLSTATE an import refused with this fault is raised with.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Fault::TooManyLines { .. } | Fault::TooManyBytes { .. } | Fault::JsonTooLong { .. } => {
                crate::error::PROGRAM_LIMIT_EXCEEDED
            }
            Fault::RepeatedId { .. } | Fault::StoredOtherwise { .. } => {
                crate::error::UNIQUE_VIOLATION
            }
            Fault::Null | Fault::PositionNotNext { .. } | Fault::GlobalPositionNotAbove { .. } => {
                crate::error::INVALID_PARAMETER_VALUE
            }
            _ => crate::error::INVALID_TEXT_REPRESENTATION,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Null => write!(f, "{IMPORT}: lines must not be NULL"),
            Fault::TooManyLines { limit, count } => write!(
                f,
                "{IMPORT}: at most {limit} lines per call (this call has {count})"
            ),
            Fault::TooManyBytes { limit, len } => write!(
                f,
                "{IMPORT}: at most {limit} bytes of text per call (this call has {len})"
            ),
            Fault::Empty => write!(f, "is empty (each line is one message)"),
            Fault::Syntax { offset, expected } => {
                write!(
                    f,
                    "is not well formed: expected {expected} at byte {offset}"
                )
            }
            Fault::NotAnObject { found } => {
                write!(f, "must be a JSON object, found {found}")
            }
            Fault::UnknownKey { key } => write!(f, "unknown key {key} (the keys are {KEYS})"),
            Fault::RepeatedKey { key } => write!(f, "key {key} is repeated"),
            Fault::Missing { name } => write!(f, "\"{name}\" is missing"),
            Fault::NotAString { name, found } => {
                write!(f, "\"{name}\" must be a JSON string, found {found}")
            }
            Fault::EmptyString { name } => write!(f, "\"{name}\" must not be empty"),
            Fault::InvalidId { input } => write!(
                f,
                "\"id\" is not a UUID: {}",
                Error::InvalidUuid {
                    input: input.clone()
                }
            ),
            Fault::NotAnInteger { name, min, found } => write!(
                f,
                "\"{name}\" must be an integer from {min} to {}, found {found}",
                i64::MAX
            ),
            Fault::InvalidJson { name, error } => {
                write!(f, "\"{name}\" is not JSON: {error}")?;
                match error.detail() {
                    Some(detail) => write!(f, " ({detail})"),
                    None => Ok(()),
                }
            }
            Fault::JsonTooLong { name, limit } => write!(
                f,
                "\"{name}\" takes the call's data and metadata past {limit} bytes of jsonb text"
            ),
            Fault::InvalidTime { found, reason } => {
                write!(
                    f,
                    "\"time\" must be a UTC time as YYYY-MM-DDTHH:MM:SS.ffffff, found {found}"
                )?;
                match reason {
                    Some(reason) => write!(f, " ({reason})"),
                    None => Ok(()),
                }
            }
            Fault::RepeatedId { id, first } => {
                write!(f, "id {id} is repeated (first on line {first})")
            }
            Fault::StoredOtherwise {
                id,
                column,
                stream_name,
                position,
                global_position,
            } => write!(
                f,
                "id {id} is stored with another \"{column}\" (at global position \
                 {global_position}, position {position} of stream {stream_name})"
            ),
            Fault::PositionNotNext {
                stream_name,
                position,
                expected: Some(expected),
                after,
                source,
            } => write!(
                f,
                "position {position} of stream {stream_name} is not the stream's next one, \
                 {expected} (after position {after} {source})"
            ),
            Fault::PositionNotNext {
                stream_name,
                expected: None,
                after,
                source,
                ..
            } => write!(
                f,
                "stream {stream_name} takes no more messages (after position {after} {source}, \
                 the largest bigint)"
            ),
            Fault::GlobalPositionNotAbove {
                global_position,
                highest,
                source,
            } => write!(
                f,
                "global position {global_position} is not above {highest}, the highest {source}"
            ),
        }
    }
}

fn fault(line: usize, fault: Fault) -> Error {
    Error::InvalidImport {
        line: Some(line),
        fault,
    }
}

// ---------------------------------------------------------------- export

/// `export_messages`' first global position when none is given.
pub const DEFAULT_EXPORT_POSITION: i64 = 1;

/// Checked arguments of `export_messages(position, batch_size, category)`:
/// the messages from a global position on, ascending, at most `limit` of
/// them (`None`: all), of one category or of every one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportRead<'a> {
    pub position: i64,
    pub limit: Option<i64>,
    pub category: Option<&'a [u8]>,
}

impl<'a> ExportRead<'a> {
    /// NULL position and batch size take the defaults (1 and -1, no
    /// limit); a batch size below -1 fails as the readers' does; a category
    /// given must be one (no `-`), as `get_category_messages` requires.
    pub fn new(
        position: Option<i64>,
        batch_size: Option<i64>,
        category: Option<&'a [u8]>,
    ) -> Result<ExportRead<'a>, Error> {
        if let Some(name) = category {
            if !crate::stream_name::is_category(Some(name)) {
                return Err(Error::MustBeCategory {
                    category: Some(String::from_utf8_lossy(name).into_owned()),
                });
            }
        }
        let limit = match batch_size.unwrap_or(crate::read::UNLIMITED_BATCH_SIZE) {
            crate::read::UNLIMITED_BATCH_SIZE => None,
            n if n < 0 => return Err(Error::LimitMustNotBeNegative),
            n => Some(n),
        };
        Ok(ExportRead {
            position: position.unwrap_or(DEFAULT_EXPORT_POSITION),
            limit,
            category,
        })
    }

    /// The statement that reads the rows to export.
    pub fn statement(&self) -> crate::statement::Statement {
        match self.category {
            Some(_) => crate::statement::Statement::ExportCategory,
            None => crate::statement::Statement::Export,
        }
    }
}

/// The line of one stored message, without a line end. Fails only for a
/// time outside years 0001 to 9999, which a line cannot hold.
pub fn export_line(row: &Row<'_>) -> Result<String, Error> {
    if !(MIN_TIME..=MAX_TIME).contains(&row.time) {
        return Err(Error::ExportTimeOutOfRange {
            global_position: row.global_position,
            time: format_timestamp(row.time),
        });
    }
    let data = row.data.unwrap_or("null");
    let metadata = row.metadata.unwrap_or("null");
    let mut out = String::with_capacity(
        160 + row.id.len() + row.stream_name.len() + row.type_.len() + data.len() + metadata.len(),
    );
    out.push_str("{\"id\":");
    push_string(&mut out, row.id);
    out.push_str(",\"stream_name\":");
    push_string(&mut out, row.stream_name);
    out.push_str(",\"type\":");
    push_string(&mut out, row.type_);
    out.push_str(",\"position\":");
    push_integer(&mut out, row.position);
    out.push_str(",\"global_position\":");
    push_integer(&mut out, row.global_position);
    out.push_str(",\"data\":");
    out.push_str(data);
    out.push_str(",\"metadata\":");
    out.push_str(metadata);
    out.push_str(",\"time\":\"");
    push_timestamp(&mut out, row.time, true);
    out.push_str("\"}");
    Ok(out)
}

/// `text` as a JSON string, escaped only where JSON requires it.
fn push_string(out: &mut String, text: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, byte) in text.bytes().enumerate() {
        let short = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Every byte escaped is ASCII, so `i` is a character boundary.
        out.push_str(&text[plain..i]);
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(short);
        }
        plain = i + 1;
    }
    out.push_str(&text[plain..]);
    out.push('"');
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff`, or `None` outside years 0001 to 9999.
pub fn format_time(micros: i64) -> Option<String> {
    if !(MIN_TIME..=MAX_TIME).contains(&micros) {
        return None;
    }
    let mut time = String::with_capacity(26);
    push_timestamp(&mut time, micros, true);
    Some(time)
}

/// Reads a time of exactly [`format_time`]'s form; the error says what is
/// wrong (`None`: not of the form at all).
pub fn parse_time(text: &str) -> Result<i64, Option<String>> {
    let b = text.as_bytes();
    let form = b.len() == 26
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            _ => c.is_ascii_digit(),
        });
    if !form {
        return Err(None);
    }
    let number = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'))
    };
    let (year, month, day) = (number(0, 4), number(5, 7), number(8, 10));
    let (hour, minute, second) = (number(11, 13), number(14, 16), number(17, 19));
    let fraction = number(20, 26);
    if year == 0 {
        return Err(Some("there is no year 0000".to_owned()));
    }
    if !(1..=12).contains(&month) {
        return Err(Some(format!("month {month:02} is not 01 to 12")));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(Some(format!("{year:04}-{month:02} has no day {day:02}")));
    }
    if hour > 23 {
        return Err(Some(format!("hour {hour:02} is not 00 to 23")));
    }
    if minute > 59 {
        return Err(Some(format!("minute {minute:02} is not 00 to 59")));
    }
    if second > 59 {
        return Err(Some(format!("second {second:02} is not 00 to 59")));
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    Ok(seconds * 1_000_000 + fraction)
}

// ---------------------------------------------------------------- import

/// `import_messages`' argument as a call passes it: SQL NULL is refused,
/// a text is read by [`parse_lines`].
pub fn import_lines(lines: Option<&str>) -> Result<Vec<ImportLine>, Error> {
    match lines {
        Some(text) => parse_lines(text),
        None => Err(Error::InvalidImport {
            line: None,
            fault: Fault::Null,
        }),
    }
}

/// Reads the lines of an `import_messages` text within the default limits.
pub fn parse_lines(text: &str) -> Result<Vec<ImportLine>, Error> {
    parse_lines_within(text, Limits::DEFAULT)
}

/// [`parse_lines`] checked against `limits` (`messages` bounds the lines).
pub fn parse_lines_within(text: &str, limits: Limits) -> Result<Vec<ImportLine>, Error> {
    if text.len() > limits.bytes {
        return Err(Error::InvalidImport {
            line: None,
            fault: Fault::TooManyBytes {
                limit: limits.bytes,
                len: text.len(),
            },
        });
    }
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    let count = body.bytes().filter(|&b| b == b'\n').count() + 1;
    if count > limits.messages {
        return Err(Error::InvalidImport {
            line: None,
            fault: Fault::TooManyLines {
                limit: limits.messages,
                count,
            },
        });
    }
    let mut budget = Budget {
        limit: limits.bytes,
        left: limits.bytes,
    };
    body.split('\n')
        .enumerate()
        .map(|(index, line)| parse_line(line, index + 1, &mut budget))
        .collect()
}

/// What is left of the call's bytes of jsonb text.
struct Budget {
    limit: usize,
    left: usize,
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r')
}

/// A value's place in its line.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

/// A JSON value as a fault shows it: whole when short.
fn shown(text: &str) -> String {
    const SHOWN: usize = 40;
    match text.char_indices().nth(SHOWN) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

/// The end of the JSON value at `start`, found by its brackets and quotes
/// only: what the value is, its column's rule decides (for data and
/// metadata, by Postgres' json rules).
fn value_end(b: &[u8], start: usize) -> usize {
    let string_end = |from: usize| {
        let mut i = from + 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        b.len()
    };
    match b.get(start) {
        Some(b'"') => string_end(start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = start;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = string_end(i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            b.len()
        }
        _ => {
            let run = b[start..]
                .iter()
                .take_while(|&&c| !is_space(c) && !matches!(c, b',' | b'}' | b']'))
                .count();
            start + run
        }
    }
}

/// A JSON string decoded by batch's reader; its faults become this line's.
fn decode(line: &str, start: usize) -> Result<(Cow<'_, str>, usize), Fault> {
    let mut reader = Reader::at(line, "line", start);
    match reader.string(true) {
        Ok(text) => Ok((text, reader.pos)),
        Err(Error::InvalidBatch {
            fault: batch::Fault::NotCanonical {
                offset, expected, ..
            },
            ..
        }) => Err(Fault::Syntax { offset, expected }),
        // The reader fails only as above; were it to fail otherwise, the
        // string is still not one this line can hold.
        Err(_) => Err(Fault::Syntax {
            offset: start,
            expected: "a JSON string",
        }),
    }
}

/// The spans of the eight columns' values, in [`COLUMNS`] order.
fn members(line: &str) -> Result<[Option<Span>; 8], Fault> {
    let b = line.as_bytes();
    let skip = |mut i: usize| {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        i
    };
    let syntax = |offset, expected| Fault::Syntax { offset, expected };
    let mut i = skip(0);
    match b.get(i) {
        None => return Err(Fault::Empty),
        Some(b'{') => {}
        Some(_) => {
            let end = value_end(b, i);
            if end == i {
                return Err(syntax(i, "a JSON object"));
            }
            return Err(Fault::NotAnObject {
                found: shown(&line[i..end]),
            });
        }
    }
    let mut spans = [None; 8];
    i = skip(i + 1);
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            if b.get(i) != Some(&b'"') {
                return Err(syntax(i, "a key"));
            }
            let key_start = i;
            let (key, end) = decode(line, i)?;
            let raw_key = &line[key_start..end];
            let Some(column) = COLUMNS.iter().position(|name| *name == key) else {
                return Err(Fault::UnknownKey {
                    key: shown(raw_key),
                });
            };
            if spans[column].is_some() {
                return Err(Fault::RepeatedKey {
                    key: shown(raw_key),
                });
            }
            i = skip(end);
            if b.get(i) != Some(&b':') {
                return Err(syntax(i, "\":\""));
            }
            i = skip(i + 1);
            let end = value_end(b, i);
            if end == i {
                return Err(syntax(i, "a JSON value"));
            }
            spans[column] = Some(Span { start: i, end });
            i = skip(end);
            match b.get(i) {
                Some(b',') => i = skip(i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return Err(syntax(i, "\",\" or \"}\"")),
            }
        }
    }
    i = skip(i);
    if i != b.len() {
        return Err(syntax(i, "the end of the line"));
    }
    Ok(spans)
}

fn parse_line(line: &str, number: usize, budget: &mut Budget) -> Result<ImportLine, Error> {
    let spans = members(line).map_err(|f| fault(number, f))?;
    let fail = |f| fault(number, f);
    // The value of column `c`, which the line must have.
    let value = |c: usize| {
        spans[c]
            .map(|span| &line[span.start..span.end])
            .ok_or_else(|| fail(Fault::Missing { name: COLUMNS[c] }))
    };
    let string = |c: usize| -> Result<Cow<'_, str>, Error> {
        let text = value(c)?;
        if !text.starts_with('"') {
            return Err(fail(Fault::NotAString {
                name: COLUMNS[c],
                found: shown(text),
            }));
        }
        let start = spans[c].map_or(0, |span| span.start);
        decode(line, start).map(|(text, _)| text).map_err(fail)
    };
    let nonempty = |c: usize| -> Result<String, Error> {
        let text = string(c)?;
        if text.is_empty() {
            return Err(fail(Fault::EmptyString { name: COLUMNS[c] }));
        }
        Ok(text.into_owned())
    };
    let integer = |c: usize, min: i64| -> Result<i64, Error> {
        let text = value(c)?;
        let digits = text.bytes().all(|d| d.is_ascii_digit());
        let canonical = !text.starts_with('0') || text == "0";
        match text.parse::<i64>() {
            Ok(n) if digits && canonical && n >= min => Ok(n),
            _ => Err(fail(Fault::NotAnInteger {
                name: COLUMNS[c],
                min,
                found: shown(text),
            })),
        }
    };
    let mut jsonb = |c: usize| -> Result<String, Error> {
        let text = value(c)?;
        match canonical_json_within(text, budget.left) {
            Ok(json) => {
                budget.left -= json.len();
                Ok(json)
            }
            Err(Error::StringOrBlobTooBig { .. }) => Err(fail(Fault::JsonTooLong {
                name: COLUMNS[c],
                limit: budget.limit,
            })),
            Err(error) => Err(fail(Fault::InvalidJson {
                name: COLUMNS[c],
                error: Box::new(error),
            })),
        }
    };

    let id_text = string(0)?;
    let uuid = parse_uuid(&id_text).map_err(|_| {
        fail(Fault::InvalidId {
            input: id_text.clone().into_owned(),
        })
    })?;
    let stream_name = nonempty(1)?;
    let type_ = nonempty(2)?;
    let position = integer(3, 0)?;
    let global_position = integer(4, 1)?;
    let data = jsonb(5)?;
    let metadata = jsonb(6)?;
    let time_text = string(7)?;
    let time = parse_time(&time_text).map_err(|reason| {
        fail(Fault::InvalidTime {
            found: shown(value(7).unwrap_or_default()),
            reason,
        })
    })?;
    Ok(ImportLine {
        line: number,
        uuid,
        message: Message {
            id: format_uuid(&uuid),
            stream_name,
            type_,
            position,
            global_position,
            data: Some(data),
            metadata: (metadata != "null").then_some(metadata),
            time,
        },
    })
}

// ---------------------------------------------------------------- plan

/// The first column, in line order, in which `stored` is not as `line`
/// gives it; `None` when it is stored identically. A line's `null` data
/// or metadata matches SQL NULL and jsonb `null` alike.
fn difference(stored: &Message, line: &Message) -> Option<&'static str> {
    let json_matches = |stored: &Option<String>, given: &Option<String>| {
        let null = |value: &Option<String>| value.as_deref().is_none_or(|v| v == "null");
        stored == given || (null(stored) && null(given))
    };
    if stored.stream_name != line.stream_name {
        Some("stream_name")
    } else if stored.position != line.position {
        Some("position")
    } else if stored.global_position != line.global_position {
        Some("global_position")
    } else if stored.type_ != line.type_ {
        Some("type")
    } else if !json_matches(&stored.data, &line.data) {
        Some("data")
    } else if !json_matches(&stored.metadata, &line.metadata) {
        Some("metadata")
    } else if stored.time != line.time {
        Some("time")
    } else {
        None
    }
}

/// Plans an import of `lines` (as [`parse_lines`] read them) against the
/// target: `stored_by_id` reads a message back by its canonical id (asked
/// once per line, in line order), `stream_version` gives a stream's version
/// (`None` when it has no messages; asked at most once per stream, when
/// its first line not skipped is reached), and `max_global_position` is the
/// target's highest global position (`None` when it has no messages). An
/// adapter holds the target still (its locks) from the look-ups to the
/// inserts, inserts [`ImportPlan::rows`] in order with every column as
/// given, and returns their number.
pub fn plan_import<'l>(
    lines: &'l [ImportLine],
    mut stored_by_id: impl FnMut(&str) -> Option<Message>,
    mut stream_version: impl FnMut(&str) -> Option<i64>,
    max_global_position: Option<i64>,
) -> Result<ImportPlan<'l>, Error> {
    let mut seen: HashMap<[u8; 16], usize> = HashMap::with_capacity(lines.len());
    // Each stream's last position and where it is from; `None` while the
    // stream has no messages.
    let mut versions: HashMap<&str, Option<(i64, Source)>> = HashMap::new();
    let mut highest = max_global_position.map(|g| (g, Source::Stored));
    let mut rows = Vec::with_capacity(lines.len());
    let mut skipped = 0;
    for line in lines {
        let number = line.line;
        let message = &line.message;
        if let Some(&first) = seen.get(&line.uuid) {
            return Err(fault(
                number,
                Fault::RepeatedId {
                    id: message.id.clone(),
                    first,
                },
            ));
        }
        seen.insert(line.uuid, number);
        if let Some(stored) = stored_by_id(&message.id) {
            match difference(&stored, message) {
                None => {
                    skipped += 1;
                    continue;
                }
                Some(column) => {
                    return Err(fault(
                        number,
                        Fault::StoredOtherwise {
                            id: message.id.clone(),
                            column,
                            stream_name: stored.stream_name,
                            position: stored.position,
                            global_position: stored.global_position,
                        },
                    ))
                }
            }
        }
        let name = message.stream_name.as_str();
        let version = versions
            .entry(name)
            .or_insert_with(|| stream_version(name).map(|v| (v, Source::Stored)));
        if let Some((after, source)) = *version {
            let expected = after.checked_add(1);
            if expected != Some(message.position) {
                return Err(fault(
                    number,
                    Fault::PositionNotNext {
                        stream_name: name.to_owned(),
                        position: message.position,
                        expected,
                        after,
                        source,
                    },
                ));
            }
        }
        *version = Some((message.position, Source::Line(number)));
        if let Some((above, source)) = highest {
            if message.global_position <= above {
                return Err(fault(
                    number,
                    Fault::GlobalPositionNotAbove {
                        global_position: message.global_position,
                        highest: above,
                        source,
                    },
                ));
            }
        }
        highest = Some((message.global_position, Source::Line(number)));
        rows.push(line);
    }
    Ok(ImportPlan { rows, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::canonical_json;
    use proptest::prelude::*;

    const ID: &str = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    /// 2026-11-26 18:02:26.513973 UTC.
    const TIME: i64 = 1_795_716_146_513_973;

    fn uuid(n: u32) -> String {
        format!("00000000-0000-4000-8000-{n:012x}")
    }

    fn message(n: u32, stream_name: &str, position: i64, global_position: i64) -> Message {
        Message {
            id: uuid(n),
            stream_name: stream_name.to_owned(),
            type_: "Opened".to_owned(),
            position,
            global_position,
            data: Some(format!("{{\"n\": {n}}}")),
            metadata: None,
            time: TIME + i64::from(n),
        }
    }

    #[test]
    fn export_arguments_take_the_defaults_and_the_readers_rules() {
        let read = ExportRead::new(None, None, None).unwrap();
        assert_eq!(
            read,
            ExportRead {
                position: 1,
                limit: None,
                category: None
            }
        );
        assert_eq!(read.statement(), crate::statement::Statement::Export);
        let read = ExportRead::new(Some(5), Some(0), Some(b"account")).unwrap();
        assert_eq!((read.position, read.limit), (5, Some(0)));
        assert_eq!(
            read.statement(),
            crate::statement::Statement::ExportCategory
        );
        assert_eq!(ExportRead::new(None, Some(-1), None).unwrap().limit, None);
        let error = ExportRead::new(None, Some(-2), None).unwrap_err();
        assert_eq!(
            (error.to_string(), error.sqlstate()),
            ("LIMIT must not be negative".to_owned(), "2201W")
        );
        let error = ExportRead::new(None, None, Some(b"account-1")).unwrap_err();
        assert_eq!(
            (error.to_string(), error.sqlstate()),
            ("Must be a category: account-1".to_owned(), "P0001")
        );
    }

    #[test]
    fn null_lines_are_refused() {
        let error = import_lines(None).unwrap_err();
        assert_eq!(
            (error.to_string(), error.sqlstate()),
            (
                "import_messages: lines must not be NULL".to_owned(),
                "22023"
            )
        );
        assert_eq!(import_lines(Some("")).unwrap(), Vec::new());
    }

    fn sample() -> Message {
        Message {
            id: ID.to_owned(),
            stream_name: "account-123".to_owned(),
            type_: "Deposited".to_owned(),
            position: 4,
            global_position: 17,
            data: Some(r#"{"note": "a \"b\"", "amount": 10}"#.to_owned()),
            metadata: Some(r#"{"correlationStreamName": "x-1"}"#.to_owned()),
            time: TIME,
        }
    }

    const SAMPLE_LINE: &str = r#"{"id":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","stream_name":"account-123","type":"Deposited","position":4,"global_position":17,"data":{"note": "a \"b\"", "amount": 10},"metadata":{"correlationStreamName": "x-1"},"time":"2026-11-26T18:02:26.513973"}"#;

    fn line_of(message: &Message) -> String {
        export_line(&message.row()).unwrap()
    }

    fn one(text: &str) -> Message {
        let mut lines = parse_lines(text).unwrap();
        assert_eq!(lines.len(), 1, "{text}");
        lines.pop().unwrap().message
    }

    fn refused(text: &str) -> (String, &'static str) {
        let error = parse_lines(text).expect_err(text);
        (error.to_string(), error.sqlstate())
    }

    /// The sample line with `column`'s value text replaced by `value`.
    fn with(column: &str, value: &str) -> String {
        let mut members: Vec<(String, String)> = vec![
            ("id".into(), format!("\"{ID}\"")),
            ("stream_name".into(), "\"account-123\"".into()),
            ("type".into(), "\"Deposited\"".into()),
            ("position".into(), "4".into()),
            ("global_position".into(), "17".into()),
            ("data".into(), "{}".into()),
            ("metadata".into(), "null".into()),
            ("time".into(), "\"2026-11-26T18:02:26.513973\"".into()),
        ];
        for member in &mut members {
            if member.0 == column {
                member.1 = value.to_owned();
            }
        }
        let inner: Vec<String> = members
            .iter()
            .map(|(key, value)| format!("\"{key}\":{value}"))
            .collect();
        format!("{{{}}}", inner.join(","))
    }

    /// The sample line without `column`.
    fn without(column: &str) -> String {
        let text = with(column, "REMOVED");
        text.replace(&format!(",\"{column}\":REMOVED"), "")
            .replace(&format!("\"{column}\":REMOVED,"), "")
    }

    #[test]
    fn exports_the_documented_line() {
        assert_eq!(line_of(&sample()), SAMPLE_LINE);
        let mut bare = sample();
        bare.data = None;
        bare.metadata = None;
        bare.position = 0;
        bare.global_position = 1;
        bare.time = 0;
        assert_eq!(
            line_of(&bare),
            r#"{"id":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","stream_name":"account-123","type":"Deposited","position":0,"global_position":1,"data":null,"metadata":null,"time":"1970-01-01T00:00:00.000000"}"#
        );
        bare.position = i64::MAX;
        bare.global_position = i64::MAX;
        assert!(line_of(&bare)
            .contains(r#""position":9223372036854775807,"global_position":9223372036854775807,"#));
    }

    #[test]
    fn escapes_exactly_what_json_requires() {
        let short = [
            (8, "\\b"),
            (9, "\\t"),
            (10, "\\n"),
            (12, "\\f"),
            (13, "\\r"),
        ];
        for byte in 0u8..0x20 {
            let expected = match short.iter().find(|(b, _)| *b == byte) {
                Some((_, text)) => text.to_string(),
                None => format!("\\u00{byte:02x}"),
            };
            let mut out = String::new();
            push_string(&mut out, &format!("a{}b", char::from(byte)));
            assert_eq!(out, format!("\"a{expected}b\""), "byte {byte:#04x}");
        }
        let cases = [
            ("\"", r#""\"""#),
            ("\\", r#""\\""#),
            ("/", r#""/""#),
            ("\u{7f}", "\"\u{7f}\""),
            ("café ☕ 😀 \u{2028}", "\"café ☕ 😀 \u{2028}\""),
            ("\u{1f}é\"\n", r#""\u001fé\"\n""#),
            ("", r#""""#),
        ];
        for (text, expected) in cases {
            let mut out = String::new();
            push_string(&mut out, text);
            assert_eq!(out, expected, "{text:?}");
        }
        // Every escaped string reads back as it was.
        let all: String = (0u8..0x80).map(char::from).filter(|&c| c != '\0').collect();
        let mut message = sample();
        message.stream_name = format!("s{all}é-1");
        message.type_ = all;
        let text = line_of(&message);
        assert!(!text.bytes().any(|b| b < 0x20), "{text:?}");
        assert_eq!(one(&text), message);
    }

    #[test]
    fn times_are_written_with_six_fraction_digits() {
        let cases = [
            (0, "1970-01-01T00:00:00.000000"),
            (1, "1970-01-01T00:00:00.000001"),
            (-1, "1969-12-31T23:59:59.999999"),
            (120_000, "1970-01-01T00:00:00.120000"),
            (MIN_TIME, "0001-01-01T00:00:00.000000"),
            (MAX_TIME, "9999-12-31T23:59:59.999999"),
            (951_782_400_500_000, "2000-02-29T00:00:00.500000"),
            (951_868_799_999_999, "2000-02-29T23:59:59.999999"),
            (-12_219_292_800_000_000, "1582-10-15T00:00:00.000000"),
            (TIME, "2026-11-26T18:02:26.513973"),
        ];
        for (micros, text) in cases {
            assert_eq!(format_time(micros).as_deref(), Some(text), "{micros}");
            assert_eq!(parse_time(text), Ok(micros), "{text}");
        }
        assert_eq!(format_time(MIN_TIME - 1), None);
        assert_eq!(format_time(MAX_TIME + 1), None);
    }

    #[test]
    fn a_time_outside_the_years_a_line_holds_is_an_export_error() {
        let mut message = sample();
        for (micros, shown) in [
            (MAX_TIME + 1, "10000-01-01 00:00:00"),
            (MIN_TIME - 1, "0001-12-31 23:59:59.999999 BC"),
            (i64::MIN, "290309-12-21 19:59:05.224192 BC"),
        ] {
            message.time = micros;
            let error = export_line(&message.row()).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "export_messages: the time of global position 17, {shown}, is outside years 0001 to 9999, which a line holds"
                )
            );
            assert_eq!(error.sqlstate(), "22008");
        }
    }

    #[test]
    fn times_are_read_only_in_the_exported_form() {
        let form = None;
        let cases: [(&str, Option<&str>); 22] = [
            ("2021-02-29T00:00:00.000000", Some("2021-02 has no day 29")),
            ("2000-02-30T00:00:00.000000", Some("2000-02 has no day 30")),
            ("1900-02-29T00:00:00.000000", Some("1900-02 has no day 29")),
            ("2021-04-31T00:00:00.000000", Some("2021-04 has no day 31")),
            ("2021-01-32T00:00:00.000000", Some("2021-01 has no day 32")),
            ("2021-01-00T00:00:00.000000", Some("2021-01 has no day 00")),
            (
                "2021-00-01T00:00:00.000000",
                Some("month 00 is not 01 to 12"),
            ),
            (
                "2021-13-01T00:00:00.000000",
                Some("month 13 is not 01 to 12"),
            ),
            ("0000-01-01T00:00:00.000000", Some("there is no year 0000")),
            (
                "2021-01-01T24:00:00.000000",
                Some("hour 24 is not 00 to 23"),
            ),
            (
                "2021-01-01T23:60:00.000000",
                Some("minute 60 is not 00 to 59"),
            ),
            (
                "2021-01-01T23:59:60.000000",
                Some("second 60 is not 00 to 59"),
            ),
            ("2021-01-01T00:00:00.00000", form),
            ("2021-01-01T00:00:00.0000000", form),
            ("2021-01-01T00:00:00", form),
            ("2021-01-01T00:00:00.", form),
            ("2021-01-01 00:00:00.000000", form),
            ("2021-01-01T00:00:00.000000Z", form),
            ("2021-1-01T00:00:00.0000000", form),
            ("10000-01-01T00:00:00.00000", form),
            ("+021-01-01T00:00:00.000000", form),
            ("２021-01-01T00:00:00.00000", form),
        ];
        for (text, reason) in cases {
            assert_eq!(parse_time(text), Err(reason.map(str::to_owned)), "{text}");
        }
        assert_eq!(
            parse_time("2000-02-29T12:34:56.000789"),
            Ok(951_827_696_000_789)
        );
        assert_eq!(
            parse_time("2400-02-29T00:00:00.000000"),
            Ok(13_574_563_200_000_000)
        );
        // The time column's errors, as a line gives them.
        assert_eq!(
            refused(&with("time", "\"2021-02-29T00:00:00.000000\"")),
            (
                "line 1: \"time\" must be a UTC time as YYYY-MM-DDTHH:MM:SS.ffffff, found \"2021-02-29T00:00:00.000000\" (2021-02 has no day 29)".to_owned(),
                "22P02"
            )
        );
        assert_eq!(
            refused(&with("time", "\"2021-02-28 00:00:00\"")),
            (
                "line 1: \"time\" must be a UTC time as YYYY-MM-DDTHH:MM:SS.ffffff, found \"2021-02-28 00:00:00\"".to_owned(),
                "22P02"
            )
        );
        assert_eq!(
            refused(&with("time", "1795716146513973")),
            (
                "line 1: \"time\" must be a JSON string, found 1795716146513973".to_owned(),
                "22P02"
            )
        );
        // An escape in the string is read as its character.
        assert_eq!(
            one(&with("time", r#""\u0032026-11-26T18:02:26.513973""#)).time,
            TIME
        );
    }

    #[test]
    fn reads_an_exported_line_back() {
        let lines = parse_lines(SAMPLE_LINE).unwrap();
        assert_eq!(
            lines,
            vec![ImportLine {
                line: 1,
                uuid: parse_uuid(ID).unwrap(),
                message: sample(),
            }]
        );
    }

    #[test]
    fn splits_lines_on_newlines() {
        let a = line_of(&message(1, "a-1", 0, 1));
        let b = line_of(&message(2, "a-1", 1, 2));
        for text in [
            format!("{a}\n{b}"),
            format!("{a}\n{b}\n"),
            format!("{a}\r\n{b}\r\n"),
            format!("{a}\r\n{b}"),
            format!(" \t{a} \r\n{b}\t"),
        ] {
            let lines = parse_lines(&text).unwrap();
            let numbers: Vec<usize> = lines.iter().map(|line| line.line).collect();
            assert_eq!(numbers, [1, 2], "{text}");
            assert_eq!(lines[0].message, message(1, "a-1", 0, 1));
            assert_eq!(lines[1].message, message(2, "a-1", 1, 2));
        }
        assert_eq!(parse_lines(""), Ok(Vec::new()));
        let empty = |line: usize| {
            (
                format!("line {line}: is empty (each line is one message)"),
                "22P02",
            )
        };
        assert_eq!(refused("\n"), empty(1));
        assert_eq!(refused(" \r\n"), empty(1));
        assert_eq!(refused(&format!("{a}\n\n{b}")), empty(2));
        assert_eq!(refused(&format!("{a}\n{b}\n\n")), empty(3));
        assert_eq!(refused(&format!("{a}\n\r\n{b}")), empty(2));
        // A lone carriage return does not end a line.
        assert_eq!(
            refused(&format!("{a}\r{b}")),
            (
                format!(
                    "line 1: is not well formed: expected the end of the line at byte {}",
                    a.len() + 1
                ),
                "22P02"
            )
        );
    }

    #[test]
    fn takes_keys_in_any_order_and_whitespace_between_tokens() {
        let text = format!(
            " {{ \"time\" : \"2026-11-26T18:02:26.513973\" ,\t\"metadata\":null,\"data\" :\
             {{\"b\":[1,{{\"x\":null}}],\"a\":1e2, \"a\": 1.50}},\"global_position\": 17,\
             \"position\":4 , \"type\":\"Deposited\",\"stream_name\":\"account-123\",\
             \"\\u0069d\":\"{{{}}}\" }}\r",
            ID.to_uppercase()
        );
        let message = one(&text);
        assert_eq!(message.id, ID);
        assert_eq!(
            message.data.as_deref(),
            Some(r#"{"a": 1.50, "b": [1, {"x": null}]}"#)
        );
        assert_eq!(message.metadata, None);
        assert_eq!((message.position, message.global_position), (4, 17));
        assert_eq!(message.time, TIME);
    }

    #[test]
    fn data_and_metadata_are_kept_as_jsonb_text() {
        let cases = [
            ("null", Some("null"), None),
            ("{}", Some("{}"), Some("{}")),
            ("[]", Some("[]"), Some("[]")),
            ("\"text\"", Some("\"text\""), Some("\"text\"")),
            ("-0.0", Some("0.0"), Some("0.0")),
            ("1E+2", Some("100"), Some("100")),
            ("true", Some("true"), Some("true")),
            (
                r#"{"nested":{"deeper":[[[{"z":"\u00e9\/"}]]]},"k":false}"#,
                Some(r#"{"k": false, "nested": {"deeper": [[[{"z": "é/"}]]]}}"#),
                Some(r#"{"k": false, "nested": {"deeper": [[[{"z": "é/"}]]]}}"#),
            ),
            (
                "[\"]\",\"}\",\",\"]",
                Some(r#"["]", "}", ","]"#),
                Some(r#"["]", "}", ","]"#),
            ),
        ];
        for (value, data, metadata) in cases {
            let line = with("data", value);
            let line = line.replace("\"metadata\":null", &format!("\"metadata\":{value}"));
            let message = one(&line);
            assert_eq!(message.data.as_deref(), data, "{value}");
            assert_eq!(message.metadata.as_deref(), metadata, "{value}");
        }
        let depth = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(
            one(&with("data", &depth(crate::json::MAX_DEPTH))).data,
            Some(depth(crate::json::MAX_DEPTH))
        );
        let invalid = [
            (
                "data",
                "{\"a\":}",
                "\"data\" is not JSON: invalid input syntax for type json (Expected JSON value, but found \"}\".)",
            ),
            (
                "metadata",
                "[1,]",
                "\"metadata\" is not JSON: invalid input syntax for type json (Expected JSON value, but found \"]\".)",
            ),
            (
                "data",
                "nul",
                "\"data\" is not JSON: invalid input syntax for type json (Token \"nul\" is invalid.)",
            ),
            (
                "data",
                "\"\\u0000\"",
                "\"data\" is not JSON: unsupported Unicode escape sequence (\\u0000 cannot be converted to text.)",
            ),
            (
                "metadata",
                "1e1000000000",
                "\"metadata\" is not JSON: value overflows numeric format",
            ),
            (
                "data",
                &depth(crate::json::MAX_DEPTH + 1),
                "\"data\" is not JSON: JSON nested too deeply: more than 1000 levels",
            ),
        ];
        for (column, value, text) in invalid {
            assert_eq!(
                refused(&with(column, value)),
                (format!("line 1: {text}"), "22P02"),
                "{value}"
            );
        }
        // An open bracket takes the rest of the line into the value: the
        // line then ends before its object does.
        let open = with("data", "{\"a\":1");
        assert_eq!(
            refused(&open),
            (
                format!(
                    "line 1: is not well formed: expected \",\" or \"}}\" at byte {}",
                    open.len()
                ),
                "22P02"
            )
        );
        // A NUL byte inside a value's text.
        assert_eq!(
            refused(&with("data", "[\"a\0\"]")),
            (
                "line 1: \"data\" is not JSON: invalid byte sequence for encoding \"UTF8\": 0x00"
                    .to_owned(),
                "22P02"
            )
        );
    }

    #[test]
    fn positions_are_json_integers_within_bigint() {
        let max = i64::MAX.to_string();
        assert_eq!(one(&with("position", &max)).position, i64::MAX);
        assert_eq!(
            one(&with("global_position", &max)).global_position,
            i64::MAX
        );
        assert_eq!(one(&with("position", "0")).position, 0);
        assert_eq!(one(&with("global_position", "1")).global_position, 1);
        let refusals = [
            ("position", "-1", 0),
            ("position", "-0", 0),
            ("position", "1.0", 0),
            ("position", "1e3", 0),
            ("position", "01", 0),
            ("position", "+1", 0),
            ("position", "\"abc\"", 0),
            ("position", "\"1\"", 0),
            ("position", "null", 0),
            ("position", "true", 0),
            ("position", "[1]", 0),
            ("position", "9223372036854775808", 0),
            (
                "position",
                "99999999999999999999999999999999999999999999",
                0,
            ),
            ("global_position", "0", 1),
            ("global_position", "-5", 1),
            ("global_position", "9223372036854775808", 1),
        ];
        for (column, value, min) in refusals {
            let found = if value.len() > 40 {
                format!("{}…", &value[..40])
            } else {
                value.to_owned()
            };
            assert_eq!(
                refused(&with(column, value)),
                (
                    format!(
                        "line 1: \"{column}\" must be an integer from {min} to 9223372036854775807, found {found}"
                    ),
                    "22P02"
                ),
                "{value}"
            );
        }
    }

    #[test]
    fn every_column_fault_names_the_line() {
        let ok = line_of(&message(1, "a-1", 0, 1));
        let long = format!("\"{}\"", "x".repeat(50));
        let cases: Vec<(String, String)> = vec![
            (with("id", "\"x\""), "\"id\" is not a UUID: invalid input syntax for type uuid: \"x\"".into()),
            (
                with("id", "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1\""),
                "\"id\" is not a UUID: invalid input syntax for type uuid: \"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1\"".into(),
            ),
            (with("id", "17"), "\"id\" must be a JSON string, found 17".into()),
            (with("stream_name", "\"\""), "\"stream_name\" must not be empty".into()),
            (with("stream_name", "null"), "\"stream_name\" must be a JSON string, found null".into()),
            (with("type", "\"\""), "\"type\" must not be empty".into()),
            (with("type", "{\"a\": 1}"), "\"type\" must be a JSON string, found {\"a\": 1}".into()),
            (
                with("type", &format!("[{long}]")),
                format!("\"type\" must be a JSON string, found [\"{}…", "x".repeat(38)),
            ),
            (without("id"), "\"id\" is missing".into()),
            (without("stream_name"), "\"stream_name\" is missing".into()),
            (without("type"), "\"type\" is missing".into()),
            (without("position"), "\"position\" is missing".into()),
            (without("global_position"), "\"global_position\" is missing".into()),
            (without("data"), "\"data\" is missing".into()),
            (without("metadata"), "\"metadata\" is missing".into()),
            (without("time"), "\"time\" is missing".into()),
            ("{}".into(), "\"id\" is missing".into()),
            (" { } ".into(), "\"id\" is missing".into()),
            // Columns are checked in line order: the id's fault comes first.
            (
                with("id", "1").replace("\"type\":\"Deposited\"", "\"type\":2"),
                "\"id\" must be a JSON string, found 1".into(),
            ),
        ];
        for (bad, text) in cases {
            assert_eq!(
                refused(&format!("{ok}\n{bad}")),
                (format!("line 2: {text}"), "22P02"),
                "{bad}"
            );
        }
    }

    #[test]
    fn syntax_faults_name_the_byte() {
        let keys = "\"id\", \"stream_name\", \"type\", \"position\", \"global_position\", \"data\", \"metadata\" and \"time\"";
        let s = with("metadata", "null");
        let cases: Vec<(String, String)> = vec![
            (
                "[1, 2]".into(),
                "must be a JSON object, found [1, 2]".into(),
            ),
            (
                "\"text\"".into(),
                "must be a JSON object, found \"text\"".into(),
            ),
            ("17".into(), "must be a JSON object, found 17".into()),
            ("null".into(), "must be a JSON object, found null".into()),
            (
                ",".into(),
                "is not well formed: expected a JSON object at byte 0".into(),
            ),
            (
                "{".into(),
                "is not well formed: expected a key at byte 1".into(),
            ),
            (
                "{\"id\"".into(),
                "is not well formed: expected \":\" at byte 5".into(),
            ),
            (
                "{\"id\":".into(),
                "is not well formed: expected a JSON value at byte 6".into(),
            ),
            (
                "{\"id\":}".into(),
                "is not well formed: expected a JSON value at byte 6".into(),
            ),
            (
                "{\"id\":\"x\"".into(),
                "is not well formed: expected \",\" or \"}\" at byte 9".into(),
            ),
            (
                "{\"id\":\"x\",}".into(),
                "is not well formed: expected a key at byte 10".into(),
            ),
            (
                "{\"id\":\"x\" \"type\":\"t\"}".into(),
                "is not well formed: expected \",\" or \"}\" at byte 10".into(),
            ),
            (
                "{id:1}".into(),
                "is not well formed: expected a key at byte 1".into(),
            ),
            (
                "{\"id\":\"x}".into(),
                "is not well formed: expected \",\" or \"}\" at byte 9".into(),
            ),
            (
                "{\"i\\d\":1}".into(),
                "is not well formed: expected a JSON escape at byte 3".into(),
            ),
            (
                "{\"id\":\"a\tb\"}".into(),
                "is not well formed: expected an escape for a control character, or '\"' at byte 8"
                    .into(),
            ),
            (
                "{\"id\":\"\\ud800\"}".into(),
                "is not well formed: expected a low surrogate at byte 7".into(),
            ),
            (
                format!("{s} x"),
                format!(
                    "is not well formed: expected the end of the line at byte {}",
                    s.len() + 1
                ),
            ),
            (
                format!("{s}{s}"),
                format!(
                    "is not well formed: expected the end of the line at byte {}",
                    s.len()
                ),
            ),
            (
                s.replace("\"data\"", "\"metdata\""),
                format!("unknown key \"metdata\" (the keys are {keys})"),
            ),
            (
                s.replace("\"data\"", "\"Data\""),
                format!("unknown key \"Data\" (the keys are {keys})"),
            ),
            (
                s.replace("\"data\"", "\"metadata\""),
                "key \"metadata\" is repeated".into(),
            ),
            (
                s.replace("\"type\"", "\"\\u0069d\""),
                "key \"\\u0069d\" is repeated".into(),
            ),
        ];
        for (bad, text) in cases {
            assert_eq!(refused(&bad), (format!("line 1: {text}"), "22P02"), "{bad}");
        }
        // A string value of a text column is decoded by the same rules.
        assert_eq!(
            refused(&with("type", "\"a\\u0000b\"")),
            (
                format!(
                    "line 1: is not well formed: expected no \\u0000 (jsonb holds none) at byte {}",
                    with("type", "").find(",\"position\"").unwrap() + 2
                ),
                "22P02"
            )
        );
    }

    #[test]
    fn limits_are_checked_before_any_line_is_read() {
        let a = line_of(&message(1, "a-1", 0, 1));
        let limits = Limits {
            messages: 2,
            bytes: 3 * (a.len() + 1),
        };
        let two = format!("{a}\n{a}\n");
        assert_eq!(parse_lines_within(&two, limits).map(|l| l.len()), Ok(2));
        // A third line, even a broken one, is refused by the count first.
        let error = parse_lines_within(&format!("{two}x"), limits).unwrap_err();
        assert_eq!(
            (error.to_string(), error.sqlstate()),
            (
                "import_messages: at most 2 lines per call (this call has 3)".to_owned(),
                "54000"
            )
        );
        let error = parse_lines_within(&format!("{two}\n"), limits).unwrap_err();
        assert_eq!(
            error.to_string(),
            "import_messages: at most 2 lines per call (this call has 3)"
        );
        let exact = "x".repeat(limits.bytes);
        let error = parse_lines_within(&exact, limits).unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 1: must be a JSON object, found xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…"
        );
        let error = parse_lines_within(&format!("{exact}x"), limits).unwrap_err();
        assert_eq!(
            (error.to_string(), error.sqlstate()),
            (
                format!(
                    "import_messages: at most {} bytes of text per call (this call has {})",
                    limits.bytes,
                    limits.bytes + 1
                ),
                "54000"
            )
        );
        assert_eq!(Limits::DEFAULT.messages, 10_000);
        assert_eq!(Limits::DEFAULT.bytes, 64 * 1024 * 1024);
    }

    #[test]
    fn jsonb_text_of_a_call_is_bounded() {
        // `1e400` is 5 bytes in the line and 401 as jsonb text.
        let line = with("data", "1e400").replace("\"metadata\":null", "\"metadata\":1e400");
        assert!(line.len() < 400);
        let fits = Limits {
            messages: 10,
            bytes: 802,
        };
        let message = &parse_lines_within(&line, fits).unwrap()[0].message;
        assert_eq!(message.data.as_deref().map(str::len), Some(401));
        assert_eq!(message.metadata.as_deref().map(str::len), Some(401));
        let tight = Limits {
            messages: 10,
            bytes: 801,
        };
        let error = parse_lines_within(&line, tight).unwrap_err();
        assert_eq!(
            (error.to_string(), error.sqlstate()),
            (
                "line 1: \"metadata\" takes the call's data and metadata past 801 bytes of jsonb text"
                    .to_owned(),
                "54000"
            )
        );
        // The bound is over the call, not each line.
        let two = format!("{line}\n{line}");
        assert!(two.len() < 802);
        let error = parse_lines_within(&two, fits).unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 2: \"data\" takes the call's data and metadata past 802 bytes of jsonb text"
        );
    }

    fn stored(messages: &[Message]) -> impl Fn(&str) -> Option<Message> + '_ {
        move |id| messages.iter().find(|m| m.id == id).cloned()
    }

    fn versions(messages: &[Message]) -> impl Fn(&str) -> Option<i64> + '_ {
        move |name| {
            messages
                .iter()
                .filter(|m| m.stream_name == name)
                .map(|m| m.position)
                .max()
        }
    }

    fn highest(messages: &[Message]) -> Option<i64> {
        messages.iter().map(|m| m.global_position).max()
    }

    fn text(messages: &[Message]) -> String {
        messages.iter().map(|m| line_of(m) + "\n").collect()
    }

    /// The plan of `incoming` against a target holding `target`: the global
    /// positions to insert and the number skipped, or the error.
    fn plan(
        target: &[Message],
        incoming: &[Message],
    ) -> Result<(Vec<i64>, usize), (String, &'static str)> {
        let lines = parse_lines(&text(incoming)).unwrap();
        plan_import(&lines, stored(target), versions(target), highest(target))
            .map(|plan| {
                (
                    plan.rows
                        .iter()
                        .map(|line| line.message.global_position)
                        .collect(),
                    plan.skipped,
                )
            })
            .map_err(|error| (error.to_string(), error.sqlstate()))
    }

    #[test]
    fn plans_lines_onto_an_empty_store() {
        let incoming = [
            message(1, "a-1", 0, 1),
            message(2, "b-1", 5, 2),
            message(3, "a-1", 1, 10),
            message(4, "b-1", 6, 11),
        ];
        assert_eq!(plan(&[], &incoming), Ok((vec![1, 2, 10, 11], 0)));
        assert_eq!(plan(&[], &[]), Ok((vec![], 0)));
    }

    #[test]
    fn a_stream_empty_in_the_target_may_start_anywhere() {
        let target = [message(1, "a-1", 0, 5)];
        // Retention removed b-1's first 100 messages where it came from.
        let incoming = [message(2, "b-1", 100, 6), message(3, "b-1", 101, 7)];
        assert_eq!(plan(&target, &incoming), Ok((vec![6, 7], 0)));
        assert_eq!(
            plan(&target, &[message(2, "b-1", i64::MAX, 6)]),
            Ok((vec![6], 0))
        );
    }

    #[test]
    fn positions_must_follow_the_stream() {
        let target = [message(1, "a-1", 0, 1), message(2, "a-1", 1, 2)];
        assert_eq!(plan(&target, &[message(3, "a-1", 2, 3)]), Ok((vec![3], 0)));
        assert_eq!(
            plan(&target, &[message(3, "a-1", 3, 3)]),
            Err((
                "line 1: position 3 of stream a-1 is not the stream's next one, 2 (after position 1 in the store)".to_owned(),
                "22023"
            ))
        );
        assert_eq!(
            plan(&target, &[message(3, "a-1", 0, 3)]),
            Err((
                "line 1: position 0 of stream a-1 is not the stream's next one, 2 (after position 1 in the store)".to_owned(),
                "22023"
            ))
        );
        assert_eq!(
            plan(&[], &[message(1, "b-1", 7, 1), message(2, "b-1", 9, 2)]),
            Err((
                "line 2: position 9 of stream b-1 is not the stream's next one, 8 (after position 7 on line 1)".to_owned(),
                "22023"
            ))
        );
        let full = [message(1, "a-1", i64::MAX, 1)];
        assert_eq!(
            plan(&full, &[message(2, "a-1", i64::MAX, 2)]),
            Err((
                "line 1: stream a-1 takes no more messages (after position 9223372036854775807 in the store, the largest bigint)".to_owned(),
                "22023"
            ))
        );
        assert_eq!(
            plan(&[], &[message(1, "a-1", i64::MAX, 1), message(2, "a-1", 0, 2)]),
            Err((
                "line 2: stream a-1 takes no more messages (after position 9223372036854775807 on line 1, the largest bigint)".to_owned(),
                "22023"
            ))
        );
    }

    #[test]
    fn global_positions_must_rise_above_the_store() {
        let target = [message(1, "a-1", 0, 10)];
        assert_eq!(
            plan(&target, &[message(2, "b-1", 0, 10)]),
            Err((
                "line 1: global position 10 is not above 10, the highest in the store".to_owned(),
                "22023"
            ))
        );
        assert_eq!(
            plan(&target, &[message(2, "b-1", 0, 3)]),
            Err((
                "line 1: global position 3 is not above 10, the highest in the store".to_owned(),
                "22023"
            ))
        );
        assert_eq!(
            plan(
                &target,
                &[message(2, "b-1", 0, 20), message(3, "c-1", 0, 15)]
            ),
            Err((
                "line 2: global position 15 is not above 20, the highest on line 1".to_owned(),
                "22023"
            ))
        );
        assert_eq!(
            plan(
                &target,
                &[message(2, "b-1", 0, 20), message(3, "c-1", 0, 20)]
            ),
            Err((
                "line 2: global position 20 is not above 20, the highest on line 1".to_owned(),
                "22023"
            ))
        );
        assert_eq!(
            plan(
                &target,
                &[message(2, "b-1", 0, 11), message(3, "c-1", 0, i64::MAX)]
            ),
            Ok((vec![11, i64::MAX], 0))
        );
    }

    #[test]
    fn ids_are_unique() {
        let mut again = message(1, "b-1", 0, 2);
        again.id = uuid(1).to_uppercase();
        let lines =
            parse_lines(&text(&[message(1, "a-1", 0, 1), message(2, "a-1", 1, 2)])).unwrap();
        assert_eq!(lines.len(), 2);
        let incoming = text(&[message(1, "a-1", 0, 1)])
            + &line_of(&again).replace(&uuid(1), &uuid(1).to_uppercase());
        let lines = parse_lines(&incoming).unwrap();
        let error = plan_import(&lines, |_| None, |_| None, None).unwrap_err();
        assert_eq!(
            (error.to_string(), error.sqlstate()),
            (
                format!("line 2: id {} is repeated (first on line 1)", uuid(1)),
                "23505"
            )
        );
        // Repeated even when the first is stored identically and skipped.
        let target = [message(1, "a-1", 0, 1)];
        let error =
            plan_import(&lines, stored(&target), versions(&target), highest(&target)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("line 2: id {} is repeated (first on line 1)", uuid(1))
        );
    }

    #[test]
    fn an_id_stored_otherwise_is_refused_naming_where_it_is() {
        let stored_one = message(1, "a-1", 3, 7);
        type Change = fn(&mut Message);
        let changes: [(&str, Change); 7] = [
            ("stream_name", |m| m.stream_name = "b-1".into()),
            ("position", |m| m.position = 4),
            ("global_position", |m| m.global_position = 8),
            ("type", |m| m.type_ = "Closed".into()),
            ("data", |m| m.data = Some("{}".into())),
            ("metadata", |m| m.metadata = Some("{}".into())),
            ("time", |m| m.time += 1),
        ];
        for (column, change) in changes {
            let mut line = stored_one.clone();
            change(&mut line);
            assert_eq!(
                plan(std::slice::from_ref(&stored_one), &[line]),
                Err((
                    format!(
                        "line 1: id {} is stored with another \"{column}\" (at global position 7, position 3 of stream a-1)",
                        uuid(1)
                    ),
                    "23505"
                )),
                "{column}"
            );
        }
        assert_eq!(
            plan(
                std::slice::from_ref(&stored_one),
                std::slice::from_ref(&stored_one)
            ),
            Ok((vec![], 1))
        );
    }

    #[test]
    fn a_lines_null_matches_sql_null_and_jsonb_null() {
        let mut target = message(1, "a-1", 0, 1);
        target.data = None;
        target.metadata = Some("null".into());
        let mut line = target.clone();
        line.data = Some("null".into());
        line.metadata = None;
        assert_eq!(plan(&[target.clone()], &[line.clone()]), Ok((vec![], 1)));
        // An exported line of such a message reads back by write_messages'
        // rule: data null is jsonb null, metadata null is SQL NULL.
        assert_eq!(one(&line_of(&target)), line);
        // Only null matches null.
        line.data = Some("{}".into());
        assert_eq!(
            plan(&[target], &[line]),
            Err((
                format!(
                    "line 1: id {} is stored with another \"data\" (at global position 1, position 0 of stream a-1)",
                    uuid(1)
                ),
                "23505"
            ))
        );
    }

    #[test]
    fn a_rerun_of_an_interrupted_import_stores_the_rest() {
        let source = [
            message(1, "a-1", 0, 1),
            message(2, "b-1", 0, 2),
            message(3, "a-1", 1, 3),
            message(4, "b-1", 1, 4),
            message(5, "a-1", 2, 5),
        ];
        let lines = parse_lines(&text(&source)).unwrap();
        // The first run stopped after two lines were committed.
        let mut target: Vec<Message> = source[..2].to_vec();
        let plan =
            plan_import(&lines, stored(&target), versions(&target), highest(&target)).unwrap();
        assert_eq!(plan.skipped, 2);
        let numbers: Vec<usize> = plan.rows.iter().map(|line| line.line).collect();
        assert_eq!(numbers, [3, 4, 5]);
        target.extend(plan.rows.iter().map(|line| line.message.clone()));
        assert_eq!(target, source);
        // Run once more: everything is skipped, nothing stored twice.
        let plan =
            plan_import(&lines, stored(&target), versions(&target), highest(&target)).unwrap();
        assert_eq!((plan.rows.len(), plan.skipped), (0, 5));

        // Negative control: a prefix stored otherwise (here one microsecond
        // off) is not skipped, so the skip is of identical rows only.
        let mut other: Vec<Message> = source[..2].to_vec();
        other[1].time += 1;
        let error =
            plan_import(&lines, stored(&other), versions(&other), highest(&other)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "line 2: id {} is stored with another \"time\" (at global position 2, position 0 of stream b-1)",
                uuid(2)
            )
        );
        // And without the prefix stored, its lines are not skipped: each
        // line is inserted once, in order.
        let plan = plan_import(&lines, |_| None, |_| None, None).unwrap();
        assert_eq!((plan.rows.len(), plan.skipped), (5, 0));
    }

    #[test]
    fn look_ups_are_asked_as_documented() {
        let incoming = [
            message(1, "a-1", 0, 1),
            message(2, "a-1", 1, 2),
            message(3, "b-1", 0, 3),
        ];
        let lines = parse_lines(&text(&incoming)).unwrap();
        let mut ids = Vec::new();
        let mut streams = Vec::new();
        plan_import(
            &lines,
            |id| {
                ids.push(id.to_owned());
                None
            },
            |name| {
                streams.push(name.to_owned());
                None
            },
            None,
        )
        .unwrap();
        assert_eq!(ids, [uuid(1), uuid(2), uuid(3)]);
        assert_eq!(streams, ["a-1", "b-1"]);
    }

    fn json_value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            any::<bool>().prop_map(|b| b.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            "-?[1-9][0-9]{0,19}\\.[0-9]{1,10}",
            any::<String>().prop_map(|s| {
                let mut out = String::new();
                push_string(&mut out, &s.replace('\0', ""));
                out
            }),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                proptest::collection::vec(("[a-zé\"\\\\]{0,6}", inner), 0..5).prop_map(|members| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(key, value)| {
                            let mut out = String::new();
                            push_string(&mut out, &key);
                            format!("{out}:{value}")
                        })
                        .collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
        .prop_map(|text| canonical_json(&text).expect("generated JSON is valid"))
    }

    fn text_column() -> impl Strategy<Value = String> {
        any::<String>()
            .prop_map(|s| s.replace('\0', ""))
            .prop_filter("not empty", |s| !s.is_empty())
    }

    proptest! {
        #[test]
        fn every_row_reads_back_as_it_was_exported(
            uuid in any::<[u8; 16]>(),
            stream_name in text_column(),
            type_ in text_column(),
            position in 0..=i64::MAX,
            global_position in 1..=i64::MAX,
            data in json_value(),
            metadata in proptest::option::of(json_value().prop_filter("SQL NULL's line", |m| m != "null")),
            time in MIN_TIME..=MAX_TIME,
        ) {
            let message = Message {
                id: format_uuid(&uuid),
                stream_name,
                type_,
                position,
                global_position,
                data: Some(data),
                metadata,
                time,
            };
            let line = export_line(&message.row()).unwrap();
            prop_assert!(!line.contains('\n'));
            let lines = parse_lines(&line).unwrap();
            prop_assert_eq!(lines, vec![ImportLine { line: 1, uuid, message: message.clone() }]);
            // With a line end, and a CRLF one, the same.
            prop_assert_eq!(parse_lines(&format!("{line}\n")).unwrap()[0].message.clone(), message.clone());
            prop_assert_eq!(parse_lines(&format!("{line}\r\n")).unwrap()[0].message.clone(), message);
        }

        #[test]
        fn times_round_trip(time in MIN_TIME..=MAX_TIME) {
            let text = format_time(time).unwrap();
            prop_assert_eq!(text.len(), 26);
            prop_assert_eq!(parse_time(&text), Ok(time));
        }

        #[test]
        fn any_text_is_read_without_a_panic(text in "\\PC{0,200}") {
            let _ = parse_lines(&text);
        }
    }
}
