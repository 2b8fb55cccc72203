//! The generated cases of the batch-write property tests, shared by both
//! engines' tests (`tests/pg_client/tests/batch_properties.rs` and
//! `tests/sqlite_host/tests/batch_properties.rs` include this file): one
//! generator, one fixed seed, so both engines run the very same cases and a
//! rule broken alike shows alike.
//!
//! A case is a few messages already stored (written with `write_message`),
//! then a batch of entries over a few streams, a stream sometimes named
//! twice: messages with random ids in every form uuid input takes, types,
//! data and metadata of any JSON (nested, unicode, escapes, every number
//! form; metadata absent, null or a value), and per entry an expected
//! version that is absent, right, or now and then wrong; now and then a
//! message takes a stored message's id. [`written`] writes
//! it one way into a store and returns what the call gave and what the
//! store holds after it, so that a test compares one `write_batch` (or one
//! `write_messages` onto one stream) with `write_message` calls in one
//! transaction.

use postgres::{Client, NoTls};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// The streams a case writes: categories shared and not, a category name
/// itself, a compound id, non-ASCII names.
const STREAMS: [&str; 6] = ["acct-1", "acct-2", "acct", "cart-1+x", "b-é", "漢-1"];

/// How many cases a run checks: `PROPTEST_CASES` when set (for a longer
/// run), else enough to meet every kind of case several times.
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(96)
}

/// A runner with a fixed seed: both engines' tests draw the same cases.
pub fn runner() -> TestRunner {
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[0x15; 32]),
    )
}

#[derive(Clone, Debug)]
pub enum Metadata {
    Absent,
    Null,
    Json(String),
}

#[derive(Clone, Debug)]
pub struct Message {
    /// As given: lower or upper case, braced, or without hyphens.
    pub id: String,
    pub type_: String,
    /// JSON text, as a client may write it.
    pub data: String,
    pub metadata: Metadata,
}

impl Message {
    fn json(&self) -> String {
        let mut text = format!(
            "{{\"id\": {}, \"type\": {}, \"data\": {}",
            json_string(&self.id),
            json_string(&self.type_),
            self.data
        );
        match &self.metadata {
            Metadata::Absent => {}
            Metadata::Null => text.push_str(", \"metadata\": null"),
            Metadata::Json(json) => text.push_str(&format!(", \"metadata\": {json}")),
        }
        text.push('}');
        text
    }

    /// `write_message`'s metadata argument: SQL NULL where a batch stores
    /// SQL NULL, for metadata absent or JSON null (which `write_message`
    /// would store as JSON null).
    pub fn metadata_argument(&self) -> Option<&str> {
        match &self.metadata {
            Metadata::Json(json) if json != "null" => Some(json),
            Metadata::Json(_) | Metadata::Absent | Metadata::Null => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub stream: String,
    pub expected_version: Option<i64>,
    pub messages: Vec<Message>,
}

#[derive(Clone, Debug)]
pub struct Case {
    /// Written with `write_message` before the batch, in this order.
    pub stored: Vec<(String, Message)>,
    pub entries: Vec<Entry>,
    pub idempotent: bool,
}

impl Case {
    /// The `write_batch` argument.
    pub fn batch(&self) -> String {
        let entries: Vec<String> = self
            .entries
            .iter()
            .map(|entry| {
                let expected = match entry.expected_version {
                    Some(version) => format!(", \"expected_version\": {version}"),
                    None => String::new(),
                };
                format!(
                    "{{\"stream_name\": {}{expected}, \"messages\": {}}}",
                    json_string(&entry.stream),
                    messages_json(&entry.messages)
                )
            })
            .collect();
        format!("[{}]", entries.join(", "))
    }

    /// Every message of the batch in input order: the `write_messages`
    /// argument onto the first entry's stream, with its expected version.
    pub fn one_stream(&self) -> Entry {
        Entry {
            stream: self.entries[0].stream.clone(),
            expected_version: self.entries[0].expected_version,
            messages: self
                .entries
                .iter()
                .flat_map(|entry| entry.messages.clone())
                .collect(),
        }
    }

    /// Whether a stream has more than one entry.
    pub fn names_a_stream_twice(&self) -> bool {
        let names: std::collections::HashSet<&str> =
            self.entries.iter().map(|e| e.stream.as_str()).collect();
        names.len() < self.entries.len()
    }
}

fn messages_json(messages: &[Message]) -> String {
    let texts: Vec<String> = messages.iter().map(Message::json).collect();
    format!("[{}]", texts.join(", "))
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string is JSON")
}

/// JSON text with the liberties a client may take: any key order,
/// duplicate keys, spacing, number forms, escapes, unicode.
fn json_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (any::<i16>(), 0u32..1000, 0usize..3)
            .prop_map(|(i, f, pad)| format!("{i}.{f}{}", "0".repeat(pad))),
        (1u32..99, -20i32..20, prop::bool::ANY)
            .prop_map(|(m, e, upper)| format!("{m}{}{e}", if upper { "E" } else { "e" })),
        Just("-0".to_string()),
        Just("0.000".to_string()),
        Just("-123456789012345678901234567890.0100".to_string()),
    ];
    let string = prop_oneof![
        "[^\\x00]{0,6}".prop_map(|s| json_string(&s)),
        Just(r#""tab\there \"q\" \\ \/ \u00e9 \u6F22 \ud83d\ude00 \u0007""#.to_string()),
        Just("\"é漢😀\"".to_string()),
    ];
    let leaf = prop_oneof![
        number,
        string,
        Just("true".to_string()),
        Just("false".to_string()),
        Just("null".to_string()),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec(("[a-cé漢]{0,3}", inner, " {0,2}"), 0..5).prop_map(|fields| {
                let body: Vec<String> = fields
                    .into_iter()
                    .map(|(k, v, space)| format!("{}{space}:{space}{v}", json_string(&k)))
                    .collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

fn metadata() -> impl Strategy<Value = Metadata> {
    prop_oneof![
        Just(Metadata::Absent),
        Just(Metadata::Null),
        json_text().prop_map(Metadata::Json),
    ]
}

/// A message whose id is filled in later.
fn message() -> impl Strategy<Value = Message> {
    ("[^\\x00]{1,6}", json_text(), metadata()).prop_map(|(type_, data, metadata)| Message {
        id: String::new(),
        type_,
        data,
        metadata,
    })
}

/// What an entry's expected version is, before the versions are known.
#[derive(Clone, Copy, Debug)]
enum Expecting {
    Any,
    Right,
    /// Off by this much from the stream's version (or one above it, where
    /// that would be below -1).
    Wrong(i64),
}

fn expecting() -> impl Strategy<Value = Expecting> {
    prop_oneof![
        6 => Just(Expecting::Any),
        6 => Just(Expecting::Right),
        1 => prop::sample::select(vec![-2i64, -1, 1, 3]).prop_map(Expecting::Wrong),
    ]
}

/// Ids distinct within a case: random bytes, the first two the message's
/// number and the third whether it is stored before the batch; in one of
/// uuid input's forms.
fn id(number: usize, stored: bool, bytes: [u8; 16], form: u8) -> String {
    let mut bytes = bytes;
    bytes[..2].copy_from_slice(&(number as u16).to_be_bytes());
    bytes[2] = u8::from(stored);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let hyphenated = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    match form % 4 {
        0 => hyphenated,
        1 => hyphenated.to_uppercase(),
        2 => format!("{{{hyphenated}}}"),
        _ => hex,
    }
}

pub fn case() -> impl Strategy<Value = Case> {
    let stored = prop::collection::vec((0..STREAMS.len(), message()), 0..5);
    let entry = (
        0..STREAMS.len(),
        expecting(),
        prop::collection::vec(message(), 1..5),
    );
    let entries = prop::collection::vec(entry, 1..5);
    let ids = prop::collection::vec((any::<[u8; 16]>(), any::<u8>()), 30);
    // Now and then a message of the batch takes a stored message's id, so
    // that the batch fails on its insert, after rows before it went in.
    let reuse = prop_oneof![
        5 => Just(None),
        1 => (any::<prop::sample::Index>(), any::<prop::sample::Index>()).prop_map(Some),
    ];
    (stored, entries, ids, any::<bool>(), reuse).prop_map(
        |(stored, entries, ids, mut idempotent, reuse)| {
            let reuse = reuse.filter(|_| !stored.is_empty());
            let mut number = 0;
            let mut next_id = |stored: bool| {
                let (bytes, form) = ids[number % ids.len()];
                number += 1;
                id(number, stored, bytes, form)
            };
            let stored: Vec<(String, Message)> = stored
                .into_iter()
                .map(|(stream, mut message)| {
                    message.id = next_id(true);
                    (STREAMS[stream].to_string(), message)
                })
                .collect();
            // Each stream's version as the stored messages and the entries so
            // far leave it: what a right expected version is.
            let mut versions = std::collections::HashMap::new();
            for (stream, _) in &stored {
                *versions.entry(stream.clone()).or_insert(-1i64) += 1;
            }
            let mut entries: Vec<Entry> = entries
                .into_iter()
                .map(|(stream, expecting, messages)| {
                    let stream = STREAMS[stream].to_string();
                    let version = versions.entry(stream.clone()).or_insert(-1i64);
                    let expected_version = match expecting {
                        Expecting::Any => None,
                        // A batch checks every expected version before its
                        // first insert, write_message calls as they come: with
                        // a stored id the versions are right, and both fail on
                        // the id.
                        Expecting::Right | Expecting::Wrong(_) if reuse.is_some() => Some(*version),
                        Expecting::Right => Some(*version),
                        Expecting::Wrong(off) if *version + off >= -1 => Some(*version + off),
                        Expecting::Wrong(_) => Some(*version + 1),
                    };
                    *version += messages.len() as i64;
                    let messages = messages
                        .into_iter()
                        .map(|mut message| {
                            message.id = next_id(false);
                            message
                        })
                        .collect();
                    Entry {
                        stream,
                        expected_version,
                        messages,
                    }
                })
                .collect();
            if let Some((stored_one, batch_one)) = reuse {
                let (_, message) = &stored[stored_one.index(stored.len())];
                let mut batch_messages: Vec<&mut Message> = entries
                    .iter_mut()
                    .flat_map(|e| e.messages.iter_mut())
                    .collect();
                let count = batch_messages.len();
                batch_messages[batch_one.index(count)].id = message.id.to_uppercase();
                // Idempotent, the stored id would make the batch a conflict,
                // which write_message calls have no counterpart of.
                idempotent = false;
            }
            Case {
                stored,
                entries,
                idempotent,
            }
        },
    )
}

/// A stored message as text: id, stream_name, type, position, data and
/// metadata (not global_position or time).
pub type Row = (String, String, String, i64, Option<String>, Option<String>);

/// A message store the cases are written into.
pub trait Store {
    /// Empties the store.
    fn reset(&mut self);
    fn execute(&mut self, sql: &str);
    fn write_message(
        &mut self,
        stream: &str,
        message: &Message,
        expected_version: Option<i64>,
    ) -> Result<i64, String>;
    fn write_batch(&mut self, batch: &str, idempotent: bool) -> Result<Vec<i64>, String>;
    fn write_messages(
        &mut self,
        stream: &str,
        messages: &str,
        expected_version: Option<i64>,
        idempotent: bool,
    ) -> Result<i64, String>;
    /// Every stored message, in global position order.
    fn rows(&mut self) -> Vec<Row>;
}

/// How a case is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// One `write_batch`.
    Batch,
    /// `write_message` per message of the batch, in one transaction.
    MessageByMessage,
    /// One `write_messages` of every message onto the first stream.
    OneStream,
    /// `write_message` per message onto the first stream, in one transaction.
    OneStreamByMessage,
}

/// What a write returned (each entry's last position, or the error's
/// text) and every row the store holds after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    pub result: Result<Vec<i64>, String>,
    pub rows: Vec<Row>,
}

/// Writes `case` the `way` given into an emptied store, after its stored
/// messages. A batch that is written is then retried, idempotent: a retry
/// that does not return the same positions, or changes the rows, is the
/// error.
pub fn written(store: &mut dyn Store, case: &Case, way: Way) -> Result<Written, TestCaseError> {
    store.reset();
    for (stream, message) in &case.stored {
        store
            .write_message(stream, message, None)
            .expect("a stored message is written");
    }
    let once = |store: &mut dyn Store, idempotent: bool| match way {
        Way::Batch => store.write_batch(&case.batch(), idempotent),
        Way::OneStream => {
            let entry = case.one_stream();
            store
                .write_messages(
                    &entry.stream,
                    &messages_json(&entry.messages),
                    entry.expected_version,
                    idempotent,
                )
                .map(|position| vec![position])
        }
        Way::MessageByMessage => by_message(store, &case.entries),
        Way::OneStreamByMessage => by_message(store, &[case.one_stream()]),
    };
    let result = once(store, case.idempotent);
    let rows = store.rows();
    let retried = matches!(way, Way::Batch | Way::OneStream);
    if let (Ok(positions), true) = (&result, retried) {
        let again = once(store, true);
        prop_assert_eq!(again.as_ref(), Ok(positions), "{:?} retried", way);
        prop_assert_eq!(store.rows(), rows.clone(), "{:?} retried", way);
    }
    Ok(Written { result, rows })
}

/// The entries' messages one `write_message` each, in one transaction, the
/// entry's expected version on its first message: each entry's last
/// position, or the first error (and the transaction rolled back).
fn by_message(store: &mut dyn Store, entries: &[Entry]) -> Result<Vec<i64>, String> {
    store.execute("BEGIN");
    let mut last = Vec::new();
    for entry in entries {
        let mut position = None;
        for (number, message) in entry.messages.iter().enumerate() {
            let expected = if number == 0 {
                entry.expected_version
            } else {
                None
            };
            match store.write_message(&entry.stream, message, expected) {
                Ok(written) => position = Some(written),
                Err(error) => {
                    store.execute("ROLLBACK");
                    return Err(error);
                }
            }
        }
        last.push(position.expect("an entry has messages"));
    }
    store.execute("COMMIT");
    Ok(last)
}

/// What the cases of a run held: a generator that stops making a kind of
/// case fails the run.
#[derive(Debug, Default)]
pub struct Tally {
    pub written: usize,
    pub refused: usize,
    /// Refused on a stored id: after rows before it went in.
    pub refused_on_insert: usize,
    pub stream_named_twice: usize,
    pub rows: usize,
}

impl Tally {
    pub fn count(&mut self, case: &Case, batch: &Written) {
        match &batch.result {
            Ok(_) => self.written += 1,
            Err(error) => {
                self.refused += 1;
                if error.starts_with("duplicate key") {
                    self.refused_on_insert += 1;
                }
            }
        }
        if case.names_a_stream_twice() && batch.result.is_ok() {
            self.stream_named_twice += 1;
        }
        self.rows += batch.rows.len();
    }

    /// Every kind of case was met, in proportion to the number of cases.
    pub fn check(&self) {
        eprintln!("{self:?}");
        let cases = self.written + self.refused;
        assert!(
            self.written >= cases / 2
                && self.refused >= cases / 10
                && self.refused_on_insert >= cases / 20
                && self.stream_named_twice >= cases / 10,
            "{self:?}"
        );
    }
}

/// Postgres' message store in a database of its own, through `client`.
pub struct Postgres(pub Client);

impl Postgres {
    /// A fresh database holding only the extension, on the server of
    /// `MESSAGE_STORE_TEST_PG` (a superuser's connection string) or the
    /// local test cluster.
    pub fn fresh(name: &str) -> Postgres {
        let server = std::env::var("MESSAGE_STORE_TEST_PG").unwrap_or_else(|_| {
            "host=127.0.0.1 port=5432 user=postgres password=postgres dbname=postgres".to_string()
        });
        let db = format!("ms_test_{name}");
        let mut admin = Client::connect(&server, NoTls).expect("connect to Postgres");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .unwrap();
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {db} TEMPLATE template0 ENCODING 'UTF8'"
            ))
            .unwrap();
        let mut client = Client::connect(&format!("{server} dbname={db}"), NoTls).unwrap();
        client
            .batch_execute("CREATE EXTENSION message_store")
            .unwrap();
        Postgres(client)
    }

    fn error(error: postgres::Error) -> String {
        match error.as_db_error() {
            Some(db) => db.message().to_string(),
            None => error.to_string(),
        }
    }
}

impl Store for Postgres {
    fn reset(&mut self) {
        self.0
            .batch_execute("TRUNCATE message_store.messages RESTART IDENTITY")
            .unwrap();
    }

    fn execute(&mut self, sql: &str) {
        self.0.batch_execute(sql).unwrap();
    }

    fn write_message(
        &mut self,
        stream: &str,
        message: &Message,
        expected_version: Option<i64>,
    ) -> Result<i64, String> {
        self.0
            .query_one(
                "SELECT message_store.write_message($1::varchar, $2::varchar, $3::varchar, $4::text::jsonb, $5::text::jsonb, $6::bigint)",
                &[
                    &message.id,
                    &stream,
                    &message.type_,
                    &message.data,
                    &message.metadata_argument(),
                    &expected_version,
                ],
            )
            .map(|row| row.get(0))
            .map_err(Postgres::error)
    }

    fn write_batch(&mut self, batch: &str, idempotent: bool) -> Result<Vec<i64>, String> {
        self.0
            .query_one(
                "SELECT message_store.write_batch($1::text::jsonb, $2::boolean)",
                &[&batch, &idempotent],
            )
            .map(|row| row.get(0))
            .map_err(Postgres::error)
    }

    fn write_messages(
        &mut self,
        stream: &str,
        messages: &str,
        expected_version: Option<i64>,
        idempotent: bool,
    ) -> Result<i64, String> {
        self.0
            .query_one(
                "SELECT message_store.write_messages($1::varchar, $2::text::jsonb, $3::bigint, $4::boolean)",
                &[&stream, &messages, &expected_version, &idempotent],
            )
            .map(|row| row.get(0))
            .map_err(Postgres::error)
    }

    fn rows(&mut self) -> Vec<Row> {
        self.0
            .query(
                "SELECT id::text, stream_name::text, type::text, position, data::text, metadata::text
                 FROM message_store.messages ORDER BY global_position",
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row.get(0),
                    row.get(1),
                    row.get(2),
                    row.get(3),
                    row.get(4),
                    row.get(5),
                )
            })
            .collect()
    }
}
