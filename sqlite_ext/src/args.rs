//! SQL values in, Rust values out: the argument types of the Postgres
//! signatures, with an error that names the function and the argument when a
//! value is of another type. NULL is always allowed here; what NULL means is
//! each function's business, as in Postgres. Text that a UTF-8 Postgres
//! database would refuse (a NUL, bytes that are not UTF-8) is refused with
//! Postgres' error, whatever the argument.

use message_store_core::text::utf8_text;
use rusqlite::ffi;
use rusqlite::types::ValueRef;

/// A value SQLite passed in, read in place.
///
/// # Safety
/// `value` must be a valid `sqlite3_value`, and the result must not be used
/// after SQLite may free or change it (the end of the call that passed it).
pub unsafe fn value_ref<'a>(value: *mut ffi::sqlite3_value) -> ValueRef<'a> {
    // SAFETY: `value` is valid (the caller's promise). A blob's or text's
    // pointer is read before its length, as SQLite advises, and covers that
    // many bytes until the value changes, which the caller's `'a` rules out;
    // null or empty ones are not made into slices.
    unsafe {
        match ffi::sqlite3_value_type(value) {
            ffi::SQLITE_NULL => ValueRef::Null,
            ffi::SQLITE_INTEGER => ValueRef::Integer(ffi::sqlite3_value_int64(value)),
            ffi::SQLITE_FLOAT => ValueRef::Real(ffi::sqlite3_value_double(value)),
            ffi::SQLITE_BLOB => {
                let blob = ffi::sqlite3_value_blob(value);
                let len = ffi::sqlite3_value_bytes(value);
                if blob.is_null() || len <= 0 {
                    ValueRef::Blob(&[])
                } else {
                    ValueRef::Blob(std::slice::from_raw_parts(blob.cast(), len as usize))
                }
            }
            _ => {
                let text = ffi::sqlite3_value_text(value);
                let len = ffi::sqlite3_value_bytes(value);
                if text.is_null() || len <= 0 {
                    ValueRef::Text(&[])
                } else {
                    ValueRef::Text(std::slice::from_raw_parts(text, len as usize))
                }
            }
        }
    }
}

/// Names one argument of one function, for error texts.
#[derive(Clone, Copy)]
pub struct Arg {
    pub function: &'static str,
    pub name: &'static str,
}

fn type_name(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

impl Arg {
    fn wrong(self, expected: &str, value: ValueRef<'_>) -> String {
        format!(
            "{}: argument \"{}\" must be {expected}, not {}",
            self.function,
            self.name,
            type_name(value)
        )
    }

    /// A `varchar` argument, as bytes.
    pub fn text<'a>(self, value: ValueRef<'a>) -> Result<Option<&'a [u8]>, String> {
        Ok(self.str(value)?.map(str::as_bytes))
    }

    /// A `varchar` argument, as text.
    pub fn str<'a>(self, value: ValueRef<'a>) -> Result<Option<&'a str>, String> {
        match value {
            ValueRef::Null => Ok(None),
            ValueRef::Text(text) => utf8_text(text).map(Some).map_err(|e| e.to_string()),
            other => Err(self.wrong("text", other)),
        }
    }

    /// A name argument of a listing, as bytes: text that is UTF-8 but for
    /// a NUL is passed on, for the listing's rule to refuse naming the
    /// argument; any other text is refused as [`Arg::text`] refuses it.
    pub fn name_text<'a>(self, value: ValueRef<'a>) -> Result<Option<&'a [u8]>, String> {
        match value {
            ValueRef::Text(text) if text.contains(&0) && std::str::from_utf8(text).is_ok() => {
                Ok(Some(text))
            }
            other => self.text(other),
        }
    }

    /// A `bigint` argument. JavaScript hosts bind every number as a real, so
    /// a real that is a whole number in range is taken as that integer.
    pub fn integer(self, value: ValueRef<'_>) -> Result<Option<i64>, String> {
        match value {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(n) => Ok(Some(n)),
            // The range check keeps 2^63, which `as` would saturate, out.
            ValueRef::Real(r) if r.fract() == 0.0 && r >= -(2f64.powi(63)) && r < 2f64.powi(63) => {
                Ok(Some(r as i64))
            }
            ValueRef::Real(r) => Err(format!(
                "{}: argument \"{}\" must be an integer, not {r}",
                self.function, self.name
            )),
            other => Err(self.wrong("an integer", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARG: Arg = Arg {
        function: "get_stream_messages",
        name: "position",
    };

    #[test]
    fn integers_accept_whole_reals_only() {
        assert_eq!(ARG.integer(ValueRef::Integer(7)), Ok(Some(7)));
        assert_eq!(ARG.integer(ValueRef::Real(7.0)), Ok(Some(7)));
        assert_eq!(ARG.integer(ValueRef::Real(-1.0)), Ok(Some(-1)));
        assert_eq!(ARG.integer(ValueRef::Null), Ok(None));
        assert_eq!(
            ARG.integer(ValueRef::Real(1.5)),
            Err("get_stream_messages: argument \"position\" must be an integer, not 1.5".into())
        );
        assert_eq!(
            ARG.integer(ValueRef::Real(9.3e18)),
            Err("get_stream_messages: argument \"position\" must be an integer, not 9300000000000000000".into())
        );
        assert_eq!(
            ARG.integer(ValueRef::Text(b"1")),
            Err("get_stream_messages: argument \"position\" must be an integer, not text".into())
        );
    }

    #[test]
    fn text_refuses_other_types() {
        assert_eq!(ARG.text(ValueRef::Text(b"a-1")), Ok(Some(&b"a-1"[..])));
        assert_eq!(
            ARG.text(ValueRef::Integer(1)),
            Err("get_stream_messages: argument \"position\" must be text, not an integer".into())
        );
        for (text, error) in [
            (
                &b"\xff"[..],
                "invalid byte sequence for encoding \"UTF8\": 0xff",
            ),
            (
                b"O\xff",
                "invalid byte sequence for encoding \"UTF8\": 0xff",
            ),
            (
                b"b\0x-1",
                "invalid byte sequence for encoding \"UTF8\": 0x00",
            ),
            (
                b"a-\xe2\x82",
                "invalid byte sequence for encoding \"UTF8\": 0xe2 0x82",
            ),
        ] {
            assert_eq!(ARG.str(ValueRef::Text(text)), Err(error.into()));
            assert_eq!(ARG.text(ValueRef::Text(text)), Err(error.into()));
        }
    }

    #[test]
    fn name_text_passes_a_nul_on_for_the_listing_to_refuse() {
        assert_eq!(
            ARG.name_text(ValueRef::Text(b"a\0b")),
            Ok(Some(&b"a\0b"[..]))
        );
        assert_eq!(ARG.name_text(ValueRef::Text(b"a-1")), Ok(Some(&b"a-1"[..])));
        assert_eq!(ARG.name_text(ValueRef::Null), Ok(None));
        // Text that is not UTF-8 is refused as any text argument is.
        assert_eq!(
            ARG.name_text(ValueRef::Text(b"\0\xff")),
            Err("invalid byte sequence for encoding \"UTF8\": 0x00".into())
        );
        assert_eq!(
            ARG.name_text(ValueRef::Blob(b"a")),
            Err("get_stream_messages: argument \"position\" must be text, not a blob".into())
        );
    }
}
