//! Prints the SQLite benchmarks' table from criterion's results
//! (`target/criterion/<operation>/{message_store,floor}/new/estimates.json`):
//! the median time of each side and their ratio.

use std::path::{Path, PathBuf};

/// Operation, the seed's figure for it (Apple M3 Ultra, its Go server's
/// SQLite backend), and the target ratio of the issue.
const ROWS: [(&str, &str, &str); 7] = [
    ("write_message (:memory:)", "~22 µs", "≤ 1.5"),
    (
        "write_message (WAL file, synchronous=NORMAL)",
        "~329 µs (file)",
        "≤ 1.5",
    ),
    ("get_stream_messages (10)", "~30 µs", "≤ 1.2"),
    ("get_category_messages (100)", "~159 µs", "≤ 1.2"),
    (
        "get_category_messages (100, consumer group member of 4)",
        "",
        "≤ 1.2",
    ),
    ("get_category_messages (100, correlation)", "", "≤ 1.2"),
    ("get_last_stream_message", "", "≤ 1.2"),
];

fn median_ns(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("new/estimates.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn main() {
    let criterion = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"));
    println!("| operation | message_store | floor | ratio (time) | target | seed's figure |");
    println!("|---|---|---|---|---|---|");
    for (name, seed, target) in ROWS.iter() {
        // criterion writes ':' in directory names as '_'.
        let dir = criterion.join(name.replace(':', "_"));
        match (
            median_ns(&dir.join("message_store")),
            median_ns(&dir.join("floor")),
        ) {
            (Some(ours), Some(floor)) => println!(
                "| {name} | {:.2} µs | {:.2} µs | {:.2} | {target} | {seed} |",
                ours / 1000.0,
                floor / 1000.0,
                ours / floor
            ),
            _ => println!("| {name} | not measured | | | {target} | {seed} |"),
        }
    }
}
