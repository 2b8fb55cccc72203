//! Batch writes on SQLite, property-tested, and both engines agreeing: a
//! generated batch of n messages written with one `write_batch` stores
//! exactly the rows that n `write_message` calls in one transaction store
//! into a second fresh store (id, stream, type, position, data, metadata;
//! not global position or time), returns the positions those calls
//! returned, or fails with the error the first failing call gave and stores
//! nothing; the same for one `write_messages` onto one stream; an
//! idempotent retry of what was written returns the same positions and
//! writes nothing; and Postgres, given the same call, returns the same and
//! stores the same rows.
//!
//! The generator and its fixed seed (`batch_cases`) are shared with the
//! Postgres client test (`tests/pg_client/tests/batch_properties.rs`).
//! Needs the Postgres cluster of `tests/setup.sh` (or
//! `MESSAGE_STORE_TEST_PG`). `PROPTEST_CASES=2000 cargo test --release -p
//! message_store_sqlite_tests --test batch_properties` runs longer.

mod batch_cases;

use std::cell::RefCell;

use batch_cases::{case, runner, written, Message, Postgres, Row, Store, Tally, Way};
use message_store_sqlite_tests::{error_message, open_in_memory};
use proptest::prelude::*;
use rusqlite::{params, Connection};

/// The SQLite extension in an in-memory database, made anew by each reset.
struct Sqlite(Connection);

impl Store for Sqlite {
    fn reset(&mut self) {
        self.0 = open_in_memory();
    }

    fn execute(&mut self, sql: &str) {
        self.0.execute_batch(sql).unwrap();
    }

    fn write_message(
        &mut self,
        stream: &str,
        message: &Message,
        expected_version: Option<i64>,
    ) -> Result<i64, String> {
        self.0
            .query_row(
                "SELECT write_message(?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    message.id,
                    stream,
                    message.type_,
                    message.data,
                    message.metadata_argument(),
                    expected_version
                ],
                |row| row.get(0),
            )
            .map_err(error_message)
    }

    fn write_batch(&mut self, batch: &str, idempotent: bool) -> Result<Vec<i64>, String> {
        let text: String = self
            .0
            .query_row(
                "SELECT write_batch(?1, ?2)",
                params![batch, idempotent],
                |row| row.get(0),
            )
            .map_err(error_message)?;
        Ok(serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("write_batch returned {text:?}, not a JSON array: {e}")))
    }

    fn write_messages(
        &mut self,
        stream: &str,
        messages: &str,
        expected_version: Option<i64>,
        idempotent: bool,
    ) -> Result<i64, String> {
        self.0
            .query_row(
                "SELECT write_messages(?1, ?2, ?3, ?4)",
                params![stream, messages, expected_version, idempotent],
                |row| row.get(0),
            )
            .map_err(error_message)
    }

    fn rows(&mut self) -> Vec<Row> {
        // A store nothing was written into has no table yet.
        let made: bool = self
            .0
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'messages'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        if !made {
            return Vec::new();
        }
        let mut statement = self
            .0
            .prepare(
                "SELECT id, stream_name, type, position, data, metadata FROM messages ORDER BY global_position",
            )
            .unwrap();
        statement
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

#[test]
fn a_batch_stores_what_write_message_calls_store_on_both_engines() {
    let batch = RefCell::new(Sqlite(open_in_memory()));
    let reference = RefCell::new(Sqlite(open_in_memory()));
    let postgres = RefCell::new(Postgres::fresh("batch_properties_sqlite"));
    let tally = RefCell::new(Tally::default());
    runner()
        .run(&case(), |case| {
            let (mut batch, mut reference) = (batch.borrow_mut(), reference.borrow_mut());
            let mut postgres = postgres.borrow_mut();
            let got = written(&mut *batch, &case, Way::Batch)?;
            let expected = written(&mut *reference, &case, Way::MessageByMessage)?;
            prop_assert_eq!(&got, &expected, "write_batch({})", case.batch());
            let on_postgres = written(&mut *postgres, &case, Way::Batch)?;
            prop_assert_eq!(
                &got,
                &on_postgres,
                "Postgres: write_batch({})",
                case.batch()
            );
            tally.borrow_mut().count(&case, &got);
            let got = written(&mut *batch, &case, Way::OneStream)?;
            let expected = written(&mut *reference, &case, Way::OneStreamByMessage)?;
            prop_assert_eq!(&got, &expected, "write_messages of {:?}", case.one_stream());
            let on_postgres = written(&mut *postgres, &case, Way::OneStream)?;
            prop_assert_eq!(
                &got,
                &on_postgres,
                "Postgres: write_messages of {:?}",
                case.one_stream()
            );
            Ok(())
        })
        .unwrap();
    tally.into_inner().check();
}
