//! The batch-write benchmarks' input and harness, for both engines
//! (`src/bin/batch.rs`): the calls a client makes, the JSON text each
//! sends, and the alternating runs that compare a call with its floor.
//!
//! A call writes `size` messages either into one stream (`write_messages`)
//! or spread evenly over up to ten streams of ten categories
//! (`write_batch`: 10 messages are 10 entries of one, 1,000 are 10 of
//! 100). Messages look like the data set's: `{"amount": i, "note":
//! "generated"}`, every fourth with correlation metadata, a random v4 id.
//! The text is what a client's JSON library sends (compact, keys in its
//! own order), the same text for the function and the floor.

use std::fmt::Write as _;
use std::time::Duration;

/// How the calls are made: one stream, or a `write_batch` over several.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Messages,
    Batch,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Messages => "write_messages",
            Kind::Batch => "write_batch",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "write_messages" => Some(Kind::Messages),
            "write_batch" => Some(Kind::Batch),
            _ => None,
        }
    }
}

/// Batch sizes measured.
pub const SIZES: [usize; 4] = [1, 10, 100, 1000];
/// Streams (and categories) a `write_batch` call spreads over.
pub const BATCH_STREAMS: usize = 10;
/// Streams per category that successive calls cycle through.
pub const STREAMS_PER_CATEGORY: usize = 1000;

/// One message: the arguments `write_message` takes.
pub struct Message {
    pub id: String,
    pub type_: &'static str,
    pub data: String,
    pub metadata: Option<String>,
}

impl Message {
    fn new(i: usize) -> Message {
        Message {
            id: uuid::Uuid::new_v4().to_string(),
            type_: "Written",
            data: format!(r#"{{"amount":{i},"note":"generated"}}"#),
            metadata: i
                .is_multiple_of(4)
                .then(|| format!(r#"{{"correlationStreamName":"origin-{}"}}"#, i % 1000)),
        }
    }

    fn write_json(&self, out: &mut String) {
        write!(
            out,
            r#"{{"id":"{}","type":"{}","data":{}"#,
            self.id, self.type_, self.data
        )
        .unwrap();
        if let Some(metadata) = &self.metadata {
            write!(out, r#","metadata":{metadata}"#).unwrap();
        }
        out.push('}');
    }
}

/// One entry of a call: a stream and its messages.
pub struct Entry {
    pub stream_name: String,
    pub messages: Vec<Message>,
}

/// One call's input, as every side of a benchmark receives it.
pub struct Call {
    pub entries: Vec<Entry>,
    /// `write_messages`: the messages' JSON array; `write_batch`: the batch.
    pub json: String,
    /// The categories the call locks, each once.
    pub categories: Vec<String>,
}

impl Call {
    /// Call `n` of client `client`: fresh ids, the next stream of each of
    /// the client's categories.
    pub fn new(kind: Kind, size: usize, client: usize, n: usize) -> Call {
        let streams = match kind {
            Kind::Messages => 1,
            Kind::Batch => size.min(BATCH_STREAMS),
        };
        let mut entries: Vec<Entry> = (0..streams)
            .map(|s| Entry {
                stream_name: format!("b{client}x{s}-{}", n % STREAMS_PER_CATEGORY),
                messages: Vec::with_capacity(size / streams),
            })
            .collect();
        for i in 0..size {
            entries[i * streams / size]
                .messages
                .push(Message::new(n * size + i));
        }
        let mut json = String::with_capacity(size * 140);
        match kind {
            Kind::Messages => write_array(&entries[0].messages, &mut json),
            Kind::Batch => {
                json.push('[');
                for (e, entry) in entries.iter().enumerate() {
                    if e > 0 {
                        json.push(',');
                    }
                    write!(
                        json,
                        r#"{{"stream_name":"{}","messages":"#,
                        entry.stream_name
                    )
                    .unwrap();
                    write_array(&entry.messages, &mut json);
                    json.push('}');
                }
                json.push(']');
            }
        }
        let categories = entries
            .iter()
            .map(|e| e.stream_name.split('-').next().unwrap().to_string())
            .collect();
        Call {
            entries,
            json,
            categories,
        }
    }

    pub fn messages(&self) -> usize {
        self.entries.iter().map(|e| e.messages.len()).sum()
    }
}

fn write_array(messages: &[Message], out: &mut String) {
    out.push('[');
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        message.write_json(out);
    }
    out.push(']');
}

/// How long and how often each side runs: `BATCH_SECONDS` per run
/// (default 2), `BATCH_RUNS` runs (default 3), `BATCH_WARMUP` seconds of
/// warm-up (default 1).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub seconds: f64,
    pub runs: usize,
    pub warmup: f64,
}

impl Timing {
    pub fn from_env() -> Timing {
        let read = |name: &str, default: f64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Timing {
            seconds: read("BATCH_SECONDS", 2.0),
            runs: read("BATCH_RUNS", 3.0) as usize,
            warmup: read("BATCH_WARMUP", 1.0),
        }
    }
}

/// A side of a benchmark: makes `calls` in a fresh store and returns how
/// long they took, wall clock, for all its clients together.
pub trait Side {
    fn name(&self) -> &'static str;
    /// Runs the given calls (one list per client) and returns the time
    /// from the first call's start to the last one's end, with the store
    /// made fresh and each client connected beforehand, untimed.
    fn run(&mut self, calls: &[Vec<Call>]) -> Duration;
}

/// The median messages per second of each side, and every run's figure.
pub struct Measured {
    pub side: &'static str,
    pub median: f64,
    pub runs: Vec<f64>,
}

/// Warms each side up, then runs the sides in turn, `timing.runs` times,
/// each run on the same freshly made calls for every side, so a drift of
/// the machine falls on all sides alike; the i-th runs of two sides are a
/// pair, taken one right after the other.
pub fn alternate(
    kind: Kind,
    size: usize,
    clients: usize,
    timing: Timing,
    sides: &mut [Box<dyn Side>],
) -> Vec<Measured> {
    let make = |calls_per_client: usize| -> Vec<Vec<Call>> {
        (0..clients)
            .map(|client| {
                (0..calls_per_client)
                    .map(|n| Call::new(kind, size, client, n))
                    .collect()
            })
            .collect()
    };
    // Warm-up: each side doubles its calls until one run takes half the
    // warm-up time; the slowest side's rate in that run sets the calls of
    // every run (a store's rate falls as it fills, so a rate taken on
    // small runs would make the runs far longer than asked).
    let mut slowest = f64::MAX;
    for side in sides.iter_mut() {
        let mut calls = 1;
        loop {
            let took = side.run(&make(calls)).as_secs_f64();
            if took >= timing.warmup / 2.0 {
                slowest = slowest.min((calls * clients) as f64 / took);
                break;
            }
            calls *= 2;
        }
    }
    let calls_per_client = ((slowest * timing.seconds) / clients as f64)
        .ceil()
        .max(1.0) as usize;
    let mut runs: Vec<Vec<f64>> = vec![Vec::new(); sides.len()];
    for run in 0..timing.runs {
        let calls = make(calls_per_client);
        // Every other run in the opposite order, so that no side is always
        // the one that runs first after another side's writes.
        let mut order: Vec<usize> = (0..sides.len()).collect();
        if run % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let took = sides[i].run(&calls).as_secs_f64();
            runs[i].push((calls_per_client * clients * size) as f64 / took);
        }
    }
    sides
        .iter()
        .zip(runs)
        .map(|(side, runs)| {
            let mut sorted = runs.clone();
            sorted.sort_by(f64::total_cmp);
            Measured {
                side: side.name(),
                median: sorted[sorted.len() / 2],
                runs,
            }
        })
        .collect()
}
