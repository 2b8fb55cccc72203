//! Batch writes on Postgres, property-tested: a generated batch of n
//! messages written with one `write_batch` stores exactly the rows that n
//! `write_message` calls in one transaction store into a second fresh store
//! (id, stream, type, position, data, metadata; not global position or
//! time), returns the positions those calls returned, or fails with the
//! error the first failing call gave and stores nothing; the same for one
//! `write_messages` onto one stream; and an idempotent retry of what was
//! written returns the same positions and writes nothing.
//!
//! The generator and its fixed seed are shared with the SQLite host test
//! (`tests/sqlite_host/tests/batch_properties.rs`), which also compares
//! the two engines' rows. `PROPTEST_CASES=2000 cargo test --release -p
//! message_store_pg_tests --test batch_properties` runs longer.

#[path = "../../sqlite_host/tests/batch_cases/mod.rs"]
mod batch_cases;

use std::cell::RefCell;

use batch_cases::{case, runner, written, Postgres, Tally, Way};
use proptest::prelude::*;

#[test]
fn a_batch_stores_what_write_message_calls_store() {
    let batch = RefCell::new(Postgres::fresh("batch_properties_batch"));
    let reference = RefCell::new(Postgres::fresh("batch_properties_reference"));
    let tally = RefCell::new(Tally::default());
    runner()
        .run(&case(), |case| {
            let (mut batch, mut reference) = (batch.borrow_mut(), reference.borrow_mut());
            let got = written(&mut *batch, &case, Way::Batch)?;
            let expected = written(&mut *reference, &case, Way::MessageByMessage)?;
            prop_assert_eq!(&got, &expected, "write_batch({})", case.batch());
            tally.borrow_mut().count(&case, &got);
            let got = written(&mut *batch, &case, Way::OneStream)?;
            let expected = written(&mut *reference, &case, Way::OneStreamByMessage)?;
            prop_assert_eq!(got, expected, "write_messages of {:?}", case.one_stream());
            Ok(())
        })
        .unwrap();
    tally.into_inner().check();
}
