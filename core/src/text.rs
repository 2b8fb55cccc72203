//! Text arguments as Postgres takes them. A UTF-8 database refuses text
//! that is not UTF-8, or that holds a NUL, before any function sees it, so
//! the SQLite extension refuses the same text with the same error.

use crate::error::Error;

/// The length Postgres' `pg_utf_mblen` gives a character from its first
/// byte; a byte that cannot start a character counts as one.
fn utf8_char_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

/// The text as `&str`, or Postgres' error for its first character that is
/// not UTF-8 (or is a NUL). Postgres shows that character's bytes as far as
/// its first byte says it runs, or to the end of the text if that comes
/// first: `0xe2 0x28 0xa1` for `e2 28 a1`, `0xe2 0x82` for a text that ends
/// in `e2 82`.
pub fn utf8_text(bytes: &[u8]) -> Result<&str, Error> {
    let (valid_up_to, text) = match std::str::from_utf8(bytes) {
        Ok(text) => (bytes.len(), Some(text)),
        Err(error) => (error.valid_up_to(), None),
    };
    let nul = bytes[..valid_up_to].iter().position(|&b| b == 0);
    match (nul, text) {
        (None, Some(text)) => Ok(text),
        (Some(_), _) => Err(Error::NulInText),
        (None, None) => {
            let rest = &bytes[valid_up_to..];
            let shown = utf8_char_len(rest[0]).min(rest.len());
            Err(Error::InvalidByteSequence {
                bytes: rest[..shown].to_vec(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Postgres 15.20 says for `convert_from('\x<bytes>'::bytea, 'UTF8')`
    /// (its text input checks the encoding the same way).
    const POSTGRES: &[(&[u8], &str)] = &[
        (b"\x4f\xff", "0xff"),
        (b"\xff", "0xff"),
        (b"\x00", "0x00"),
        (b"\x4f\x00\xff", "0x00"),
        (b"\xe2\x28\xa1", "0xe2 0x28 0xa1"),
        (b"\xe2\x82", "0xe2 0x82"),
        (b"\xc0\x80", "0xc0 0x80"),
        (b"\xc2", "0xc2"),
        (b"\xed\xa0\x80", "0xed 0xa0 0x80"),
        (b"\xf5\x80\x80\x80", "0xf5 0x80 0x80 0x80"),
        (b"\xf8", "0xf8"),
        (b"\xf4\x90\x80\x80", "0xf4 0x90 0x80 0x80"),
        (b"\xf0\x9f\x98", "0xf0 0x9f 0x98"),
        (b"\xf0\x9f\x98\x41", "0xf0 0x9f 0x98 0x41"),
        (b"\xe2\x82\x82\x41\xff", "0xff"),
        (b"\x80", "0x80"),
        (b"\xfe", "0xfe"),
        (b"\xc3", "0xc3"),
        (b"\xc3\x28", "0xc3 0x28"),
        (b"\xe0\xa0", "0xe0 0xa0"),
        (b"\xe0\x80", "0xe0 0x80"),
        (b"\xf0\x80\x80\x80", "0xf0 0x80 0x80 0x80"),
        (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff", "0xff"),
    ];

    #[test]
    fn refuses_what_postgres_refuses_with_its_text() {
        for &(bytes, shown) in POSTGRES {
            let error = utf8_text(bytes).expect_err(shown);
            assert_eq!(
                error.to_string(),
                format!("invalid byte sequence for encoding \"UTF8\": {shown}"),
                "{bytes:x?}"
            );
            assert_eq!(error.sqlstate(), "22021");
        }
        assert_eq!(utf8_text(b"b\0x-1"), Err(Error::NulInText));
    }

    #[test]
    fn takes_utf8_without_nul() {
        for text in ["", "a-1", "über-straße+1", "😀", "\u{7f}\u{80}\u{10ffff}"] {
            assert_eq!(utf8_text(text.as_bytes()), Ok(text));
        }
    }
}
