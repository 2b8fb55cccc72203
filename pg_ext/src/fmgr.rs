//! The calling convention of the extension's SQL functions: version-1 C
//! functions whose SQL signatures are declared in `sql/schema.sql`, so that
//! argument names, `varchar` types, defaults and `SETOF message_store.message`
//! are exactly Message DB's.
//!
//! Each function is `#[pg_guard]`ed (a Rust panic or a Postgres error
//! becomes an SQL error, never a crashed backend) and its body is safe code
//! over a [`Call`]: the one unsafe step is wrapping the function manager's
//! `fcinfo`, with the function's signature from `signatures.rs`; every read
//! and result goes through `Call`'s safe methods, which check each read
//! against that signature.

use crate::signatures::{Arg, ArgType, Bigint, Boolean, Function, Jsonb, SqlType, Text, Varchar};
use crate::spi::{Param, SetResult};
use message_store_core::Error;
use pgrx::pg_sys::{self, Datum, FunctionCallInfo};
use pgrx::{PgLogLevel, PgSqlErrorCode};
use std::ffi::CStr;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// Declares a version-1 C function: the `pg_finfo_` record Postgres looks
/// up, and the function itself behind `#[pg_guard]`, whose body is safe
/// code over the call's [`Call`].
macro_rules! sql_function {
    (
        $(#[$doc:meta])*
        fn $symbol:ident / $finfo:ident = $function:path;
        |$call:ident| $body:block
    ) => {
        // pgrx 0.18.1 has no public API for the `pg_finfo_` record alone:
        // only `#[pg_extern]` writes one, together with the function's SQL,
        // and these functions' SQL is sql/schema.sql's. So the record is
        // written here, as `#[pg_extern]` writes it.
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static ::pgrx::pg_sys::Pg_finfo_record {
            const V1: ::pgrx::pg_sys::Pg_finfo_record =
                ::pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }

        #[::pgrx::pg_guard]
        $(#[$doc])*
        ///
        /// # Safety
        /// Called only by Postgres' function manager, with the `fcinfo` of a
        /// call of the SQL function that names this symbol, declared as its
        /// table in `signatures.rs` says.
        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn $symbol(
            fcinfo: ::pgrx::pg_sys::FunctionCallInfo,
        ) -> ::pgrx::pg_sys::Datum {
            fn body($call: $crate::fmgr::Call<'_>) -> ::pgrx::pg_sys::Datum $body
            // SAFETY: the function manager passes this call's own fcinfo,
            // valid until the call returns, for the SQL function that names
            // this symbol; sql/schema.sql and every released script declare
            // it as `$function` (tests/pg_client/tests/signatures.rs checks
            // the scripts and the catalog against that table).
            body(unsafe { $crate::fmgr::Call::new(fcinfo, &$function) })
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

/// One call of one of the extension's C functions: its arguments, read as
/// the function's signature declares them, and its result. Everything it
/// hands out lives in the call's memory context, valid until the call
/// returns (`'fcinfo`), whatever SPI connection is open meanwhile.
pub struct Call<'fcinfo> {
    fcinfo: NonNull<pg_sys::FunctionCallInfoBaseData>,
    function: &'static Function,
    /// The memory context the function manager called the function in.
    context: pg_sys::MemoryContext,
    call: PhantomData<&'fcinfo mut pg_sys::FunctionCallInfoBaseData>,
}

impl<'fcinfo> Call<'fcinfo> {
    /// Wraps the function manager's call information.
    ///
    /// # Safety
    /// `fcinfo` is the function manager's call information for the current
    /// call of a C function declared in SQL exactly as `function` says (so
    /// each argument is NULL or a value of its declared type), valid for
    /// `'fcinfo`, which ends no later than the call; and the current memory
    /// context is the one the call was made in.
    pub unsafe fn new(fcinfo: FunctionCallInfo, function: &'static Function) -> Call<'fcinfo> {
        let fcinfo = NonNull::new(fcinfo).expect("the function manager passes an fcinfo");
        // SAFETY: by the contract, fcinfo points to valid call information.
        let nargs = unsafe { fcinfo.as_ref() }.nargs;
        // The planner fills in defaults, so every call has every argument.
        assert!(
            usize::try_from(nargs) == Ok(function.args.len()),
            "{} called with {nargs} arguments",
            function.name
        );
        Call {
            fcinfo,
            function,
            // SAFETY: reading Postgres' current memory context, which the
            // backend's one thread sets.
            context: unsafe { pg_sys::CurrentMemoryContext },
            call: PhantomData,
        }
    }

    /// A possibly-NULL argument, after checking that `arg` is the
    /// function's argument at its position with its type.
    fn datum<T: ArgType>(&self, arg: Arg<T>) -> Option<Datum> {
        // The type is what the read relies on; the name (the same when the
        // argument is the function's own, as `Function::arg` makes it) is
        // checked in debug builds.
        assert!(
            self.function
                .args
                .get(arg.position)
                .is_some_and(|declared| declared.ty == T::SQL),
            "{} reads {:?}, which its signature does not declare",
            self.function.name,
            arg.declared()
        );
        debug_assert!(self.function.declares(arg));
        // SAFETY: fcinfo is valid for the call (`new`'s contract), and it
        // holds `nargs` arguments, which `new` checked is the signature's
        // count, so `arg.position` (the signature's) is among them.
        let args = unsafe {
            let fcinfo = self.fcinfo.as_ref();
            fcinfo.args.as_slice(fcinfo.nargs as usize)
        };
        let arg = args[arg.position];
        (!arg.isnull).then_some(arg.value)
    }

    /// Whether an argument is NULL.
    pub fn is_null<T: ArgType>(&self, arg: Arg<T>) -> bool {
        self.datum(arg).is_none()
    }

    /// Runs `f` with the call's memory context current, so what it
    /// allocates lives until the call returns.
    fn in_call_context<R>(&self, f: impl FnOnce() -> R) -> R {
        /// Puts the previous context back, also when `f` raises an error.
        struct Restore(pg_sys::MemoryContext);
        impl Drop for Restore {
            fn drop(&mut self) {
                // SAFETY: the backend's one thread sets the current memory
                // context; this puts back the one that was current before.
                unsafe { pg_sys::CurrentMemoryContext = self.0 };
            }
        }
        // SAFETY: the call's context outlives the call (`new`'s contract);
        // the backend's one thread sets the current memory context.
        let _restore = unsafe {
            let restore = Restore(pg_sys::CurrentMemoryContext);
            pg_sys::CurrentMemoryContext = self.context;
            restore
        };
        f()
    }

    /// A varchar argument's bytes, detoasted.
    pub fn bytes(&self, arg: Arg<Varchar>) -> Option<&'fcinfo [u8]> {
        self.varlena_bytes(arg)
    }

    /// The bytes of a varchar or text argument, detoasted.
    fn varlena_bytes<T: ArgType>(&self, arg: Arg<T>) -> Option<&'fcinfo [u8]> {
        assert!(
            matches!(T::SQL, SqlType::Varchar | SqlType::Text),
            "{} is not a varchar or a text",
            arg.name
        );
        let datum = self.datum(arg)?;
        Some(self.in_call_context(|| {
            // SAFETY: the datum is a varchar or a text (the signature's
            // type, checked by `datum` and above), a varlena; detoasting
            // copies it, if at all, into the call's context, so the bytes
            // are valid for the call.
            unsafe {
                let varlena = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
                pgrx::varlena::varlena_to_byte_slice(varlena)
            }
        }))
    }

    /// Refuses text of the database's encoding that is not UTF-8: text
    /// outside ASCII in a database that is not UTF8 (every server encoding
    /// writes ASCII alike). `taker` names what takes such text only in a
    /// UTF8 database.
    fn refuse_outside_utf8(&self, name: &str, bytes: &[u8], taker: &str) {
        if !database_is_utf8() && !bytes.is_ascii() {
            pgrx::ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!(
                    "{}: {name} holds characters outside ASCII, which {taker} only in a UTF8 database",
                    self.function.name
                )
            );
        }
    }

    /// A varchar argument as UTF-8 (the SQL condition, pasted into a query).
    pub fn text(&self, arg: Arg<Varchar>) -> Option<&'fcinfo str> {
        self.bytes(arg).map(|bytes| {
            std::str::from_utf8(bytes).unwrap_or_else(|_| {
                pgrx::ereport!(
                    ERROR,
                    PgSqlErrorCode::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                    "condition is not valid UTF-8"
                );
            })
        })
    }

    /// A text argument as UTF-8. The text is in the database's encoding:
    /// taken as it is when that is UTF-8 or the text is ASCII (which every
    /// server encoding writes alike), refused otherwise, as `jsonb_out`'s
    /// rule says.
    pub fn utf8(&self, arg: Arg<Text>) -> Option<&'fcinfo str> {
        let bytes = self.varlena_bytes(arg)?;
        self.refuse_outside_utf8(arg.name, bytes, &format!("{} takes", self.function.name));
        // A UTF8 database holds only valid UTF-8; ASCII is too.
        Some(std::str::from_utf8(bytes).unwrap_or_else(|_| {
            pgrx::ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                format!("{}: {} is not valid UTF-8", self.function.name, arg.name)
            );
        }))
    }

    /// A bigint argument.
    pub fn i64(&self, arg: Arg<Bigint>) -> Option<i64> {
        // A bigint datum holds the value itself (64-bit Postgres).
        self.datum(arg).map(|datum| datum.value() as i64)
    }

    /// A boolean argument.
    pub fn bool(&self, arg: Arg<Boolean>) -> Option<bool> {
        self.datum(arg).map(|datum| datum.value() != 0)
    }

    /// A jsonb argument's text as Postgres prints it (`jsonb_out`), for
    /// core's batch reader, which reads that form. The text is in the
    /// database's encoding: taken as it is when that is UTF-8 or the text
    /// is ASCII (which every server encoding writes alike), refused
    /// otherwise.
    pub fn jsonb_out(&self, arg: Arg<Jsonb>) -> Option<String> {
        let datum = self.datum(arg)?;
        // SAFETY: the datum is a jsonb (the signature's type, checked by
        // `datum`), which jsonb_out takes; it returns a NUL-terminated
        // string in the current context, copied at once and then freed.
        let bytes = unsafe {
            let text =
                pgrx::fcinfo::direct_function_call_as_datum(pg_sys::jsonb_out, &[Some(datum)])
                    .expect("jsonb_out returns text");
            let chars = text.cast_mut_ptr::<std::ffi::c_char>();
            let bytes = CStr::from_ptr(chars).to_bytes().to_vec();
            pg_sys::pfree(chars.cast());
            bytes
        };
        self.refuse_outside_utf8(arg.name, &bytes, "batch writes take");
        // jsonb_out writes valid text of the database's encoding: UTF-8 here.
        Some(String::from_utf8(bytes).expect("jsonb text of a UTF8 database is UTF-8"))
    }

    /// A jsonb argument as Postgres prints it, `<NULL>` for NULL (for
    /// debug notices).
    pub fn jsonb_text(&self, arg: Arg<Jsonb>) -> String {
        let Some(datum) = self.datum(arg) else {
            return "<NULL>".to_string();
        };
        // SAFETY: the datum is a jsonb (the signature's type, checked by
        // `datum`), which jsonb_out takes, and it returns a NUL-terminated
        // string, copied before anything else runs.
        unsafe {
            let text =
                pgrx::fcinfo::direct_function_call_as_datum(pg_sys::jsonb_out, &[Some(datum)])
                    .expect("jsonb_out returns text");
            CStr::from_ptr(text.cast_mut_ptr())
                .to_string_lossy()
                .into_owned()
        }
    }

    /// An argument as a statement parameter of its SQL type.
    pub fn param<T: ArgType>(&self, arg: Arg<T>) -> Param<'fcinfo> {
        let type_oid = match T::SQL {
            SqlType::Varchar => pg_sys::VARCHAROID,
            SqlType::Bigint => pg_sys::INT8OID,
            SqlType::Jsonb => pg_sys::JSONBOID,
            SqlType::Boolean => pg_sys::BOOLOID,
            SqlType::Text => pg_sys::TEXTOID,
            SqlType::Timestamptz => pg_sys::TIMESTAMPTZOID,
            other => unreachable!("no argument is a {other:?}"),
        };
        // SAFETY: the datum is NULL or a value of the argument's declared
        // type (checked by `datum`), which `type_oid` is; it lives in the
        // caller's memory, valid for the call.
        unsafe { Param::new(self.datum(arg), type_oid) }
    }

    /// A varchar argument read as a uuid by Postgres' own input function
    /// (which accepts upper case, braces and missing hyphens, and raises
    /// 22P02 `invalid input syntax for type uuid` otherwise), as a uuid
    /// parameter.
    pub fn uuid_param(&self, arg: Arg<Varchar>) -> Param<'fcinfo> {
        let uuid = self.datum(arg).map(|text| {
            self.in_call_context(|| {
                // SAFETY: the datum is a varchar (checked by `datum`), which
                // text_to_cstring reads; uuid_in takes the NUL-terminated
                // string it returns. Both allocate in the call's context.
                unsafe {
                    let chars = pg_sys::text_to_cstring(text.cast_mut_ptr());
                    pgrx::fcinfo::direct_function_call_as_datum(
                        pg_sys::uuid_in,
                        &[Some(Datum::from(chars))],
                    )
                    .expect("uuid_in returns a uuid")
                }
            })
        });
        // SAFETY: uuid_in returns a uuid, allocated in the call's context.
        unsafe { Param::new(uuid, pg_sys::UUIDOID) }
    }

    /// Returns SQL NULL.
    pub fn return_null(&self) -> Datum {
        // SAFETY: fcinfo is valid for the call; the function manager reads
        // `isnull` with the result.
        unsafe { (*self.fcinfo.as_ptr()).isnull = true };
        Datum::from(0)
    }

    /// Returns a text (varchar) holding `bytes`, or NULL.
    pub fn return_text(&self, bytes: Option<&[u8]>) -> Datum {
        let Some(bytes) = bytes else {
            return self.return_null();
        };
        let len = i32::try_from(bytes.len()).expect("a text result is shorter than 1 GB");
        self.in_call_context(|| {
            // SAFETY: `bytes` holds `len` bytes; the text is allocated in the
            // call's context, where the caller reads the result.
            Datum::from(unsafe { pg_sys::cstring_to_text_with_len(bytes.as_ptr().cast(), len) })
        })
    }

    /// Returns a bigint, or NULL.
    pub fn return_i64(&self, value: Option<i64>) -> Datum {
        match value {
            Some(value) => Datum::from(value),
            None => self.return_null(),
        }
    }

    /// Returns a boolean.
    pub fn return_bool(&self, value: bool) -> Datum {
        Datum::from(value)
    }

    /// Returns from a function declared `RETURNS void`.
    pub fn return_void(&self) -> Datum {
        debug_assert!(self.function.returns == SqlType::Void);
        Datum::from(0)
    }

    /// Returns a `bigint[]` of `values`.
    pub fn return_i64_array(&self, values: &[i64]) -> Datum {
        // In the call's context, where the caller reads the result.
        self.in_call_context(|| crate::spi::int8_array(values))
    }

    /// Sets up the result of a set-returning call (checking that the caller
    /// accepts a set).
    pub fn set_result(&self) -> SetResult<'fcinfo> {
        assert!(
            self.function.returns_set,
            "{} returns no set",
            self.function.name
        );
        // SAFETY: fcinfo is this call's, valid for the call, and the
        // function returns rows of its declared type: a row type's rows
        // are that type's, a scalar's are the one column the caller expects.
        unsafe {
            match self.function.returns {
                SqlType::Message | SqlType::StreamListing | SqlType::CategoryListing => {
                    SetResult::new(self.fcinfo.as_ptr())
                }
                _ => SetResult::of_expected_columns(self.fcinfo.as_ptr()),
            }
        }
    }

    /// Returns the rows put into `result`.
    pub fn return_set(&self, result: SetResult<'fcinfo>) -> Datum {
        result.finish();
        // A materialized set's function returns NULL; the rows are in the
        // call's result info.
        self.return_null()
    }

    /// With the test-only feature `panic_probe`: panics when the setting
    /// `message_store.panic_probe` names this function's symbol, to show
    /// that a panic becomes an SQL error (tests/pg_client/tests/panics.rs).
    #[cfg(feature = "panic_probe")]
    pub fn panic_probe(&self) {
        if setting(c"message_store.panic_probe").as_deref() == Some(self.function.symbol) {
            panic!("panic probe in {}", self.function.symbol);
        }
    }

    /// The shipped library has no panic probe.
    #[cfg(not(feature = "panic_probe"))]
    #[inline(always)]
    pub fn panic_probe(&self) {}
}

/// Whether the database's encoding is UTF8, so its texts are UTF-8.
pub fn database_is_utf8() -> bool {
    // SAFETY: reads the database's encoding, set for the backend.
    unsafe { pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32 }
}

/// Whether a custom setting is exactly `on`.
pub fn setting_is_on(name: &CStr) -> bool {
    // SAFETY: GetConfigOption takes a NUL-terminated name and returns NULL
    // (missing_ok) or the setting's NUL-terminated value, read at once.
    unsafe {
        let value = pg_sys::GetConfigOption(name.as_ptr(), true, false);
        !value.is_null() && CStr::from_ptr(value).to_bytes() == b"on"
    }
}

/// A custom setting's value as `current_setting(name, true)` shows it:
/// `None` while the setting does not exist, `""` once it was set and reset.
pub fn setting(name: &CStr) -> Option<String> {
    // SAFETY: GetConfigOptionByName takes a NUL-terminated name and returns
    // NULL (missing_ok) or a NUL-terminated copy of the value, read at once.
    unsafe {
        let value = pg_sys::GetConfigOptionByName(name.as_ptr(), std::ptr::null_mut(), true);
        (!value.is_null()).then(|| CStr::from_ptr(value).to_string_lossy().into_owned())
    }
}
