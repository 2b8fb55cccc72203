//! The conformance corpus (`tests/slt/cases`) against the SQLite extension,
//! loaded into a fresh in-memory database per file.

use message_store_slt::run_corpus;
use message_store_sqlite_tests::{open_in_memory, Sqlite};

#[test]
fn corpus_on_sqlite() {
    run_corpus(|_| Sqlite(open_in_memory()));
}
