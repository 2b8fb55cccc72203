//! The conformance corpus (`tests/slt/cases`) against the Postgres extension.
//! Calls are unqualified, as most clients make them: each file runs on a
//! fresh database with `message_store` first on the search path.

use message_store_pg_tests::{
    connect, fresh_database, fresh_database_at, released_versions, Postgres, CURRENT_VERSION,
};
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

/// The corpus on databases installed at each earlier release and updated.
#[test]
fn corpus_on_postgres_updated_from_each_release() {
    for version in released_versions() {
        if version == CURRENT_VERSION {
            continue;
        }
        run_corpus(|name| {
            let (db, mut client) = fresh_database_at(
                &version,
                &format!("slt_up_{}_{name}", version.replace('.', "_")),
            );
            client
                .batch_execute("ALTER EXTENSION message_store UPDATE")
                .unwrap();
            Postgres(connect(&format!(
                "dbname={db} options='-c search_path=message_store,public'"
            )))
        });
    }
}
