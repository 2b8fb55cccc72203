//! A prepared statement on the connection the extension is loaded into.
//!
//! rusqlite's `Statement` borrows its `Connection`, so it cannot be kept
//! between calls; the extension keeps these instead (see `session.rs`).

use std::ffi::{c_int, CStr};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use rusqlite::ffi;

/// The connection handle SQLite gave the extension. Made only by the
/// unsafe [`Db::new`], whose caller promises what every safe method here
/// relies on.
#[derive(Debug)]
pub struct Db(NonNull<ffi::sqlite3>);

// SAFETY: `Db::new`'s contract is that every use of a `Db` and of the
// statements it prepares happens inside a call SQLite makes on this
// connection's behalf (a function, a virtual table method, a destructor),
// while that connection is open. SQLite never runs two calls on one
// connection at once: in serialized mode it holds the connection's mutex,
// in multi-thread mode the host uses a connection from one thread at a
// time, and a single-thread build has no other thread. So whichever thread
// holds the value, no two uses overlap, and sharing or moving it between
// threads cannot make them overlap.
unsafe impl Send for Db {}
// SAFETY: as for `Send`: the methods take `&self`, but their calls are
// serialised by the connection they run on.
unsafe impl Sync for Db {}

/// An error SQLite reported: its extended result code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteError {
    pub code: c_int,
    pub message: String,
}

/// The connection's latest error message, for `code`.
///
/// # Safety
/// `db` is an open connection.
unsafe fn connection_error(db: *mut ffi::sqlite3, code: c_int) -> SqliteError {
    // SAFETY: `db` is open (the caller's promise); sqlite3_errmsg returns
    // text owned by the connection, valid until its next call, and it is
    // copied before any.
    let message = unsafe {
        let text = ffi::sqlite3_errmsg(db);
        if text.is_null() {
            format!("SQLite error {code}")
        } else {
            CStr::from_ptr(text).to_string_lossy().into_owned()
        }
    };
    SqliteError { code, message }
}

impl Db {
    /// # Safety
    /// `raw` is an open connection that stays open until this value and
    /// every statement prepared through it are dropped, and they are used
    /// (dropping included) only inside calls SQLite makes on this
    /// connection: the extension's entry point, its functions, its virtual
    /// tables' methods and the destructors SQLite runs for them.
    pub unsafe fn new(raw: NonNull<ffi::sqlite3>) -> Db {
        Db(raw)
    }

    fn raw(&self) -> *mut ffi::sqlite3 {
        self.0.as_ptr()
    }

    /// Prepares exactly one statement: SQL text left after it is refused
    /// (a caller's condition must not smuggle in a second statement).
    /// `keep` tells SQLite it will be used many times.
    pub fn prepare(&self, sql: &str, keep: bool) -> Result<Stmt, SqliteError> {
        let mut raw = ptr::null_mut();
        let mut tail: *const std::ffi::c_char = ptr::null();
        let flags = if keep {
            ffi::SQLITE_PREPARE_PERSISTENT
        } else {
            0
        };
        let Ok(len) = c_int::try_from(sql.len()) else {
            return Err(SqliteError {
                code: ffi::SQLITE_TOOBIG,
                message: "SQL statement too long".to_string(),
            });
        };
        // SAFETY: the connection is open (`Db::new`); `sql` is valid for
        // `len` bytes during the call, which reads no further; `raw` and
        // `tail` are valid out-pointers.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.raw(),
                sql.as_ptr().cast(),
                len,
                flags,
                &mut raw,
                &mut tail,
            )
        };
        if rc != ffi::SQLITE_OK {
            if !raw.is_null() {
                // SAFETY: a statement SQLite gave back, finalized once.
                unsafe { ffi::sqlite3_finalize(raw) };
            }
            // SAFETY: the connection is open (`Db::new`).
            return Err(unsafe { connection_error(self.raw(), rc) });
        }
        let used = if tail.is_null() {
            sql.len()
        } else {
            (tail as usize).saturating_sub(sql.as_ptr() as usize)
        };
        // From here a statement, if any, is owned by `stmt` and finalized
        // when it drops, on every path.
        let stmt = NonNull::new(raw).map(|raw| Stmt {
            raw,
            bind_failed: ffi::SQLITE_OK,
            row_columns: None,
        });
        if !sql.as_bytes()[used.min(sql.len())..]
            .iter()
            .all(u8::is_ascii_whitespace)
        {
            return Err(SqliteError {
                code: ffi::SQLITE_ERROR,
                message: "SQL condition must not end its statement: more SQL follows it"
                    .to_string(),
            });
        }
        stmt.ok_or_else(|| SqliteError {
            code: ffi::SQLITE_MISUSE,
            message: "empty SQL statement".to_string(),
        })
    }

    /// The connection's `SQLITE_LIMIT_LENGTH`: the longest text or blob
    /// (and row) it stores.
    pub fn length_limit(&self) -> usize {
        // SAFETY: a negative new value only reads the limit; the connection
        // is open (`Db::new`).
        let limit = unsafe { ffi::sqlite3_limit(self.raw(), ffi::SQLITE_LIMIT_LENGTH, -1) };
        usize::try_from(limit).unwrap_or(0)
    }

    /// The rows the connection's last completed INSERT, UPDATE or DELETE
    /// changed (`sqlite3_changes`, triggers' changes not counted).
    pub fn changes(&self) -> i64 {
        // SAFETY: the connection is open (`Db::new`); the call only reads.
        i64::from(unsafe { ffi::sqlite3_changes(self.raw()) })
    }

    /// Runs SQL text of one or more statements that return no rows.
    pub fn execute_batch(&self, sql: &str) -> Result<(), SqliteError> {
        let text = std::ffi::CString::new(sql).map_err(|_| SqliteError {
            code: ffi::SQLITE_MISUSE,
            message: "SQL text contains a NUL character".to_string(),
        })?;
        // SAFETY: the connection is open (`Db::new`); `text` is
        // NUL-terminated and outlives the call; no callback, so its
        // argument and the error out-pointer may be null.
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.raw(),
                text.as_ptr(),
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            // SAFETY: the connection is open (`Db::new`).
            Err(unsafe { connection_error(self.raw(), rc) })
        }
    }
}

/// A prepared statement, finalized when dropped. Stepping, resetting and
/// binding take `&mut self`, so no column read through `&self` (a text, a
/// value) can be held across them.
pub struct Stmt {
    raw: NonNull<ffi::sqlite3_stmt>,
    /// The first failed bind since the last run (a value too long for the
    /// connection, say); the next `step` reports it instead of running.
    bind_failed: c_int,
    /// The column count of the row the last step gave, while no reset has
    /// ended it: SQLite defines column reads only on a row, in range. Read
    /// at each row, since SQLite may prepare the statement again.
    row_columns: Option<c_int>,
}

// SAFETY: a statement is made only by `Db::prepare`, and is bound by the
// same contract as its `Db` (see `Db::new`): its uses are serialised by its
// connection, whatever thread holds it.
unsafe impl Send for Stmt {}

/// A column of the row a statement is on, as SQLite holds it; it cannot
/// outlive the row, since stepping or resetting needs the statement
/// mutably.
#[derive(Clone, Copy)]
pub struct ColumnValue<'a> {
    raw: NonNull<ffi::sqlite3_value>,
    row: PhantomData<&'a Stmt>,
}

impl ColumnValue<'_> {
    /// For the sqlite3_value and result calls, within the borrow.
    pub fn as_ptr(self) -> *mut ffi::sqlite3_value {
        self.raw.as_ptr()
    }
}

impl Stmt {
    fn raw(&self) -> *mut ffi::sqlite3_stmt {
        self.raw.as_ptr()
    }

    /// Keeps the first bind error for `step` to report: a statement run
    /// with a parameter left unbound would store NULL in its place.
    fn bound(&mut self, rc: c_int) {
        if rc != ffi::SQLITE_OK && self.bind_failed == ffi::SQLITE_OK {
            self.bind_failed = rc;
        }
    }

    /// Parameters are numbered from 1, as in SQLite.
    pub fn bind_i64(&mut self, index: c_int, value: i64) {
        // SAFETY: the statement is valid until `drop` finalizes it; a bad
        // index is reported in the return code, which `bound` keeps.
        self.bound(unsafe { ffi::sqlite3_bind_int64(self.raw(), index, value) });
    }

    pub fn bind_opt_i64(&mut self, index: c_int, value: Option<i64>) {
        match value {
            Some(value) => self.bind_i64(index, value),
            None => self.bind_null(index),
        }
    }

    /// The length goes to SQLite whole (64 bits): a text longer than the
    /// connection's limit fails with SQLITE_TOOBIG, never wraps.
    pub fn bind_text(&mut self, index: c_int, value: &[u8]) {
        // SAFETY: `value` is valid for its length during the call, and
        // SQLITE_TRANSIENT makes SQLite copy it before returning.
        let rc = unsafe {
            ffi::sqlite3_bind_text64(
                self.raw(),
                index,
                value.as_ptr().cast(),
                value.len() as u64,
                ffi::SQLITE_TRANSIENT(),
                ffi::SQLITE_UTF8 as std::ffi::c_uchar,
            )
        };
        self.bound(rc);
    }

    pub fn bind_opt_text(&mut self, index: c_int, value: Option<&[u8]>) {
        match value {
            Some(value) => self.bind_text(index, value),
            None => self.bind_null(index),
        }
    }

    pub fn bind_null(&mut self, index: c_int) {
        // SAFETY: as in `bind_i64`.
        self.bound(unsafe { ffi::sqlite3_bind_null(self.raw(), index) });
    }

    /// Steps once: `Ok(true)` when a row is ready. An error resets the
    /// statement, which rolls back what the statement did. A failed bind
    /// is reported here, and the statement does not run.
    pub fn step(&mut self) -> Result<bool, SqliteError> {
        let failed = std::mem::replace(&mut self.bind_failed, ffi::SQLITE_OK);
        if failed != ffi::SQLITE_OK {
            self.reset();
            // SAFETY: sqlite3_errstr returns a static English text for any code.
            let message = unsafe { CStr::from_ptr(ffi::sqlite3_errstr(failed)) };
            return Err(SqliteError {
                code: failed,
                message: message.to_string_lossy().into_owned(),
            });
        }
        self.row_columns = None;
        // SAFETY: the statement is valid until `drop`; its connection is
        // open and this runs inside a call on it (`Db::new`).
        match unsafe { ffi::sqlite3_step(self.raw()) } {
            ffi::SQLITE_ROW => {
                self.row_columns = Some(self.column_count());
                Ok(true)
            }
            ffi::SQLITE_DONE => Ok(false),
            rc => {
                // SAFETY: a valid statement's connection, open as above. The
                // extended code comes from it before reset clears it.
                let error = unsafe {
                    let db = ffi::sqlite3_db_handle(self.raw());
                    let code = ffi::sqlite3_extended_errcode(db);
                    connection_error(db, if code == 0 { rc } else { code })
                };
                self.reset();
                Err(error)
            }
        }
    }

    /// Ends the current run and forgets the bound values, so a kept
    /// statement holds no read snapshot and no copies of arguments.
    pub fn reset(&mut self) {
        self.bind_failed = ffi::SQLITE_OK;
        self.row_columns = None;
        // SAFETY: the statement is valid until `drop`; both calls take any
        // state of it.
        unsafe {
            ffi::sqlite3_reset(self.raw());
            ffi::sqlite3_clear_bindings(self.raw());
        }
    }

    /// Whether the statement is on a row and `index` is one of its columns.
    fn has_column(&self, index: c_int) -> bool {
        self.row_columns
            .is_some_and(|columns| (0..columns).contains(&index))
    }

    pub fn column_is_null(&self, index: c_int) -> bool {
        // SAFETY: on a row, and `index` is in range (`has_column`).
        !self.has_column(index)
            || unsafe { ffi::sqlite3_column_type(self.raw(), index) == ffi::SQLITE_NULL }
    }

    /// The column's type (`SQLITE_INTEGER`, `SQLITE_TEXT`, …);
    /// `SQLITE_NULL` when there is no row.
    pub fn column_type(&self, index: c_int) -> c_int {
        if !self.has_column(index) {
            return ffi::SQLITE_NULL;
        }
        // SAFETY: on a row, and `index` is in range (`has_column`).
        unsafe { ffi::sqlite3_column_type(self.raw(), index) }
    }

    /// 0 when the column is NULL or there is no row.
    pub fn column_i64(&self, index: c_int) -> i64 {
        if !self.has_column(index) {
            return 0;
        }
        // SAFETY: on a row, and `index` is in range (`has_column`).
        unsafe { ffi::sqlite3_column_int64(self.raw(), index) }
    }

    pub fn column_opt_i64(&self, index: c_int) -> Option<i64> {
        (!self.column_is_null(index)).then(|| self.column_i64(index))
    }

    /// The column's text, borrowed from the row: SQLite frees or reuses it
    /// when the statement steps or resets, which `&mut self` keeps out
    /// while it is borrowed. This module reads no column in UTF-16 or as a
    /// blob, the conversions that would also move it.
    pub fn column_text(&self, index: c_int) -> Option<&[u8]> {
        if !self.has_column(index) {
            return None;
        }
        // SAFETY: on a row, and `index` is in range. sqlite3_column_text
        // first, then sqlite3_column_bytes, as SQLite advises: the length is
        // that of the text the pointer points to, valid as said above.
        unsafe {
            let text = ffi::sqlite3_column_text(self.raw(), index);
            if text.is_null() {
                return None;
            }
            let len = ffi::sqlite3_column_bytes(self.raw(), index);
            Some(std::slice::from_raw_parts(
                text,
                usize::try_from(len).unwrap_or(0),
            ))
        }
    }

    /// The column's value as SQLite holds it, for `sqlite3_result_value`;
    /// `None` off a row.
    pub fn column_value(&self, index: c_int) -> Option<ColumnValue<'_>> {
        if !self.has_column(index) {
            return None;
        }
        // SAFETY: on a row, and `index` is in range; the value is valid
        // until the statement steps, resets or is finalized, which the
        // borrow in `ColumnValue` keeps out.
        let raw = unsafe { ffi::sqlite3_column_value(self.raw(), index) };
        NonNull::new(raw).map(|raw| ColumnValue {
            raw,
            row: PhantomData,
        })
    }

    /// How many columns each row has.
    pub fn column_count(&self) -> c_int {
        // SAFETY: the statement is valid until it is finalized in `drop`.
        unsafe { ffi::sqlite3_column_count(self.raw()) }
    }
}

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: the statement is valid and finalized only here, once; its
        // connection is still open (`Db::new`).
        unsafe { ffi::sqlite3_finalize(self.raw()) };
    }
}
