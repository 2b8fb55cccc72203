//! Prints the path of the benchmarks' SQLite data set of N messages
//! (benches/src/lib.rs), writing it first when it is missing:
//!
//!   target/release/data_set sqlite 1000000
//!
//! benches/transfer.sh reads its source store from here.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [engine, total] if engine == "sqlite" => {
            let total: i64 = total.parse().expect("a number of messages");
            let path = message_store_benches::sqlite_data_set(total);
            println!("{}", path.display());
        }
        _ => {
            eprintln!("usage: data_set sqlite <messages>");
            std::process::exit(2);
        }
    }
}
