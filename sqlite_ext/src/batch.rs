//! The batch writers: `write_messages(stream_name, messages [,
//! expected_version [, idempotent]])`, which returns the last position, and
//! `write_batch(batch [, idempotent])`, which returns each entry's last
//! position as JSON array text (`[3,0]`). Core reads and checks the JSON
//! and plans every position (`message_store_core::batch`); this module
//! takes the write lock, reads what core asks for, and inserts the rows.
//!
//! A call is one unit whatever the host's transaction state. SQLite runs
//! each statement a function steps as a statement of its own, which commits
//! at once in autocommit mode even while the caller's `SELECT` runs, so the
//! call opens a savepoint: it holds the write lock from before the versions
//! are read until the last row is in, and a failure rolls back to it. SQLite
//! refuses a savepoint while a statement that writes is running (`INSERT
//! INTO t VALUES (write_messages(…))`); that statement's transaction holds
//! the write lock already, and a failed call deletes the rows it inserted.
//! A batch of one message, not idempotent, is `write_message`'s single
//! statement, which needs neither.

use std::collections::HashMap;
use std::sync::Arc;

use message_store_core::batch::{Batch, StoredRow};
use message_store_core::statement::Statement;
use message_store_core::{json, time};
use rusqlite::functions::Context;
use rusqlite::types::ValueRef;

use crate::args::Arg;
use crate::functions::constraint_error;
use crate::session::Session;
use crate::stmt::{SqliteError, Stmt};
use crate::Failure;

const SAVEPOINT: &str = "SAVEPOINT message_store_batch";
const RELEASE: &str = "RELEASE message_store_batch";
const ROLLBACK: &str = "ROLLBACK TO message_store_batch; RELEASE message_store_batch";

fn sqlite_failure(error: SqliteError) -> Failure {
    Failure(error.message)
}

fn optional<'a>(ctx: &'a Context<'_>, index: usize) -> Option<ValueRef<'a>> {
    (index < ctx.len()).then(|| ctx.get_raw(index))
}

/// `idempotent`: an integer, nonzero for true, as SQLite keeps booleans;
/// NULL or absent is false.
fn idempotent(function: &'static str, value: Option<ValueRef<'_>>) -> Result<bool, Failure> {
    let name = "idempotent";
    match value {
        Some(value) => Ok(Arg { function, name }
            .integer(value)?
            .is_some_and(|n| n != 0)),
        None => Ok(false),
    }
}

/// A JSON argument in the canonical form core reads, refused as Postgres
/// refuses jsonb input: before anything else, and once its text would pass
/// the longest value the connection stores.
fn canonical(session: &Session, text: Option<&str>) -> Result<Option<String>, Failure> {
    let max_len = session.db.length_limit();
    Ok(text
        .map(|text| json::canonical_json_within(text, max_len))
        .transpose()?)
}

pub fn write_messages(session: &Arc<Session>, ctx: &Context<'_>) -> Result<i64, Failure> {
    const F: &str = "write_messages";
    let stream_name = Arg {
        function: F,
        name: "stream_name",
    }
    .text(ctx.get_raw(0))?;
    let messages = Arg {
        function: F,
        name: "messages",
    }
    .str(ctx.get_raw(1))?;
    let expected_version = match optional(ctx, 2) {
        Some(value) => Arg {
            function: F,
            name: "expected_version",
        }
        .integer(value)?,
        None => None,
    };
    let idempotent = idempotent(F, optional(ctx, 3))?;
    let messages = canonical(session, messages)?;
    let batch = Batch::of_write_messages(stream_name, messages.as_deref(), expected_version)?;
    let positions = write(session, ctx, &batch, idempotent, Statement::InsertMessages)?;
    // A checked batch has exactly one entry.
    Ok(positions.first().copied().unwrap_or_default())
}

pub fn write_batch(session: &Arc<Session>, ctx: &Context<'_>) -> Result<String, Failure> {
    const F: &str = "write_batch";
    let text = Arg {
        function: F,
        name: "batch",
    }
    .str(ctx.get_raw(0))?;
    let idempotent = idempotent(F, optional(ctx, 1))?;
    let text = canonical(session, text)?;
    let batch = Batch::of_write_batch(text.as_deref())?;
    let positions = write(session, ctx, &batch, idempotent, Statement::InsertEntries)?;
    let mut out = String::with_capacity(2 + 12 * positions.len());
    out.push('[');
    for (i, position) in positions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&position.to_string());
    }
    out.push(']');
    Ok(out)
}

/// Writes a checked batch and returns each entry's last position.
fn write(
    session: &Arc<Session>,
    ctx: &Context<'_>,
    batch: &Batch<'_>,
    idempotent: bool,
    insert: Statement,
) -> Result<Vec<i64>, Failure> {
    if !idempotent && batch.message_count() == 1 {
        return write_one(session, batch).map(|position| vec![position]);
    }
    // Whether the savepoint begins the transaction, to end it whole when
    // its release fails.
    // SAFETY: the connection is only read, within this call on it.
    let began = unsafe { ctx.get_connection() }.is_ok_and(|db| db.is_autocommit());
    match session.db.execute_batch(SAVEPOINT) {
        Ok(()) => {}
        // A statement that writes runs this call, and holds the write lock.
        Err(error) if error.message.starts_with("cannot open savepoint") => {
            return write_locked(session, batch, idempotent, insert, true);
        }
        Err(error) => return Err(sqlite_failure(error)),
    }
    let written = write_locked(session, batch, idempotent, insert, false).and_then(|positions| {
        session
            .db
            .execute_batch(RELEASE)
            .map(|()| positions)
            .map_err(sqlite_failure)
    });
    if written.is_err() {
        // A failed write, or a commit that failed (busy): nothing of the
        // call stays. An error that already rolled the transaction back
        // took the savepoint with it, and the rollback's error is moot.
        if session.db.execute_batch(ROLLBACK).is_err() && began {
            let _ = session.db.execute_batch("ROLLBACK");
        }
    }
    written
}

/// The call's steps once a savepoint is open, or inside a statement that
/// writes (`compensate`: a failed insert deletes the call's rows, and sets
/// the global-position counter back).
fn write_locked(
    session: &Arc<Session>,
    batch: &Batch<'_>,
    idempotent: bool,
    insert: Statement,
    compensate: bool,
) -> Result<Vec<i64>, Failure> {
    take_write_lock(session)?;
    if idempotent {
        if let Some(positions) = stored_outcome(session, batch)? {
            return Ok(positions);
        }
    }
    let mut versions = HashMap::new();
    {
        let mut stmt = session
            .lend(Statement::StreamVersion)
            .map_err(sqlite_failure)?;
        for name in batch.streams() {
            stmt.bind_text(1, name.as_bytes());
            let version = if stmt.step().map_err(sqlite_failure)? {
                stmt.column_opt_i64(0)
            } else {
                None
            };
            stmt.reset();
            versions.insert(name, version);
        }
    }
    let plan = batch.plan(|name| versions.get(name).copied().flatten())?;
    let counter = if compensate {
        Some(global_counter(session).map_err(sqlite_failure)?)
    } else {
        None
    };
    let time = time::format_timestamp(time::now_micros());
    let inserted = (|| {
        let mut stmt = session.lend(insert)?;
        for row in &plan.rows {
            let message = &batch.entries[row.entry].messages[row.message];
            stmt.bind_i64(1, row.position);
            stmt.bind_text(2, time.as_bytes());
            stmt.bind_text(3, row.stream_name.as_bytes());
            stmt.bind_text(4, message.type_.as_bytes());
            stmt.bind_text(5, message.data.as_bytes());
            stmt.bind_opt_text(6, message.metadata.map(str::as_bytes));
            stmt.bind_text(7, message.id.as_bytes());
            stmt.step()?;
            stmt.reset();
        }
        Ok(())
    })();
    if let Err(error) = inserted {
        if let Some(counter) = counter {
            // Best effort: an error that ends the transaction (I/O, full
            // disk) has rolled everything back already.
            let _ = undo_inserts(session, counter);
        }
        return Err(constraint_error(error));
    }
    Ok(plan.last_positions())
}

/// A single message, not idempotent: `write_message`'s own statement,
/// which takes the write lock before it reads the stream's version and is
/// atomic on its own.
fn write_one(session: &Arc<Session>, batch: &Batch<'_>) -> Result<i64, Failure> {
    let entry = &batch.entries[0];
    let message = &entry.messages[0];
    let time = time::format_timestamp(time::now_micros());
    let insert = |session: &Arc<Session>| -> Result<i64, SqliteError> {
        let mut stmt = session.lend(Statement::Insert)?;
        stmt.bind_text(1, entry.stream_name.as_bytes());
        stmt.bind_text(2, time.as_bytes());
        stmt.bind_text(3, message.type_.as_bytes());
        stmt.bind_text(4, message.data.as_bytes());
        stmt.bind_opt_text(5, message.metadata.map(str::as_bytes));
        stmt.bind_text(6, message.id.as_bytes());
        stmt.bind_opt_i64(7, entry.expected_version);
        if !stmt.step()? {
            return Err(SqliteError {
                code: rusqlite::ffi::SQLITE_ERROR,
                message: "write_messages: the insert gave no position".to_string(),
            });
        }
        let position = stmt.column_i64(0);
        // Stepping to the end commits an autocommit write and reports a
        // failed commit.
        stmt.step()?;
        Ok(position)
    };
    session.ensure_store()?;
    match insert(session) {
        Ok(position) => Ok(position),
        Err(error) if session.table_dropped(&error) => {
            session.ensure_store()?;
            insert(session).map_err(constraint_error)
        }
        Err(error) => Err(constraint_error(error)),
    }
}

/// The database's write lock, as `acquire_lock` takes it: no other
/// connection writes until the transaction ends.
fn take_write_lock(session: &Session) -> Result<(), Failure> {
    session.ensure_store()?;
    let lock = || {
        session
            .db
            .execute_batch("UPDATE main.message_store_schema SET version = version WHERE 0")
    };
    match lock() {
        Ok(()) => Ok(()),
        // Gone since this connection made them (a rolled-back first write).
        Err(error) if session.table_dropped(&error) => {
            session.ensure_store()?;
            lock().map_err(sqlite_failure)
        }
        Err(error) => Err(sqlite_failure(error)),
    }
}

/// Core's answer for an idempotent call, from each message read back by id.
fn stored_outcome(session: &Arc<Session>, batch: &Batch<'_>) -> Result<Option<Vec<i64>>, Failure> {
    let mut stmt = session
        .lend(Statement::StoredById)
        .map_err(sqlite_failure)?;
    let mut failed = None;
    let outcome = batch.stored_outcome(|id| {
        if failed.is_some() {
            return None;
        }
        stmt.bind_text(1, id.as_bytes());
        let row = match stmt.step() {
            Ok(true) => Some(stored_row(&stmt)),
            Ok(false) => None,
            Err(error) => {
                failed = Some(error);
                None
            }
        };
        stmt.reset();
        row
    });
    // A read that failed makes core's answer meaningless.
    if let Some(error) = failed {
        return Err(sqlite_failure(error));
    }
    Ok(outcome?)
}

fn stored_row(stmt: &Stmt) -> StoredRow {
    let text = |i| {
        stmt.column_text(i)
            .map(|text| String::from_utf8_lossy(text).into_owned())
    };
    StoredRow {
        stream_name: text(0).unwrap_or_default(),
        position: stmt.column_i64(1),
        type_: text(2).unwrap_or_default(),
        data: text(3),
        metadata: text(4),
    }
}

/// The `AUTOINCREMENT` counter of `messages` (`None` before its first row).
fn global_counter(session: &Session) -> Result<Option<i64>, SqliteError> {
    let mut stmt = session.db.prepare(
        "SELECT seq FROM main.sqlite_sequence WHERE name = 'messages'",
        false,
    )?;
    Ok(if stmt.step()? {
        stmt.column_opt_i64(0)
    } else {
        None
    })
}

/// Deletes the rows past `counter`, which only this call can have
/// inserted (it holds the write lock), and sets the counter back to it.
fn undo_inserts(session: &Session, counter: Option<i64>) -> Result<(), SqliteError> {
    let mut delete = session.db.prepare(
        "DELETE FROM main.messages WHERE global_position > ?1",
        false,
    )?;
    delete.bind_i64(1, counter.unwrap_or(0));
    delete.step()?;
    let mut restore = match counter {
        Some(counter) => {
            let mut stmt = session.db.prepare(
                "UPDATE main.sqlite_sequence SET seq = ?1 WHERE name = 'messages'",
                false,
            )?;
            stmt.bind_i64(1, counter);
            stmt
        }
        None => session.db.prepare(
            "DELETE FROM main.sqlite_sequence WHERE name = 'messages'",
            false,
        )?,
    };
    restore.step()?;
    Ok(())
}
