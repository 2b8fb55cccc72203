//! The conformance corpus (`tests/slt/cases`) against the Postgres extension.
//! Calls are unqualified, as most clients make them: each file runs on a
//! fresh database with `message_store` first on the search path.

use message_store_pg_tests::{connect, fresh_database, Postgres};
use message_store_slt::run_corpus;

#[test]
fn corpus_on_postgres() {
    run_corpus(|name| {
        let (db, _) = fresh_database(&format!("slt_{name}"));
        Postgres(connect(&format!(
            "dbname={db} options='-c search_path=message_store,public'"
        )))
    });
}
