//! Memory over a long session: 1,000,000 calls (writes and every reader,
//! in turn) on one SQLite connection with the extension loaded, printing
//! the process's private resident memory every 100,000 calls. The store is
//! a file (its pages live in SQLite's bounded page cache), so flat numbers
//! mean nothing is kept per call: statements, cursors, arguments.
//!
//!   cargo run --release -p message_store_benches --bin memory [calls]

use message_store_benches::{data, message_id, metadata, read_all, stream_name, Sequence};

/// RssAnon: resident memory that is the process's own (heap, stacks).
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("RssAnon:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let calls: i64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("message_store_memory_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conn = message_store_sqlite_tests::open(&dir.join("store.db"));
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF")
        .unwrap();
    let mut write = conn
        .prepare("SELECT write_message(?1, ?2, 'Written', ?3, ?4)")
        .unwrap();
    let mut stream = conn
        .prepare("SELECT * FROM get_stream_messages(?1, 0, 10)")
        .unwrap();
    let mut category = conn
        .prepare("SELECT * FROM get_category_messages(?1, ?2, 10, NULL, 0, 2)")
        .unwrap();
    let mut last = conn
        .prepare("SELECT * FROM get_last_stream_message(?1)")
        .unwrap();
    let mut seq = Sequence::new(7);
    // Writes fill a bounded set of streams so the table's growth is the only growth.
    let mut written = 0i64;
    println!("| calls | private resident KiB | messages |");
    println!("|---|---|---|");
    for call in 1..=calls {
        match call % 4 {
            0 => {
                written += 1;
                write
                    .query_row(
                        rusqlite::params![
                            message_id(written),
                            stream_name(written % 1000),
                            data(written),
                            metadata(written)
                        ],
                        |_| Ok(()),
                    )
                    .unwrap();
            }
            1 => {
                read_all(&mut stream, [stream_name(seq.below(1000))]);
            }
            2 => {
                let name = format!("cat{}", seq.below(10));
                read_all(
                    &mut category,
                    rusqlite::params![name, 1 + seq.below(written.max(1))],
                );
            }
            _ => {
                read_all(&mut last, [stream_name(seq.below(1000))]);
            }
        }
        if call % (calls / 10).max(1) == 0 {
            println!("| {call} | {} | {written} |", resident_kib());
        }
    }
    drop((write, stream, category, last));
    conn.close().expect("close");
    let _ = std::fs::remove_dir_all(&dir);
}
