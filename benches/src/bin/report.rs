//! Prints the SQLite benchmarks' table from criterion's results
//! (`target/criterion/<operation>/<side>/new/estimates.json`, or the
//! directory given as the argument): the median time of each side, the
//! ratio to the floor, and for reads the ratio to the floor read through
//! the leanest table-valued function.

use std::path::{Path, PathBuf};

use message_store_benches::TABLE_FUNCTION_FLOOR;

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
    println!("| operation | message_store | floor | ratio (time) | target | floor through a table-valued function | ratio to it | seed's figure |");
    println!("|---|---|---|---|---|---|---|---|");
    let micros = |ns: f64| format!("{:.2} µs", ns / 1000.0);
    for (name, seed, target) in ROWS.iter() {
        // criterion writes ':' in directory names as '_'.
        let dir = criterion.join(name.replace(':', "_"));
        let (Some(ours), Some(floor)) = (
            median_ns(&dir.join("message_store")),
            median_ns(&dir.join("floor")),
        ) else {
            println!("| {name} | not measured | | | {target} | | | {seed} |");
            continue;
        };
        let (through, ratio) = match median_ns(&dir.join(TABLE_FUNCTION_FLOOR)) {
            Some(through) => (micros(through), format!("{:.2}", ours / through)),
            None => (String::new(), String::new()),
        };
        println!(
            "| {name} | {} | {} | {:.2} | {target} | {through} | {ratio} | {seed} |",
            micros(ours),
            micros(floor),
            ours / floor
        );
    }
}
