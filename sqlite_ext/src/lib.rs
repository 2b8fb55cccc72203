//! The message store as a loadable SQLite extension: Message DB 1.3's
//! functions over a `messages` table in the database the extension is
//! loaded into, with the semantics of the Postgres extension (both follow
//! `message_store_core`).
//!
//! The library file is `libmessage_store_sqlite.so` (`.dylib`, `.dll`). It
//! has the generic entry point, which SQLite tries first, and the one named
//! after the file, which SQLite tries next, so `.load
//! path/to/libmessage_store_sqlite` needs no entry-point argument.
//!
//! Rust programs can skip the file: the package `message_store_sqlite_rust`
//! (`rust/`) builds these sources as a library without the `loadable`
//! feature, and [`register`] adds the same functions and readers to a
//! `rusqlite::Connection` of the program's own.
//!
//! Every call SQLite makes into the library runs inside [`guard`]: a panic
//! never unwinds into SQLite's C frames (where Rust aborts the host), it
//! becomes an SQLite error, or is dropped in a destructor.

#![deny(clippy::undocumented_unsafe_blocks, unsafe_op_in_unsafe_fn)]

mod args;
mod batch;
mod functions;
mod migrate;
mod readers;
mod retention;
mod session;
mod shape;
mod stmt;
mod transfer;

use std::ffi::c_char;
#[cfg(feature = "loadable")]
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};
#[cfg(feature = "loadable")]
use std::sync::atomic::{AtomicPtr, Ordering};

use rusqlite::ffi;
use rusqlite::Connection;

use readers::Reader;
use session::Session;
use stmt::Db;

/// An error for SQLite to report: the host sees exactly this text.
#[derive(Debug)]
pub struct Failure(pub String);

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure(message)
    }
}

impl From<stmt::SqliteError> for Failure {
    fn from(error: stmt::SqliteError) -> Self {
        Failure(error.message)
    }
}

impl From<message_store_core::Error> for Failure {
    fn from(error: message_store_core::Error) -> Self {
        Failure(error.to_string())
    }
}

pub(crate) fn failure(message: impl Into<Failure>) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_ERROR), Some(message.into().0))
}

/// Runs `body`, a callback `callback` of `what` (a function, a table, the
/// library) that SQLite called. A panic in it is caught and becomes the
/// error text `"<what>: internal error (panic in <callback>)"`, which the
/// caller hands to SQLite where SQLite reads that callback's errors, or
/// drops in a destructor (a leak, never an abort).
///
/// Unwind safety is asserted: the state a callback shares with later calls
/// sits behind mutexes that stay usable after a panic (`session::lock`),
/// and each of its steps leaves it consistent; a statement lent when the
/// panic struck goes back, reset, as the unwind drops it.
pub(crate) fn guard<T>(what: &str, callback: &str, body: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(|| {
        probe(what, callback);
        body()
    }))
    .map_err(|payload| {
        // Dropping the payload could panic again, outside the catch.
        std::mem::forget(payload);
        format!("{what}: internal error (panic in {callback})")
    })
}

/// Test builds only (feature `panic_probe`): panics in the callback that
/// `MESSAGE_STORE_PANIC_IN` names as `<what>.<callback>`
/// (`get_stream_messages.xFilter`), read at every call so one process can
/// try each callback in turn.
#[cfg(feature = "panic_probe")]
pub(crate) fn probe(what: &str, callback: &str) {
    if let Some(wanted) = std::env::var_os("MESSAGE_STORE_PANIC_IN") {
        if wanted.to_str() == Some(&format!("{what}.{callback}")) {
            panic!("panic probe: {what}.{callback}");
        }
    }
}

#[cfg(not(feature = "panic_probe"))]
#[inline(always)]
pub(crate) fn probe(_what: &str, _callback: &str) {}

/// A copy, in memory from SQLite's allocator, of an error message for
/// SQLite to report and free; null when out of memory.
pub(crate) fn sqlite_text(message: &str) -> *mut c_char {
    // SAFETY: sqlite3_malloc64 returns null or a fresh allocation of the
    // size asked.
    unsafe { text_in(message, |size| ffi::sqlite3_malloc64(size as u64).cast()) }
}

/// `message` and its NUL terminator copied into memory from `alloc`, which
/// is given the size; null when `alloc` returns null.
///
/// # Safety
/// `alloc` returns null or a fresh allocation of at least the size it is
/// given.
unsafe fn text_in(message: &str, alloc: impl FnOnce(usize) -> *mut u8) -> *mut c_char {
    let bytes = message.as_bytes();
    let copy = alloc(bytes.len() + 1);
    if !copy.is_null() {
        // SAFETY: `copy` holds `len + 1` bytes (the contract), within which
        // the text and its terminator are written; `bytes` does not overlap
        // a fresh allocation.
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), copy, bytes.len());
            *copy.add(bytes.len()) = 0;
        }
    }
    copy.cast()
}

/// Adds every function and reader of the extension to `db`, as loading the
/// library file does: the same names, flags and semantics, kept for the
/// connection's life. For Rust programs, through the package in `rust/`,
/// on the program's own rusqlite 0.40:
///
/// ```ignore
/// let conn = rusqlite::Connection::open_in_memory()?;
/// message_store_sqlite::register(&conn)?;
/// ```
pub fn register(db: &Connection) -> rusqlite::Result<()> {
    // After rusqlite has taken SQLite's routines, where a real panic would be.
    probe("message_store", "register");
    // SAFETY: `db` is an open connection: the one SQLite is loading the
    // extension into, or the caller's own. The session holding this `Db`
    // lives in the user data of the functions and modules registered
    // below, which SQLite calls only on this connection and destroys when
    // it closes it, before the connection is gone; so does every statement
    // it prepares.
    let raw = unsafe { db.handle() };
    let raw = NonNull::new(raw).ok_or_else(|| failure("no connection".to_string()))?;
    // SAFETY: as above.
    let session = Session::new(unsafe { Db::new(raw) });
    functions::register(db, &session)?;
    for reader in [
        Reader::StreamMessages,
        Reader::CategoryMessages,
        Reader::LastStreamMessage,
        Reader::Export,
        Reader::AllMessages,
        Reader::Streams,
        Reader::Categories,
    ] {
        readers::register(db, &session, reader).map_err(failure)?;
    }
    readers::register_settings(db, &session).map_err(failure)?;
    Ok(())
}

/// The routines of the SQLite library the extension was first loaded into.
/// rusqlite keeps one set of SQLite's routines for the whole process, and
/// each load stores the loading library's: loaded into a second SQLite
/// library in the same process (Python's `sqlite3` beside `apsw`, each with
/// its own copy of SQLite), the first library's connections would go on
/// calling into the second's code and crash the process. So a load from
/// another library than the first is refused; the same library (any of its
/// connections) loads it again and again.
#[cfg(feature = "loadable")]
static LOADED_INTO: AtomicPtr<ffi::sqlite3_api_routines> = AtomicPtr::new(ptr::null_mut());

#[cfg(feature = "loadable")]
const ANOTHER_SQLITE: &str = "message_store: this process has loaded the extension into another \
    SQLite library already; it works with one SQLite library per process (two copies of SQLite in \
    one process, such as Python's sqlite3 and apsw, each need a process of their own)";

/// Writes `message` to `*err` with the loading library's own allocator
/// (rusqlite's holds the first library's), for it to free.
///
/// # Safety
/// `err` is null or writable, `api` null or the loading library's routines.
#[cfg(feature = "loadable")]
unsafe fn refuse_with(err: *mut *mut c_char, api: *const ffi::sqlite3_api_routines, message: &str) {
    if err.is_null() || api.is_null() {
        return;
    }
    // SAFETY: `api` points to the loading library's routines (the
    // contract).
    let Some(malloc) = (unsafe { (*api).malloc }) else {
        return;
    };
    // SAFETY: that library's malloc returns null or a fresh allocation of
    // the size asked, or none past a c_int.
    let copy = unsafe {
        text_in(message, |size| {
            c_int::try_from(size).map_or(ptr::null_mut(), |size| malloc(size).cast())
        })
    };
    if !copy.is_null() {
        // SAFETY: `*err` is writable (the contract), and SQLite frees what
        // it finds there with the same library's free.
        unsafe { *err = copy };
    }
}

/// Both entry points: rusqlite's initialisation, then `register`, in the
/// guard. An error's text goes to `*err`, where SQLite reads it.
///
/// # Safety
/// SQLite's contract for an entry point: `db` is the connection being
/// loaded into, `err` null or where an error message allocated by
/// `sqlite3_malloc` may be written, `api` SQLite's routines.
#[cfg(feature = "loadable")]
unsafe fn init(
    entry_point: &str,
    db: *mut ffi::sqlite3,
    err: *mut *mut c_char,
    api: *mut ffi::sqlite3_api_routines,
) -> c_int {
    if let Err(first) =
        LOADED_INTO.compare_exchange(ptr::null_mut(), api, Ordering::AcqRel, Ordering::Acquire)
    {
        if first != api {
            // SAFETY: `err` and `api` are the caller's (this function's
            // contract).
            unsafe { refuse_with(err, api, ANOTHER_SQLITE) };
            return ffi::SQLITE_ERROR;
        }
    }
    let loaded = guard("message_store", entry_point, || {
        // SAFETY: the caller's contract is extension_init2's.
        unsafe { Connection::extension_init2(db, err, api, |db| register(&db).map(|()| false)) }
    });
    match loaded {
        Ok(rc) => rc,
        Err(message) => {
            if !err.is_null() {
                // A panic before rusqlite took SQLite's routines leaves no
                // allocator to copy the text with (the copy panics): no
                // text then. Not `guard`, which could probe again.
                let _ = catch_unwind(|| {
                    // SAFETY: `err` is writable (checked non-null, the
                    // caller's contract), and SQLite frees what it finds there.
                    unsafe { *err = sqlite_text(&message) };
                });
            }
            ffi::SQLITE_ERROR
        }
    }
}

/// The entry point SQLite looks for in `libmessage_store_sqlite.*`.
///
/// # Safety
/// Called by SQLite with a valid connection and its API routines.
#[cfg(feature = "loadable")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sqlite3_messagestoresqlite_init(
    db: *mut ffi::sqlite3,
    err: *mut *mut c_char,
    api: *mut ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: SQLite calls it as an entry point (`init`'s contract).
    unsafe { init("sqlite3_messagestoresqlite_init", db, err, api) }
}

/// The generic entry point, so a renamed copy of the library still loads.
///
/// # Safety
/// Called by SQLite with a valid connection and its API routines.
#[cfg(feature = "loadable")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sqlite3_extension_init(
    db: *mut ffi::sqlite3,
    err: *mut *mut c_char,
    api: *mut ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: SQLite calls it as an entry point (`init`'s contract).
    unsafe { init("sqlite3_extension_init", db, err, api) }
}
