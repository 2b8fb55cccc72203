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
//! are read until the rows are in, and a failure rolls back to it. SQLite
//! refuses a savepoint while a statement that writes is running (`INSERT
//! INTO t VALUES (write_messages(…))`); that statement's transaction holds
//! the write lock already. Either way all rows go in with one `INSERT …
//! SELECT` from the virtual table `message_store_batch_rows`, which reads
//! them from the call: one statement, undone whole by SQLite when any row
//! fails, and one statement's cost rather than one per row. A batch of one
//! message, not idempotent, is `write_message`'s single statement.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use message_store_core::batch::{Batch, Plan, StoredRow};
use message_store_core::statement::Statement;
use message_store_core::{json, time};
use rusqlite::functions::Context;
use rusqlite::types::ValueRef;
use rusqlite::{ffi, Connection};

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

pub fn write_messages(
    session: &Arc<Session>,
    source: &RowSource,
    ctx: &Context<'_>,
) -> Result<i64, Failure> {
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
    let positions = write(
        session,
        source,
        ctx,
        &batch,
        idempotent,
        Statement::InsertMessages,
    )?;
    // A checked batch has exactly one entry.
    Ok(positions.first().copied().unwrap_or_default())
}

pub fn write_batch(
    session: &Arc<Session>,
    source: &RowSource,
    ctx: &Context<'_>,
) -> Result<String, Failure> {
    const F: &str = "write_batch";
    let text = Arg {
        function: F,
        name: "batch",
    }
    .str(ctx.get_raw(0))?;
    let idempotent = idempotent(F, optional(ctx, 1))?;
    let text = canonical(session, text)?;
    let batch = Batch::of_write_batch(text.as_deref())?;
    let positions = write(
        session,
        source,
        ctx,
        &batch,
        idempotent,
        Statement::InsertEntries,
    )?;
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
    source: &RowSource,
    ctx: &Context<'_>,
    batch: &Batch<'_>,
    idempotent: bool,
    insert: Statement,
) -> Result<Vec<i64>, Failure> {
    if !idempotent && batch.message_count() == 1 {
        return write_one(session, batch).map(|position| vec![position]);
    }
    // Before the savepoint, as `write_message` does it: the reads that
    // check the store end before the write lock is asked for. A read in
    // the savepoint's transaction first would make the lock fail at once
    // (SQLITE_BUSY_SNAPSHOT) after another connection's write, whatever
    // the busy timeout.
    session.ensure_store()?;
    // Whether the savepoint begins the transaction, to end it whole when
    // its release fails.
    // SAFETY: the connection is only read, within this call on it.
    let began = unsafe { ctx.get_connection() }.is_ok_and(|db| db.is_autocommit());
    match session.db.execute_batch(SAVEPOINT) {
        Ok(()) => {}
        // A statement that writes runs this call, and holds the write lock.
        Err(error) if error.message.starts_with("cannot open savepoint") => {
            return write_locked(session, source, batch, idempotent, insert);
        }
        Err(error) => return Err(sqlite_failure(error)),
    }
    let written = write_locked(session, source, batch, idempotent, insert).and_then(|positions| {
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
/// writes.
fn write_locked(
    session: &Arc<Session>,
    source: &RowSource,
    batch: &Batch<'_>,
    idempotent: bool,
    insert: Statement,
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
    let time = time::format_timestamp(time::now_micros());
    let rows = Rows {
        batch,
        plan: &plan,
        time: &time,
    };
    let inserted = (|| {
        let (_offered, call) = source.offer(&rows);
        let mut stmt = session.lend(insert)?;
        stmt.bind_i64(1, call);
        stmt.step()?;
        Ok(())
    })();
    inserted.map_err(constraint_error)?;
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
/// connection writes until the transaction ends. The store is checked
/// already.
fn take_write_lock(session: &Session) -> Result<(), Failure> {
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

/// What the insert statement reads through `message_store_batch_rows`.
struct Rows<'a> {
    batch: &'a Batch<'a>,
    plan: &'a Plan<'a>,
    time: &'a str,
}

/// The name SQL gives the rows' virtual table.
pub const ROWS_TABLE: &str = "message_store_batch_rows";

/// The rows of the call running on one connection, for the virtual table:
/// each call's rows are offered under a number of their own, which the
/// insert statement passes as the table's argument. Only while that call
/// runs do its rows exist, so a cursor reads them only while its number
/// is the current one (a nested call, from a trigger, offers its own and
/// puts the outer one back).
#[derive(Default)]
pub struct RowSource {
    slot: Mutex<Slot>,
    /// The number of the rows offered now; 0 for none.
    current: AtomicI64,
}

#[derive(Default)]
struct Slot {
    offered: Option<Offer>,
    calls: i64,
}

#[derive(Clone, Copy)]
struct Offer {
    rows: *const Rows<'static>,
    call: i64,
}

// SAFETY: an offer's pointer is read only by the cursors of the
// connection whose call made it, inside calls SQLite makes on that
// connection, which never overlap (as for `stmt::Db`).
unsafe impl Send for Offer {}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Withdraws an offer when dropped (panics included), putting back the
/// one before it; it borrows the rows, so they outlive it.
struct Offered<'s, 'r> {
    source: &'s RowSource,
    previous: Option<Offer>,
    rows: PhantomData<&'r Rows<'r>>,
}

impl RowSource {
    fn offer<'s, 'r>(&'s self, rows: &'r Rows<'r>) -> (Offered<'s, 'r>, i64) {
        let mut slot = lock(&self.slot);
        slot.calls += 1;
        let call = slot.calls;
        let offer = Offer {
            rows: (rows as *const Rows<'r>).cast(),
            call,
        };
        let previous = slot.offered.replace(offer);
        self.current.store(call, Ordering::Release);
        (
            Offered {
                source: self,
                previous,
                rows: PhantomData,
            },
            call,
        )
    }

    /// The rows offered under `call`, while they are.
    fn rows(&self, call: i64) -> Option<*const Rows<'static>> {
        lock(&self.slot)
            .offered
            .filter(|offer| offer.call == call)
            .map(|offer| offer.rows)
    }

    fn is_current(&self, call: i64) -> bool {
        call != 0 && self.current.load(Ordering::Acquire) == call
    }
}

impl Drop for Offered<'_, '_> {
    fn drop(&mut self) {
        let mut slot = lock(&self.source.slot);
        slot.offered = self.previous;
        let call = self.previous.map_or(0, |offer| offer.call);
        self.source.current.store(call, Ordering::Release);
    }
}

/// Registers `message_store_batch_rows`: eponymous only, read only,
/// direct-only, with one hidden argument, the call's number.
pub fn register_rows(db: &Connection, source: &Arc<RowSource>) -> Result<(), Failure> {
    let aux = Box::into_raw(Box::new(Arc::clone(source)));
    // SAFETY: the handle is `db`'s open connection, used for this call.
    // `ROWS_MODULE` is static; `aux` is a leaked box that SQLite owns from
    // here: it passes it to `rows_connect` and calls `drop_source` on it
    // once, when the module goes or at once if this fails.
    let rc = unsafe {
        ffi::sqlite3_create_module_v2(
            db.handle(),
            c"message_store_batch_rows".as_ptr(),
            &ROWS_MODULE,
            aux.cast(),
            Some(drop_source),
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(Failure(format!(
            "registering {ROWS_TABLE} failed (SQLite error {rc})"
        )))
    }
}

static ROWS_MODULE: ffi::sqlite3_module = ffi::sqlite3_module {
    iVersion: 1,
    xCreate: None,
    xConnect: Some(rows_connect),
    xBestIndex: Some(rows_best_index),
    xDisconnect: Some(rows_disconnect),
    xDestroy: Some(rows_disconnect),
    xOpen: Some(rows_open),
    xClose: Some(rows_close),
    xFilter: Some(rows_filter),
    xNext: Some(rows_next),
    xEof: Some(rows_eof),
    xColumn: Some(rows_column),
    xRowid: Some(rows_rowid),
    // SAFETY: every other field is an integer or an optional function
    // pointer, for which all zero bits are 0 and `None`.
    ..unsafe { std::mem::zeroed() }
};

const ROWS_DECLARATION: &CStr = c"CREATE TABLE x(position INTEGER, time TEXT, stream_name TEXT, type TEXT, data TEXT, metadata TEXT, id TEXT, call HIDDEN)";
/// The hidden argument's column.
const CALL_COLUMN: c_int = 7;

#[repr(C)]
struct RowsTab {
    base: ffi::sqlite3_vtab,
    source: Arc<RowSource>,
}

#[repr(C)]
struct RowsCursor {
    base: ffi::sqlite3_vtab_cursor,
    source: Arc<RowSource>,
    /// The call whose rows these are; 0 for none.
    call: i64,
    rows: *const Rows<'static>,
    index: usize,
}

impl RowsCursor {
    /// The rows, while their call runs.
    fn rows(&self) -> Option<&Rows<'static>> {
        if self.rows.is_null() || !self.source.is_current(self.call) {
            return None;
        }
        // SAFETY: the call is current, so its `Offered` is alive, and with
        // it the rows it borrows (see `RowSource`).
        Some(unsafe { &*self.rows })
    }
}

/// Runs `body` in the guard; a panic's text goes to the table's `zErrMsg`.
///
/// # Safety
/// `vtab` is a live `RowsTab`, or null in xConnect (the text then goes to
/// `err`, if not null).
unsafe fn guarded(
    vtab: *mut ffi::sqlite3_vtab,
    err: *mut *mut c_char,
    callback: &str,
    body: impl FnOnce() -> c_int,
) -> c_int {
    match crate::guard(ROWS_TABLE, callback, body) {
        Ok(rc) => rc,
        Err(message) => {
            // SAFETY: SQLite frees what it finds in either place, null or
            // text from its allocator, which is replaced by a copy.
            unsafe {
                if !vtab.is_null() {
                    ffi::sqlite3_free((*vtab).zErrMsg.cast());
                    (*vtab).zErrMsg = crate::sqlite_text(&message);
                } else if !err.is_null() {
                    *err = crate::sqlite_text(&message);
                }
            }
            ffi::SQLITE_ERROR
        }
    }
}

/// # Safety
/// SQLite calls it with the `Arc<RowSource>` of `register_rows`, once.
unsafe extern "C" fn drop_source(aux: *mut c_void) {
    let _ = crate::guard(ROWS_TABLE, "drop_aux", || {
        // SAFETY: the box leaked at registration, taken back once.
        drop(unsafe { Box::from_raw(aux.cast::<Arc<RowSource>>()) });
    });
}

/// # Safety
/// SQLite's xConnect contract, with the aux of `register_rows`.
unsafe extern "C" fn rows_connect(
    db: *mut ffi::sqlite3,
    aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    vtab: *mut *mut ffi::sqlite3_vtab,
    err: *mut *mut c_char,
) -> c_int {
    let connect = || {
        // SAFETY: within xConnect, on its connection, as SQLite requires;
        // the declaration is NUL-terminated and static.
        let rc = unsafe { ffi::sqlite3_declare_vtab(db, ROWS_DECLARATION.as_ptr()) };
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        // No view or trigger of a database file's schema reads it.
        // SAFETY: within xConnect, on its connection, as SQLite requires.
        let rc = unsafe { ffi::sqlite3_vtab_config(db, ffi::SQLITE_VTAB_DIRECTONLY) };
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        // SAFETY: `aux` is the `Arc<RowSource>` given at registration,
        // alive until `drop_source`, which comes after every connection.
        let source = Arc::clone(unsafe { &*aux.cast::<Arc<RowSource>>() });
        let tab = Box::into_raw(Box::new(RowsTab {
            base: ffi::sqlite3_vtab::default(),
            source,
        }));
        // SAFETY: `vtab` is writable (xConnect's contract); SQLite owns the
        // box from here and gives it back to `rows_disconnect`.
        unsafe { *vtab = tab.cast() };
        ffi::SQLITE_OK
    };
    // SAFETY: no table yet; `err` is xConnect's.
    unsafe { guarded(std::ptr::null_mut(), err, "xConnect", connect) }
}

/// # Safety
/// `vtab` is a `RowsTab` that `rows_connect` made, given back once.
unsafe extern "C" fn rows_disconnect(vtab: *mut ffi::sqlite3_vtab) -> c_int {
    let _ = crate::guard(ROWS_TABLE, "xDisconnect", || {
        // SAFETY: the box `rows_connect` leaked, taken back once.
        drop(unsafe { Box::from_raw(vtab.cast::<RowsTab>()) });
    });
    ffi::SQLITE_OK
}

/// The call's number, when given, reaches xFilter; without it the table
/// is empty.
///
/// # Safety
/// SQLite's xBestIndex contract, on a `RowsTab`.
unsafe extern "C" fn rows_best_index(
    vtab: *mut ffi::sqlite3_vtab,
    info: *mut ffi::sqlite3_index_info,
) -> c_int {
    let plan = || {
        // SAFETY: `info` is SQLite's, ours alone for this call; its arrays
        // hold `nConstraint` entries each.
        let info = unsafe { &mut *info };
        let count = usize::try_from(info.nConstraint).unwrap_or(0);
        for i in 0..count {
            // SAFETY: `i` is within both arrays (above).
            let (constraint, usage) = unsafe {
                (
                    &*info.aConstraint.add(i),
                    &mut *info.aConstraintUsage.add(i),
                )
            };
            if constraint.iColumn == CALL_COLUMN
                && c_int::from(constraint.op) == ffi::SQLITE_INDEX_CONSTRAINT_EQ
                && constraint.usable != 0
            {
                usage.argvIndex = 1;
                usage.omit = 1;
                info.idxNum = 1;
                break;
            }
        }
        info.estimatedCost = 1.0;
        info.estimatedRows = 100;
        ffi::SQLITE_OK
    };
    // SAFETY: `vtab` is a live `RowsTab` (the caller's promise).
    unsafe { guarded(vtab, std::ptr::null_mut(), "xBestIndex", plan) }
}

/// # Safety
/// SQLite's xOpen contract, on a `RowsTab`.
unsafe extern "C" fn rows_open(
    vtab: *mut ffi::sqlite3_vtab,
    cursor: *mut *mut ffi::sqlite3_vtab_cursor,
) -> c_int {
    let open = || {
        // SAFETY: `vtab` is a live `RowsTab` (the caller's promise).
        let source = Arc::clone(unsafe { &(*vtab.cast::<RowsTab>()).source });
        let new = Box::new(RowsCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            source,
            call: 0,
            rows: std::ptr::null(),
            index: 0,
        });
        // SAFETY: `cursor` is writable (xOpen's contract); SQLite owns the
        // box from here and gives it back to `rows_close`.
        unsafe { *cursor = Box::into_raw(new).cast() };
        ffi::SQLITE_OK
    };
    // SAFETY: `vtab` is live (the caller's promise).
    unsafe { guarded(vtab, std::ptr::null_mut(), "xOpen", open) }
}

/// # Safety
/// `cursor` is a `RowsCursor` that `rows_open` made, given back once.
unsafe extern "C" fn rows_close(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    let _ = crate::guard(ROWS_TABLE, "xClose", || {
        // SAFETY: the box `rows_open` leaked, taken back once.
        drop(unsafe { Box::from_raw(cursor.cast::<RowsCursor>()) });
    });
    ffi::SQLITE_OK
}

/// Runs a cursor callback in the guard.
///
/// # Safety
/// `cursor` is a live `RowsCursor`, and no other reference to it is live.
unsafe fn with_cursor(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    callback: &str,
    body: impl FnOnce(&mut RowsCursor) -> c_int,
) -> c_int {
    // SAFETY: the caller's promise.
    let (vtab, cursor) = unsafe { ((*cursor).pVtab, &mut *cursor.cast::<RowsCursor>()) };
    // SAFETY: the cursor's live table.
    unsafe { guarded(vtab, std::ptr::null_mut(), callback, || body(cursor)) }
}

/// # Safety
/// SQLite's xFilter contract, on a `RowsCursor`.
unsafe extern "C" fn rows_filter(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    idx_num: c_int,
    _idx_str: *const c_char,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    let filter = |cursor: &mut RowsCursor| {
        cursor.index = 0;
        cursor.call = 0;
        cursor.rows = std::ptr::null();
        if idx_num == 1 && argc == 1 {
            // SAFETY: SQLite passes `argc` valid values for this call.
            let call = unsafe {
                let value = *argv;
                (ffi::sqlite3_value_type(value) == ffi::SQLITE_INTEGER)
                    .then(|| ffi::sqlite3_value_int64(value))
            };
            if let Some(rows) = call.and_then(|call| cursor.source.rows(call)) {
                cursor.call = call.unwrap_or_default();
                cursor.rows = rows;
            }
        }
        ffi::SQLITE_OK
    };
    // SAFETY: the caller's xFilter contract.
    unsafe { with_cursor(cursor, "xFilter", filter) }
}

/// # Safety
/// SQLite's xNext contract, on a `RowsCursor`.
unsafe extern "C" fn rows_next(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: the caller's xNext contract.
    unsafe {
        with_cursor(cursor, "xNext", |cursor| {
            cursor.index += 1;
            ffi::SQLITE_OK
        })
    }
}

/// # Safety
/// SQLite's xEof contract, on a `RowsCursor`.
unsafe extern "C" fn rows_eof(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: the caller's xEof contract. A panic reads as the end.
    let at_end = unsafe {
        with_cursor(cursor, "xEof", |cursor| {
            c_int::from(
                cursor
                    .rows()
                    .is_none_or(|rows| cursor.index >= rows.plan.rows.len()),
            )
        })
    };
    c_int::from(at_end != 0)
}

/// Text SQLite reads in place: the rows outlive the statement's use of it
/// (the record it builds is a copy).
///
/// # Safety
/// `ctx` is xColumn's context, and `text` lives until the statement that
/// reads the column is reset.
unsafe fn result_text(ctx: *mut ffi::sqlite3_context, text: &str) {
    // SAFETY: the caller's promise; SQLITE_STATIC tells SQLite not to free it.
    unsafe {
        ffi::sqlite3_result_text64(
            ctx,
            text.as_ptr().cast(),
            text.len() as u64,
            ffi::SQLITE_STATIC(),
            ffi::SQLITE_UTF8 as std::ffi::c_uchar,
        )
    }
}

/// # Safety
/// SQLite's xColumn contract, on a `RowsCursor`.
unsafe extern "C" fn rows_column(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    ctx: *mut ffi::sqlite3_context,
    column: c_int,
) -> c_int {
    let read = |cursor: &mut RowsCursor| {
        let Some(rows) = cursor.rows() else {
            return ffi::SQLITE_OK;
        };
        let Some(row) = rows.plan.rows.get(cursor.index) else {
            return ffi::SQLITE_OK;
        };
        let message = &rows.batch.entries[row.entry].messages[row.message];
        // SAFETY: `ctx` is xColumn's; the texts are the call's, which runs
        // until the insert statement is reset.
        unsafe {
            match column {
                0 => ffi::sqlite3_result_int64(ctx, row.position),
                1 => result_text(ctx, rows.time),
                2 => result_text(ctx, row.stream_name),
                3 => result_text(ctx, &message.type_),
                4 => result_text(ctx, message.data),
                5 => match message.metadata {
                    Some(metadata) => result_text(ctx, metadata),
                    None => ffi::sqlite3_result_null(ctx),
                },
                6 => result_text(ctx, &message.id),
                _ => ffi::sqlite3_result_null(ctx),
            }
        }
        ffi::SQLITE_OK
    };
    // SAFETY: the caller's xColumn contract.
    unsafe { with_cursor(cursor, "xColumn", read) }
}

/// # Safety
/// SQLite's xRowid contract, on a `RowsCursor`.
unsafe extern "C" fn rows_rowid(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    rowid: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: the caller's xRowid contract; `rowid` is writable.
    unsafe {
        with_cursor(cursor, "xRowid", |cursor| {
            *rowid = cursor.index as i64;
            ffi::SQLITE_OK
        })
    }
}
