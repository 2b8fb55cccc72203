//! Moving a store on Postgres: `export_messages` writes the stored messages
//! as core's lines (`message_store_core::transfer`), `import_messages`
//! stores such lines exactly, every column as the lines give it.
//!
//! An import holds every writer off while it reads the store's state and
//! inserts, so its explicit global positions never race a writer's drawn
//! ones. Each writer (`write_message`, `write_messages`, `write_batch`, and
//! `acquire_lock` followed by an INSERT) takes its category's advisory lock
//! before it reads its stream's version and holds it to commit; its INSERT
//! takes the table's ROW EXCLUSIVE lock before it draws a global position.
//! An import takes, in this order:
//! 1. the advisory locks of every category its lines name, in ascending
//!    key order, as `write_checked_batch` does: no writer of those
//!    categories is between its version read and its commit, and none
//!    starts until the import commits, so no version it reads goes stale;
//! 2. SHARE ROW EXCLUSIVE on the table, which waits for every transaction
//!    that has inserted to end and keeps every INSERT (and another import)
//!    off until the import commits: the highest committed global position
//!    is final, and no writer draws one meanwhile. A writer of another
//!    category holding only its advisory lock waits at its INSERT, and
//!    draws its global position after the import moved the sequence on.
//!
//! The advisory locks come first: a writer holds its category's lock when
//! it asks for the table's, so taking the table lock first would wait for
//! a writer that waits for it. One order remains open to a deadlock, as it
//! is between two writers: a transaction that already inserted (and so
//! holds ROW EXCLUSIVE) and then writes into a category the import holds.
//! Postgres detects it (40P01) and ends one of the two; nothing is stored
//! in part.

use std::collections::HashMap;

use message_store_core::error::display_nullable;
use message_store_core::statement::Statement;
use message_store_core::transfer::{
    export_line, import_lines, plan_import, ExportRead, ImportLine, Message, Row,
};
use message_store_core::write::CategoryLock;
use message_store_core::{category, Error};
use pgrx::pg_sys::{self, Datum};
use pgrx::PgSqlErrorCode;

use crate::fmgr::{check, database_is_utf8, sql_function};
use crate::signatures::{export_messages, import_messages};
use crate::spi::{Connection, Param, StoredColumns};
use crate::{advisory_xact_lock, debug_get, debug_write, notice, notify, shown};

/// Microseconds from 1970-01-01 (a line's times) to 2000-01-01 (Postgres'
/// timestamps).
const POSTGRES_EPOCH: i64 = 946_684_800_000_000;

/// 400 Gregorian years in microseconds: the calendar repeats after them.
const FOUR_CENTURIES: i64 = 146_097 * 86_400 * 1_000_000;

/// Postgres' text of a timestamp too late for a line's microseconds since
/// 1970 (past year 294247), written as `format_timestamp` writes the rest:
/// the same date 400 years earlier, with the year put back.
fn far_timestamp_text(timestamp: i64) -> String {
    let earlier =
        message_store_core::time::format_timestamp(timestamp - FOUR_CENTURIES + POSTGRES_EPOCH);
    let (year, rest) = earlier
        .split_once('-')
        .expect("a timestamp's text starts with its year");
    let year: i64 = year.parse().expect("a year is digits");
    format!("{}-{rest}", year + 400)
}

/// A stored time, Postgres' timestamp, as a line's microseconds since 1970:
/// `infinity`, `-infinity` and times too late to be written so are refused
/// as any time outside a line's years (which `export_line` refuses).
fn unix_time(timestamp: i64, global_position: i64) -> Result<i64, Error> {
    let out_of_range = |time: String| Error::ExportTimeOutOfRange {
        global_position,
        time,
    };
    match timestamp {
        i64::MIN => Err(out_of_range("-infinity".to_owned())),
        i64::MAX => Err(out_of_range("infinity".to_owned())),
        _ => timestamp
            .checked_add(POSTGRES_EPOCH)
            .ok_or_else(|| out_of_range(far_timestamp_text(timestamp))),
    }
}

/// A text column for a line: the database's text is UTF-8 in a UTF8
/// database, and ASCII reads the same in every server encoding; any other
/// text is refused, as batch writes refuse such input.
fn line_text<'t>(bytes: &'t [u8], column: &str, global_position: i64, utf8: bool) -> &'t str {
    let text = (utf8 || bytes.is_ascii())
        .then(|| std::str::from_utf8(bytes).ok())
        .flatten();
    text.unwrap_or_else(|| {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!(
                "export_messages: the {column} of global position {global_position} holds \
                 characters outside ASCII, which export_messages writes only from a UTF8 database"
            )
        );
    })
}

/// The row `export_line` writes of a stored message.
fn export_row<'t>(columns: &StoredColumns<'t>, utf8: bool) -> Result<Row<'t>, Error> {
    let gp = columns.global_position;
    let text = |bytes, column| line_text(bytes, column, gp, utf8);
    Ok(Row {
        id: text(columns.id, "id"),
        stream_name: text(columns.stream_name, "stream_name"),
        type_: text(columns.type_, "type"),
        position: columns.position,
        global_position: gp,
        data: columns.data.map(|data| text(data, "data")),
        metadata: columns.metadata.map(|metadata| text(metadata, "metadata")),
        time: unix_time(columns.time, gp)?,
    })
}

sql_function! {
    /// `export_messages(position, batch_size, category) RETURNS SETOF text`:
    /// the store's messages (from a global position on, at most batch_size
    /// of them, of one category or all), one line each, in global-position
    /// order. The rows go into the call's materialized result as they are
    /// read, a chunk at a time: the result spills to disk past `work_mem`,
    /// so memory stays bounded however big the store.
    fn message_store_export_messages / pg_finfo_message_store_export_messages
        = export_messages::FUNCTION;
    |call| {
        use export_messages as f;
        let read = check(ExportRead::new(
            call.i64(f::POSITION),
            call.i64(f::BATCH_SIZE),
            call.bytes(f::CATEGORY),
        ));
        let statement = read.statement();
        if debug_get() {
            notice(&[
                "» export_messages".to_string(),
                format!("position ($2): {}", read.position),
                format!(
                    "batch_size ($3): {}",
                    read.limit.unwrap_or(message_store_core::read::UNLIMITED_BATCH_SIZE)
                ),
                format!("category ($1): {}", shown(read.category)),
                format!("Generated Command: {}", crate::spi::text(statement).sql()),
            ]);
        }
        let params = [
            call.param(f::CATEGORY),
            Param::int8(Some(read.position)),
            Param::int8(read.limit),
        ];
        let utf8 = database_is_utf8();
        let result = call.set_result();
        let connection = Connection::connect();
        connection.for_each_stored(statement, &params, |columns| {
            let line = check(export_row(columns, utf8).and_then(|row| export_line(&row)));
            result.put_text(&line);
        });
        call.panic_probe();
        connection.finish();
        call.return_set(result)
    }
}

/// The isolation level's name when the transaction's snapshot is taken
/// once (REPEATABLE READ, SERIALIZABLE), `None` at READ COMMITTED (and
/// READ UNCOMMITTED, which Postgres runs as READ COMMITTED).
pub(crate) fn snapshot_taken_once() -> Option<&'static str> {
    // SAFETY: reads the current transaction's isolation level, set by the
    // backend's one thread.
    let level = unsafe { pg_sys::XactIsoLevel };
    match u32::try_from(level) {
        Ok(pg_sys::XACT_REPEATABLE_READ) => Some("REPEATABLE READ"),
        Ok(pg_sys::XACT_SERIALIZABLE) => Some("SERIALIZABLE"),
        _ => None,
    }
}

/// Refuses an import in a transaction whose snapshot is taken once: that
/// snapshot may be older than the import's locks, so its look-ups would
/// miss messages committed before them. At READ COMMITTED each look-up
/// sees everything committed before it.
fn refuse_transaction_snapshot() {
    let Some(name) = snapshot_taken_once() else {
        return;
    };
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!(
            "import_messages runs only at READ COMMITTED, and this transaction is {name}: \
             its snapshot may be older than the lock import_messages takes, and miss \
             messages stored before it"
        )
    );
}

/// In a database whose encoding is not UTF8, a line's texts must be ASCII
/// once read (a JSON escape may stand for any character): that is the text
/// every server encoding stores alike.
fn refuse_non_ascii(lines: &[ImportLine]) {
    let outside = lines.iter().find(|line| {
        let m = &line.message;
        !(m.stream_name.is_ascii()
            && m.type_.is_ascii()
            && m.data.as_deref().is_none_or(str::is_ascii)
            && m.metadata.as_deref().is_none_or(str::is_ascii))
    });
    if let Some(line) = outside {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!(
                "line {}: holds characters outside ASCII, which import_messages stores only \
                 in a UTF8 database",
                line.line
            )
        );
    }
}

/// A stored message read back by id, to compare with a line. Its texts are
/// the database's (UTF-8 in a UTF8 database; a line's ASCII anywhere else
/// compares equal only to ASCII); a time a line cannot hold stays outside
/// every line's range, so it compares unequal.
fn stored_message(columns: &StoredColumns<'_>) -> Message {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    Message {
        id: text(columns.id),
        stream_name: text(columns.stream_name),
        type_: text(columns.type_),
        position: columns.position,
        global_position: columns.global_position,
        data: columns.data.map(text),
        metadata: columns.metadata.map(text),
        time: columns.time.saturating_add(POSTGRES_EPOCH),
    }
}

sql_function! {
    /// `import_messages(lines text) RETURNS bigint`: stores the messages of
    /// export lines exactly, skipping those stored identically, and returns
    /// how many it stored. Refused, with nothing stored: a line not well
    /// formed, an id repeated or stored otherwise, a position that is not
    /// its stream's next, a global position not above the store's.
    fn message_store_import_messages / pg_finfo_message_store_import_messages
        = import_messages::FUNCTION;
    |call| {
        use import_messages as f;
        crate::replica::refuse_read_only("import_messages");
        refuse_transaction_snapshot();
        let notify = notify::enabled();
        let lines = check(import_lines(call.utf8(f::LINES)));
        if lines.is_empty() {
            return Datum::from(0i64);
        }
        if !database_is_utf8() {
            refuse_non_ascii(&lines);
        }

        let mut keys: Vec<i64> = lines
            .iter()
            .map(|line| CategoryLock::of(line.message.stream_name.as_bytes()).key)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for &key in &keys {
            advisory_xact_lock(key);
        }
        let connection = Connection::connect();
        connection.lock_for_import();

        // The store's state, read under the locks: one statement each. A
        // store without messages holds no id and no stream.
        let highest = connection.select_i64(Statement::MaxGlobalPosition, &[]);
        let mut stored: HashMap<String, Message> = HashMap::new();
        let mut versions = HashMap::new();
        if highest.is_some() {
            let uuids: Vec<&[u8; 16]> = lines.iter().map(|line| &line.uuid).collect();
            connection.for_each_stored(
                Statement::StoredMessagesById,
                &[connection.uuid_array_param(&uuids)],
                |columns| {
                    let message = stored_message(columns);
                    stored.insert(message.id.clone(), message);
                },
            );
            let mut names: Vec<&str> = lines
                .iter()
                .map(|line| line.message.stream_name.as_str())
                .collect();
            names.sort_unstable();
            names.dedup();
            versions = connection.stream_versions(&names);
        }

        let plan = check(plan_import(
            &lines,
            |id| stored.remove(id),
            |name| versions.get(name).copied(),
            highest,
        ));
        let mut sequence_moved = None;
        if let Some(last) = plan.rows.last() {
            let messages: Vec<&Message> = plan.rows.iter().map(|line| &line.message).collect();
            let texts = |column: fn(&Message) -> Option<&str>| {
                connection.text_array_param(
                    &messages.iter().map(|&m| column(m)).collect::<Vec<_>>(),
                )
            };
            let integers = |column: fn(&Message) -> i64| {
                connection.int8_array_param(&messages.iter().map(|&m| column(m)).collect::<Vec<_>>())
            };
            // A line's times are within years 0001 to 9999, far inside
            // Postgres' timestamps: the subtraction cannot overflow.
            let times: Vec<i64> = messages.iter().map(|m| m.time - POSTGRES_EPOCH).collect();
            let uuids: Vec<&[u8; 16]> = plan.rows.iter().map(|line| &line.uuid).collect();
            let inserted = connection.execute(
                Statement::ImportRows,
                &[
                    connection.uuid_array_param(&uuids),
                    texts(|m| Some(m.stream_name.as_str())),
                    texts(|m| Some(m.type_.as_str())),
                    integers(|m| m.position),
                    integers(|m| m.global_position),
                    texts(|m| m.data.as_deref()),
                    texts(|m| m.metadata.as_deref()),
                    connection.timestamp_array_param(&times),
                ],
                pg_sys::SPI_OK_INSERT,
            );
            assert_eq!(
                inserted,
                plan.rows.len() as u64,
                "import_messages inserted another number of rows than it planned"
            );
            // Sequences are not transactional: if this transaction rolls
            // back after the sequence moved, the sequence stays ahead of
            // the store, which leaves a gap in the global positions as a
            // rolled-back write does. It never moves back, so every
            // position it gives is still above every stored one.
            if notify {
                // The record keeps each category's highest position.
                for line in &plan.rows {
                    let message = &line.message;
                    notify::record(
                        category(message.stream_name.as_bytes()),
                        message.global_position,
                    );
                }
            }
            let highest_imported = last.message.global_position;
            sequence_moved = connection
                .continue_sequence_after(highest_imported)
                .then_some(highest_imported);
        }
        call.panic_probe();
        connection.finish();

        if debug_write() {
            notice(&[
                "» import_messages".to_string(),
                format!("lines: {}", lines.len()),
                format!(
                    "_category_name_hashes: {}",
                    keys.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
                ),
                format!("_max_global_position: {}", display_nullable(highest)),
                format!("skipped: {}", plan.skipped),
                format!("stored: {}", plan.rows.len()),
                format!("_setval: {}", display_nullable(sequence_moved)),
            ]);
        }
        Datum::from(plan.rows.len() as i64)
    }
}
