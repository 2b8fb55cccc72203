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
//! `message_store_settings` is a virtual table too: it shows the connection's
//! settings and holds the statements kept for the scalar functions.

use std::borrow::Cow;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;

use message_store_core::condition::Dialect;
use message_store_core::read::{CategoryRead, ConditionGate, StreamRead};
use message_store_core::statement::Statement;
use message_store_core::Error;
use rusqlite::ffi;
use rusqlite::types::ValueRef;
use rusqlite::vtab::{Context, Filters, IndexInfo, VTab, VTabConnection, VTabCursor};

use crate::args::{value_ref, Arg};
use crate::session::{self, Lent, Session, SQL_CONDITION_SETTING};
use crate::stmt::Stmt;
use crate::{failure, Failure};

/// Columns of `message_store.message`; the arguments follow as hidden columns.
const RESULT_COLUMNS: c_int = 8;

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
}

impl Reader {
    pub fn name(self) -> &'static str {
        match self {
            Reader::StreamMessages => "get_stream_messages",
            Reader::CategoryMessages => "get_category_messages",
            Reader::LastStreamMessage => "get_last_stream_message",
        }
    }

    /// The Postgres argument names, in order; the first is required.
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
        }
    }

    fn declaration(self) -> &'static CStr {
        match self {
            Reader::StreamMessages => c"CREATE TABLE x(id TEXT, stream_name TEXT, type TEXT, position INTEGER, global_position INTEGER, data TEXT, metadata TEXT, time TEXT, arg_stream_name HIDDEN, arg_position HIDDEN, arg_batch_size HIDDEN, arg_condition HIDDEN)",
            Reader::CategoryMessages => c"CREATE TABLE x(id TEXT, stream_name TEXT, type TEXT, position INTEGER, global_position INTEGER, data TEXT, metadata TEXT, time TEXT, arg_category HIDDEN, arg_position HIDDEN, arg_batch_size HIDDEN, arg_correlation HIDDEN, arg_consumer_group_member HIDDEN, arg_consumer_group_size HIDDEN, arg_condition HIDDEN)",
            Reader::LastStreamMessage => c"CREATE TABLE x(id TEXT, stream_name TEXT, type TEXT, position INTEGER, global_position INTEGER, data TEXT, metadata TEXT, time TEXT, arg_stream_name HIDDEN, arg_type HIDDEN)",
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
pub fn register(
    db: *mut ffi::sqlite3,
    session: &Arc<Session>,
    reader: Reader,
) -> Result<(), String> {
    let name = CString::new(reader.name()).map_err(|e| e.to_string())?;
    let aux = Box::into_raw(Box::new((Arc::clone(session), reader)));
    // SQLite calls `drop_aux` when the module goes, or at once if this fails.
    let rc = unsafe {
        ffi::sqlite3_create_module_v2(
            db,
            name.as_ptr(),
            &READER_MODULE,
            aux.cast(),
            Some(drop_aux),
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

unsafe extern "C" fn drop_aux(aux: *mut c_void) {
    drop(unsafe { Box::from_raw(aux.cast::<(Arc<Session>, Reader)>()) });
}

/// Eponymous only (no `xCreate`): the readers exist in every schema and
/// cannot be created as tables.
static READER_MODULE: ffi::sqlite3_module = ffi::sqlite3_module {
    iVersion: 1,
    xCreate: None,
    xConnect: Some(x_connect),
    xBestIndex: Some(x_best_index),
    xDisconnect: Some(x_disconnect),
    xDestroy: Some(x_disconnect),
    xOpen: Some(x_open),
    xClose: Some(x_close),
    xFilter: Some(x_filter),
    xNext: Some(x_next),
    xEof: Some(x_eof),
    xColumn: Some(x_column),
    xRowid: Some(x_rowid),
    // The readers write nothing and take part in no transaction.
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

/// A copy, in memory from SQLite's allocator, of an error message for
/// SQLite to report and free.
fn sqlite_text(message: &str) -> *mut c_char {
    let bytes = message.as_bytes();
    unsafe {
        let copy = ffi::sqlite3_malloc64(bytes.len() as u64 + 1).cast::<u8>();
        if !copy.is_null() {
            ptr::copy_nonoverlapping(bytes.as_ptr(), copy, bytes.len());
            *copy.add(bytes.len()) = 0;
        }
        copy.cast()
    }
}

/// Runs a method of a reader: an error's message goes to SQLite through
/// the virtual table, and a panic becomes an error, never an unwind into
/// SQLite.
fn guarded(
    vtab: *mut ffi::sqlite3_vtab,
    reader: Reader,
    body: impl FnOnce() -> Result<c_int, Failure>,
) -> c_int {
    let message = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(rc)) => return rc,
        Ok(Err(Failure(message))) => message,
        Err(_) => format!("{}: internal error (panic)", reader.name()),
    };
    unsafe {
        ffi::sqlite3_free((*vtab).zErrMsg.cast());
        (*vtab).zErrMsg = sqlite_text(&message);
    }
    ffi::SQLITE_ERROR
}

/// The `n` elements at `items`; SQLite passes a null pointer when there are none.
unsafe fn elements<'a, T>(items: *mut T, n: c_int) -> &'a mut [T] {
    match usize::try_from(n) {
        Ok(n) if n > 0 && !items.is_null() => unsafe { std::slice::from_raw_parts_mut(items, n) },
        _ => &mut [],
    }
}

unsafe extern "C" fn x_connect(
    db: *mut ffi::sqlite3,
    aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    vtab: *mut *mut ffi::sqlite3_vtab,
    _err: *mut *mut c_char,
) -> c_int {
    let (session, reader) = unsafe { &*aux.cast::<(Arc<Session>, Reader)>() };
    let rc = unsafe { ffi::sqlite3_declare_vtab(db, reader.declaration().as_ptr()) };
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    // Direct-only: no view or trigger of a database file's schema may read
    // through a reader, whose SQL condition could call the direct-only
    // writers.
    // SAFETY: sqlite3_vtab_config is called within xConnect, on the
    // connection SQLite passed to it, as SQLite requires.
    let rc = unsafe { ffi::sqlite3_vtab_config(db, ffi::SQLITE_VTAB_DIRECTONLY) };
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    session.holder_connected();
    let tab = Box::new(ReaderTab {
        base: unsafe { std::mem::zeroed() },
        session: Arc::clone(session),
        reader: *reader,
    });
    unsafe { *vtab = Box::into_raw(tab).cast() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_disconnect(vtab: *mut ffi::sqlite3_vtab) -> c_int {
    drop(unsafe { Box::from_raw(vtab.cast::<ReaderTab>()) });
    ffi::SQLITE_OK
}

/// Every argument given is an equality constraint on its hidden column;
/// they reach `x_filter` in argument order, flagged in `idxNum`.
unsafe extern "C" fn x_best_index(
    vtab: *mut ffi::sqlite3_vtab,
    info: *mut ffi::sqlite3_index_info,
) -> c_int {
    let reader = unsafe { (*vtab.cast::<ReaderTab>()).reader };
    guarded(vtab, reader, || {
        let info = unsafe { &mut *info };
        let count = reader.arguments().len();
        let constraints = unsafe { elements(info.aConstraint, info.nConstraint) };
        let mut usable: [Option<usize>; MAX_ARGUMENTS] = [None; MAX_ARGUMENTS];
        let mut unusable: c_int = 0;
        for (i, constraint) in constraints.iter().enumerate() {
            let Some(arg) = arg_of(constraint.iColumn, count) else {
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
        if idx_num & 1 == 0 {
            return Err(Failure(format!(
                "{}: argument \"{}\" is required",
                reader.name(),
                reader.arguments()[0]
            )));
        }
        if info.colUsed >> RESULT_COLUMNS != 0 {
            idx_num |= ARGUMENTS_READ;
        }
        info.idxNum = idx_num;
        info.estimatedCost = 10.0;
        info.estimatedRows = 100;
        Ok(ffi::SQLITE_OK)
    })
}

unsafe extern "C" fn x_open(
    _vtab: *mut ffi::sqlite3_vtab,
    cursor: *mut *mut ffi::sqlite3_vtab_cursor,
) -> c_int {
    let new = Box::new(ReaderCursor {
        base: unsafe { std::mem::zeroed() },
        rows: None,
        row: false,
        rowid: 0,
        arguments: Arguments::default(),
    });
    unsafe { *cursor = Box::into_raw(new).cast() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_close(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    drop(unsafe { Box::from_raw(cursor.cast::<ReaderCursor>()) });
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_filter(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    idx_num: c_int,
    _idx_str: *const c_char,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    let cursor = unsafe { &mut *cursor.cast::<ReaderCursor>() };
    let vtab = cursor.base.pVtab;
    let tab = unsafe { &*vtab.cast::<ReaderTab>() };
    guarded(vtab, tab.reader, || {
        // A cursor is filtered again for each outer row of a join.
        cursor.rows = None;
        cursor.row = false;
        cursor.rowid = 0;
        let given = unsafe { elements(argv, argc) };
        cursor.start(tab, idx_num, given)?;
        Ok(ffi::SQLITE_OK)
    })
}

unsafe extern "C" fn x_next(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    let cursor = unsafe { &mut *cursor.cast::<ReaderCursor>() };
    let vtab = cursor.base.pVtab;
    let reader = unsafe { (*vtab.cast::<ReaderTab>()).reader };
    guarded(vtab, reader, || {
        cursor.rowid += 1;
        cursor.row = match &cursor.rows {
            Some(rows) => rows.step().map_err(|e| Failure(e.message))?,
            None => false,
        };
        if !cursor.row {
            // Back to the pool as soon as the rows are read.
            cursor.rows = None;
        }
        Ok(ffi::SQLITE_OK)
    })
}

unsafe extern "C" fn x_eof(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    c_int::from(!unsafe { &*cursor.cast::<ReaderCursor>() }.row)
}

/// A message's column is handed on from the statement that read it; an
/// argument column returns the argument as given.
unsafe extern "C" fn x_column(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    ctx: *mut ffi::sqlite3_context,
    i: c_int,
) -> c_int {
    let cursor = unsafe { &*cursor.cast::<ReaderCursor>() };
    if i < RESULT_COLUMNS {
        match &cursor.rows {
            Some(rows) => unsafe { result_column(ctx, rows.column_sqlite_value(i)) },
            None => unsafe { ffi::sqlite3_result_null(ctx) },
        }
    } else {
        match arg_of(i, MAX_ARGUMENTS).and_then(|arg| cursor.arguments.get(arg)) {
            Some(value) => unsafe { ffi::sqlite3_result_value(ctx, value) },
            None => unsafe { ffi::sqlite3_result_null(ctx) },
        }
    }
    ffi::SQLITE_OK
}

/// Sets a column of the statement that read the `messages` table as the
/// result. Texts are passed with their NUL terminator whenever they contain
/// no NUL, so SQLite copies each into the result's reused buffer once and
/// the caller's `sqlite3_column_text` needs no second copy to terminate it;
/// `sqlite3_result_value` would allocate a fresh buffer for every text.
///
/// # Safety
/// `value` is a column of a statement positioned on a row.
unsafe fn result_column(ctx: *mut ffi::sqlite3_context, value: *mut ffi::sqlite3_value) {
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

unsafe extern "C" fn x_rowid(cursor: *mut ffi::sqlite3_vtab_cursor, rowid: *mut i64) -> c_int {
    unsafe { *rowid = (*cursor.cast::<ReaderCursor>()).rowid };
    ffi::SQLITE_OK
}

fn arg_of(column: c_int, count: usize) -> Option<usize> {
    let arg = usize::try_from(column.checked_sub(RESULT_COLUMNS)?).ok()?;
    (arg < count).then_some(arg)
}

/// Copies of a read's arguments, kept only when the query returns them.
#[derive(Default)]
struct Arguments([Option<ptr::NonNull<ffi::sqlite3_value>>; MAX_ARGUMENTS]);

impl Arguments {
    fn clear(&mut self) {
        for value in self.0.iter_mut().filter_map(Option::take) {
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

#[repr(C)]
struct ReaderCursor {
    base: ffi::sqlite3_vtab_cursor,
    rows: Option<Rows>,
    row: bool,
    rowid: i64,
    arguments: Arguments,
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
    texts: [(c_int, Option<&'a [u8]>); 2],
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
                    *slot = unsafe { value_ref(value) };
                    if idx_num & ARGUMENTS_READ != 0 {
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
        let binding = match reader {
            Reader::StreamMessages => {
                let (name, position, batch_size, condition) =
                    (text(0)?, integer(1)?, integer(2)?, str(3)?);
                let read = StreamRead::new(name, position, batch_size, condition, &**session)?;
                let limit = read.limit()?;
                Binding {
                    statement: Statement::of_stream_read(&read),
                    condition: read.condition,
                    texts: [(1, Some(read.stream_name)), (0, None)],
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
                    texts: [(1, read.category), (4, read.correlation)],
                    integers: [
                        (2, Some(read.position)),
                        (3, Some(limit.unwrap_or(-1))),
                        (5, group.map(|g| g.member)),
                        (6, group.map(|g| g.size)),
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
                    texts: [(1, Some(name)), (2, type_)],
                    integers: [(0, None); 4],
                }
            }
        };
        if !session.store_exists()? {
            return Ok(());
        }
        let run = || -> Result<(Rows, bool), crate::stmt::SqliteError> {
            let rows = match binding.condition {
                Some(condition) => {
                    let stmt = session.db.prepare(
                        &session::text(binding.statement).with_condition(condition),
                        false,
                    )?;
                    // The reader's own select list, whatever the condition.
                    if stmt.column_count() != RESULT_COLUMNS {
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
                if session.table_dropped(&error) && !session.store_exists()? {
                    return Ok(());
                }
                return Err(error.message.into());
            }
        };
        self.row = row;
        self.rows = Some(rows);
        Ok(())
    }
}

/// `message_store_settings(name, value)`: the connection's settings.
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

unsafe impl<'vtab> VTab<'vtab> for SettingsTab {
    type Aux = Arc<Session>;
    type Cursor = SettingsCursor<'vtab>;

    fn connect(
        _db: &mut VTabConnection,
        aux: Option<&Self::Aux>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        let session = aux
            .cloned()
            .ok_or_else(|| failure("settings registered without a session".to_string()))?;
        session.holder_connected();
        Ok((
            Cow::Borrowed(c"CREATE TABLE x(name TEXT, value TEXT)"),
            SettingsTab {
                base: ffi::sqlite3_vtab::default(),
                session,
            },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        info.set_estimated_cost(1.0);
        info.set_estimated_rows(1);
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<SettingsCursor<'vtab>> {
        Ok(SettingsCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            tab: self,
            rows: Vec::new(),
            at: 0,
        })
    }
}

#[repr(C)]
pub struct SettingsCursor<'vtab> {
    base: ffi::sqlite3_vtab_cursor,
    tab: &'vtab SettingsTab,
    rows: Vec<(&'static str, Option<String>)>,
    at: usize,
}

unsafe impl VTabCursor for SettingsCursor<'_> {
    fn filter(
        &mut self,
        _idx_num: c_int,
        _idx_str: Option<&str>,
        _args: &Filters<'_>,
    ) -> rusqlite::Result<()> {
        self.rows = vec![(SQL_CONDITION_SETTING, self.tab.session.sql_condition())];
        self.at = 0;
        Ok(())
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.at += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.at >= self.rows.len()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let (name, value) = &self.rows[self.at];
        match i {
            0 => ctx.set_result(name),
            _ => ctx.set_result(value),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.at as i64)
    }
}
