//! The batch writers: `write_messages(stream_name, messages [,
//! expected_version [, idempotent]])`, which returns the last position, and
//! `write_batch(batch [, idempotent])`, which returns each entry's last
//! position as JSON array text (`[3,0]`). Core reads and checks the JSON
//! and plans every position (`message_store_core::batch`); this module
//! takes the write lock, reads what core asks for, and inserts the rows.
//!
//! A call is one statement, whatever the host's transaction state: one
//! `INSERT … SELECT` from the virtual table `message_store_batch_rows`,
//! as `write_message` is one `INSERT … SELECT`. SQLite takes the write
//! lock when that statement starts, before the table's xFilter runs; only
//! then does xFilter ask the call for its rows, and the call reads the
//! stored ids (idempotent) and the streams' versions and plans the rows,
//! so no other connection writes in between. Any error (a version, a
//! stored id) fails the one statement, which SQLite undoes whole, in
//! autocommit mode, in a transaction or savepoint, and inside another
//! statement that writes (`INSERT INTO t VALUES (write_messages(…))`),
//! where SQLite opens no savepoint of a function's. The rows after the
//! first cost what a set-based INSERT costs. A batch of one message, not
//! idempotent, is `write_message`'s own statement.
//!
//! `import_messages` (`transfer.rs`) inserts its rows through the same
//! table, with their global positions: it plans in xFilter as these do.

use std::cell::{OnceCell, RefCell};
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
use crate::transfer::Import;
use crate::Failure;

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
    batch: &Batch<'_>,
    idempotent: bool,
    insert: Statement,
) -> Result<Vec<i64>, Failure> {
    if !idempotent && batch.message_count() == 1 {
        return write_one(session, batch).map(|position| vec![position]);
    }
    let time = time::format_timestamp(time::now_micros());
    let run = |session: &Arc<Session>| -> Result<Vec<i64>, SqliteError> {
        let call = Call {
            session,
            batch,
            idempotent,
            time: &time,
            outcome: OnceCell::new(),
        };
        let inserted = {
            let (_offered, number) = source.offer(Caller::Batch(&call));
            let mut stmt = session.lend(insert)?;
            stmt.bind_i64(1, number);
            stmt.step()?;
            session.db.changes()
        };
        match call.outcome.get() {
            // Every planned row went in, or the call reports a failure: a
            // write it acknowledges is whole. (In an open transaction the
            // rows that did go in stay until it ends; this is a defect of
            // the table's, not an outcome.)
            Some(Outcome::Write(plan)) if inserted != plan.rows.len() as i64 => Err(SqliteError {
                code: ffi::SQLITE_ERROR,
                message: format!(
                    "{}: internal error (the insert took {inserted} of {} rows)",
                    batch.call.name(),
                    plan.rows.len()
                ),
            }),
            Some(Outcome::Write(plan)) => Ok(plan.last_positions()),
            Some(Outcome::Stored(positions)) => Ok(positions.clone()),
            None => Err(SqliteError {
                code: ffi::SQLITE_ERROR,
                message: format!("{}: the insert asked for no rows", batch.call.name()),
            }),
        }
    };
    session.ensure_store()?;
    match run(session) {
        Ok(positions) => Ok(positions),
        // Gone since this connection made them (a rolled-back first write).
        Err(error) if session.table_dropped(&error.message) => {
            session.ensure_store()?;
            run(session).map_err(constraint_error)
        }
        Err(error) => Err(constraint_error(error)),
    }
}

/// A call while its insert statement runs.
pub(crate) struct Call<'a> {
    session: &'a Arc<Session>,
    batch: &'a Batch<'a>,
    idempotent: bool,
    time: &'a str,
    /// What the call found once the statement held the write lock.
    outcome: OnceCell<Outcome<'a>>,
}

enum Outcome<'a> {
    /// The rows to insert.
    Write(Plan<'a>),
    /// An idempotent call written already: its positions, no rows.
    Stored(Vec<i64>),
}

impl<'a> Call<'a> {
    /// The rows to insert, found on the first ask (the table's xFilter,
    /// inside the insert statement, which holds the write lock): the
    /// stored ids when idempotent, then the streams' versions and the plan.
    fn rows(&self) -> Result<Option<&Plan<'a>>, Failure> {
        if self.outcome.get().is_none() {
            let outcome = self.decide()?;
            let _ = self.outcome.set(outcome);
        }
        Ok(match self.outcome.get() {
            Some(Outcome::Write(plan)) => Some(plan),
            _ => None,
        })
    }

    fn decide(&self) -> Result<Outcome<'a>, Failure> {
        let (session, batch) = (self.session, self.batch);
        if self.idempotent {
            if let Some(positions) = stored_outcome(session, batch)? {
                return Ok(Outcome::Stored(positions));
            }
        }
        let mut versions = HashMap::new();
        let mut stmt = session
            .lend(Statement::StreamVersion)
            .map_err(Failure::from)?;
        for name in batch.streams() {
            stmt.bind_text(1, name.as_bytes());
            let version = if stmt.step().map_err(Failure::from)? {
                stmt.column_opt_i64(0)
            } else {
                None
            };
            stmt.reset();
            versions.insert(name, version);
        }
        let plan = batch.plan(|name| versions.get(name).copied().flatten())?;
        Ok(Outcome::Write(plan))
    }
}

impl InsertRows for Call<'_> {
    fn decide_rows(&self) -> Result<(), Failure> {
        self.rows().map(|_| ())
    }

    fn row_count(&self) -> usize {
        match self.outcome.get() {
            Some(Outcome::Write(plan)) => plan.rows.len(),
            _ => 0,
        }
    }

    unsafe fn result_column(&self, ctx: *mut ffi::sqlite3_context, index: usize, column: c_int) {
        let Some(Outcome::Write(plan)) = self.outcome.get() else {
            return;
        };
        let Some(row) = plan.rows.get(index) else {
            return;
        };
        let message = &self.batch.entries[row.entry].messages[row.message];
        // SAFETY: `ctx` is xColumn's (the caller's promise); the texts are
        // the call's, which runs until the insert statement is reset.
        unsafe {
            match column {
                0 => ffi::sqlite3_result_int64(ctx, row.position),
                1 => result_text(ctx, self.time),
                2 => result_text(ctx, row.stream_name),
                3 => result_text(ctx, &message.type_),
                4 => result_text(ctx, message.data),
                5 => match message.metadata {
                    Some(metadata) => result_text(ctx, metadata),
                    None => ffi::sqlite3_result_null(ctx),
                },
                6 => result_text(ctx, &message.id),
                // The store numbers a batch's messages itself.
                _ => ffi::sqlite3_result_null(ctx),
            }
        }
    }
}

/// A single message, not idempotent: `write_message`'s own statement,
/// which takes the write lock before it reads the stream's version and is
/// atomic on its own.
fn write_one(session: &Arc<Session>, batch: &Batch<'_>) -> Result<i64, Failure> {
    let entry = &batch.entries[0];
    let message = &entry.messages[0];
    crate::functions::insert_message(
        session,
        batch.call.name(),
        &crate::functions::OneMessage {
            stream_name: Some(entry.stream_name.as_bytes()),
            type_: Some(message.type_.as_bytes()),
            data: Some(message.data.as_bytes()),
            metadata: message.metadata.map(str::as_bytes),
            id: Some(message.id.as_bytes()),
            expected_version: entry.expected_version,
        },
    )
}

/// Core's answer for an idempotent call, from each message read back by id.
fn stored_outcome(session: &Arc<Session>, batch: &Batch<'_>) -> Result<Option<Vec<i64>>, Failure> {
    let mut stmt = session.lend(Statement::StoredById).map_err(Failure::from)?;
    let failed = RefCell::new(None);
    let outcome = batch.stored_outcome(|id| look_up(&failed, &mut stmt, id, stored_row));
    if let Some(error) = failed.into_inner() {
        return Err(Failure::from(error));
    }
    Ok(outcome?)
}

/// The row `stmt` finds for `key` (its parameter 1), read by `row`. A read
/// that failed makes core's answer meaningless: the first failure is kept
/// in `failed`, for the call to report, and no later read is made.
pub(crate) fn look_up<T>(
    failed: &RefCell<Option<SqliteError>>,
    stmt: &mut Stmt,
    key: &str,
    row: impl FnOnce(&Stmt) -> T,
) -> Option<T> {
    if failed.borrow().is_some() {
        return None;
    }
    stmt.bind_text(1, key.as_bytes());
    let found = match stmt.step() {
        Ok(true) => Some(row(stmt)),
        Ok(false) => None,
        Err(error) => {
            *failed.borrow_mut() = Some(error);
            None
        }
    };
    stmt.reset();
    found
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

/// The name SQL gives the rows' virtual table.
pub const ROWS_TABLE: &str = "message_store_batch_rows";

/// The rows a call's insert statement takes from the table: a batch
/// writer's, or an import's.
pub(crate) trait InsertRows {
    /// Decides the rows, on the first ask: the table's xFilter, inside the
    /// insert statement, which holds the write lock.
    fn decide_rows(&self) -> Result<(), Failure>;

    /// How many rows were decided (none before, or when the call inserts
    /// none).
    fn row_count(&self) -> usize;

    /// Sets column `column` of `ROWS_DECLARATION` of row `index` as the
    /// result; nothing for a row that is not there.
    ///
    /// # Safety
    /// `ctx` is the context of the table's xColumn call, which runs while
    /// the call does.
    unsafe fn result_column(&self, ctx: *mut ffi::sqlite3_context, index: usize, column: c_int);
}

/// A call offered to the table.
#[derive(Clone, Copy)]
pub(crate) enum Caller<'c> {
    Batch(&'c Call<'c>),
    Import(&'c Import<'c>),
}

/// A [`Caller`] as the table keeps it while the call runs.
#[derive(Clone, Copy)]
enum RawCaller {
    Batch(*const Call<'static>),
    Import(*const Import<'static>),
}

impl RawCaller {
    /// # Safety
    /// The call is offered, so alive (see `RowSource`), for as long as the
    /// reference is used.
    unsafe fn rows<'x>(self) -> &'x dyn InsertRows {
        // SAFETY: the caller's promise.
        unsafe {
            match self {
                RawCaller::Batch(call) => &*call,
                RawCaller::Import(import) => &*import,
            }
        }
    }
}

/// The call running on one connection, for the virtual table: each call
/// is offered under a number of its own, which its insert statement
/// passes as the table's argument. Only while that call runs does it
/// exist, so a cursor reads it only while its number is the current one
/// (a nested call, from a trigger, offers itself and puts the outer one
/// back).
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
    call: RawCaller,
    number: i64,
}

// SAFETY: an offer's pointer is read only by the cursors of the
// connection whose call made it, inside calls SQLite makes on that
// connection, which never overlap (as for `stmt::Db`).
unsafe impl Send for Offer {}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Withdraws an offer when dropped (panics included), putting back the
/// one before it; it borrows the call, so the call outlives it.
pub(crate) struct Offered<'s, 'c> {
    source: &'s RowSource,
    previous: Option<Offer>,
    call: PhantomData<Caller<'c>>,
}

impl RowSource {
    pub(crate) fn offer<'s, 'c>(&'s self, call: Caller<'c>) -> (Offered<'s, 'c>, i64) {
        let mut slot = lock(&self.slot);
        slot.calls += 1;
        let number = slot.calls;
        let call = match call {
            Caller::Batch(call) => RawCaller::Batch((call as *const Call<'c>).cast()),
            Caller::Import(import) => RawCaller::Import((import as *const Import<'c>).cast()),
        };
        let offer = Offer { call, number };
        let previous = slot.offered.replace(offer);
        self.current.store(number, Ordering::Release);
        (
            Offered {
                source: self,
                previous,
                call: PhantomData,
            },
            number,
        )
    }

    /// The call offered under `number`, while it is.
    fn call(&self, number: i64) -> Option<RawCaller> {
        lock(&self.slot)
            .offered
            .filter(|offer| offer.number == number)
            .map(|offer| offer.call)
    }

    fn is_current(&self, number: i64) -> bool {
        number != 0 && self.current.load(Ordering::Acquire) == number
    }
}

impl Drop for Offered<'_, '_> {
    fn drop(&mut self) {
        let mut slot = lock(&self.source.slot);
        slot.offered = self.previous;
        let number = self.previous.map_or(0, |offer| offer.number);
        self.source.current.store(number, Ordering::Release);
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

/// `global_position` is an import's; a batch writer's rows have none.
const ROWS_DECLARATION: &CStr = c"CREATE TABLE x(position INTEGER, time TEXT, stream_name TEXT, type TEXT, data TEXT, metadata TEXT, id TEXT, global_position INTEGER, call HIDDEN)";
/// The hidden argument's column.
const CALL_COLUMN: c_int = 8;

#[repr(C)]
struct RowsTab {
    base: ffi::sqlite3_vtab,
    source: Arc<RowSource>,
}

#[repr(C)]
struct RowsCursor {
    base: ffi::sqlite3_vtab_cursor,
    source: Arc<RowSource>,
    /// The number of the call whose rows these are; 0 for none.
    number: i64,
    call: Option<RawCaller>,
    index: usize,
    /// A panic in xEof, which cannot report one: the next callback does.
    failed: Option<String>,
}

impl RowsCursor {
    /// The call's rows, while the call runs.
    fn rows(&self) -> Option<&dyn InsertRows> {
        let call = self.call?;
        if !self.source.is_current(self.number) {
            return None;
        }
        // SAFETY: the call is current, so its `Offered` is alive, and with
        // it the call it borrows (see `RowSource`); the reference goes no
        // further than the callback it is read in.
        Some(unsafe { call.rows() })
    }
}

/// Runs `body` in the guard; an error's text, or a panic's, goes to the
/// table's `zErrMsg`.
///
/// # Safety
/// `vtab` is a live `RowsTab`, or null in xConnect (the text then goes to
/// `err`, if not null).
unsafe fn guarded(
    vtab: *mut ffi::sqlite3_vtab,
    err: *mut *mut c_char,
    callback: &str,
    body: impl FnOnce() -> Result<c_int, Failure>,
) -> c_int {
    let message = match crate::guard(ROWS_TABLE, callback, body) {
        Ok(Ok(rc)) => return rc,
        Ok(Err(Failure(message))) => message,
        Err(panic) => panic,
    };
    // SAFETY: SQLite frees what it finds in either place, null or text
    // from its allocator, which is replaced by a copy.
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
            return Ok(rc);
        }
        // No view or trigger of a database file's schema reads it.
        // SAFETY: within xConnect, on its connection, as SQLite requires.
        let rc = unsafe { ffi::sqlite3_vtab_config(db, ffi::SQLITE_VTAB_DIRECTONLY) };
        if rc != ffi::SQLITE_OK {
            return Ok(rc);
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
        Ok(ffi::SQLITE_OK)
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
        Ok(ffi::SQLITE_OK)
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
            number: 0,
            call: None,
            index: 0,
            failed: None,
        });
        // SAFETY: `cursor` is writable (xOpen's contract); SQLite owns the
        // box from here and gives it back to `rows_close`.
        unsafe { *cursor = Box::into_raw(new).cast() };
        Ok(ffi::SQLITE_OK)
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
    body: impl FnOnce(&mut RowsCursor) -> Result<c_int, Failure>,
) -> c_int {
    // SAFETY: the caller's promise.
    let (vtab, cursor) = unsafe { ((*cursor).pVtab, &mut *cursor.cast::<RowsCursor>()) };
    // SAFETY: the cursor's live table.
    unsafe {
        guarded(vtab, std::ptr::null_mut(), callback, || {
            match &cursor.failed {
                Some(message) => Err(Failure(message.clone())),
                None => body(cursor),
            }
        })
    }
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
        cursor.number = 0;
        cursor.call = None;
        if idx_num != 1 || argc != 1 {
            return Ok(());
        }
        // SAFETY: SQLite passes `argc` valid values for this call.
        let number = unsafe {
            let value = *argv;
            (ffi::sqlite3_value_type(value) == ffi::SQLITE_INTEGER)
                .then(|| ffi::sqlite3_value_int64(value))
        };
        let Some((number, call)) =
            number.and_then(|number| Some((number, cursor.source.call(number)?)))
        else {
            return Ok(());
        };
        // SAFETY: the call is offered, so alive (see `RowSource`).
        unsafe { call.rows() }.decide_rows()?;
        cursor.number = number;
        cursor.call = Some(call);
        Ok(())
    };
    let filter = |cursor: &mut RowsCursor| filter(cursor).map(|()| ffi::SQLITE_OK);
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
            Ok(ffi::SQLITE_OK)
        })
    }
}

/// xEof. SQLite reads no error from it: after a panic the cursor says it
/// is not at its end, so SQLite calls it again (a column, the next row),
/// and that call reports the panic. Were a panic read as the end, the
/// insert would take fewer rows than the call planned.
///
/// # Safety
/// SQLite's xEof contract, on a `RowsCursor`.
unsafe extern "C" fn rows_eof(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: a live `RowsCursor`, ours alone for this call (the caller's
    // xEof contract).
    let cursor = unsafe { &mut *cursor.cast::<RowsCursor>() };
    if cursor.failed.is_some() {
        return 0;
    }
    let at_end = crate::guard(ROWS_TABLE, "xEof", || {
        cursor
            .rows()
            .is_none_or(|rows| cursor.index >= rows.row_count())
    });
    match at_end {
        Ok(at_end) => c_int::from(at_end),
        Err(message) => {
            cursor.failed = Some(message);
            0
        }
    }
}

/// Text SQLite reads in place: the rows outlive the statement's use of it
/// (the record it builds is a copy).
///
/// # Safety
/// `ctx` is xColumn's context, and `text` lives until the statement that
/// reads the column is reset.
pub(crate) unsafe fn result_text(ctx: *mut ffi::sqlite3_context, text: &str) {
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
        if let Some(rows) = cursor.rows() {
            // SAFETY: `ctx` is this xColumn call's, made while the call runs
            // (its rows are current).
            unsafe { rows.result_column(ctx, cursor.index, column) };
        }
        Ok(ffi::SQLITE_OK)
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
            Ok(ffi::SQLITE_OK)
        })
    }
}
