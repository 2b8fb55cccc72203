//! A prepared statement on the connection the extension is loaded into.
//!
//! rusqlite's `Statement` borrows its `Connection`, so it cannot be kept
//! between calls; the extension keeps these instead (see `session.rs`).

use std::cell::Cell;
use std::ffi::{c_int, CStr};
use std::ptr::{self, NonNull};

use rusqlite::ffi;

/// The connection handle SQLite gave the extension. Calls on one connection
/// never overlap (SQLite serialises them or the host promises to), so it may
/// be moved between threads with the connection.
#[derive(Clone, Copy, Debug)]
pub struct Db(pub *mut ffi::sqlite3);

unsafe impl Send for Db {}
unsafe impl Sync for Db {}

/// An error SQLite reported: its extended result code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteError {
    pub code: c_int,
    pub message: String,
}

impl Db {
    fn error(self, code: c_int) -> SqliteError {
        let message = unsafe {
            let text = ffi::sqlite3_errmsg(self.0);
            if text.is_null() {
                format!("SQLite error {code}")
            } else {
                CStr::from_ptr(text).to_string_lossy().into_owned()
            }
        };
        SqliteError { code, message }
    }

    /// Prepares exactly one statement: SQL text left after it is refused
    /// (a caller's condition must not smuggle in a second statement).
    /// `keep` tells SQLite it will be used many times.
    pub fn prepare(self, sql: &str, keep: bool) -> Result<Stmt, SqliteError> {
        let mut raw = ptr::null_mut();
        let mut tail: *const std::ffi::c_char = ptr::null();
        let flags = if keep {
            ffi::SQLITE_PREPARE_PERSISTENT
        } else {
            0
        };
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.0,
                sql.as_ptr().cast(),
                sql.len() as c_int,
                flags,
                &mut raw,
                &mut tail,
            )
        };
        if rc != ffi::SQLITE_OK {
            if !raw.is_null() {
                unsafe { ffi::sqlite3_finalize(raw) };
            }
            return Err(self.error(rc));
        }
        let used = if tail.is_null() {
            sql.len()
        } else {
            (tail as usize).saturating_sub(sql.as_ptr() as usize)
        };
        let stmt = NonNull::new(raw).map(|raw| Stmt {
            raw,
            db: self,
            bind_failed: Cell::new(ffi::SQLITE_OK),
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
    pub fn length_limit(self) -> usize {
        // SAFETY: a negative new value only reads the limit; `self.0` is the
        // open connection the extension was loaded into.
        let limit = unsafe { ffi::sqlite3_limit(self.0, ffi::SQLITE_LIMIT_LENGTH, -1) };
        usize::try_from(limit).unwrap_or(0)
    }

    /// Runs SQL text of one or more statements that return no rows.
    pub fn execute_batch(self, sql: &str) -> Result<(), SqliteError> {
        let text = std::ffi::CString::new(sql).map_err(|_| SqliteError {
            code: ffi::SQLITE_MISUSE,
            message: "SQL text contains a NUL character".to_string(),
        })?;
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.0,
                text.as_ptr(),
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(self.error(rc))
        }
    }
}

pub struct Stmt {
    raw: NonNull<ffi::sqlite3_stmt>,
    db: Db,
    /// The first failed bind since the last run (a value too long for the
    /// connection, say); the next `step` reports it instead of running.
    bind_failed: Cell<c_int>,
}

// A statement belongs to one connection; see `Db`.
unsafe impl Send for Stmt {}

impl Stmt {
    fn raw(&self) -> *mut ffi::sqlite3_stmt {
        self.raw.as_ptr()
    }

    /// Keeps the first bind error for `step` to report: a statement run
    /// with a parameter left unbound would store NULL in its place.
    fn bound(&self, rc: c_int) {
        if rc != ffi::SQLITE_OK && self.bind_failed.get() == ffi::SQLITE_OK {
            self.bind_failed.set(rc);
        }
    }

    /// Parameters are numbered from 1, as in SQLite.
    pub fn bind_i64(&self, index: c_int, value: i64) {
        // SAFETY: the statement is valid until `drop` finalizes it; a bad
        // index is reported in the return code, which `bound` keeps.
        self.bound(unsafe { ffi::sqlite3_bind_int64(self.raw(), index, value) });
    }

    pub fn bind_opt_i64(&self, index: c_int, value: Option<i64>) {
        match value {
            Some(value) => self.bind_i64(index, value),
            None => self.bind_null(index),
        }
    }

    /// The length goes to SQLite whole (64 bits): a text longer than the
    /// connection's limit fails with SQLITE_TOOBIG, never wraps.
    pub fn bind_text(&self, index: c_int, value: &[u8]) {
        // SAFETY: `value` is valid for its length during the call, and
        // SQLITE_TRANSIENT makes SQLite copy it before returning.
        self.bound(unsafe {
            ffi::sqlite3_bind_text64(
                self.raw(),
                index,
                value.as_ptr().cast(),
                value.len() as u64,
                ffi::SQLITE_TRANSIENT(),
                ffi::SQLITE_UTF8 as std::ffi::c_uchar,
            )
        });
    }

    pub fn bind_opt_text(&self, index: c_int, value: Option<&[u8]>) {
        match value {
            Some(value) => self.bind_text(index, value),
            None => self.bind_null(index),
        }
    }

    pub fn bind_null(&self, index: c_int) {
        // SAFETY: as in `bind_i64`.
        self.bound(unsafe { ffi::sqlite3_bind_null(self.raw(), index) });
    }

    /// Steps once: `Ok(true)` when a row is ready. An error resets the
    /// statement, which rolls back what the statement did. A failed bind
    /// is reported here, and the statement does not run.
    pub fn step(&self) -> Result<bool, SqliteError> {
        let failed = self.bind_failed.replace(ffi::SQLITE_OK);
        if failed != ffi::SQLITE_OK {
            self.reset();
            // SAFETY: sqlite3_errstr returns a static English text for any code.
            let message = unsafe { CStr::from_ptr(ffi::sqlite3_errstr(failed)) };
            return Err(SqliteError {
                code: failed,
                message: message.to_string_lossy().into_owned(),
            });
        }
        match unsafe { ffi::sqlite3_step(self.raw()) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => {
                // The extended code comes from the connection, before reset clears it.
                let code = unsafe { ffi::sqlite3_extended_errcode(self.db.0) };
                let error = self.db.error(if code == 0 { rc } else { code });
                self.reset();
                Err(error)
            }
        }
    }

    /// Ends the current run and forgets the bound values, so a kept
    /// statement holds no read snapshot and no copies of arguments.
    pub fn reset(&self) {
        self.bind_failed.set(ffi::SQLITE_OK);
        unsafe {
            ffi::sqlite3_reset(self.raw());
            ffi::sqlite3_clear_bindings(self.raw());
        }
    }

    pub fn column_is_null(&self, index: c_int) -> bool {
        unsafe { ffi::sqlite3_column_type(self.raw(), index) == ffi::SQLITE_NULL }
    }

    pub fn column_i64(&self, index: c_int) -> i64 {
        unsafe { ffi::sqlite3_column_int64(self.raw(), index) }
    }

    pub fn column_opt_i64(&self, index: c_int) -> Option<i64> {
        (!self.column_is_null(index)).then(|| self.column_i64(index))
    }

    /// The column's text; valid until the statement steps or resets.
    pub fn column_text(&self, index: c_int) -> Option<&[u8]> {
        unsafe {
            let text = ffi::sqlite3_column_text(self.raw(), index);
            if text.is_null() {
                return None;
            }
            let len = ffi::sqlite3_column_bytes(self.raw(), index);
            Some(std::slice::from_raw_parts(text, len as usize))
        }
    }

    /// The column's value as SQLite holds it, for `sqlite3_result_value`;
    /// valid until the statement steps or resets.
    pub fn column_sqlite_value(&self, index: c_int) -> *mut ffi::sqlite3_value {
        unsafe { ffi::sqlite3_column_value(self.raw(), index) }
    }

    /// How many columns each row has.
    pub fn column_count(&self) -> c_int {
        // SAFETY: the statement is valid until it is finalized in `drop`.
        unsafe { ffi::sqlite3_column_count(self.raw()) }
    }
}

impl Drop for Stmt {
    fn drop(&mut self) {
        unsafe { ffi::sqlite3_finalize(self.raw()) };
    }
}
