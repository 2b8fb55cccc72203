//! The readers as table-valued functions: eponymous virtual tables whose
//! hidden columns are the Postgres functions' arguments, in their order, so
//! `SELECT * FROM get_stream_messages('account-1', 0, 10)` reads as it does
//! on Postgres. Omitted trailing arguments take the defaults.
//!
//! The readers are written against SQLite's module interface directly: a
//! row's columns go from the statement that reads the `messages` table to
//! the caller with one result call each (`result_column`), the cost that
//! matters when a consumer reads batches of a hundred messages.
//!
//! `export_messages(position, batch_size, category)` is a reader of this
//! kind whose one column, `line`, is each message's export line
//! (`transfer.rs`), made as the cursor reaches the message, so an export of
//! any size holds one row at a time; its arguments are all optional.
//!
//! `get_all_messages(position, batch_size, condition)` reads every
//! category's messages in global order, with the category reader's argument
//! rules; SQLite's writers are serialised, so global position order is
//! commit order and a reader that goes on from the last position it saw
//! skips nothing.
//!
//! `message_store_settings` is a virtual table too: it shows the connection's
//! settings and holds the statements kept for the scalar functions.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr;
use std::sync::Arc;

use message_store_core::condition::Dialect;
use message_store_core::listing::{ListingRead, Order};
use message_store_core::read::{AllRead, CategoryRead, ConditionGate, StreamRead};
use message_store_core::statement::Statement;
use message_store_core::transfer::ExportRead;
use message_store_core::Error;
use rusqlite::ffi;
use rusqlite::types::ValueRef;
use rusqlite::Connection;

use crate::args::{value_ref, Arg};
use crate::session::{self, Lent, Session, HOLDER_TABLE, SQL_CONDITION_SETTING};
use crate::stmt::{ColumnValue, Stmt};
use crate::Failure;

/// Columns of `message_store.message`, which the message readers return;
/// the arguments follow as hidden columns.
const MESSAGE_COLUMNS: c_int = 8;

/// The most arguments a reader takes (`get_category_messages`).
const MAX_ARGUMENTS: usize = 7;

/// Set in a plan's `idxNum` when the query reads a hidden argument column:
/// only then does the cursor keep copies of the arguments. The bits below
/// it flag which arguments were given.
const ARGUMENTS_READ: c_int = 1 << 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    StreamMessages,
    CategoryMessages,
    LastStreamMessage,
    Export,
    AllMessages,
    Streams,
    Categories,
}

impl Reader {
    pub fn name(self) -> &'static str {
        match self {
            Reader::StreamMessages => "get_stream_messages",
            Reader::CategoryMessages => "get_category_messages",
            Reader::LastStreamMessage => "get_last_stream_message",
            Reader::Export => "export_messages",
            Reader::AllMessages => "get_all_messages",
            Reader::Streams => "get_streams",
            Reader::Categories => "get_categories",
        }
    }

    /// The Postgres argument names, in order.
    fn arguments(self) -> &'static [&'static str] {
        match self {
            Reader::StreamMessages => &["stream_name", "position", "batch_size", "condition"],
            Reader::CategoryMessages => &[
                "category",
                "position",
                "batch_size",
                "correlation",
                "consumer_group_member",
                "consumer_group_size",
                "condition",
            ],
            Reader::LastStreamMessage => &["stream_name", "type"],
            Reader::Export => &["position", "batch_size", "category"],
            Reader::AllMessages => &["position", "batch_size", "condition"],
            Reader::Streams => &["prefix", "after", "limit"],
            Reader::Categories => &["after", "limit"],
        }
    }

    /// Whether the first argument must be given (Postgres has no default
    /// for it).
    fn first_required(self) -> bool {
        !matches!(
            self,
            Reader::Export | Reader::AllMessages | Reader::Streams | Reader::Categories
        )
    }

    /// The columns a row has before the hidden argument columns.
    fn result_columns(self) -> c_int {
        match self {
            Reader::Export => 1,
            Reader::Streams => 3,
            Reader::Categories => 2,
            _ => MESSAGE_COLUMNS,
        }
    }

    /// The argument a column holds, if it is a hidden argument column.
    fn arg_of(self, column: c_int) -> Option<usize> {
        let arg = usize::try_from(column.checked_sub(self.result_columns())?).ok()?;
        (arg < self.arguments().len()).then_some(arg)
    }

    fn declaration(self) -> &'static CStr {
        match self {
            Reader::StreamMessages => c"CREATE TABLE x(id TEXT, stream_name TEXT, type TEXT, position INTEGER, global_position INTEGER, data TEXT, metadata TEXT, time TEXT, arg_stream_name HIDDEN, arg_position HIDDEN, arg_batch_size HIDDEN, arg_condition HIDDEN)",
            Reader::CategoryMessages => c"CREATE TABLE x(id TEXT, stream_name TEXT, type TEXT, position INTEGER, global_position INTEGER, data TEXT, metadata TEXT, time TEXT, arg_category HIDDEN, arg_position HIDDEN, arg_batch_size HIDDEN, arg_correlation HIDDEN, arg_consumer_group_member HIDDEN, arg_consumer_group_size HIDDEN, arg_condition HIDDEN)",
            Reader::LastStreamMessage => c"CREATE TABLE x(id TEXT, stream_name TEXT, type TEXT, position INTEGER, global_position INTEGER, data TEXT, metadata TEXT, time TEXT, arg_stream_name HIDDEN, arg_type HIDDEN)",
            Reader::Export => c"CREATE TABLE x(line TEXT, arg_position HIDDEN, arg_batch_size HIDDEN, arg_category HIDDEN)",
            Reader::AllMessages => c"CREATE TABLE x(id TEXT, stream_name TEXT, type TEXT, position INTEGER, global_position INTEGER, data TEXT, metadata TEXT, time TEXT, arg_position HIDDEN, arg_batch_size HIDDEN, arg_condition HIDDEN)",
            Reader::Streams => c"CREATE TABLE x(stream_name TEXT, version INTEGER, last_time TEXT, arg_prefix HIDDEN, arg_after HIDDEN, arg_limit HIDDEN)",
            Reader::Categories => c"CREATE TABLE x(category TEXT, head_global_position INTEGER, arg_after HIDDEN, arg_limit HIDDEN)",
        }
    }

    fn arg(self, index: usize) -> Arg {
        Arg {
            function: self.name(),
            name: self.arguments()[index],
        }
    }
}

/// Registers `reader` on the connection.
pub fn register(db: &Connection, session: &Arc<Session>, reader: Reader) -> Result<(), String> {
    let name = CString::new(reader.name()).map_err(|e| e.to_string())?;
    let aux = Box::into_raw(Box::new(ReaderAux {
        session: Arc::clone(session),
        reader,
    }));
    // SAFETY: the handle is `db`'s open connection, used for this call.
    // `READER_MODULE` is static; `aux` is a leaked box that SQLite owns from
    // here: it passes it to `x_connect` and calls `drop_aux` on it once,
    // when the module goes or at once if this fails.
    let rc = unsafe {
        ffi::sqlite3_create_module_v2(
            db.handle(),
            name.as_ptr(),
            &READER_MODULE,
            aux.cast(),
            Some(drop_aux::<ReaderAux>),
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(format!(
            "registering {} failed (SQLite error {rc})",
            reader.name()
        ))
    }
}

/// A reader module's user data.
struct ReaderAux {
    session: Arc<Session>,
    reader: Reader,
}

/// The destructor of a module's user data (`T` is `ReaderAux`, or the
/// settings table's `Arc<Session>`): a panic is dropped, leaking the rest.
///
/// # Safety
/// `aux` is the `Box<T>` leaked by `register` or `register_settings`, and
/// SQLite calls this once, after its last use.
unsafe extern "C" fn drop_aux<T: Named>(aux: *mut c_void) {
    // SAFETY: the live `T` leaked at registration (the caller's promise).
    let name = unsafe { (*aux.cast::<T>()).name() };
    let _ = crate::guard(name, "drop_aux", || {
        // SAFETY: the box leaked at registration, taken back once.
        drop(unsafe { Box::from_raw(aux.cast::<T>()) });
    });
}

/// What the guard calls a module's user data when it drops it.
trait Named {
    fn name(&self) -> &'static str;
}

impl Named for ReaderAux {
    fn name(&self) -> &'static str {
        self.reader.name()
    }
}

impl Named for Arc<Session> {
    fn name(&self) -> &'static str {
        HOLDER_TABLE
    }
}

/// Eponymous only (no `xCreate`): the readers exist in every schema and
/// cannot be created as tables.
static READER_MODULE: ffi::sqlite3_module = ffi::sqlite3_module {
    iVersion: 1,
    xCreate: None,
    xConnect: Some(x_connect),
    xBestIndex: Some(x_best_index),
    xDisconnect: Some(x_disconnect::<ReaderTab>),
    xDestroy: Some(x_disconnect::<ReaderTab>),
    xOpen: Some(x_open),
    xClose: Some(x_close::<ReaderCursor>),
    xFilter: Some(x_filter),
    xNext: Some(x_next),
    xEof: Some(x_eof::<ReaderCursor>),
    xColumn: Some(x_column),
    xRowid: Some(x_rowid::<ReaderCursor>),
    // The readers write nothing and take part in no transaction.
    // SAFETY: every other field is an integer or an optional function
    // pointer, for which all zero bits are 0 and `None`.
    ..unsafe { std::mem::zeroed() }
};

#[repr(C)]
struct ReaderTab {
    base: ffi::sqlite3_vtab,
    session: Arc<Session>,
    reader: Reader,
}

impl Drop for ReaderTab {
    fn drop(&mut self) {
        self.session.holder_disconnected();
    }
}

/// A virtual table of this module: its name for error texts.
///
/// # Safety
/// The type is `#[repr(C)]` with an `ffi::sqlite3_vtab` first, so a
/// pointer to it is one to that field and back.
unsafe trait Table {
    fn name(&self) -> &'static str;
}

// SAFETY: `#[repr(C)]`, `base: sqlite3_vtab` first.
unsafe impl Table for ReaderTab {
    fn name(&self) -> &'static str {
        self.reader.name()
    }
}

// SAFETY: `#[repr(C)]`, `base: sqlite3_vtab` first.
unsafe impl Table for SettingsTab {
    fn name(&self) -> &'static str {
        HOLDER_TABLE
    }
}

/// A cursor of this module.
///
/// # Safety
/// The type is `#[repr(C)]` with an `ffi::sqlite3_vtab_cursor` first, and
/// the cursor's `pVtab` is a `Self::Tab`.
unsafe trait Cursor {
    type Tab: Table;
    fn base(&self) -> &ffi::sqlite3_vtab_cursor;
    fn at_end(&self) -> bool;
    fn rowid(&self) -> i64;
    /// An error a callback could not report (`x_eof`), for the next one to.
    fn failed(&mut self) -> &mut Option<String>;
}

/// The name of the table of the cursor at `cursor`.
///
/// # Safety
/// `cursor` is a live cursor of type `C` that SQLite passed in.
unsafe fn cursor_table_name<C: Cursor>(cursor: *mut ffi::sqlite3_vtab_cursor) -> &'static str {
    // SAFETY: `cursor` is a live `C` (the caller's promise), whose `pVtab`
    // SQLite set to its live table, a `C::Tab` (`Cursor`'s contract).
    unsafe {
        let tab = (*cursor).pVtab.cast::<C::Tab>();
        (*tab).name()
    }
}

/// Sets the message SQLite reports for a failed method of `vtab`,
/// replacing an earlier one.
///
/// # Safety
/// `vtab` is a live virtual table of this module that SQLite passed in.
unsafe fn set_error(vtab: *mut ffi::sqlite3_vtab, message: &str) {
    // SAFETY: `zErrMsg` is null or text from SQLite's allocator (SQLite
    // frees what it reads and sets it back to null), replaced by a copy it
    // will free.
    unsafe {
        ffi::sqlite3_free((*vtab).zErrMsg.cast());
        (*vtab).zErrMsg = crate::sqlite_text(message);
    }
}

/// Runs method `callback` of table `vtab` in the guard: an error's text,
/// or a panic's, goes to SQLite through the table's `zErrMsg`.
///
/// # Safety
/// `vtab` is a live virtual table of this module that SQLite passed in.
unsafe fn method(
    vtab: *mut ffi::sqlite3_vtab,
    name: &str,
    callback: &str,
    body: impl FnOnce() -> Result<c_int, Failure>,
) -> c_int {
    let message = match crate::guard(name, callback, body) {
        Ok(Ok(rc)) => return rc,
        Ok(Err(Failure(message))) => message,
        Err(panic) => panic,
    };
    // SAFETY: the caller's promise.
    unsafe { set_error(vtab, &message) };
    ffi::SQLITE_ERROR
}

/// Runs method `callback` of cursor `cursor` in the guard, as `method`
/// does, after reporting an error an earlier callback could not.
///
/// # Safety
/// `cursor` is a live cursor of type `C` that SQLite passed in, and no
/// other reference to it is live.
unsafe fn cursor_method<C: Cursor>(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    callback: &str,
    body: impl FnOnce(&mut C) -> Result<c_int, Failure>,
) -> c_int {
    // SAFETY: the caller's promise: a live `C`, this the only reference.
    let (name, vtab, cursor) = unsafe {
        (
            cursor_table_name::<C>(cursor),
            (*cursor).pVtab,
            &mut *cursor.cast::<C>(),
        )
    };
    let run = || match cursor.failed().take() {
        Some(message) => Err(Failure(message)),
        None => body(cursor),
    };
    // SAFETY: `vtab` is the cursor's live table.
    unsafe { method(vtab, name, callback, run) }
}

/// The `n` elements at `items`; SQLite passes a null pointer when there are none.
///
/// # Safety
/// `items` is null or points to `n` initialised elements, valid and not
/// otherwise referenced for `'a`.
unsafe fn elements<'a, T>(items: *mut T, n: c_int) -> &'a mut [T] {
    match usize::try_from(n) {
        // SAFETY: the caller's promise, for a non-null `items`.
        Ok(n) if n > 0 && !items.is_null() => unsafe { std::slice::from_raw_parts_mut(items, n) },
        _ => &mut [],
    }
}

/// Declares a table being connected and hands it to SQLite; an error's
/// text, or a panic's, goes to `*err`.
///
/// # Safety
/// SQLite's xConnect contract: `db` is the connection, `vtab` and `err`
/// are writable.
unsafe fn connect<T: Table>(
    db: *mut ffi::sqlite3,
    name: &str,
    declaration: &CStr,
    direct_only: bool,
    vtab: *mut *mut ffi::sqlite3_vtab,
    err: *mut *mut c_char,
    make: impl FnOnce() -> T,
) -> c_int {
    let connected = crate::guard(name, "xConnect", || {
        // SAFETY: called within xConnect, on its connection, as SQLite
        // requires; the declaration is NUL-terminated and static.
        let rc = unsafe { ffi::sqlite3_declare_vtab(db, declaration.as_ptr()) };
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        if direct_only {
            // SAFETY: sqlite3_vtab_config is called within xConnect, on the
            // connection SQLite passed to it, as SQLite requires.
            let rc = unsafe { ffi::sqlite3_vtab_config(db, ffi::SQLITE_VTAB_DIRECTONLY) };
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        let tab = Box::into_raw(Box::new(make()));
        // SAFETY: `vtab` is writable (xConnect's contract); SQLite owns the
        // box from here and gives it back to `x_disconnect`. A `T` starts
        // with its `sqlite3_vtab` (`Table`'s contract).
        unsafe { *vtab = tab.cast() };
        ffi::SQLITE_OK
    });
    match connected {
        Ok(rc) => rc,
        Err(message) => {
            if !err.is_null() {
                // SAFETY: `err` is writable, and SQLite frees what it finds there.
                unsafe { *err = crate::sqlite_text(&message) };
            }
            ffi::SQLITE_ERROR
        }
    }
}

/// A reader's xConnect.
///
/// # Safety
/// SQLite calls it with the `ReaderAux` of `register` and xConnect's contract.
unsafe extern "C" fn x_connect(
    db: *mut ffi::sqlite3,
    aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    vtab: *mut *mut ffi::sqlite3_vtab,
    err: *mut *mut c_char,
) -> c_int {
    // SAFETY: `aux` is the `ReaderAux` given at registration, alive until
    // `drop_aux`, which comes after every connection.
    let aux = unsafe { &*aux.cast::<ReaderAux>() };
    let reader = aux.reader;
    let make = || {
        aux.session.holder_connected();
        ReaderTab {
            base: ffi::sqlite3_vtab::default(),
            session: Arc::clone(&aux.session),
            reader,
        }
    };
    // Direct-only: no view or trigger of a database file's schema may read
    // through a reader, whose SQL condition could call the direct-only
    // writers.
    // SAFETY: the caller's xConnect contract.
    unsafe {
        connect(
            db,
            reader.name(),
            reader.declaration(),
            true,
            vtab,
            err,
            make,
        )
    }
}

/// xDisconnect and xDestroy: the table goes (a panic leaks it).
///
/// # Safety
/// `vtab` is a table `T` that `connect` made, and SQLite gives it back once.
unsafe extern "C" fn x_disconnect<T: Table>(vtab: *mut ffi::sqlite3_vtab) -> c_int {
    // SAFETY: a live `T` (the caller's promise).
    let name = unsafe { (*vtab.cast::<T>()).name() };
    let _ = crate::guard(name, "xDisconnect", || {
        // SAFETY: the box `connect` leaked, taken back once.
        drop(unsafe { Box::from_raw(vtab.cast::<T>()) });
    });
    ffi::SQLITE_OK
}

/// Every argument given is an equality constraint on its hidden column;
/// they reach `x_filter` in argument order, flagged in `idxNum`.
///
/// # Safety
/// SQLite's xBestIndex contract, on a `ReaderTab`.
unsafe extern "C" fn x_best_index(
    vtab: *mut ffi::sqlite3_vtab,
    info: *mut ffi::sqlite3_index_info,
) -> c_int {
    // SAFETY: `vtab` is a live `ReaderTab` (the caller's promise).
    let reader = unsafe { (*vtab.cast::<ReaderTab>()).reader };
    let plan = || {
        // SAFETY: `info` is SQLite's, ours alone for this call.
        let info = unsafe { &mut *info };
        // SAFETY: SQLite's array of `nConstraint` entries, for this call.
        let constraints = unsafe { elements(info.aConstraint, info.nConstraint) };
        let mut usable: [Option<usize>; MAX_ARGUMENTS] = [None; MAX_ARGUMENTS];
        let mut unusable: c_int = 0;
        for (i, constraint) in constraints.iter().enumerate() {
            let Some(arg) = reader.arg_of(constraint.iColumn) else {
                continue;
            };
            if c_int::from(constraint.op) != ffi::SQLITE_INDEX_CONSTRAINT_EQ {
                continue;
            }
            if constraint.usable != 0 {
                usable[arg] = Some(i);
            } else {
                unusable |= 1 << arg;
            }
        }
        // SAFETY: as above; another array than `aConstraint`.
        let usage = unsafe { elements(info.aConstraintUsage, info.nConstraint) };
        let mut idx_num: c_int = 0;
        let mut argv = 0;
        for (arg, constraint) in usable.iter().enumerate() {
            if let Some(constraint) = constraint {
                argv += 1;
                idx_num |= 1 << arg;
                usage[*constraint].argvIndex = argv;
                usage[*constraint].omit = 1;
            }
        }
        // An argument that comes from a table joined later: ask SQLite
        // for another plan (this is how a lateral join is planned).
        if unusable & !idx_num != 0 {
            return Ok(ffi::SQLITE_CONSTRAINT);
        }
        if reader.first_required() && idx_num & 1 == 0 {
            return Err(Failure(format!(
                "{}: argument \"{}\" is required",
                reader.name(),
                reader.arguments()[0]
            )));
        }
        if info.colUsed >> reader.result_columns() != 0 {
            idx_num |= ARGUMENTS_READ;
        }
        info.idxNum = idx_num;
        info.estimatedCost = 10.0;
        info.estimatedRows = 100;
        Ok(ffi::SQLITE_OK)
    };
    // SAFETY: `vtab` is live (the caller's promise).
    unsafe { method(vtab, reader.name(), "xBestIndex", plan) }
}

/// A reader's xOpen.
///
/// # Safety
/// SQLite's xOpen contract, on a `ReaderTab`.
unsafe extern "C" fn x_open(
    vtab: *mut ffi::sqlite3_vtab,
    cursor: *mut *mut ffi::sqlite3_vtab_cursor,
) -> c_int {
    // SAFETY: `vtab` is a live `ReaderTab` (the caller's promise).
    let reader = unsafe { (*vtab.cast::<ReaderTab>()).reader };
    let open = || {
        let new = Box::new(ReaderCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            reader,
            rows: None,
            row: false,
            rowid: 0,
            line: String::new(),
            arguments: Arguments::default(),
            failed: None,
        });
        // SAFETY: `cursor` is writable (xOpen's contract); SQLite owns the
        // box from here and gives it back to `x_close`.
        unsafe { *cursor = Box::into_raw(new).cast() };
        Ok(ffi::SQLITE_OK)
    };
    // SAFETY: `vtab` is live (the caller's promise).
    unsafe { method(vtab, reader.name(), "xOpen", open) }
}

/// xClose: the cursor goes (a panic leaks it).
///
/// # Safety
/// `cursor` is a `C` that an xOpen of this module made, given back once.
unsafe extern "C" fn x_close<C: Cursor>(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: a live `C` (the caller's promise).
    let name = unsafe { cursor_table_name::<C>(cursor) };
    let _ = crate::guard(name, "xClose", || {
        // SAFETY: the box xOpen leaked, taken back once.
        drop(unsafe { Box::from_raw(cursor.cast::<C>()) });
    });
    ffi::SQLITE_OK
}

/// A reader's xFilter.
///
/// # Safety
/// SQLite's xFilter contract, on a `ReaderCursor`.
unsafe extern "C" fn x_filter(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    idx_num: c_int,
    _idx_str: *const c_char,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    let filter = |cursor: &mut ReaderCursor| {
        // SAFETY: the cursor's table, alive while the cursor is.
        let tab = unsafe { &*cursor.base.pVtab.cast::<ReaderTab>() };
        // A cursor is filtered again for each outer row of a join.
        cursor.rows = None;
        cursor.row = false;
        cursor.rowid = 0;
        // SAFETY: SQLite's `argc` values, valid for this call.
        let given = unsafe { elements(argv, argc) };
        cursor.start(tab, idx_num, given)?;
        Ok(ffi::SQLITE_OK)
    };
    // SAFETY: a live `ReaderCursor` (the caller's promise).
    unsafe { cursor_method(cursor, "xFilter", filter) }
}

/// A reader's xNext.
///
/// # Safety
/// SQLite's xNext contract, on a `ReaderCursor`.
unsafe extern "C" fn x_next(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    let next = |cursor: &mut ReaderCursor| {
        cursor.rowid += 1;
        cursor.row = match &mut cursor.rows {
            Some(rows) => rows.step().map_err(|e| Failure(e.message))?,
            None => false,
        };
        if !cursor.row {
            // Back to the pool as soon as the rows are read.
            cursor.rows = None;
        }
        cursor.make_line()?;
        Ok(ffi::SQLITE_OK)
    };
    // SAFETY: a live `ReaderCursor` (the caller's promise).
    unsafe { cursor_method(cursor, "xNext", next) }
}

/// xEof. SQLite reads no error from it: after a panic the cursor says it
/// is not at its end, so SQLite calls it again (a column, a rowid, the
/// next row), and that call reports the panic.
///
/// # Safety
/// SQLite's xEof contract, on a `C`.
unsafe extern "C" fn x_eof<C: Cursor>(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: a live `C`, ours alone for this call (the caller's promise).
    let (name, cursor) = unsafe { (cursor_table_name::<C>(cursor), &mut *cursor.cast::<C>()) };
    if cursor.failed().is_some() {
        return 0;
    }
    match crate::guard(name, "xEof", || cursor.at_end()) {
        Ok(at_end) => c_int::from(at_end),
        Err(message) => {
            *cursor.failed() = Some(message);
            0
        }
    }
}

/// A message's column is handed on from the statement that read it; an
/// argument column returns the argument as given.
///
/// # Safety
/// SQLite's xColumn contract, on a `ReaderCursor`.
unsafe extern "C" fn x_column(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    ctx: *mut ffi::sqlite3_context,
    i: c_int,
) -> c_int {
    let set = |cursor: &mut ReaderCursor| {
        let reader = cursor.reader;
        if reader == Reader::Export && i == 0 {
            if cursor.row {
                // SAFETY: `ctx` is this xColumn call's; SQLite copies the
                // text, valid for its length, before returning.
                unsafe {
                    ffi::sqlite3_result_text64(
                        ctx,
                        cursor.line.as_ptr().cast(),
                        cursor.line.len() as u64,
                        ffi::SQLITE_TRANSIENT(),
                        ffi::SQLITE_UTF8 as std::ffi::c_uchar,
                    )
                }
            } else {
                // SAFETY: `ctx` is this xColumn call's.
                unsafe { ffi::sqlite3_result_null(ctx) }
            }
        } else if i < reader.result_columns() {
            match cursor.rows.as_ref().and_then(|rows| rows.column_value(i)) {
                // SAFETY: `ctx` is this xColumn call's.
                Some(value) => unsafe { result_column(ctx, value) },
                // SAFETY: `ctx` is this xColumn call's.
                None => unsafe { ffi::sqlite3_result_null(ctx) },
            }
        } else {
            match reader.arg_of(i).and_then(|arg| cursor.arguments.get(arg)) {
                // SAFETY: `ctx` is this xColumn call's; the value is the
                // cursor's own copy, alive until its next filter or close.
                Some(value) => unsafe { ffi::sqlite3_result_value(ctx, value) },
                // SAFETY: `ctx` is this xColumn call's.
                None => unsafe { ffi::sqlite3_result_null(ctx) },
            }
        }
    };
    // SAFETY: the caller's xColumn contract.
    unsafe { column(cursor, ctx, set) }
}

/// Runs an xColumn body in the guard; an error (a panic's, or one an
/// earlier callback could not report) is set on the result, where SQLite
/// reads a column's error.
///
/// # Safety
/// SQLite's xColumn contract, on a `C`; no other reference to the cursor.
unsafe fn column<C: Cursor>(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    ctx: *mut ffi::sqlite3_context,
    body: impl FnOnce(&mut C),
) -> c_int {
    // SAFETY: a live `C`, ours alone for this call (the caller's promise).
    let (name, cursor) = unsafe { (cursor_table_name::<C>(cursor), &mut *cursor.cast::<C>()) };
    let message = match cursor.failed().take() {
        Some(message) => message,
        None => match crate::guard(name, "xColumn", || body(cursor)) {
            Ok(()) => return ffi::SQLITE_OK,
            Err(message) => message,
        },
    };
    let Ok(len) = c_int::try_from(message.len()) else {
        return ffi::SQLITE_ERROR;
    };
    // SAFETY: `ctx` is xColumn's; SQLite copies the text, valid for `len`
    // bytes, before returning.
    unsafe { ffi::sqlite3_result_error(ctx, message.as_ptr().cast(), len) };
    ffi::SQLITE_ERROR
}

/// Sets a column of the statement that read the `messages` table as the
/// result. Texts are passed with their NUL terminator whenever they contain
/// no NUL, so SQLite copies each into the result's reused buffer once and
/// the caller's `sqlite3_column_text` needs no second copy to terminate it;
/// `sqlite3_result_value` would allocate a fresh buffer for every text.
///
/// # Safety
/// `ctx` is the context of the xColumn call this runs in.
unsafe fn result_column(ctx: *mut ffi::sqlite3_context, value: ColumnValue<'_>) {
    let value = value.as_ptr();
    // SAFETY: `value` is a column of the inner statement's current row,
    // valid while `ColumnValue`'s borrow lasts (this call). It is an
    // "unprotected" value, which the sqlite3_value_* calls may read here:
    // the inner statement runs on the connection whose statement is
    // calling xColumn, so that connection's mutex is already held. The
    // text read is valid until the value changes, after its copy into the
    // result (SQLITE_TRANSIENT).
    unsafe {
        match ffi::sqlite3_value_type(value) {
            ffi::SQLITE_TEXT => {
                let text = ffi::sqlite3_value_text(value);
                let len = ffi::sqlite3_value_bytes(value);
                let terminated = !text.is_null()
                    && !std::slice::from_raw_parts(text, len.max(0) as usize).contains(&0);
                if terminated {
                    ffi::sqlite3_result_text(ctx, text.cast(), -1, ffi::SQLITE_TRANSIENT());
                } else {
                    ffi::sqlite3_result_value(ctx, value);
                }
            }
            _ => ffi::sqlite3_result_value(ctx, value),
        }
    }
}

/// xRowid.
///
/// # Safety
/// SQLite's xRowid contract, on a `C`.
unsafe extern "C" fn x_rowid<C: Cursor>(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    rowid: *mut i64,
) -> c_int {
    let get = |cursor: &mut C| {
        // SAFETY: `rowid` is writable (xRowid's contract).
        unsafe { *rowid = cursor.rowid() };
        Ok(ffi::SQLITE_OK)
    };
    // SAFETY: a live `C` (the caller's promise).
    unsafe { cursor_method(cursor, "xRowid", get) }
}

/// Copies of a read's arguments, kept only when the query returns them.
/// Each is a value `sqlite3_value_dup` made, owned here until freed once.
#[derive(Default)]
struct Arguments([Option<ptr::NonNull<ffi::sqlite3_value>>; MAX_ARGUMENTS]);

impl Arguments {
    fn clear(&mut self) {
        for value in self.0.iter_mut().filter_map(Option::take) {
            // SAFETY: a copy owned here (see the type), taken out so it is
            // freed once.
            unsafe { ffi::sqlite3_value_free(value.as_ptr()) };
        }
    }

    fn get(&self, arg: usize) -> Option<*mut ffi::sqlite3_value> {
        Some(self.0.get(arg).copied().flatten()?.as_ptr())
    }
}

impl Drop for Arguments {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Where a cursor's rows come from: a kept statement, or one prepared for
/// this call because it carries a caller's SQL condition.
enum Rows {
    Kept(Lent),
    Own(Stmt),
}

impl std::ops::Deref for Rows {
    type Target = Stmt;
    fn deref(&self) -> &Stmt {
        match self {
            Rows::Kept(lent) => lent,
            Rows::Own(stmt) => stmt,
        }
    }
}

impl std::ops::DerefMut for Rows {
    fn deref_mut(&mut self) -> &mut Stmt {
        match self {
            Rows::Kept(lent) => lent,
            Rows::Own(stmt) => stmt,
        }
    }
}

#[repr(C)]
struct ReaderCursor {
    base: ffi::sqlite3_vtab_cursor,
    reader: Reader,
    rows: Option<Rows>,
    row: bool,
    rowid: i64,
    /// `export_messages`: the line of the row the cursor is on.
    line: String,
    arguments: Arguments,
    failed: Option<String>,
}

// SAFETY: `#[repr(C)]`, `base: sqlite3_vtab_cursor` first; `x_open` makes
// it for a `ReaderTab`.
unsafe impl Cursor for ReaderCursor {
    type Tab = ReaderTab;
    fn base(&self) -> &ffi::sqlite3_vtab_cursor {
        &self.base
    }
    fn at_end(&self) -> bool {
        !self.row
    }
    fn rowid(&self) -> i64 {
        self.rowid
    }
    fn failed(&mut self) -> &mut Option<String> {
        &mut self.failed
    }
}

/// A reader's SQL condition on SQLite: the connection's setting, and
/// SQLite's lexical rules, which are the whole check here (core's rule).
impl ConditionGate for Session {
    fn enabled(&self) -> bool {
        self.sql_condition_enabled()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

/// The bound values of a read; parameter numbers are fixed across readers
/// (see `session.rs`).
struct Binding<'a> {
    statement: Statement,
    condition: Option<&'a str>,
    texts: [(c_int, Option<&'a [u8]>); 3],
    integers: [(c_int, Option<i64>); 4],
}

impl ReaderCursor {
    fn start(
        &mut self,
        tab: &ReaderTab,
        idx_num: c_int,
        given: &[*mut ffi::sqlite3_value],
    ) -> Result<(), Failure> {
        let reader = tab.reader;
        let session = &tab.session;
        let count = reader.arguments().len();
        // Read in place: the values stay SQLite's until this call returns,
        // and the statements take copies of what they bind.
        let mut values = [ValueRef::Null; MAX_ARGUMENTS];
        let mut given = given.iter();
        self.arguments.clear();
        for (arg, slot) in values.iter_mut().enumerate().take(count) {
            if idx_num & (1 << arg) != 0 {
                if let Some(&value) = given.next() {
                    // SAFETY: one of SQLite's arguments to this xFilter,
                    // read only until it returns (the values go no further
                    // than this call).
                    *slot = unsafe { value_ref(value) };
                    if idx_num & ARGUMENTS_READ != 0 {
                        // SAFETY: as above; the copy is SQLite's own, owned
                        // by `Arguments` from here.
                        let copy = ptr::NonNull::new(unsafe { ffi::sqlite3_value_dup(value) });
                        if copy.is_none() {
                            return Err(Failure(format!("{}: out of memory", reader.name())));
                        }
                        self.arguments.0[arg] = copy;
                    }
                }
            }
        }
        let text = |i: usize| reader.arg(i).text(values[i]);
        let str = |i: usize| reader.arg(i).str(values[i]);
        let integer = |i: usize| reader.arg(i).integer(values[i]);
        let name = |i: usize| reader.arg(i).name_text(values[i]);
        let binding = match reader {
            Reader::StreamMessages => {
                let (name, position, batch_size, condition) =
                    (text(0)?, integer(1)?, integer(2)?, str(3)?);
                let read = StreamRead::new(name, position, batch_size, condition, &**session)?;
                let limit = read.limit()?;
                Binding {
                    statement: Statement::of_stream_read(&read),
                    condition: read.condition,
                    texts: [(1, Some(read.stream_name)), (0, None), (0, None)],
                    integers: [
                        (2, Some(read.position)),
                        (3, Some(limit.unwrap_or(-1))),
                        (0, None),
                        (0, None),
                    ],
                }
            }
            Reader::CategoryMessages => {
                let (category, position, batch_size, correlation, member, size, condition) = (
                    text(0)?,
                    integer(1)?,
                    integer(2)?,
                    text(3)?,
                    integer(4)?,
                    integer(5)?,
                    str(6)?,
                );
                let read = CategoryRead::new(
                    category,
                    position,
                    batch_size,
                    correlation,
                    member,
                    size,
                    condition,
                    &**session,
                )?;
                let limit = read.check_execution()?;
                if read.category.is_none() {
                    // No stream has a NULL category.
                    return Ok(());
                }
                let group = read.consumer_group;
                Binding {
                    statement: Statement::of_category_read(&read),
                    condition: read.condition,
                    texts: [(1, read.category), (4, read.correlation), (0, None)],
                    integers: [
                        (2, Some(read.position)),
                        (3, Some(limit.unwrap_or(-1))),
                        (5, group.map(|g| g.member)),
                        (6, group.map(|g| g.size)),
                    ],
                }
            }
            Reader::Export => {
                let (position, batch_size, category) = (integer(0)?, integer(1)?, text(2)?);
                let read = ExportRead::new(position, batch_size, category)?;
                Binding {
                    statement: read.statement(),
                    condition: None,
                    texts: [(1, read.category), (0, None), (0, None)],
                    integers: [
                        (2, Some(read.position)),
                        (3, Some(read.limit.unwrap_or(-1))),
                        (0, None),
                        (0, None),
                    ],
                }
            }
            // Writers are serialised, so global position order is commit
            // order: a read from a position skips no late commit.
            Reader::AllMessages => {
                let (position, batch_size, condition) = (integer(0)?, integer(1)?, str(2)?);
                let read = AllRead::new(position, batch_size, condition, &**session)?;
                let limit = read.limit()?;
                Binding {
                    statement: Statement::AllRead,
                    condition: read.condition,
                    texts: [(0, None); 3],
                    integers: [
                        (2, Some(read.position)),
                        (3, Some(limit.unwrap_or(-1))),
                        (0, None),
                        (0, None),
                    ],
                }
            }
            Reader::Streams | Reader::Categories => {
                let read = match reader {
                    Reader::Streams => ListingRead::streams(name(0)?, name(1)?, integer(2)?)?,
                    _ => ListingRead::categories(name(0)?, integer(1)?)?,
                };
                // SQLite compares text bytewise (BINARY): a prefix is a
                // range of the index.
                let walk = read.walk(Order::Bytewise);
                let (statement, prefixes) = match reader {
                    Reader::Streams => (
                        Statement::Streams,
                        [(4, Some(walk.while_prefix)), (5, Some(walk.keep_prefix))],
                    ),
                    // A category listing has no prefix parameters.
                    _ => (Statement::Categories, [(0, None); 2]),
                };
                Binding {
                    statement,
                    condition: None,
                    texts: [(1, Some(walk.from)), prefixes[0], prefixes[1]],
                    integers: [
                        (2, Some(i64::from(walk.skip_from))),
                        (3, Some(walk.limit)),
                        (0, None),
                        (0, None),
                    ],
                }
            }
            Reader::LastStreamMessage => {
                let (name, type_) = (text(0)?, text(1)?);
                let Some(name) = name else {
                    return Ok(());
                };
                Binding {
                    statement: Statement::last_message(type_.is_some()),
                    condition: None,
                    texts: [(1, Some(name)), (2, type_), (0, None)],
                    integers: [(0, None); 4],
                }
            }
        };
        if !session.store_exists()? {
            return Ok(());
        }
        let run = || -> Result<(Rows, bool), crate::stmt::SqliteError> {
            let mut rows = match binding.condition {
                Some(condition) => {
                    let stmt = session.db.prepare(
                        &session::text(binding.statement).with_condition(condition),
                        false,
                    )?;
                    // The reader's own select list, whatever the condition.
                    if stmt.column_count() != MESSAGE_COLUMNS {
                        return Err(crate::stmt::SqliteError {
                            code: ffi::SQLITE_ERROR,
                            message: Error::QueryStructureMismatch.to_string(),
                        });
                    }
                    Rows::Own(stmt)
                }
                None => Rows::Kept(session.lend(binding.statement)?),
            };
            // Parameters left unbound are NULL; unused slots hold no value.
            for (index, value) in binding.texts {
                if let Some(value) = value {
                    rows.bind_text(index, value);
                }
            }
            for (index, value) in binding.integers {
                if let Some(value) = value {
                    rows.bind_i64(index, value);
                }
            }
            let row = rows.step()?;
            Ok((rows, row))
        };
        let (rows, row) = match run() {
            Ok(found) => found,
            Err(error) => {
                // The tables were dropped since this connection checked them.
                if session.table_dropped(&error.message) && !session.store_exists()? {
                    return Ok(());
                }
                return Err(error.message.into());
            }
        };
        self.row = row;
        self.rows = Some(rows);
        self.make_line()
    }

    /// `export_messages`: the line of the row the cursor is now on.
    fn make_line(&mut self) -> Result<(), Failure> {
        if self.reader == Reader::Export && self.row {
            if let Some(rows) = &self.rows {
                self.line = crate::transfer::export_line(rows)?;
            }
        }
        Ok(())
    }
}

/// `message_store_settings(name, value)`: the connection's settings.
/// Written against SQLite's module interface as the readers are, so every
/// callback runs in the guard.
#[repr(C)]
pub struct SettingsTab {
    base: ffi::sqlite3_vtab,
    session: Arc<Session>,
}

impl Drop for SettingsTab {
    fn drop(&mut self) {
        self.session.holder_disconnected();
    }
}

/// Registers `message_store_settings`, eponymous only, on the connection.
pub fn register_settings(db: &Connection, session: &Arc<Session>) -> Result<(), String> {
    let name = CString::new(HOLDER_TABLE).map_err(|e| e.to_string())?;
    let aux = Box::into_raw(Box::new(Arc::clone(session)));
    // SAFETY: as in `register`: an open connection, a static module, and
    // a leaked box SQLite owns and gives back to `drop_aux` once.
    let rc = unsafe {
        ffi::sqlite3_create_module_v2(
            db.handle(),
            name.as_ptr(),
            &SETTINGS_MODULE,
            aux.cast(),
            Some(drop_aux::<Arc<Session>>),
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(format!(
            "registering {HOLDER_TABLE} failed (SQLite error {rc})"
        ))
    }
}

static SETTINGS_MODULE: ffi::sqlite3_module = ffi::sqlite3_module {
    iVersion: 1,
    xCreate: None,
    xConnect: Some(settings_connect),
    xBestIndex: Some(settings_best_index),
    xDisconnect: Some(x_disconnect::<SettingsTab>),
    xDestroy: Some(x_disconnect::<SettingsTab>),
    xOpen: Some(settings_open),
    xClose: Some(x_close::<SettingsCursor>),
    xFilter: Some(settings_filter),
    xNext: Some(settings_next),
    xEof: Some(x_eof::<SettingsCursor>),
    xColumn: Some(settings_column),
    xRowid: Some(x_rowid::<SettingsCursor>),
    // SAFETY: as in `READER_MODULE`.
    ..unsafe { std::mem::zeroed() }
};

/// The settings table's xConnect.
///
/// # Safety
/// SQLite calls it with the `Arc<Session>` of `register_settings` and
/// xConnect's contract.
unsafe extern "C" fn settings_connect(
    db: *mut ffi::sqlite3,
    aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    vtab: *mut *mut ffi::sqlite3_vtab,
    err: *mut *mut c_char,
) -> c_int {
    // SAFETY: `aux` is the `Arc<Session>` given at registration, alive
    // until `drop_aux`, which comes after every connection.
    let session = unsafe { &*aux.cast::<Arc<Session>>() };
    let make = || {
        session.holder_connected();
        SettingsTab {
            base: ffi::sqlite3_vtab::default(),
            session: Arc::clone(session),
        }
    };
    let declaration = c"CREATE TABLE x(name TEXT, value TEXT)";
    // SAFETY: the caller's xConnect contract.
    unsafe { connect(db, HOLDER_TABLE, declaration, false, vtab, err, make) }
}

/// # Safety
/// SQLite's xBestIndex contract, on a `SettingsTab`.
unsafe extern "C" fn settings_best_index(
    vtab: *mut ffi::sqlite3_vtab,
    info: *mut ffi::sqlite3_index_info,
) -> c_int {
    let plan = || {
        // SAFETY: `info` is SQLite's, ours alone for this call.
        let info = unsafe { &mut *info };
        info.estimatedCost = 1.0;
        info.estimatedRows = 1;
        Ok(ffi::SQLITE_OK)
    };
    // SAFETY: `vtab` is live (the caller's promise).
    unsafe { method(vtab, HOLDER_TABLE, "xBestIndex", plan) }
}

/// # Safety
/// SQLite's xOpen contract, on a `SettingsTab`.
unsafe extern "C" fn settings_open(
    vtab: *mut ffi::sqlite3_vtab,
    cursor: *mut *mut ffi::sqlite3_vtab_cursor,
) -> c_int {
    let open = || {
        let new = Box::new(SettingsCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            rows: Vec::new(),
            at: 0,
            failed: None,
        });
        // SAFETY: `cursor` is writable (xOpen's contract); SQLite owns the
        // box from here and gives it back to `x_close`.
        unsafe { *cursor = Box::into_raw(new).cast() };
        Ok(ffi::SQLITE_OK)
    };
    // SAFETY: `vtab` is live (the caller's promise).
    unsafe { method(vtab, HOLDER_TABLE, "xOpen", open) }
}

#[repr(C)]
pub struct SettingsCursor {
    base: ffi::sqlite3_vtab_cursor,
    rows: Vec<(&'static str, Option<String>)>,
    at: usize,
    failed: Option<String>,
}

// SAFETY: `#[repr(C)]`, `base: sqlite3_vtab_cursor` first; `settings_open`
// makes it for a `SettingsTab`.
unsafe impl Cursor for SettingsCursor {
    type Tab = SettingsTab;
    fn base(&self) -> &ffi::sqlite3_vtab_cursor {
        &self.base
    }
    fn at_end(&self) -> bool {
        self.at >= self.rows.len()
    }
    fn rowid(&self) -> i64 {
        self.at as i64
    }
    fn failed(&mut self) -> &mut Option<String> {
        &mut self.failed
    }
}

/// # Safety
/// SQLite's xFilter contract, on a `SettingsCursor`.
unsafe extern "C" fn settings_filter(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    _idx_num: c_int,
    _idx_str: *const c_char,
    _argc: c_int,
    _argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    let filter = |cursor: &mut SettingsCursor| {
        // SAFETY: the cursor's table, alive while the cursor is.
        let tab = unsafe { &*cursor.base().pVtab.cast::<SettingsTab>() };
        cursor.rows = vec![(SQL_CONDITION_SETTING, tab.session.sql_condition())];
        cursor.at = 0;
        Ok(ffi::SQLITE_OK)
    };
    // SAFETY: a live `SettingsCursor` (the caller's promise).
    unsafe { cursor_method(cursor, "xFilter", filter) }
}

/// # Safety
/// SQLite's xNext contract, on a `SettingsCursor`.
unsafe extern "C" fn settings_next(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    let next = |cursor: &mut SettingsCursor| {
        cursor.at += 1;
        Ok(ffi::SQLITE_OK)
    };
    // SAFETY: a live `SettingsCursor` (the caller's promise).
    unsafe { cursor_method(cursor, "xNext", next) }
}

/// # Safety
/// SQLite's xColumn contract, on a `SettingsCursor`.
unsafe extern "C" fn settings_column(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    ctx: *mut ffi::sqlite3_context,
    i: c_int,
) -> c_int {
    let set = |cursor: &mut SettingsCursor| {
        let text = cursor.rows.get(cursor.at).and_then(|(name, value)| {
            if i == 0 {
                Some(*name)
            } else {
                value.as_deref()
            }
        });
        match text.and_then(|text| Some((text, c_int::try_from(text.len()).ok()?))) {
            // SAFETY: `ctx` is this xColumn call's; SQLite copies the text,
            // valid for `len` bytes, before returning.
            Some((text, len)) => unsafe {
                ffi::sqlite3_result_text(ctx, text.as_ptr().cast(), len, ffi::SQLITE_TRANSIENT())
            },
            // SAFETY: `ctx` is this xColumn call's.
            None => unsafe { ffi::sqlite3_result_null(ctx) },
        }
    };
    // SAFETY: the caller's xColumn contract.
    unsafe { column(cursor, ctx, set) }
}
