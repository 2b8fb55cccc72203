//! The message store as a loadable SQLite extension: Message DB 1.3's
//! functions over a `messages` table in the database the extension is
//! loaded into, with the semantics of the Postgres extension (both follow
//! `message_store_core`).
//!
//! The library file is `libmessage_store_sqlite.so` (`.dylib`, `.dll`), and
//! its entry point has the name SQLite derives from that file name, so
//! `.load path/to/libmessage_store_sqlite` needs no entry-point argument.

mod args;
mod functions;
mod migrate;
mod readers;
mod session;
mod shape;
mod stmt;

use std::ffi::{c_char, c_int};

use rusqlite::ffi;
use rusqlite::vtab::Module;
use rusqlite::Connection;

use readers::{Reader, SettingsTab};
use session::{Session, HOLDER_TABLE};
use stmt::Db;

/// An error for SQLite to report: the host sees exactly this text.
#[derive(Debug)]
pub struct Failure(pub String);

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure(message)
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

fn register(db: Connection) -> rusqlite::Result<bool> {
    const SETTINGS_MODULE: Module<SettingsTab> = Module::eponymous_only_module();
    let session = Session::new(Db(unsafe { db.handle() }));
    functions::register(&db, &session)?;
    for reader in [
        Reader::StreamMessages,
        Reader::CategoryMessages,
        Reader::LastStreamMessage,
    ] {
        readers::register(unsafe { db.handle() }, &session, reader).map_err(failure)?;
    }
    db.create_module(HOLDER_TABLE, &SETTINGS_MODULE, Some(session))?;
    Ok(false)
}

/// The entry point SQLite looks for in `libmessage_store_sqlite.*`.
///
/// # Safety
/// Called by SQLite with a valid connection and its API routines.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sqlite3_messagestoresqlite_init(
    db: *mut ffi::sqlite3,
    err: *mut *mut c_char,
    api: *mut ffi::sqlite3_api_routines,
) -> c_int {
    unsafe { Connection::extension_init2(db, err, api, register) }
}

/// The generic entry point, so a renamed copy of the library still loads.
///
/// # Safety
/// Called by SQLite with a valid connection and its API routines.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sqlite3_extension_init(
    db: *mut ffi::sqlite3,
    err: *mut *mut c_char,
    api: *mut ffi::sqlite3_api_routines,
) -> c_int {
    unsafe { Connection::extension_init2(db, err, api, register) }
}
