//! The rules of batch writes that do not touch storage: `write_messages`
//! (many messages onto one stream) and `write_batch` (many streams), both
//! atomic. Both engines call this module: it reads the JSON argument,
//! checks it, orders the category locks, plans every row's position from
//! the streams' versions, and decides whether an idempotent write was
//! written already.
//!
//! A message is `{"id": "<uuid>", "type": "…", "data": <any JSON>,
//! "metadata": <any JSON> | null}`: `id`, `type` and `data` are required;
//! `metadata` absent or JSON `null` is stored as SQL NULL (`data`'s JSON
//! `null` is stored as jsonb `null`). Any other key is refused, so that a
//! typo such as `"metdata"` is an error rather than metadata silently
//! stored as NULL. A `write_batch` entry is `{"stream_name": "…",
//! "expected_version": <integer> | null, "messages": [ … ]}`, and refuses
//! other keys the same way.
//!
//! **Precondition: the JSON argument is canonical JSON text**, what
//! [`crate::json::canonical_json`] returns and what Postgres prints for a
//! jsonb value (`jsonb_out`): keys sorted shorter-first then bytewise,
//! without duplicates, `", "` and `": "` the only spacing, no exponents in
//! numbers. The reader here is strict about that form and returns slices of
//! the input: data and metadata are already canonical, so the SQLite
//! extension stores them as they are and the Postgres extension hands them
//! to jsonb input. Text out of that form is refused with
//! [`Fault::NotCanonical`] (naming its byte offset), never guessed at: the
//! reader checks every token's form and the spacing everywhere, and the key
//! order of entries and messages (so no key is there twice). What it does
//! not check, key order inside data and metadata and which of JSON's
//! escapes a string uses, it passes through as given. It never recurses on
//! the input's depth.
//!
//! Checks run in this order, and the first fault is the error: the size of
//! the text; `write_messages`' stream name and expected version; the
//! argument's shape (an array, not empty); then, in input order, each entry
//! (`write_batch`) followed by its messages, each message checked in turn
//! up to [`MAX_MESSAGES`] in all; last, the number of messages. Past the
//! limit messages are only counted, so memory stays bounded whatever the
//! input.
//!
//! An adapter writes a batch in this order, in one transaction:
//! 1. [`Batch::of_messages`] or [`Batch::of_entries`];
//! 2. take the advisory locks of [`Batch::lock_keys`], in that order;
//! 3. when idempotent, read the ids back and ask
//!    [`Batch::stored_outcome`]: `Some` is the answer, with nothing
//!    written; `None` goes on;
//! 4. look up the versions of [`Batch::streams`], [`Batch::plan`], insert
//!    [`Plan::rows`] in order and return [`Plan::last_positions`]
//!    (`write_messages` its only element).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use crate::error::Error;
use crate::uuid::{format_uuid, parse_uuid};
use crate::write::{self, CategoryLock, EMPTY_STREAM_VERSION};

/// The most messages one call writes. A call is one transaction holding
/// its category locks until it ends: the bound keeps other writers of those
/// categories from waiting on one huge call, and keeps what a call plans
/// and looks up in memory small.
pub const MAX_MESSAGES: usize = 10_000;

/// The most JSON text one call reads, in bytes (64 MiB), checked before the
/// text is read. On Postgres that is the jsonb argument's text output; on
/// SQLite, the canonical text of the argument.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// The bounds a call is checked against: [`Limits::DEFAULT`] in the
/// extensions, smaller ones in tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub messages: usize,
    pub bytes: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        messages: MAX_MESSAGES,
        bytes: MAX_BYTES,
    };
}

/// Where in the input a fault is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// An argument as a whole (its text names which).
    Argument,
    /// A `write_batch` entry, from 0.
    Entry(usize),
    /// A message, from 0 in its array; `entry` is `None` for `write_messages`.
    Message {
        entry: Option<usize>,
        message: usize,
    },
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Argument => Ok(()),
            Place::Entry(entry) => write!(f, "entry {entry}"),
            Place::Message {
                entry: None,
                message,
            } => write!(f, "message {message}"),
            Place::Message {
                entry: Some(entry),
                message,
            } => write!(f, "entry {entry}, message {message}"),
        }
    }
}

/// What is wrong with a batch argument. `name` fields are printed as they
/// stand: a SQL argument bare (`stream_name`), a JSON key quoted (`"id"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    TooManyMessages {
        function: &'static str,
        limit: usize,
        count: usize,
    },
    TooManyBytes {
        function: &'static str,
        limit: usize,
        len: usize,
    },
    /// The caller broke the precondition: the text is not canonical JSON.
    NotCanonical {
        name: &'static str,
        offset: usize,
        expected: &'static str,
    },
    NotAnArray {
        name: &'static str,
        found: &'static str,
    },
    Empty {
        name: &'static str,
    },
    Null {
        name: &'static str,
    },
    NotAnObject {
        found: &'static str,
    },
    /// `key` is the key's JSON text, quotes included.
    UnknownKey {
        key: String,
        known: &'static str,
    },
    Missing {
        name: &'static str,
    },
    NotAString {
        name: &'static str,
        found: &'static str,
    },
    InvalidId {
        input: String,
    },
    /// `id` is the canonical form; `first` is where it was first given.
    RepeatedId {
        id: String,
        first: Place,
    },
    NotAnInteger {
        name: &'static str,
        found: String,
    },
    BelowMinusOne {
        name: &'static str,
        value: i64,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::TooManyMessages {
                function,
                limit,
                count,
            } => write!(
                f,
                "{function}: at most {limit} messages per call (this call has {count})"
            ),
            Fault::TooManyBytes {
                function,
                limit,
                len,
            } => write!(
                f,
                "{function}: at most {limit} bytes of JSON text per call (this call has {len})"
            ),
            Fault::NotCanonical {
                name,
                offset,
                expected,
            } => write!(
                f,
                "{name} is not canonical JSON text: expected {expected} at byte {offset}"
            ),
            Fault::NotAnArray { name, found } => {
                write!(f, "{name} must be a JSON array, not {found}")
            }
            Fault::Empty { name } => write!(f, "{name} must not be empty"),
            Fault::Null { name } => write!(f, "{name} must not be NULL"),
            Fault::NotAnObject { found } => write!(f, "must be a JSON object, not {found}"),
            Fault::UnknownKey { key, known } => {
                write!(f, "unknown key {key} (the keys are {known})")
            }
            Fault::Missing { name } => write!(f, "{name} is missing"),
            Fault::NotAString { name, found } => {
                write!(f, "{name} must be a JSON string, not {found}")
            }
            Fault::InvalidId { input } => write!(
                f,
                "\"id\" is not a UUID: {}",
                Error::InvalidUuid {
                    input: input.clone()
                }
            ),
            Fault::RepeatedId { id, first } => {
                write!(f, "id {id} is repeated (first at {first})")
            }
            Fault::NotAnInteger { name, found } => {
                write!(f, "{name} must be an integer or null, not {found}")
            }
            Fault::BelowMinusOne { name, value } => {
                write!(f, "{name} must not be less than -1 (it is {value})")
            }
        }
    }
}

/// How a stored message differs from the one an idempotent write gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// Not stored, while the id at `stored` is: the batch is partly stored.
    NotStored {
        stored: Place,
    },
    Stream {
        stored: String,
        given: String,
    },
    Position {
        stream_name: String,
        stored: i64,
        expected: i64,
    },
    Type,
    Data,
    Metadata,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::NotStored { stored } => write!(
                f,
                "is not stored, but the id of {stored} is (the batch is partly stored)"
            ),
            Difference::Stream { stored, given } => {
                write!(f, "is stored in stream {stored}, not {given}")
            }
            Difference::Position {
                stream_name,
                stored,
                expected,
            } => write!(
                f,
                "is stored at position {stored} of {stream_name}, not {expected}"
            ),
            Difference::Type => write!(f, "is stored with another type"),
            Difference::Data => write!(f, "is stored with other data"),
            Difference::Metadata => write!(f, "is stored with other metadata"),
        }
    }
}

/// One message to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The canonical uuid form (lowercase, hyphenated), as stored.
    pub id: String,
    /// The id's sixteen bytes.
    pub uuid: [u8; 16],
    pub type_: Cow<'a, str>,
    /// Canonical JSON text.
    pub data: &'a str,
    /// Canonical JSON text; `None` for SQL NULL.
    pub metadata: Option<&'a str>,
}

/// The messages of one stream, with the version the stream must have
/// before them (`None`: any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub stream_name: Cow<'a, str>,
    pub expected_version: Option<i64>,
    pub messages: Vec<Message<'a>>,
}

/// Which function a batch is the argument of: errors name its messages
/// `message N` for `write_messages`, `entry E, message N` for `write_batch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    WriteMessages,
    WriteBatch,
}

impl Call {
    /// The SQL function's name.
    pub fn name(self) -> &'static str {
        match self {
            Call::WriteMessages => "write_messages",
            Call::WriteBatch => "write_batch",
        }
    }

    fn entry(self, index: usize) -> Option<usize> {
        (self == Call::WriteBatch).then_some(index)
    }
}

/// A checked batch: at least one entry, each of at least one message, ids
/// distinct, at most [`MAX_MESSAGES`] messages in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch<'a> {
    pub call: Call,
    pub entries: Vec<Entry<'a>>,
}

/// One row to insert: `batch.entries[entry].messages[message]` at
/// `position` of `stream_name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row<'b> {
    pub entry: usize,
    pub message: usize,
    pub stream_name: &'b str,
    pub position: i64,
}

/// The positions of one entry's first and last messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub first: i64,
    pub last: i64,
}

/// The rows of a batch in the order to insert them (input order), and each
/// entry's positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan<'b> {
    pub rows: Vec<Row<'b>>,
    pub entries: Vec<Span>,
}

impl Plan<'_> {
    /// What the call returns: each entry's last position, in input order
    /// (`write_messages` returns the only one).
    pub fn last_positions(&self) -> Vec<i64> {
        self.entries.iter().map(|span| span.last).collect()
    }
}

/// A message as the adapter read it back by id: data and metadata as
/// canonical JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRow {
    pub stream_name: String,
    pub position: i64,
    pub type_: String,
    /// `None` for SQL NULL (`write_message` stores a NULL data as given),
    /// which no batch message has.
    pub data: Option<String>,
    pub metadata: Option<String>,
}

const MESSAGE_KEYS: &str = "\"id\", \"type\", \"data\" and \"metadata\"";
const ENTRY_KEYS: &str = "\"stream_name\", \"expected_version\" and \"messages\"";

fn invalid(place: Place, fault: Fault) -> Error {
    Error::InvalidBatch { place, fault }
}

fn check_expected_version(
    place: Place,
    name: &'static str,
    expected_version: Option<i64>,
) -> Result<(), Error> {
    match expected_version {
        Some(value) if value < EMPTY_STREAM_VERSION => {
            Err(invalid(place, Fault::BelowMinusOne { name, value }))
        }
        _ => Ok(()),
    }
}

fn check_size(call: Call, input: &str, limits: Limits) -> Result<(), Error> {
    if input.len() > limits.bytes {
        return Err(invalid(
            Place::Argument,
            Fault::TooManyBytes {
                function: call.name(),
                limit: limits.bytes,
                len: input.len(),
            },
        ));
    }
    Ok(())
}

impl<'a> Batch<'a> {
    /// `write_messages(stream_name, messages, expected_version)`: one entry.
    /// A stream name that is not UTF-8 (or holds a NUL) is refused with
    /// Postgres' own encoding error, as Postgres refuses such text before
    /// any function sees it. Any other name is taken, a category's too, as
    /// Message DB's `write_message` takes it.
    pub fn of_messages(
        stream_name: Option<&'a [u8]>,
        messages_json: &'a str,
        expected_version: Option<i64>,
    ) -> Result<Batch<'a>, Error> {
        Batch::of_messages_within(
            stream_name,
            messages_json,
            expected_version,
            Limits::DEFAULT,
        )
    }

    /// `write_messages`' SQL arguments as a call passes them: a NULL
    /// `messages` is refused after the stream name and expected version
    /// are checked, as any other fault of `messages` is.
    pub fn of_write_messages(
        stream_name: Option<&'a [u8]>,
        messages_json: Option<&'a str>,
        expected_version: Option<i64>,
    ) -> Result<Batch<'a>, Error> {
        Batch::of_nullable_messages(
            stream_name,
            messages_json,
            expected_version,
            Limits::DEFAULT,
        )
    }

    /// `write_batch`'s SQL argument as a call passes it.
    pub fn of_write_batch(batch_json: Option<&'a str>) -> Result<Batch<'a>, Error> {
        match batch_json {
            Some(json) => Batch::of_entries(json),
            None => Err(invalid(Place::Argument, Fault::Null { name: "batch" })),
        }
    }

    /// [`Batch::of_messages`] checked against `limits`.
    pub fn of_messages_within(
        stream_name: Option<&'a [u8]>,
        messages_json: &'a str,
        expected_version: Option<i64>,
        limits: Limits,
    ) -> Result<Batch<'a>, Error> {
        Batch::of_nullable_messages(stream_name, Some(messages_json), expected_version, limits)
    }

    fn of_nullable_messages(
        stream_name: Option<&'a [u8]>,
        messages_json: Option<&'a str>,
        expected_version: Option<i64>,
        limits: Limits,
    ) -> Result<Batch<'a>, Error> {
        if let Some(json) = messages_json {
            check_size(Call::WriteMessages, json, limits)?;
        }
        let stream_name = match stream_name {
            None => {
                return Err(invalid(
                    Place::Argument,
                    Fault::Null {
                        name: "stream_name",
                    },
                ))
            }
            Some(name) => crate::text::utf8_text(name)?,
        };
        if stream_name.is_empty() {
            return Err(invalid(
                Place::Argument,
                Fault::Empty {
                    name: "stream_name",
                },
            ));
        }
        check_expected_version(Place::Argument, "expected_version", expected_version)?;
        let Some(messages_json) = messages_json else {
            return Err(invalid(Place::Argument, Fault::Null { name: "messages" }));
        };
        let mut reader = Reader::new(messages_json, "messages");
        let mut messages = Messages::new(limits);
        reader.messages_array(&mut messages, None, "messages", Place::Argument)?;
        reader.end()?;
        messages.check_count(Call::WriteMessages)?;
        Ok(Batch {
            call: Call::WriteMessages,
            entries: vec![Entry {
                stream_name: Cow::Borrowed(stream_name),
                expected_version,
                messages: messages.taken.pop().unwrap_or_default(),
            }],
        })
    }

    /// `write_batch(batch)`: one entry per element of the array.
    pub fn of_entries(batch_json: &'a str) -> Result<Batch<'a>, Error> {
        Batch::of_entries_within(batch_json, Limits::DEFAULT)
    }

    /// [`Batch::of_entries`] checked against `limits`.
    pub fn of_entries_within(batch_json: &'a str, limits: Limits) -> Result<Batch<'a>, Error> {
        check_size(Call::WriteBatch, batch_json, limits)?;
        let mut reader = Reader::new(batch_json, "batch");
        reader.nonempty_array("batch", Place::Argument)?;
        let mut messages = Messages::new(limits);
        let mut heads = Vec::new();
        for index in 0.. {
            let place = Place::Entry(index);
            let element = reader.value()?;
            let mut at = Reader::at(batch_json, "batch", element.start);
            if element.kind != Kind::Object {
                return Err(invalid(
                    place,
                    Fault::NotAnObject {
                        found: element.kind.described(),
                    },
                ));
            }
            let (mut stream_name, mut expected_version, mut list) = (None, None, None);
            for member in at.members()? {
                match member.key.as_ref() {
                    "stream_name" => stream_name = Some(member.value),
                    "expected_version" => expected_version = Some(member.value),
                    "messages" => list = Some(member.value),
                    _ => {
                        return Err(invalid(
                            place,
                            Fault::UnknownKey {
                                key: member.raw_key.to_owned(),
                                known: ENTRY_KEYS,
                            },
                        ))
                    }
                }
            }
            let name = "\"stream_name\"";
            let stream_name = match stream_name {
                None => return Err(invalid(place, Fault::Missing { name })),
                Some(value) if value.kind != Kind::String => {
                    return Err(invalid(
                        place,
                        Fault::NotAString {
                            name,
                            found: value.kind.described(),
                        },
                    ))
                }
                Some(value) => Reader::at(batch_json, "batch", value.start).string(true)?,
            };
            if stream_name.is_empty() {
                return Err(invalid(place, Fault::Empty { name }));
            }
            let name = "\"expected_version\"";
            let expected_version = match expected_version {
                None => None,
                Some(value) => match value.kind {
                    Kind::Null => None,
                    Kind::Number => {
                        let text = &batch_json[value.start..value.end];
                        match text.parse::<i64>() {
                            Ok(version) => Some(version),
                            Err(_) => {
                                return Err(invalid(
                                    place,
                                    Fault::NotAnInteger {
                                        name,
                                        found: shown_number(text),
                                    },
                                ))
                            }
                        }
                    }
                    kind => {
                        return Err(invalid(
                            place,
                            Fault::NotAnInteger {
                                name,
                                found: kind.described().to_owned(),
                            },
                        ))
                    }
                },
            };
            check_expected_version(place, name, expected_version)?;
            let list = list.ok_or_else(|| {
                invalid(
                    place,
                    Fault::Missing {
                        name: "\"messages\"",
                    },
                )
            })?;
            let mut at = Reader::at(batch_json, "batch", list.start);
            at.messages_array(&mut messages, Some(index), "\"messages\"", place)?;
            if messages.count <= limits.messages {
                heads.push((stream_name, expected_version));
            } else {
                // The call fails on its count: keep only that count.
                heads.clear();
                messages.taken.clear();
            }
            if reader.array_next()? {
                break;
            }
        }
        reader.end()?;
        messages.check_count(Call::WriteBatch)?;
        let entries = heads
            .into_iter()
            .zip(messages.taken)
            .map(|((stream_name, expected_version), messages)| Entry {
                stream_name,
                expected_version,
                messages,
            })
            .collect();
        Ok(Batch {
            call: Call::WriteBatch,
            entries,
        })
    }

    /// The category lock keys to take, each once, in ascending order: every
    /// writer takes them in that order, so two batches never wait on each
    /// other in a cycle.
    pub fn lock_keys(&self) -> Vec<i64> {
        let mut keys: Vec<i64> = self
            .entries
            .iter()
            .map(|entry| CategoryLock::of(entry.stream_name.as_bytes()).key)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The distinct stream names, in the order they first appear: whose
    /// versions the adapter looks up (after taking the locks).
    pub fn streams(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for entry in &self.entries {
            let name = entry.stream_name.as_ref();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The number of messages in all entries.
    pub fn message_count(&self) -> usize {
        self.entries.iter().map(|entry| entry.messages.len()).sum()
    }

    /// Every row's position, given each stream's version before the batch
    /// (`version_of`, asked at most once per stream, when its first entry
    /// is reached; `None` for a stream without messages).
    /// Entries are checked in input order, each against its stream's
    /// version after the entries before it: the first entry whose expected
    /// version differs fails with `write_message`'s error. A position past
    /// the largest bigint fails with `bigint out of range`, but only when
    /// no expected version fails (later entries of that stream are not
    /// checked: their version has no value).
    pub fn plan(&self, mut version_of: impl FnMut(&str) -> Option<i64>) -> Result<Plan<'_>, Error> {
        // A stream's version as the entries so far leave it; `None` once
        // it passed the largest bigint.
        let mut versions: HashMap<&str, Option<i64>> = HashMap::new();
        let mut rows = Vec::with_capacity(self.message_count());
        let mut entries = Vec::with_capacity(self.entries.len());
        let mut overflow = false;
        for (index, entry) in self.entries.iter().enumerate() {
            let name = entry.stream_name.as_ref();
            let version = versions
                .entry(name)
                .or_insert_with(|| Some(version_of(name).unwrap_or(EMPTY_STREAM_VERSION)));
            let Some(current) = *version else {
                continue;
            };
            write::check_expected_version(|| name.to_owned(), current, entry.expected_version)?;
            let count = entry.messages.len() as i64;
            let Some(last) = current.checked_add(count) else {
                overflow = true;
                *version = None;
                continue;
            };
            *version = Some(last);
            // Only an entry without messages (built by hand) can start past
            // the largest bigint.
            let first = current.saturating_add(1);
            for (message, position) in (first..=last).enumerate() {
                rows.push(Row {
                    entry: index,
                    message,
                    stream_name: name,
                    position,
                });
            }
            entries.push(Span { first, last });
        }
        if overflow {
            return Err(Error::BigintOutOfRange);
        }
        Ok(Plan { rows, entries })
    }

    /// For an idempotent call, before the expected versions are checked:
    /// `stored` reads a message back by its (canonical) id, and is asked
    /// once per message in input order. When every message is stored as
    /// this batch would write it onto the streams' versions before it,
    /// returns the positions the call returns and nothing is to be written;
    /// when none is stored, `None` (write the batch). Anything else is an
    /// error naming the first message, in input order, that is stored
    /// otherwise or not at all.
    ///
    /// "As this batch would write it": each stream's messages (over all
    /// its entries, in input order) are at consecutive positions, starting
    /// at `expected_version + 1` of the stream's first entry when it has
    /// one, else where its first message is; a later entry of the stream
    /// with an expected version must start at that version + 1.
    pub fn stored_outcome(
        &self,
        mut stored: impl FnMut(&str) -> Option<StoredRow>,
    ) -> Result<Option<Vec<i64>>, Error> {
        let rows: Vec<Vec<Option<StoredRow>>> = self
            .entries
            .iter()
            .map(|entry| {
                entry
                    .messages
                    .iter()
                    .map(|message| stored(&message.id))
                    .collect()
            })
            .collect();
        let first_stored = self
            .places()
            .zip(rows.iter().flatten())
            .find_map(|(place, row)| row.as_ref().map(|_| place));
        let Some(first_stored) = first_stored else {
            return Ok(None);
        };
        let mut next: HashMap<&str, i64> = HashMap::new();
        let mut last_positions = Vec::with_capacity(self.entries.len());
        for (index, (entry, rows)) in self.entries.iter().zip(&rows).enumerate() {
            let name = entry.stream_name.as_ref();
            let mut last = None;
            for (number, (message, row)) in entry.messages.iter().zip(rows).enumerate() {
                let place = Place::Message {
                    entry: self.call.entry(index),
                    message: number,
                };
                let conflict = |difference| Error::IdempotentConflict {
                    place,
                    id: message.id.clone(),
                    difference,
                };
                let Some(row) = row else {
                    return Err(conflict(Difference::NotStored {
                        stored: first_stored,
                    }));
                };
                if row.stream_name != name {
                    return Err(conflict(Difference::Stream {
                        stored: row.stream_name.clone(),
                        given: name.to_owned(),
                    }));
                }
                // The stream's first message sets where it starts, unless
                // its entry's expected version does.
                let expected = match (number, entry.expected_version) {
                    (0, Some(version)) => version.checked_add(1).ok_or(Error::BigintOutOfRange)?,
                    _ => next.get(name).copied().unwrap_or(row.position),
                };
                if row.position != expected {
                    return Err(conflict(Difference::Position {
                        stream_name: name.to_owned(),
                        stored: row.position,
                        expected,
                    }));
                }
                if row.type_ != message.type_ {
                    return Err(conflict(Difference::Type));
                }
                if row.data.as_deref() != Some(message.data) {
                    return Err(conflict(Difference::Data));
                }
                if row.metadata.as_deref() != message.metadata {
                    return Err(conflict(Difference::Metadata));
                }
                // Past the largest position nothing can be stored: a next
                // message of the stream then fails to match any row.
                next.insert(name, row.position.saturating_add(1));
                last = Some(row.position);
            }
            // A checked batch has no empty entry; one built by hand may.
            last_positions.push(last.unwrap_or(EMPTY_STREAM_VERSION));
        }
        Ok(Some(last_positions))
    }

    /// Every message's place, in input order.
    fn places(&self) -> impl Iterator<Item = Place> + '_ {
        let call = self.call;
        self.entries
            .iter()
            .enumerate()
            .flat_map(move |(index, entry)| {
                (0..entry.messages.len()).map(move |message| Place::Message {
                    entry: call.entry(index),
                    message,
                })
            })
    }
}

/// A number as an error text shows it: whole when short.
fn shown_number(text: &str) -> String {
    const SHOWN: usize = 40;
    if text.len() <= SHOWN {
        text.to_owned()
    } else {
        // Number text is ASCII.
        format!("{}…", &text[..SHOWN])
    }
}

/// The messages read so far: stored up to the limit, counted past it.
struct Messages<'a> {
    limits: Limits,
    count: usize,
    /// One list per messages array read.
    taken: Vec<Vec<Message<'a>>>,
    /// Every id so far, and where it was.
    seen: HashMap<[u8; 16], Place>,
}

impl<'a> Messages<'a> {
    fn new(limits: Limits) -> Self {
        Messages {
            limits,
            count: 0,
            taken: Vec::new(),
            seen: HashMap::new(),
        }
    }

    fn check_count(&self, call: Call) -> Result<(), Error> {
        if self.count > self.limits.messages {
            return Err(invalid(
                Place::Argument,
                Fault::TooManyMessages {
                    function: call.name(),
                    limit: self.limits.messages,
                    count: self.count,
                },
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
    String,
    Number,
    Boolean,
    Null,
}

impl Kind {
    fn described(self) -> &'static str {
        match self {
            Kind::Object => "an object",
            Kind::Array => "an array",
            Kind::String => "a string",
            Kind::Number => "a number",
            Kind::Boolean => "a boolean",
            Kind::Null => "null",
        }
    }
}

/// A value's place in the input.
#[derive(Clone, Copy, Debug)]
struct Value {
    kind: Kind,
    start: usize,
    end: usize,
}

struct Member<'a> {
    key: Cow<'a, str>,
    /// The key's JSON text, quotes included.
    raw_key: &'a str,
    value: Value,
}

/// jsonb's key order: shorter first, then bytewise.
fn key_order(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A strict reader of canonical JSON text; every position is an offset
/// into the whole argument. `transfer` decodes the strings of its lines
/// with it.
pub(crate) struct Reader<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pub(crate) pos: usize,
    /// The argument's name, for errors.
    name: &'static str,
}

impl<'a> Reader<'a> {
    fn new(src: &'a str, name: &'static str) -> Self {
        Reader::at(src, name, 0)
    }

    pub(crate) fn at(src: &'a str, name: &'static str, pos: usize) -> Self {
        Reader {
            src,
            bytes: src.as_bytes(),
            pos,
            name,
        }
    }

    #[cold]
    fn fault(&self, expected: &'static str) -> Error {
        invalid(
            Place::Argument,
            Fault::NotCanonical {
                name: self.name,
                offset: self.pos,
                expected,
            },
        )
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, text: &[u8]) -> bool {
        if self.bytes[self.pos..].starts_with(text) {
            self.pos += text.len();
            true
        } else {
            false
        }
    }

    fn end(&self) -> Result<(), Error> {
        if self.pos != self.bytes.len() {
            return Err(self.fault("the end of the text"));
        }
        Ok(())
    }

    fn kind(&self) -> Result<Kind, Error> {
        Ok(match self.peek() {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't' | b'f') => Kind::Boolean,
            Some(b'n') => Kind::Null,
            Some(b'-' | b'0'..=b'9') => Kind::Number,
            _ => return Err(self.fault("a JSON value")),
        })
    }

    /// Reads one value of any depth, with a stack rather than recursion.
    fn value(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        let kind = self.kind()?;
        // true for an object, false for an array.
        let mut open: Vec<bool> = Vec::new();
        loop {
            // At the start of a value.
            match self.kind()? {
                Kind::Object => {
                    self.pos += 1;
                    if !self.eat(b"}") {
                        open.push(true);
                        self.key()?;
                        continue;
                    }
                }
                Kind::Array => {
                    self.pos += 1;
                    if !self.eat(b"]") {
                        open.push(false);
                        continue;
                    }
                }
                Kind::String => {
                    self.string(false)?;
                }
                Kind::Number => self.number()?,
                Kind::Boolean | Kind::Null => {
                    if !(self.eat(b"true") || self.eat(b"false") || self.eat(b"null")) {
                        return Err(self.fault("true, false or null"));
                    }
                }
            }
            // A value is complete: close what it completes.
            loop {
                let Some(&object) = open.last() else {
                    return Ok(Value {
                        kind,
                        start,
                        end: self.pos,
                    });
                };
                if self.eat(b", ") {
                    if object {
                        self.key()?;
                    }
                    break;
                }
                if !self.eat(if object { b"}" } else { b"]" }) {
                    return Err(self.fault(if object {
                        "\", \" or \"}\""
                    } else {
                        "\", \" or \"]\""
                    }));
                }
                open.pop();
            }
        }
    }

    /// A key and its `": "`, not kept.
    fn key(&mut self) -> Result<(), Error> {
        self.string(false)?;
        if !self.eat(b": ") {
            return Err(self.fault("\": \""));
        }
        Ok(())
    }

    /// Postgres' numeric output form: `-`? digits (`.` digits)?, without a
    /// leading zero or an exponent.
    fn number(&mut self) -> Result<(), Error> {
        self.eat(b"-");
        let digits = |reader: &Self| {
            reader.bytes[reader.pos..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let int = digits(self);
        if int == 0 || (int > 1 && self.peek() == Some(b'0')) {
            return Err(self.fault("a number in numeric's output form"));
        }
        self.pos += int;
        if self.eat(b".") {
            let frac = digits(self);
            if frac == 0 {
                return Err(self.fault("a digit"));
            }
            self.pos += frac;
        }
        Ok(())
    }

    /// Reads the string at the reader, decoded when `keep` (without a copy
    /// when it has no escapes; an empty string when not `keep`).
    pub(crate) fn string(&mut self, keep: bool) -> Result<Cow<'a, str>, Error> {
        if self.peek() != Some(b'"') {
            return Err(self.fault("a string"));
        }
        let start = self.pos + 1;
        let bytes = self.bytes;
        let plain = |from: usize| {
            from + bytes[from..]
                .iter()
                .take_while(|&&b| b >= 0x20 && b != b'"' && b != b'\\')
                .count()
        };
        let mut i = plain(start);
        if bytes.get(i) == Some(&b'"') {
            self.pos = i + 1;
            return Ok(Cow::Borrowed(&self.src[start..i]));
        }
        let mut out = String::new();
        if keep {
            out.push_str(&self.src[start..i]);
        }
        loop {
            self.pos = i;
            match bytes.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    let (c, len) = self.escape(i)?;
                    if keep {
                        out.push(c);
                    }
                    i += len;
                }
                Some(_) | None => {
                    let run = plain(i);
                    if run == i {
                        return Err(self.fault("an escape for a control character, or '\"'"));
                    }
                    if keep {
                        out.push_str(&self.src[i..run]);
                    }
                    i = run;
                }
            }
        }
    }

    /// The escape at `i` (a backslash): its character and length.
    fn escape(&self, i: usize) -> Result<(char, usize), Error> {
        let c = match self.bytes.get(i + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let unit = self.hex4(i + 2)?;
                let code = match unit {
                    0xD800..=0xDBFF => {
                        let low = match self.bytes.get(i + 6..i + 8) {
                            Some(b"\\u") => self.hex4(i + 8)?,
                            _ => return Err(self.fault("a low surrogate")),
                        };
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(self.fault("a low surrogate"));
                        }
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        let c = char::from_u32(code).expect("a surrogate pair is a character");
                        return Ok((c, 12));
                    }
                    0xDC00..=0xDFFF => return Err(self.fault("a high surrogate first")),
                    0 => return Err(self.fault("no \\u0000 (jsonb holds none)")),
                    unit => unit,
                };
                let c = char::from_u32(code).expect("not a surrogate");
                return Ok((c, 6));
            }
            _ => return Err(self.fault("a JSON escape")),
        };
        Ok((c, 2))
    }

    fn hex4(&self, at: usize) -> Result<u32, Error> {
        let digits = self
            .bytes
            .get(at..at + 4)
            .ok_or_else(|| self.fault("four hexadecimal digits"))?;
        digits.iter().try_fold(0u32, |acc, &d| {
            (d as char)
                .to_digit(16)
                .map(|v| acc * 16 + v)
                .ok_or_else(|| self.fault("four hexadecimal digits"))
        })
    }

    /// The members of the object at the reader, keys decoded, checked to be
    /// in jsonb's order (so no key is there twice).
    fn members(&mut self) -> Result<Vec<Member<'a>>, Error> {
        let mut members: Vec<Member<'a>> = Vec::new();
        if !self.eat(b"{") {
            return Err(self.fault("\"{\""));
        }
        if self.eat(b"}") {
            return Ok(members);
        }
        loop {
            let key_start = self.pos;
            let key = self.string(true)?;
            if let Some(previous) = members.last() {
                if key_order(&previous.key, &key) != Ordering::Less {
                    self.pos = key_start;
                    return Err(self.fault("keys in jsonb's order, each once"));
                }
            }
            let raw_key = &self.src[key_start..self.pos];
            if !self.eat(b": ") {
                return Err(self.fault("\": \""));
            }
            let value = self.value()?;
            members.push(Member {
                key,
                raw_key,
                value,
            });
            if self.eat(b"}") {
                return Ok(members);
            }
            if !self.eat(b", ") {
                return Err(self.fault("\", \" or \"}\""));
            }
        }
    }

    /// Reads past `[` of a non-empty array.
    fn nonempty_array(&mut self, name: &'static str, place: Place) -> Result<(), Error> {
        let kind = self.kind()?;
        if kind != Kind::Array {
            // The whole value is read, so text that is not canonical is
            // refused as such.
            self.value()?;
            return Err(invalid(
                place,
                Fault::NotAnArray {
                    name,
                    found: kind.described(),
                },
            ));
        }
        self.pos += 1;
        if self.eat(b"]") {
            return Err(invalid(place, Fault::Empty { name }));
        }
        Ok(())
    }

    /// After an element: true at the array's end.
    fn array_next(&mut self) -> Result<bool, Error> {
        if self.eat(b"]") {
            return Ok(true);
        }
        if !self.eat(b", ") {
            return Err(self.fault("\", \" or \"]\""));
        }
        Ok(false)
    }

    /// Reads a messages array into `messages`, each message checked in turn.
    fn messages_array(
        &mut self,
        messages: &mut Messages<'a>,
        entry: Option<usize>,
        name: &'static str,
        place: Place,
    ) -> Result<(), Error> {
        self.nonempty_array(name, place)?;
        let mut list = Vec::new();
        let mut number = 0;
        loop {
            let place = Place::Message {
                entry,
                message: number,
            };
            if messages.count < messages.limits.messages {
                list.push(self.message(place, &mut messages.seen)?);
            } else {
                self.value()?;
            }
            messages.count += 1;
            number += 1;
            if self.array_next()? {
                break;
            }
        }
        messages.taken.push(list);
        Ok(())
    }

    fn message(
        &mut self,
        place: Place,
        seen: &mut HashMap<[u8; 16], Place>,
    ) -> Result<Message<'a>, Error> {
        let kind = self.kind()?;
        if kind != Kind::Object {
            self.value()?;
            return Err(invalid(
                place,
                Fault::NotAnObject {
                    found: kind.described(),
                },
            ));
        }
        let (mut id, mut type_, mut data, mut metadata) = (None, None, None, None);
        for member in self.members()? {
            match member.key.as_ref() {
                "id" => id = Some(member.value),
                "type" => type_ = Some(member.value),
                "data" => data = Some(member.value),
                "metadata" => metadata = Some(member.value),
                _ => {
                    return Err(invalid(
                        place,
                        Fault::UnknownKey {
                            key: member.raw_key.to_owned(),
                            known: MESSAGE_KEYS,
                        },
                    ))
                }
            }
        }
        let id = self.string_member(place, "\"id\"", id)?;
        let bytes = parse_uuid(&id).map_err(|_| {
            invalid(
                place,
                Fault::InvalidId {
                    input: id.clone().into_owned(),
                },
            )
        })?;
        let id = format_uuid(&bytes);
        if let Some(&first) = seen.get(&bytes) {
            return Err(invalid(place, Fault::RepeatedId { id, first }));
        }
        seen.insert(bytes, place);
        let type_ = self.string_member(place, "\"type\"", type_)?;
        if type_.is_empty() {
            return Err(invalid(place, Fault::Empty { name: "\"type\"" }));
        }
        let data = data.ok_or_else(|| invalid(place, Fault::Missing { name: "\"data\"" }))?;
        let data = &self.src[data.start..data.end];
        let metadata = metadata
            .filter(|value| value.kind != Kind::Null)
            .map(|value| &self.src[value.start..value.end]);
        Ok(Message {
            id,
            uuid: bytes,
            type_,
            data,
            metadata,
        })
    }

    /// A member that must be a string, decoded.
    fn string_member(
        &self,
        place: Place,
        name: &'static str,
        value: Option<Value>,
    ) -> Result<Cow<'a, str>, Error> {
        match value {
            None => Err(invalid(place, Fault::Missing { name })),
            Some(value) if value.kind != Kind::String => Err(invalid(
                place,
                Fault::NotAString {
                    name,
                    found: value.kind.described(),
                },
            )),
            Some(value) => Reader::at(self.src, self.name, value.start).string(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::canonical_json;
    use proptest::prelude::*;

    fn uuid(n: u32) -> String {
        format!("00000000-0000-4000-8000-{n:012x}")
    }

    /// A message's canonical text; `metadata` is left out when `None`.
    fn msg(id: &str, type_: &str, data: &str, metadata: Option<&str>) -> String {
        let mut text = format!(r#"{{"id": "{id}", "data": {data}, "type": "{type_}""#);
        if let Some(metadata) = metadata {
            text.push_str(&format!(r#", "metadata": {metadata}"#));
        }
        text.push('}');
        text
    }

    fn array(items: &[String]) -> String {
        format!("[{}]", items.join(", "))
    }

    /// Every test input is canonical: checked against json.rs.
    fn canon(text: &str) -> &str {
        assert_eq!(canonical_json(text).as_deref(), Ok(text), "not canonical");
        text
    }

    fn messages(json: &str) -> Result<Batch<'_>, Error> {
        Batch::of_messages(Some(b"s-1"), canon(json), None)
    }

    fn entries(json: &str) -> Result<Batch<'_>, Error> {
        Batch::of_entries(canon(json))
    }

    fn text_and_state(result: Result<Batch<'_>, Error>) -> (String, &'static str) {
        let error = result.expect_err("refused");
        (error.to_string(), error.sqlstate())
    }

    #[test]
    fn null_arguments_are_refused_in_argument_order() {
        assert_eq!(
            text_and_state(Batch::of_write_messages(None, None, None)),
            ("stream_name must not be NULL".to_string(), "22023")
        );
        assert_eq!(
            text_and_state(Batch::of_write_messages(Some(b"s-1"), None, Some(-2))),
            (
                "expected_version must not be less than -1 (it is -2)".to_string(),
                "22023"
            )
        );
        assert_eq!(
            text_and_state(Batch::of_write_messages(Some(b"s-1"), None, None)),
            ("messages must not be NULL".to_string(), "22023")
        );
        assert_eq!(
            text_and_state(Batch::of_write_batch(None)),
            ("batch must not be NULL".to_string(), "22023")
        );
        let one = array(&[msg(&uuid(1), "A", "{}", None)]);
        assert_eq!(
            Batch::of_write_messages(Some(b"s-1"), Some(&one), None)
                .unwrap()
                .message_count(),
            1
        );
    }

    #[test]
    fn reads_messages_in_order() {
        let data = r#"{"a": [1, "]", "}", ",", "\"", {"b": [[], {}]}], "c": null, "d": -1.50}"#;
        let json = array(&[
            msg(&uuid(1).to_uppercase(), "Opened", data, None),
            msg(&uuid(2), "Deposited", "null", Some("null")),
            msg(
                &format!("{{{}}}", uuid(3)),
                "Closed",
                "[]",
                Some(r#"{"x": "\\"}"#),
            ),
        ]);
        let batch = messages(&json).unwrap();
        assert_eq!(batch.call, Call::WriteMessages);
        assert_eq!(batch.entries.len(), 1);
        let entry = &batch.entries[0];
        assert_eq!(
            (entry.stream_name.as_ref(), entry.expected_version),
            ("s-1", None)
        );
        let expected = [
            (uuid(1), "Opened", data, None),
            (uuid(2), "Deposited", "null", None),
            (uuid(3), "Closed", "[]", Some(r#"{"x": "\\"}"#)),
        ];
        assert_eq!(entry.messages.len(), 3);
        for (message, (id, type_, data, metadata)) in entry.messages.iter().zip(expected) {
            assert_eq!(message.id, id);
            assert_eq!(message.type_, type_);
            assert!(matches!(message.type_, Cow::Borrowed(_)));
            assert_eq!(message.data, data);
            assert_eq!(message.metadata, metadata);
        }
        assert_eq!(batch.message_count(), 3);
    }

    #[test]
    fn strings_are_decoded() {
        let cases = [
            (r#"a\"b"#, "a\"b"),
            (r#"a\\b"#, "a\\b"),
            (r#"a\/b"#, "a/b"),
            (r#"\b\f\n\r\t"#, "\u{8}\u{c}\n\r\t"),
            (r#"\u0001\u001F"#, "\u{1}\u{1f}"),
            (r#"caf\u00e9 é"#, "café é"),
            (r#"\ud83d\ude00 😀"#, "😀 😀"),
            (r#"x\uD83D\uDE00y"#, "x😀y"),
            ("]},:", "]},:"),
        ];
        for (escaped, decoded) in cases {
            let json = array(&[msg(&uuid(1), escaped, "1", None)]);
            // Not all of these are canonical (\/, \u00e9, uppercase hex):
            // the reader still decodes every JSON escape.
            let batch = Batch::of_messages(Some(b"s-1"), &json, None).unwrap();
            let type_ = &batch.entries[0].messages[0].type_;
            assert_eq!(type_, decoded, "{escaped}");
            assert!(matches!(type_, Cow::Owned(_)) == escaped.contains('\\'));
        }
        let json = format!(
            r#"[{{"messages": [{}], "stream_name": "a\"b-\u00e9"}}]"#,
            msg(&uuid(1), "t", "1", None)
        );
        let batch = Batch::of_entries(&json).unwrap();
        assert_eq!(batch.entries[0].stream_name, "a\"b-é");
    }

    #[test]
    fn write_messages_faults() {
        let m = |n: u32| msg(&uuid(n), "t", "1", None);
        let long = format!("[{}, {}]", m(0), r#"{"id": "x", "data": 1, "type": "t"}"#);
        let repeated = array(&[m(0), m(1), msg(&uuid(0).to_uppercase(), "t", "1", None)]);
        let cases: Vec<(String, String, &str)> = vec![
            (
                r#"{"a": 1}"#.into(),
                "messages must be a JSON array, not an object".into(),
                "22023",
            ),
            (r#""x""#.into(), "messages must be a JSON array, not a string".into(), "22023"),
            ("null".into(), "messages must be a JSON array, not null".into(), "22023"),
            ("[]".into(), "messages must not be empty".into(), "22023"),
            (
                format!("[{}, 1]", m(0)),
                "message 1: must be a JSON object, not a number".into(),
                "22023",
            ),
            (
                "[[]]".into(),
                "message 0: must be a JSON object, not an array".into(),
                "22023",
            ),
            (
                r#"[{"data": 1, "type": "t"}]"#.into(),
                "message 0: \"id\" is missing".into(),
                "22023",
            ),
            (
                r#"[{"id": 1, "data": 1, "type": "t"}]"#.into(),
                "message 0: \"id\" must be a JSON string, not a number".into(),
                "22023",
            ),
            (
                long,
                "message 1: \"id\" is not a UUID: invalid input syntax for type uuid: \"x\"".into(),
                "22P02",
            ),
            (
                format!(r#"[{{"id": "{}", "data": 1}}]"#, uuid(0)),
                "message 0: \"type\" is missing".into(),
                "22023",
            ),
            (
                format!(r#"[{{"id": "{}", "data": 1, "type": null}}]"#, uuid(0)),
                "message 0: \"type\" must be a JSON string, not null".into(),
                "22023",
            ),
            (
                format!(r#"[{{"id": "{}", "data": 1, "type": ["t"]}}]"#, uuid(0)),
                "message 0: \"type\" must be a JSON string, not an array".into(),
                "22023",
            ),
            (
                array(&[msg(&uuid(0), "", "1", None)]),
                "message 0: \"type\" must not be empty".into(),
                "22023",
            ),
            (
                format!(r#"[{{"id": "{}", "type": "t"}}]"#, uuid(0)),
                "message 0: \"data\" is missing".into(),
                "22023",
            ),
            (
                format!(r#"[{{"id": "{}", "data": 1, "type": "t", "metdata": 1}}]"#, uuid(0)),
                "message 0: unknown key \"metdata\" (the keys are \"id\", \"type\", \"data\" and \"metadata\")".into(),
                "22023",
            ),
            (
                format!(r#"[{{"id": "{}", "a\"b": 1, "data": 1, "type": "t"}}]"#, uuid(0)),
                "message 0: unknown key \"a\\\"b\" (the keys are \"id\", \"type\", \"data\" and \"metadata\")".into(),
                "22023",
            ),
            (
                repeated,
                format!("message 2: id {} is repeated (first at message 0)", uuid(0)),
                "22023",
            ),
        ];
        for (json, text, state) in cases {
            assert_eq!(text_and_state(messages(&json)), (text, state), "{json}");
        }
    }

    #[test]
    fn write_messages_arguments() {
        let json = array(&[msg(&uuid(0), "t", "1", None)]);
        let of = |name: Option<&'static [u8]>, version| {
            text_and_state(Batch::of_messages(name, &json, version))
        };
        let fault = |text: &str| (text.to_string(), "22023");
        assert_eq!(of(None, None), fault("stream_name must not be NULL"));
        assert_eq!(of(Some(b""), None), fault("stream_name must not be empty"));
        assert_eq!(
            of(Some(b"s-\xff"), None),
            (
                "invalid byte sequence for encoding \"UTF8\": 0xff".into(),
                "22021"
            )
        );
        assert_eq!(
            of(Some(b"s-1"), Some(-2)),
            fault("expected_version must not be less than -1 (it is -2)")
        );
        // Any other name is taken, a category's included, as write_message takes it.
        for name in [&b"account"[..], b"-", b"a b", "über-1".as_bytes()] {
            let batch = Batch::of_messages(Some(name), &json, Some(-1)).unwrap();
            assert_eq!(batch.entries[0].stream_name.as_bytes(), name);
            assert_eq!(batch.entries[0].expected_version, Some(-1));
        }
    }

    #[test]
    fn write_batch_faults() {
        let m = |n: u32| msg(&uuid(n), "t", "1", None);
        let entry = |rest: &str| format!(r#"{{"messages": [{}]{rest}}}"#, m(9));
        let good = format!(
            r#"{{"messages": [{}, {}], "stream_name": "s-1"}}"#,
            m(0),
            m(1)
        );
        let with = |members: &str| format!(r#"[{{{members}}}]"#);
        let cases: Vec<(String, String, &str)> = vec![
            ("{}".into(), "batch must be a JSON array, not an object".into(), "22023"),
            ("[]".into(), "batch must not be empty".into(), "22023"),
            (format!("[{good}, 1]"), "entry 1: must be a JSON object, not a number".into(), "22023"),
            (
                format!("[{}]", entry("")),
                "entry 0: \"stream_name\" is missing".into(),
                "22023",
            ),
            (
                format!("[{}]", entry(r#", "stream_name": null"#)),
                "entry 0: \"stream_name\" must be a JSON string, not null".into(),
                "22023",
            ),
            (
                format!("[{}]", entry(r#", "stream_name": ["s"]"#)),
                "entry 0: \"stream_name\" must be a JSON string, not an array".into(),
                "22023",
            ),
            (
                format!("[{}]", entry(r#", "stream_name": """#)),
                "entry 0: \"stream_name\" must not be empty".into(),
                "22023",
            ),
            (
                format!("[{}]", entry(r#", "stream_name": "s", "expected_version": "1""#)),
                "entry 0: \"expected_version\" must be an integer or null, not a string".into(),
                "22023",
            ),
            (
                format!("[{}]", entry(r#", "stream_name": "s", "expected_version": 1.0"#)),
                "entry 0: \"expected_version\" must be an integer or null, not 1.0".into(),
                "22023",
            ),
            (
                format!(
                    "[{}]",
                    entry(r#", "stream_name": "s", "expected_version": 9223372036854775808"#)
                ),
                "entry 0: \"expected_version\" must be an integer or null, not 9223372036854775808"
                    .into(),
                "22023",
            ),
            (
                format!("[{}]", entry(&format!(r#", "stream_name": "s", "expected_version": {}"#, "9".repeat(50)))),
                format!(
                    "entry 0: \"expected_version\" must be an integer or null, not {}…",
                    "9".repeat(40)
                ),
                "22023",
            ),
            (
                format!("[{}]", entry(r#", "stream_name": "s", "expected_version": -2"#)),
                "entry 0: \"expected_version\" must not be less than -1 (it is -2)".into(),
                "22023",
            ),
            (
                with(r#""stream_name": "s""#),
                "entry 0: \"messages\" is missing".into(),
                "22023",
            ),
            (
                with(r#""messages": {}, "stream_name": "s""#),
                "entry 0: \"messages\" must be a JSON array, not an object".into(),
                "22023",
            ),
            (
                with(r#""messages": [], "stream_name": "s""#),
                "entry 0: \"messages\" must not be empty".into(),
                "22023",
            ),
            (
                format!(r#"[{{"stream": "s", "messages": [{}]}}]"#, m(9)),
                "entry 0: unknown key \"stream\" (the keys are \"stream_name\", \"expected_version\" and \"messages\")".into(),
                "22023",
            ),
            (
                format!(
                    r#"[{good}, {{"messages": [{}], "stream_name": "s-2"}}]"#,
                    r#"{"id": "x", "data": 1, "type": "t"}"#
                ),
                "entry 1, message 0: \"id\" is not a UUID: invalid input syntax for type uuid: \"x\""
                    .into(),
                "22P02",
            ),
            (
                format!(r#"[{good}, {{"messages": [{}, {}], "stream_name": "s-2"}}]"#, m(2), m(1)),
                format!("entry 1, message 1: id {} is repeated (first at entry 0, message 1)", uuid(1)),
                "22023",
            ),
            (
                r#"[{"messages": [1], "stream_name": "s-2"}]"#.to_string(),
                "entry 0, message 0: must be a JSON object, not a number".into(),
                "22023",
            ),
        ];
        for (json, text, state) in cases {
            assert_eq!(text_and_state(entries(&json)), (text, state), "{json}");
        }
    }

    #[test]
    fn write_batch_reads_entries() {
        let json = format!(
            r#"[{{"messages": [{}, {}], "stream_name": "s-1"}}, {{"messages": [{}], "stream_name": "account", "expected_version": -1}}, {{"messages": [{}], "stream_name": "s-1", "expected_version": null}}]"#,
            msg(&uuid(0), "A", "1", None),
            msg(&uuid(1), "B", "2", Some("{}")),
            msg(&uuid(2), "C", "3", None),
            msg(&uuid(3), "D", "4", None),
        );
        let batch = entries(&json).unwrap();
        assert_eq!(batch.call, Call::WriteBatch);
        let heads: Vec<_> = batch
            .entries
            .iter()
            .map(|e| (e.stream_name.as_ref(), e.expected_version, e.messages.len()))
            .collect();
        assert_eq!(
            heads,
            [("s-1", None, 2), ("account", Some(-1), 1), ("s-1", None, 1)]
        );
        assert_eq!(batch.entries[0].messages[1].metadata, Some("{}"));
        assert_eq!(batch.streams(), ["s-1", "account"]);
        assert_eq!(batch.message_count(), 4);
    }

    #[test]
    fn lock_keys_are_unique_and_ascending() {
        let names = ["zebra-1", "account-1", "b", "account-2", "zebra-1", "c-1+x"];
        let batch = Batch {
            call: Call::WriteBatch,
            entries: names
                .iter()
                .map(|name| Entry {
                    stream_name: Cow::Borrowed(*name),
                    expected_version: None,
                    messages: Vec::new(),
                })
                .collect(),
        };
        let keys = batch.lock_keys();
        let mut expected: Vec<i64> = ["zebra", "account", "b", "c"]
            .iter()
            .map(|c| crate::hash::hash_64(c.as_bytes()))
            .collect();
        expected.sort();
        assert_eq!(keys, expected);
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(keys[0].min(keys[3]), keys[0]);
        assert_eq!(
            batch.streams(),
            ["zebra-1", "account-1", "b", "account-2", "c-1+x"]
        );
    }

    /// A batch of entries (stream, expected version, number of messages),
    /// ids numbered from 0 in input order.
    fn built(call: Call, shape: &[(&'static str, Option<i64>, usize)]) -> Batch<'static> {
        let mut n = 0;
        let entries = shape
            .iter()
            .map(|&(name, expected_version, count)| Entry {
                stream_name: Cow::Borrowed(name),
                expected_version,
                messages: (0..count)
                    .map(|_| {
                        n += 1;
                        Message {
                            id: uuid(n - 1),
                            uuid: parse_uuid(&uuid(n - 1)).expect("a uuid"),
                            type_: Cow::Borrowed("t"),
                            data: "{}",
                            metadata: None,
                        }
                    })
                    .collect(),
            })
            .collect();
        Batch { call, entries }
    }

    fn versions<'k>(known: &'k [(&'k str, i64)]) -> impl Fn(&str) -> Option<i64> + 'k {
        move |name| known.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }

    #[test]
    fn plans_positions_in_input_order() {
        let batch = built(
            Call::WriteBatch,
            &[("s-1", None, 2), ("t-1", Some(-1), 1), ("s-1", Some(6), 1)],
        );
        let mut asked = Vec::new();
        let plan = batch
            .plan(|name| {
                asked.push(name.to_owned());
                versions(&[("s-1", 4)])(name)
            })
            .unwrap();
        assert_eq!(asked, ["s-1", "t-1"]);
        let rows: Vec<_> = plan
            .rows
            .iter()
            .map(|r| (r.entry, r.message, r.stream_name, r.position))
            .collect();
        assert_eq!(
            rows,
            [
                (0, 0, "s-1", 5),
                (0, 1, "s-1", 6),
                (1, 0, "t-1", 0),
                (2, 0, "s-1", 7)
            ]
        );
        assert_eq!(
            plan.entries,
            [
                Span { first: 5, last: 6 },
                Span { first: 0, last: 0 },
                Span { first: 7, last: 7 }
            ]
        );
        assert_eq!(plan.last_positions(), [6, 0, 7]);
    }

    #[test]
    fn expected_versions_fail_with_write_message_text() {
        let check = |shape: &[(&'static str, Option<i64>, usize)], known: &[(&str, i64)]| {
            let error = built(Call::WriteBatch, shape)
                .plan(versions(known))
                .unwrap_err();
            (error.to_string(), error.sqlstate())
        };
        // The later entry of a stream is checked against the version after the earlier one.
        assert_eq!(
            check(&[("s-1", None, 2), ("s-1", Some(4), 1)], &[("s-1", 4)]),
            (
                "Wrong expected version: 4 (Stream: s-1, Stream Version: 6)".into(),
                "P0001"
            )
        );
        // The first failing entry in input order.
        assert_eq!(
            check(&[("a-1", Some(0), 1), ("b-1", Some(1), 1)], &[]).0,
            "Wrong expected version: 0 (Stream: a-1, Stream Version: -1)"
        );
        assert_eq!(
            check(&[("a-1", None, 1), ("b-1", Some(1), 1)], &[]).0,
            "Wrong expected version: 1 (Stream: b-1, Stream Version: -1)"
        );
        // Overflow, unless an expected version fails.
        let max = i64::MAX;
        assert_eq!(
            check(&[("a-1", None, 2)], &[("a-1", max - 1)]),
            ("bigint out of range".into(), "22003")
        );
        assert_eq!(
            check(&[("a-1", None, 1), ("b-1", Some(3), 1)], &[("a-1", max)]).0,
            "Wrong expected version: 3 (Stream: b-1, Stream Version: -1)"
        );
        assert_eq!(
            built(Call::WriteBatch, &[("a-1", None, 1)])
                .plan(versions(&[("a-1", max - 1)]))
                .map(|plan| plan.last_positions()),
            Ok(vec![max])
        );
        // write_messages, checked once before the batch.
        let json = array(&[msg(&uuid(0), "t", "1", None), msg(&uuid(1), "t", "1", None)]);
        let batch = Batch::of_messages(Some(b"s-1"), &json, Some(0)).unwrap();
        assert_eq!(
            batch.plan(|_| None).unwrap_err().to_string(),
            "Wrong expected version: 0 (Stream: s-1, Stream Version: -1)"
        );
        assert_eq!(
            batch.plan(|_| Some(0)).map(|plan| plan.last_positions()),
            Ok(vec![2])
        );
    }

    /// What storage holds after `batch` was written by `plan`.
    fn store(batch: &Batch<'_>, plan: &Plan<'_>) -> HashMap<String, StoredRow> {
        plan.rows
            .iter()
            .map(|row| {
                let message = &batch.entries[row.entry].messages[row.message];
                (
                    message.id.clone(),
                    StoredRow {
                        stream_name: row.stream_name.to_owned(),
                        position: row.position,
                        type_: message.type_.to_string(),
                        data: Some(message.data.to_owned()),
                        metadata: message.metadata.map(str::to_owned),
                    },
                )
            })
            .collect()
    }

    fn outcome(
        batch: &Batch<'_>,
        stored: &HashMap<String, StoredRow>,
    ) -> Result<Option<Vec<i64>>, (String, &'static str)> {
        batch
            .stored_outcome(|id| stored.get(id).cloned())
            .map_err(|error| (error.to_string(), error.sqlstate()))
    }

    #[test]
    fn idempotent_outcomes() {
        let batch = built(
            Call::WriteBatch,
            &[("s-1", None, 2), ("t-1", Some(-1), 1), ("s-1", Some(6), 1)],
        );
        let plan = batch.plan(versions(&[("s-1", 4)])).unwrap();
        let stored = store(&batch, &plan);
        assert_eq!(outcome(&batch, &stored), Ok(Some(vec![6, 0, 7])));
        assert_eq!(outcome(&batch, &HashMap::new()), Ok(None));
        let conflict = |text: String| Err((text, "23505"));
        let edited = |id: u32, edit: &dyn Fn(&mut HashMap<String, StoredRow>, &str)| {
            let mut stored = stored.clone();
            edit(&mut stored, &uuid(id));
            outcome(&batch, &stored)
        };
        assert_eq!(
            edited(1, &|s, id| {
                s.remove(id);
            }),
            conflict(format!(
                "entry 0, message 1: id {} is not stored, but the id of entry 0, message 0 is (the batch is partly stored)",
                uuid(1)
            ))
        );
        assert_eq!(
            edited(0, &|s, id| {
                s.remove(id);
            }),
            conflict(format!(
                "entry 0, message 0: id {} is not stored, but the id of entry 0, message 1 is (the batch is partly stored)",
                uuid(0)
            ))
        );
        assert_eq!(
            edited(2, &|s, id| s.get_mut(id).unwrap().stream_name =
                "u-1".into()),
            conflict(format!(
                "entry 1, message 0: id {} is stored in stream u-1, not t-1",
                uuid(2)
            ))
        );
        assert_eq!(
            edited(1, &|s, id| s.get_mut(id).unwrap().position = 9),
            conflict(format!(
                "entry 0, message 1: id {} is stored at position 9 of s-1, not 6",
                uuid(1)
            ))
        );
        assert_eq!(
            edited(3, &|s, id| s.get_mut(id).unwrap().type_ = "u".into()),
            conflict(format!(
                "entry 2, message 0: id {} is stored with another type",
                uuid(3)
            ))
        );
        assert_eq!(
            edited(0, &|s, id| s.get_mut(id).unwrap().data =
                Some("{\"a\": 1}".into())),
            conflict(format!(
                "entry 0, message 0: id {} is stored with other data",
                uuid(0)
            ))
        );
        assert_eq!(
            edited(0, &|s, id| s.get_mut(id).unwrap().data = None),
            conflict(format!(
                "entry 0, message 0: id {} is stored with other data",
                uuid(0)
            ))
        );
        assert_eq!(
            edited(0, &|s, id| s.get_mut(id).unwrap().metadata =
                Some("{}".into())),
            conflict(format!(
                "entry 0, message 0: id {} is stored with other metadata",
                uuid(0)
            ))
        );
        // The whole stream shifted: without an expected version the first
        // entry may start anywhere, but the later one's must hold.
        let mut shifted = stored.clone();
        for row in shifted.values_mut().filter(|row| row.stream_name == "s-1") {
            row.position += 5;
        }
        assert_eq!(
            outcome(&batch, &shifted),
            conflict(format!(
                "entry 2, message 0: id {} is stored at position 12 of s-1, not 7",
                uuid(3)
            ))
        );
        let first_two = built(Call::WriteBatch, &[("s-1", None, 2), ("t-1", Some(-1), 1)]);
        assert_eq!(outcome(&first_two, &shifted), Ok(Some(vec![11, 0])));
    }

    #[test]
    fn idempotent_write_messages() {
        let batch = built(Call::WriteMessages, &[("s-1", Some(2), 2)]);
        let stored = store(&batch, &batch.plan(|_| Some(2)).unwrap());
        assert_eq!(outcome(&batch, &stored), Ok(Some(vec![4])));
        let any = built(Call::WriteMessages, &[("s-1", None, 2)]);
        assert_eq!(outcome(&any, &stored), Ok(Some(vec![4])));
        let later = built(Call::WriteMessages, &[("s-1", Some(4), 2)]);
        assert_eq!(
            outcome(&later, &stored),
            Err((
                format!(
                    "message 0: id {} is stored at position 3 of s-1, not 5",
                    uuid(0)
                ),
                "23505"
            ))
        );
        // Out of order: the second message before the first.
        let mut swapped = stored.clone();
        swapped.get_mut(&uuid(0)).unwrap().position = 4;
        swapped.get_mut(&uuid(1)).unwrap().position = 3;
        assert_eq!(
            outcome(&any, &swapped),
            Err((
                format!(
                    "message 1: id {} is stored at position 3 of s-1, not 5",
                    uuid(1)
                ),
                "23505"
            ))
        );
        let max = built(Call::WriteMessages, &[("s-1", Some(i64::MAX), 1)]);
        assert_eq!(outcome(&max, &stored).unwrap_err().0, "bigint out of range");
    }

    #[test]
    fn limits() {
        let m = |n: u32| msg(&uuid(n), "t", "1", None);
        let small = Limits {
            messages: 2,
            bytes: MAX_BYTES,
        };
        let three = array(&[m(0), m(1), m(2)]);
        let of = |json: &str, limits| {
            text_and_state(Batch::of_messages_within(Some(b"s-1"), json, None, limits))
        };
        assert_eq!(
            of(&three, small),
            (
                "write_messages: at most 2 messages per call (this call has 3)".into(),
                "22023"
            )
        );
        assert!(
            Batch::of_messages_within(Some(b"s-1"), &array(&[m(0), m(1)]), None, small).is_ok()
        );
        // Past the limit messages are only counted; a fault before it is reported.
        assert_eq!(
            of(&format!("[{}, {}, 1, 2]", m(0), m(1)), small).0,
            "write_messages: at most 2 messages per call (this call has 4)"
        );
        assert_eq!(
            of(&format!("[{}, 1, 2]", m(0)), small).0,
            "message 1: must be a JSON object, not a number"
        );
        let batch = format!(
            r#"[{{"messages": [{}, {}], "stream_name": "a-1"}}, {{"messages": [{}], "stream_name": "b-1"}}]"#,
            m(0),
            m(1),
            m(2)
        );
        assert_eq!(
            text_and_state(Batch::of_entries_within(&batch, small)),
            (
                "write_batch: at most 2 messages per call (this call has 3)".into(),
                "22023"
            )
        );
        // The text's size, checked first.
        let one = array(&[msg(&uuid(1), "A", "{}", None)]);
        let bytes = |n| Limits {
            messages: MAX_MESSAGES,
            bytes: n,
        };
        assert!(Batch::of_messages_within(Some(b"s-1"), &one, None, bytes(one.len())).is_ok());
        assert_eq!(
            of(&one, bytes(one.len() - 1)),
            (
                format!(
                    "write_messages: at most {} bytes of JSON text per call (this call has {})",
                    one.len() - 1,
                    one.len()
                ),
                "22023"
            )
        );
        assert_eq!(
            text_and_state(Batch::of_messages_within(None, "x", None, bytes(0))).0,
            "write_messages: at most 0 bytes of JSON text per call (this call has 1)"
        );
        assert_eq!(
            text_and_state(Batch::of_entries_within("[]", bytes(1))).0,
            "write_batch: at most 1 bytes of JSON text per call (this call has 2)"
        );
        assert_eq!(MAX_BYTES, 67_108_864);
        // The real bound on the number of messages.
        let many: Vec<String> = (0..=MAX_MESSAGES as u32).map(m).collect();
        let json = array(&many);
        assert_eq!(
            text_and_state(Batch::of_messages(Some(b"s-1"), &json, None)).0,
            "write_messages: at most 10000 messages per call (this call has 10001)"
        );
        let json = array(&many[..MAX_MESSAGES]);
        assert_eq!(
            Batch::of_messages(Some(b"s-1"), &json, None).map(|b| b.message_count()),
            Ok(MAX_MESSAGES)
        );
        let json = format!(
            r#"[{{"messages": [{}], "stream_name": "a-1"}}, {{"messages": {}, "stream_name": "b-1"}}]"#,
            m(20000),
            array(&many[..MAX_MESSAGES])
        );
        assert_eq!(
            text_and_state(Batch::of_entries(&json)).0,
            "write_batch: at most 10000 messages per call (this call has 10001)"
        );
    }

    #[test]
    fn text_that_is_not_canonical_is_refused() {
        let m = msg(&uuid(0), "t", "1", None);
        let id = uuid(0);
        let cases = [
            format!("[ {m}]"),
            format!("[{m} ]"),
            format!("[{m},{m}]"),
            format!("[{m}] "),
            format!(" [{m}]"),
            format!(r#"[{{"id":"{id}", "data": 1, "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}","data": 1, "type": "t"}}]"#),
            format!(r#"[{{"type": "t", "id": "{id}", "data": 1}}]"#),
            format!(r#"[{{"id": "{id}", "id": "{id}", "data": 1, "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": 1e5, "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": 01, "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": 1., "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": -, "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": tru, "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": True, "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": [1, 2}}, "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": {{"a": 1]], "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": {{1: 2}}, "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": {{"a" 1}}, "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": "\u0000", "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": "\ud800", "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": "\ud800\u0041", "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": "\udc00", "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": "\u12", "type": "t"}}]"#),
            format!(r#"[{{"id": "{id}", "data": "\x", "type": "t"}}]"#),
            format!("[{{\"id\": \"{id}\", \"data\": \"a\tb\", \"type\": \"t\"}}]"),
            format!(r#"[{{"id": "{id}", "data": "abc"#),
            format!(r#"[{{"id": "{id}", "data": ["#),
            format!(r#"[{{"id": "{id}", "data": "\"#),
            format!(r#"[{{"id": "{id}", "data": "\ud83d\ude0"#),
            format!("[{m}, "),
            format!("[{m}"),
            "[".into(),
            "".into(),
            "x".into(),
            "{".into(),
        ];
        for json in &cases {
            let error = Batch::of_messages(Some(b"s-1"), json, None).unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::InvalidBatch {
                        place: Place::Argument,
                        fault: Fault::NotCanonical {
                            name: "messages",
                            ..
                        },
                    }
                ),
                "{json}: {error}"
            );
            assert_eq!(error.sqlstate(), "22023");
            let batch = format!(r#"[{{"messages": {json}, "stream_name": "s-1"}}]"#);
            assert!(
                matches!(
                    Batch::of_entries(&batch).unwrap_err(),
                    Error::InvalidBatch {
                        fault: Fault::NotCanonical { name: "batch", .. },
                        ..
                    }
                ),
                "{batch}"
            );
        }
        assert_eq!(
            Batch::of_messages(Some(b"s-1"), &format!("[{m},{m}]"), None)
                .unwrap_err()
                .to_string(),
            format!(
                "messages is not canonical JSON text: expected \", \" or \"]\" at byte {}",
                m.len() + 1
            )
        );
        assert_eq!(
            Batch::of_entries(r#"[{"stream_name": "s", "messages": []}]"#)
                .unwrap_err()
                .to_string(),
            "batch is not canonical JSON text: expected keys in jsonb's order, each once at byte 22"
        );
    }

    #[test]
    fn cut_or_damaged_text_is_refused_without_panic() {
        let message = msg(
            &uuid(0),
            r#"a\"\u0001😀"#,
            r#"{"a": [1, -2.50, "x\ud83d\ude00"], "bb": {"c": null}}"#,
            Some("true"),
        );
        let messages = array(&[message.clone(), msg(&uuid(1), "t", "[]", None)]);
        let batch = format!(
            r#"[{{"messages": {messages}, "stream_name": "s-1", "expected_version": -1}}]"#
        );
        assert!(Batch::of_messages(Some(b"s-1"), &messages, None).is_ok());
        assert!(Batch::of_entries(&batch).is_ok());
        for text in [&messages, &batch] {
            for (cut, _) in text.char_indices() {
                assert!(Batch::of_messages(Some(b"s-1"), &text[..cut], None).is_err());
                assert!(Batch::of_entries(&text[..cut]).is_err());
                let mut damaged = text.clone();
                damaged.remove(cut);
                let _ = Batch::of_messages(Some(b"s-1"), &damaged, None);
                let _ = Batch::of_entries(&damaged);
            }
        }
    }

    #[test]
    fn deep_data_does_not_recurse() {
        let depth = 200_000;
        let data = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let json = array(&[msg(&uuid(0), "t", &data, None)]);
        let batch = Batch::of_messages(Some(b"s-1"), &json, None).unwrap();
        assert_eq!(batch.entries[0].messages[0].data.len(), 2 * depth);
        let objects = format!("{}1{}", r#"{"a": "#.repeat(depth), "}".repeat(depth));
        let json = array(&[msg(&uuid(0), "t", &objects, None)]);
        assert!(Batch::of_messages(Some(b"s-1"), &json, None).is_ok());
    }

    #[test]
    fn error_catalogue_entries() {
        let cases: Vec<(Error, &str, &str)> = vec![
            (
                Error::InvalidBatch {
                    place: Place::Argument,
                    fault: Fault::Empty { name: "messages" },
                },
                "messages must not be empty",
                "22023",
            ),
            (
                Error::InvalidBatch {
                    place: Place::Message {
                        entry: Some(1),
                        message: 0,
                    },
                    fault: Fault::InvalidId { input: "x".into() },
                },
                "entry 1, message 0: \"id\" is not a UUID: invalid input syntax for type uuid: \"x\"",
                "22P02",
            ),
            (
                Error::InvalidBatch {
                    place: Place::Message {
                        entry: None,
                        message: 3,
                    },
                    fault: Fault::Missing { name: "\"id\"" },
                },
                "message 3: \"id\" is missing",
                "22023",
            ),
            (
                Error::InvalidBatch {
                    place: Place::Entry(2),
                    fault: Fault::Missing {
                        name: "\"stream_name\"",
                    },
                },
                "entry 2: \"stream_name\" is missing",
                "22023",
            ),
            (
                Error::IdempotentConflict {
                    place: Place::Message {
                        entry: None,
                        message: 0,
                    },
                    id: "x".into(),
                    difference: Difference::Type,
                },
                "message 0: id x is stored with another type",
                "23505",
            ),
        ];
        for (error, text, state) in cases {
            assert_eq!(
                (error.to_string().as_str(), error.sqlstate()),
                (text, state)
            );
            assert_eq!(error.detail(), None);
        }
    }

    /// A JSON value, printed in canonical form by `print`.
    #[derive(Clone, Debug)]
    enum Json {
        Null,
        Bool(bool),
        Int(i64),
        Decimal(i32, String),
        Str(String),
        Array(Vec<Json>),
        Object(Vec<(String, Json)>),
    }

    /// A string as Postgres' escape_json writes it.
    fn quoted(text: &str) -> String {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn print(value: &Json) -> String {
        match value {
            Json::Null => "null".into(),
            Json::Bool(b) => b.to_string(),
            Json::Int(n) => n.to_string(),
            Json::Decimal(n, frac) => format!("{n}.{frac}"),
            Json::Str(s) => quoted(s),
            Json::Array(items) => format!(
                "[{}]",
                items.iter().map(print).collect::<Vec<_>>().join(", ")
            ),
            Json::Object(members) => {
                let mut members = members.clone();
                members.sort_by(|a, b| key_order(&a.0, &b.0));
                members.dedup_by(|a, b| a.0 == b.0);
                let members: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("{}: {}", quoted(k), print(v)))
                    .collect();
                format!("{{{}}}", members.join(", "))
            }
        }
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-z\"\\\\/\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}é漢😀\\[\\]{},: ]{0,8}"
    }

    fn json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::Int),
            (any::<i32>(), "[0-9]{1,4}").prop_map(|(n, f)| Json::Decimal(n, f)),
            text().prop_map(Json::Str),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
                prop::collection::vec((text(), inner), 0..5).prop_map(Json::Object),
            ]
        })
    }

    /// The uuid's text in one of the forms Postgres takes.
    fn id_text(bytes: [u8; 16], form: u8) -> String {
        let canonical = format_uuid(&bytes);
        match form % 4 {
            0 => canonical,
            1 => canonical.to_uppercase(),
            2 => format!("{{{canonical}}}"),
            _ => canonical.replace('-', ""),
        }
    }

    proptest! {
        #[test]
        fn of_messages_returns_the_generated_messages(
            generated in prop::collection::vec(
                (any::<[u8; 16]>(), any::<u8>(), text().prop_filter("non-empty", |t| !t.is_empty()), json(), prop::option::of(json())),
                1..6,
            )
        ) {
            let mut seen = std::collections::HashSet::new();
            let generated: Vec<_> = generated.into_iter().filter(|g| seen.insert(g.0)).collect();
            let items: Vec<String> = generated
                .iter()
                .map(|(id, form, type_, data, metadata)| {
                    let mut text = format!(
                        "{{\"id\": {}, \"data\": {}, \"type\": {}",
                        quoted(&id_text(*id, *form)),
                        print(data),
                        quoted(type_)
                    );
                    if let Some(metadata) = metadata {
                        text.push_str(&format!(", \"metadata\": {}", print(metadata)));
                    }
                    text + "}"
                })
                .collect();
            let json = array(&items);
            let canonical = canonical_json(&json);
            prop_assert_eq!(canonical.as_deref(), Ok(json.as_str()));
            let batch = Batch::of_messages(Some(b"s-1"), &json, None).unwrap();
            let messages = &batch.entries[0].messages;
            prop_assert_eq!(messages.len(), generated.len());
            for (message, (id, _, type_, data, metadata)) in messages.iter().zip(&generated) {
                prop_assert_eq!(&message.id, &format_uuid(id));
                prop_assert_eq!(message.type_.as_ref(), type_.as_str());
                prop_assert_eq!(message.data, print(data));
                let metadata = metadata.as_ref().filter(|m| !matches!(m, Json::Null)).map(print);
                prop_assert_eq!(message.metadata, metadata.as_deref());
            }
        }

        #[test]
        fn of_entries_returns_the_generated_entries(
            generated in prop::collection::vec(
                (
                    text().prop_filter("non-empty", |t| !t.is_empty()),
                    prop::option::of(prop::option::of(-1i64..1000)),
                    prop::collection::vec((text().prop_filter("non-empty", |t| !t.is_empty()), json()), 1..3),
                ),
                1..4,
            )
        ) {
            let mut n = 0;
            let items: Vec<String> = generated
                .iter()
                .map(|(name, expected, messages)| {
                    let messages: Vec<String> = messages
                        .iter()
                        .map(|(type_, data)| {
                            n += 1;
                            format!(
                                "{{\"id\": \"{}\", \"data\": {}, \"type\": {}}}",
                                uuid(n),
                                print(data),
                                quoted(type_)
                            )
                        })
                        .collect();
                    let mut text = format!("{{\"messages\": {}, \"stream_name\": {}", array(&messages), quoted(name));
                    match expected {
                        None => {}
                        Some(None) => text.push_str(", \"expected_version\": null"),
                        Some(Some(v)) => text.push_str(&format!(", \"expected_version\": {v}")),
                    }
                    text + "}"
                })
                .collect();
            let json = array(&items);
            let canonical = canonical_json(&json);
            prop_assert_eq!(canonical.as_deref(), Ok(json.as_str()));
            let batch = Batch::of_entries(&json).unwrap();
            prop_assert_eq!(batch.entries.len(), generated.len());
            let mut n = 0;
            for (entry, (name, expected, messages)) in batch.entries.iter().zip(&generated) {
                prop_assert_eq!(entry.stream_name.as_ref(), name.as_str());
                prop_assert_eq!(entry.expected_version, expected.flatten());
                prop_assert_eq!(entry.messages.len(), messages.len());
                for (message, (type_, data)) in entry.messages.iter().zip(messages) {
                    n += 1;
                    prop_assert_eq!(&message.id, &uuid(n));
                    prop_assert_eq!(message.type_.as_ref(), type_.as_str());
                    prop_assert_eq!(message.data, print(data));
                    prop_assert_eq!(message.metadata, None);
                }
            }
        }

        #[test]
        fn any_text_is_refused_or_read_without_panic(text in "[\\[\\]{}\",: a-z0-9\\\\.-]{0,40}") {
            let _ = Batch::of_messages(Some(b"s-1"), &text, None);
            let _ = Batch::of_entries(&text);
        }
    }
}
