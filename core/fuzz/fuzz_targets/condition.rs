//! Core's SQL condition rule against SQLite's real parser: for any text the
//! rule accepts with SQLite's lexical rules, the reader's query with the
//! text pasted in returns only the reader's own rows (its stream, at most
//! its limit) or fails, and changes nothing. For any text at all, neither
//! dialect's check panics, and an accepted text stays accepted inside
//! parentheses of its own.

#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use message_store_core::condition::{check, with_condition, Dialect};
use rusqlite::Connection;

thread_local! {
    static DB: RefCell<Connection> = RefCell::new(store());
}

/// Rows of another stream first, so an escaped read returns them.
fn store() -> Connection {
    let conn = Connection::open_in_memory().expect("open");
    conn.execute_batch(
        "CREATE TABLE messages (global_position INTEGER PRIMARY KEY, position INTEGER, stream_name TEXT, type TEXT);
         INSERT INTO messages (position, stream_name, type) VALUES
           (0, 'b-1', 'T'), (1, 'b-1', 'T'), (0, 'a-1', 'T'), (1, 'a-1', 'T'), (2, 'a-1', 'T');",
    )
    .expect("the fuzzing store");
    conn
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for dialect in [
        Dialect::Sqlite,
        Dialect::Postgres {
            standard_conforming_strings: true,
        },
        Dialect::Postgres {
            standard_conforming_strings: false,
        },
    ] {
        if check(text, dialect).is_ok() {
            assert_eq!(check(&format!("({text})"), dialect), Ok(()), "{text:?}");
        }
    }
    if check(text, Dialect::Sqlite).is_err() {
        return;
    }
    let sql = with_condition(
        "SELECT stream_name FROM messages WHERE stream_name = 'a-1' AND position >= 0",
        text,
        " ORDER BY position LIMIT 2",
    );
    DB.with(|db| {
        let db = db.borrow();
        // A second statement fails to prepare (rusqlite refuses a tail).
        let Ok(mut stmt) = db.prepare(&sql) else {
            return;
        };
        assert_eq!(stmt.column_count(), 1, "{text:?}");
        let Ok(rows) = stmt.query_map([], |row| row.get::<_, Option<String>>(0)) else {
            return;
        };
        let mut count = 0;
        for row in rows {
            let Ok(stream) = row else {
                return;
            };
            count += 1;
            assert_eq!(stream.as_deref(), Some("a-1"), "{text:?} escaped: {sql}");
            assert!(count <= 2, "{text:?} escaped the limit: {sql}");
        }
        let total: i64 = db
            .query_row("SELECT count(*) FROM messages", [], |row| row.get(0))
            .expect("count");
        assert_eq!(total, 5, "{text:?} changed the store");
    });
});
