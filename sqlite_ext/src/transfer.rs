//! Moving a store between engines: the line `export_messages` returns for
//! each stored message, and `import_messages(lines)`, which stores such
//! lines exactly as they are (`message_store_core::transfer` has the rules
//! of both).
//!
//! `export_messages` is a reader (`readers.rs`); each row's line is made
//! here from the statement's current row. The `time` column holds
//! Postgres' text of a timestamp, as the writers store it; a file written
//! by plain SQL may hold something else in any column, which fails the
//! export with the global position of the message, never a wrong line.
//!
//! An import is one statement, as a batch writer's call is: an `INSERT …
//! SELECT` from `message_store_batch_rows` (`batch.rs`), whose xFilter
//! runs after SQLite took the write lock for the insert; only then are
//! the stored ids, the streams' versions and the highest global position
//! read and the rows planned, so no other connection writes in between,
//! in autocommit mode and in a caller's deferred transaction alike. A
//! refusal fails the one statement, which SQLite undoes whole.

use std::cell::{OnceCell, RefCell};
use std::ffi::c_int;
use std::sync::Arc;

use message_store_core::statement::Statement;
use message_store_core::time::{format_timestamp, parse_timestamp};
use message_store_core::transfer::{self, ImportLine, Message, Row};
use rusqlite::ffi;
use rusqlite::functions::Context;

use crate::args::Arg;
use crate::batch::{look_up, result_text, Caller, InsertRows, RowSource};
use crate::functions::constraint_error;
use crate::session::Session;
use crate::stmt::{SqliteError, Stmt};
use crate::Failure;

const EXPORT: &str = "export_messages";
const IMPORT: &str = "import_messages";

/// Columns of the export statement (`session.rs`): the readers' select list.
const ID: c_int = 0;
const STREAM_NAME: c_int = 1;
const TYPE: c_int = 2;
const POSITION: c_int = 3;
const GLOBAL_POSITION: c_int = 4;
const DATA: c_int = 5;
const METADATA: c_int = 6;
const TIME: c_int = 7;

/// The longest stored value an error shows whole.
const SHOWN: usize = 40;

fn shown(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    match text.char_indices().nth(SHOWN) {
        None => text.into_owned(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

/// The export line of the message `stmt` is on (the export statement's
/// row), without a line end.
pub fn export_line(stmt: &Stmt) -> Result<String, Failure> {
    let global_position = stmt.column_i64(GLOBAL_POSITION);
    let text = |column: c_int, name: &str| -> Result<Option<&str>, Failure> {
        match stmt.column_text(column) {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes).map(Some).map_err(|_| {
                Failure(format!(
                    "{EXPORT}: the {name} of global position {global_position} is not UTF-8 text"
                ))
            }),
        }
    };
    // The table's NOT NULL columns; `None` only from a file that lost them.
    let required = |column: c_int, name: &str| -> Result<&str, Failure> {
        text(column, name)?.ok_or_else(|| {
            Failure(format!(
                "{EXPORT}: the {name} of global position {global_position} is NULL"
            ))
        })
    };
    let id = required(ID, "id")?;
    let stream_name = required(STREAM_NAME, "stream_name")?;
    let type_ = required(TYPE, "type")?;
    if stmt.column_type(POSITION) != ffi::SQLITE_INTEGER {
        return Err(Failure(format!(
            "{EXPORT}: the position of global position {global_position} is not an integer"
        )));
    }
    let data = text(DATA, "data")?;
    let metadata = text(METADATA, "metadata")?;
    let stored_time = stmt.column_text(TIME).unwrap_or_default();
    let time = std::str::from_utf8(stored_time)
        .ok()
        .and_then(parse_timestamp)
        .ok_or_else(|| {
            Failure(format!(
                "{EXPORT}: the time of global position {global_position}, \"{}\", is not a time \
                 as the message store writes it (Postgres' text of a timestamp in UTC, such as \
                 \"2026-11-26 18:02:26.513973\")",
                shown(stored_time)
            ))
        })?;
    Ok(transfer::export_line(&Row {
        id,
        stream_name,
        type_,
        position: stmt.column_i64(POSITION),
        global_position,
        data,
        metadata,
        time,
    })?)
}

/// `import_messages(lines)`: how many lines it stored.
pub fn import_messages(
    session: &Arc<Session>,
    source: &RowSource,
    ctx: &Context<'_>,
) -> Result<i64, Failure> {
    let text = Arg {
        function: IMPORT,
        name: "lines",
    }
    .str(ctx.get_raw(0))?;
    let lines = transfer::import_lines(text)?;
    if lines.is_empty() {
        return Ok(0);
    }
    let run = |session: &Arc<Session>| -> Result<i64, SqliteError> {
        let import = Import {
            session,
            lines: &lines,
            planned: OnceCell::new(),
        };
        let inserted = {
            let (_offered, number) = source.offer(Caller::Import(&import));
            let mut stmt = session.lend(Statement::ImportRows)?;
            stmt.bind_i64(1, number);
            stmt.step()?;
            session.db.changes()
        };
        match import.planned.get() {
            Some(planned) if inserted == planned.rows.len() as i64 => Ok(inserted),
            // Every planned row went in, or the call fails (as a batch
            // writer's does).
            Some(planned) => Err(SqliteError {
                code: ffi::SQLITE_ERROR,
                message: format!(
                    "{IMPORT}: internal error (the insert took {inserted} of {} rows)",
                    planned.rows.len()
                ),
            }),
            None => Err(SqliteError {
                code: ffi::SQLITE_ERROR,
                message: format!("{IMPORT}: the insert asked for no rows"),
            }),
        }
    };
    session.ensure_store()?;
    match run(session) {
        Ok(count) => Ok(count),
        // Gone since this connection made them (a rolled-back first write).
        Err(error) if session.table_dropped(&error.message) => {
            session.ensure_store()?;
            run(session).map_err(constraint_error)
        }
        Err(error) => Err(constraint_error(error)),
    }
}

/// An import while its insert statement runs.
pub(crate) struct Import<'a> {
    session: &'a Arc<Session>,
    lines: &'a [ImportLine],
    /// The rows to insert, planned once the statement held the write lock.
    planned: OnceCell<Planned<'a>>,
}

struct Planned<'a> {
    rows: Vec<&'a ImportLine>,
    /// Each row's `time` as the table holds it.
    times: Vec<String>,
}

impl<'a> Import<'a> {
    fn plan(&self) -> Result<Planned<'a>, Failure> {
        let session = self.session;
        let failed: RefCell<Option<SqliteError>> = RefCell::new(None);
        let highest = {
            let mut stmt = session
                .lend(Statement::MaxGlobalPosition)
                .map_err(Failure::from)?;
            if stmt.step().map_err(Failure::from)? {
                stmt.column_opt_i64(0)
            } else {
                None
            }
        };
        let mut by_id = session
            .lend(Statement::StoredMessagesById)
            .map_err(Failure::from)?;
        let mut versions = session
            .lend(Statement::StreamVersions)
            .map_err(Failure::from)?;
        let plan = transfer::plan_import(
            self.lines,
            |id| look_up(&failed, &mut by_id, id, stored_message),
            |name| look_up(&failed, &mut versions, name, |stmt| stmt.column_opt_i64(1)).flatten(),
            highest,
        );
        if let Some(error) = failed.into_inner() {
            return Err(Failure::from(error));
        }
        let plan = plan?;
        let times = plan
            .rows
            .iter()
            .map(|line| format_timestamp(line.message.time))
            .collect();
        Ok(Planned {
            rows: plan.rows,
            times,
        })
    }
}

/// A stored message as core compares it with a line. A stored `time` that
/// is not a time the store writes matches no line's time.
fn stored_message(stmt: &Stmt) -> Message {
    let text = |column| {
        stmt.column_text(column)
            .map(|text| String::from_utf8_lossy(text).into_owned())
    };
    let time = stmt
        .column_text(TIME)
        .and_then(|text| std::str::from_utf8(text).ok())
        .and_then(parse_timestamp)
        .unwrap_or(i64::MIN);
    Message {
        id: text(ID).unwrap_or_default(),
        stream_name: text(STREAM_NAME).unwrap_or_default(),
        type_: text(TYPE).unwrap_or_default(),
        position: stmt.column_i64(POSITION),
        global_position: stmt.column_i64(GLOBAL_POSITION),
        data: text(DATA),
        metadata: text(METADATA),
        time,
    }
}

impl InsertRows for Import<'_> {
    fn decide_rows(&self) -> Result<(), Failure> {
        if self.planned.get().is_none() {
            let planned = self.plan()?;
            let _ = self.planned.set(planned);
        }
        Ok(())
    }

    fn row_count(&self) -> usize {
        self.planned.get().map_or(0, |planned| planned.rows.len())
    }

    unsafe fn result_column(&self, ctx: *mut ffi::sqlite3_context, index: usize, column: c_int) {
        let Some(planned) = self.planned.get() else {
            return;
        };
        let (Some(line), Some(time)) = (planned.rows.get(index), planned.times.get(index)) else {
            return;
        };
        let message = &line.message;
        let optional = |text: &Option<String>| {
            // SAFETY: `ctx` is xColumn's (the caller's promise); the texts
            // are the call's, which runs until the insert statement is reset.
            unsafe {
                match text {
                    Some(text) => result_text(ctx, text),
                    None => ffi::sqlite3_result_null(ctx),
                }
            }
        };
        // SAFETY: as above.
        unsafe {
            match column {
                0 => ffi::sqlite3_result_int64(ctx, message.position),
                1 => result_text(ctx, time),
                2 => result_text(ctx, &message.stream_name),
                3 => result_text(ctx, &message.type_),
                4 => optional(&message.data),
                5 => optional(&message.metadata),
                6 => result_text(ctx, &message.id),
                7 => ffi::sqlite3_result_int64(ctx, message.global_position),
                _ => ffi::sqlite3_result_null(ctx),
            }
        }
    }
}
