//! The conformance corpus (`tests/slt/cases`) against the Postgres extension.
//! Calls are unqualified, as most clients make them: each file runs on a
//! fresh database with `message_store` first on the search path.

use message_store_pg_tests::{connect, fresh_database};
use message_store_slt::{run_corpus, Cell, Engine, EngineError};
use postgres::{Client, SimpleQueryMessage};

struct Postgres(Client);

impl Engine for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    /// The simple protocol returns every value as Postgres' text output,
    /// which is what the corpus compares.
    fn run(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>, EngineError> {
        let messages = self
            .0
            .simple_query(sql)
            .map_err(|e| match e.as_db_error() {
                Some(db) => EngineError {
                    sqlstate: Some(db.code().code().to_string()),
                    message: db.message().to_string(),
                },
                None => EngineError {
                    sqlstate: None,
                    message: e.to_string(),
                },
            })?;
        Ok(messages
            .iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| match row.get(i) {
                            Some(text) => Cell::Text(text.to_string()),
                            None => Cell::Null,
                        })
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }
}

#[test]
fn corpus_on_postgres() {
    run_corpus(|name| {
        let (db, _) = fresh_database(&format!("slt_{name}"));
        Postgres(connect(&format!(
            "dbname={db} options='-c search_path=message_store,public'"
        )))
    });
}
