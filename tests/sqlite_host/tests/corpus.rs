//! The conformance corpus (`tests/slt/cases`) against the SQLite extension,
//! loaded into a fresh in-memory database per file.

use message_store_slt::{run_corpus, Cell, Engine, EngineError};
use message_store_sqlite_tests::{error_message, open_in_memory};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

struct Sqlite(Connection);

impl Engine for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn run(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>, EngineError> {
        let error = |e: rusqlite::Error| EngineError {
            sqlstate: None,
            message: error_message(e),
        };
        let mut stmt = self.0.prepare(sql).map_err(error)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).map_err(error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(error)? {
            out.push(
                (0..columns)
                    .map(|i| match row.get_ref(i).expect("column") {
                        ValueRef::Null => Cell::Null,
                        ValueRef::Integer(n) => Cell::Integer(n),
                        ValueRef::Real(r) => Cell::Real(r),
                        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Cell::Text(format!("<blob {} bytes>", b.len())),
                    })
                    .collect(),
            );
        }
        Ok(out)
    }
}

#[test]
fn corpus_on_sqlite() {
    run_corpus(|_| Sqlite(open_in_memory()));
}
