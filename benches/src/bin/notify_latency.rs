//! Wake-up latency of a consumer (benches/notify.sh): one writer commits
//! `write_message` calls with `message_store.notify` on, at random gaps;
//! two consumers read the category from their positions with
//! `get_category_messages`, one woken by `LISTEN message_store` (and a
//! one-second timeout), one polling every 100 ms. For each message, the
//! time from the writer sending the call (it commits at once) to each
//! consumer having read it. Prints one markdown table row per consumer:
//! `| consumer | messages | p50 ms | p99 ms | max ms | reads |`.
//!
//!   notify_latency CONNECTION_STRING MESSAGES

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

type Sent = Arc<Mutex<HashMap<i64, Instant>>>;

fn consume(
    connection: &str,
    listen: bool,
    messages: usize,
    done: &AtomicBool,
) -> (Vec<(i64, Instant)>, usize) {
    let mut client = Client::connect(connection, NoTls).unwrap();
    if listen {
        client.batch_execute("LISTEN message_store").unwrap();
    }
    let read = client
        .prepare(
            "SELECT global_position FROM message_store.get_category_messages('latency', $1, 1000)",
        )
        .unwrap();
    let mut position = 1i64;
    let mut seen = Vec::with_capacity(messages);
    let mut reads = 0;
    while seen.len() < messages && !done.load(Ordering::SeqCst) {
        let rows = client.query(&read, &[&position]).unwrap();
        reads += 1;
        let now = Instant::now();
        for row in &rows {
            let global_position: i64 = row.get(0);
            seen.push((global_position, now));
            position = global_position + 1;
        }
        if rows.len() == 1000 {
            continue;
        }
        if listen {
            let mut notifications = client.notifications();
            let _ = notifications
                .timeout_iter(Duration::from_secs(1))
                .next()
                .unwrap();
            // Take what else has arrived, without waiting.
            while notifications.iter().next().unwrap().is_some() {}
        } else {
            thread::sleep(Duration::from_millis(100));
        }
    }
    (seen, reads)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let connection = args[1].clone();
    let messages: usize = args[2].parse().unwrap();
    let sent: Sent = Arc::default();
    let done = Arc::new(AtomicBool::new(false));

    let consumers: Vec<_> = [true, false]
        .into_iter()
        .map(|listen| {
            let connection = connection.clone();
            let done = done.clone();
            thread::spawn(move || consume(&connection, listen, messages, &done))
        })
        .collect();
    thread::sleep(Duration::from_millis(500));

    let mut writer = Client::connect(&connection, NoTls).unwrap();
    writer
        .batch_execute("SET message_store.notify = on")
        .unwrap();
    let write = writer
        .prepare(
            "SELECT message_store.write_message(gen_random_uuid()::text, 'latency-1', 'T', '{}')",
        )
        .unwrap();
    let position = writer
        .prepare("SELECT pg_catalog.currval('message_store.messages_global_position_seq')")
        .unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..messages {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // Gaps of 10 to 40 ms, so a poll's phase falls anywhere.
        thread::sleep(Duration::from_millis(10 + state % 31));
        let started = Instant::now();
        writer.execute(&write, &[]).unwrap();
        let global_position: i64 = writer.query_one(&position, &[]).unwrap().get(0);
        sent.lock().unwrap().insert(global_position, started);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !consumers.iter().all(|c| c.is_finished()) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    done.store(true, Ordering::SeqCst);
    let sent = sent.lock().unwrap();
    for (consumer, name) in consumers.into_iter().zip(["LISTEN", "poll every 100 ms"]) {
        let (seen, reads) = consumer.join().unwrap();
        assert_eq!(seen.len(), messages, "{name} read every message");
        let mut latencies: Vec<f64> = seen
            .iter()
            .map(|(global_position, read)| {
                read.duration_since(sent[global_position]).as_secs_f64() * 1000.0
            })
            .collect();
        latencies.sort_by(f64::total_cmp);
        println!(
            "| {name} | {messages} | {:.2} | {:.2} | {:.2} | {reads} |",
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            latencies[latencies.len() - 1]
        );
    }
}
