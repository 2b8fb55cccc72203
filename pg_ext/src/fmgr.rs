//! The calling convention of the extension's SQL functions: version-1 C
//! functions whose SQL signatures are declared in `sql/schema.sql`, so that
//! argument names, `varchar` types, defaults and `SETOF message_store.message`
//! are exactly Message DB's.

use message_store_core::Error;
use pgrx::pg_sys::{self, Datum, FunctionCallInfo};
use pgrx::{PgLogLevel, PgSqlErrorCode};
use std::ffi::CStr;

/// Declares a version-1 C function: the `pg_finfo_` record Postgres looks
/// up, and the function itself behind pgrx's guard, which turns a Rust panic
/// or a Postgres error into an SQL error instead of a crashed backend.
macro_rules! sql_function {
    ($(#[$doc:meta])* fn $symbol:ident / $finfo:ident ($fcinfo:ident) $body:block) => {
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static ::pgrx::pg_sys::Pg_finfo_record {
            const V1: ::pgrx::pg_sys::Pg_finfo_record =
                ::pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }

        $(#[$doc])*
        ///
        /// # Safety
        /// Called by Postgres' function manager with a valid `fcinfo`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn $symbol(
            $fcinfo: ::pgrx::pg_sys::FunctionCallInfo,
        ) -> ::pgrx::pg_sys::Datum {
            unsafe { ::pgrx::pg_sys::submodules::panic::pgrx_extern_c_guard(|| $body) }
        }
    };
}
pub(crate) use sql_function;

/// Raises a catalogue error with its text and SQLSTATE.
pub fn raise(error: Error) -> ! {
    let state = error.sqlstate().as_bytes();
    // MAKE_SQLSTATE: six bits per character, first character lowest.
    let code = state
        .iter()
        .rev()
        .fold(0i32, |acc, &c| (acc << 6) | ((c - b'0') as i32 & 0x3f));
    pgrx::pg_sys::panic::ErrorReport::new(
        PgSqlErrorCode::from(code),
        error.to_string(),
        "message_store",
    )
    .report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Unwraps a core result, raising its error.
pub fn check<T>(result: Result<T, Error>) -> T {
    result.unwrap_or_else(|error| raise(error))
}

/// A possibly-NULL argument.
pub unsafe fn arg_datum(fcinfo: FunctionCallInfo, n: usize) -> Option<Datum> {
    unsafe { pgrx::fcinfo::pg_getarg_datum(fcinfo, n) }
}

/// A text or varchar argument's bytes, detoasted; valid for the call.
pub unsafe fn arg_bytes<'a>(fcinfo: FunctionCallInfo, n: usize) -> Option<&'a [u8]> {
    unsafe {
        arg_datum(fcinfo, n).map(|datum| {
            let varlena = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
            pgrx::varlena::varlena_to_byte_slice(varlena)
        })
    }
}

/// A text argument as UTF-8 (the SQL condition, pasted into a query).
pub unsafe fn arg_str<'a>(fcinfo: FunctionCallInfo, n: usize) -> Option<&'a str> {
    unsafe {
        arg_bytes(fcinfo, n).map(|bytes| {
            std::str::from_utf8(bytes).unwrap_or_else(|_| {
                pgrx::ereport!(
                    ERROR,
                    PgSqlErrorCode::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                    "condition is not valid UTF-8"
                );
            })
        })
    }
}

/// A bigint argument.
pub unsafe fn arg_i64(fcinfo: FunctionCallInfo, n: usize) -> Option<i64> {
    unsafe { arg_datum(fcinfo, n).map(|datum| datum.value() as i64) }
}

/// A text datum holding `bytes`, allocated in the current memory context.
pub unsafe fn text_datum(bytes: &[u8]) -> Datum {
    unsafe {
        let text = pg_sys::cstring_to_text_with_len(bytes.as_ptr().cast(), bytes.len() as i32);
        Datum::from(text)
    }
}

pub unsafe fn return_null(fcinfo: FunctionCallInfo) -> Datum {
    unsafe { pgrx::fcinfo::pg_return_null(fcinfo) }
}

pub unsafe fn return_text(bytes: Option<&[u8]>, fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        match bytes {
            Some(bytes) => text_datum(bytes),
            None => return_null(fcinfo),
        }
    }
}

/// Whether a custom setting is exactly `on`.
pub fn setting_is_on(name: &CStr) -> bool {
    unsafe {
        let value = pg_sys::GetConfigOption(name.as_ptr(), true, false);
        !value.is_null() && CStr::from_ptr(value).to_bytes() == b"on"
    }
}

/// A custom setting's value as `current_setting(name, true)` shows it:
/// `None` while the setting does not exist, `""` once it was set and reset.
pub fn setting(name: &CStr) -> Option<String> {
    unsafe {
        let value = pg_sys::GetConfigOptionByName(name.as_ptr(), std::ptr::null_mut(), true);
        (!value.is_null()).then(|| CStr::from_ptr(value).to_string_lossy().into_owned())
    }
}
