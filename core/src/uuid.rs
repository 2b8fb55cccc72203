//! Message ids: the uuid text forms Postgres' `uuid` type accepts, and its
//! canonical output form.

use crate::error::Error;

/// Parses `input` as Postgres' `uuid_in` does: 32 hex digits of either
/// case, an optional `-` after any group of four digits (but not at the end),
/// optionally wrapped in `{}`. Anything else is an invalid uuid.
pub fn parse_uuid(input: &str) -> Result<[u8; 16], Error> {
    let invalid = || Error::InvalidUuid {
        input: input.to_owned(),
    };
    let mut rest = input.as_bytes();
    let braces = rest.first() == Some(&b'{');
    if braces {
        rest = &rest[1..];
    }
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        let (hi, lo) = match rest {
            [hi, lo, ..] => (
                hex_value(*hi).ok_or_else(invalid)?,
                hex_value(*lo).ok_or_else(invalid)?,
            ),
            _ => return Err(invalid()),
        };
        *byte = hi << 4 | lo;
        rest = &rest[2..];
        if rest.first() == Some(&b'-') && i % 2 == 1 && i < 15 {
            rest = &rest[1..];
        }
    }
    if braces {
        match rest.first() {
            Some(b'}') => rest = &rest[1..],
            _ => return Err(invalid()),
        }
    }
    if !rest.is_empty() {
        return Err(invalid());
    }
    Ok(bytes)
}

fn hex_value(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|v| v as u8)
}

/// The canonical text form: lowercase, hyphenated 8-4-4-4-12.
pub fn format_uuid(bytes: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 36];
    let mut at = 0;
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out[at] = b'-';
            at += 1;
        }
        out[at] = HEX[usize::from(byte >> 4)];
        out[at + 1] = HEX[usize::from(byte & 0xf)];
        at += 2;
    }
    String::from_utf8(out.to_vec()).expect("hex digits and hyphens are ASCII")
}

/// Parses and re-formats: the id as Postgres stores and returns it.
pub fn canonical_uuid(input: &str) -> Result<String, Error> {
    parse_uuid(input).map(|bytes| format_uuid(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANONICAL: &str = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";

    #[test]
    fn accepted_forms_read_back_canonical() {
        for form in [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
            "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
        ] {
            assert_eq!(canonical_uuid(form).as_deref(), Ok(CANONICAL), "{form}");
        }
    }

    #[test]
    fn formats_every_byte_value() {
        for byte in 0..=255u8 {
            let mut bytes = [0u8; 16];
            bytes[0] = byte;
            bytes[15] = byte;
            let text = format_uuid(&bytes);
            assert_eq!(&text[0..2], format!("{byte:02x}"));
            assert_eq!(&text[34..36], format!("{byte:02x}"));
            assert_eq!(parse_uuid(&text), Ok(bytes));
        }
    }

    #[test]
    fn rejected_forms_name_the_input() {
        for form in [
            "",
            "not-a-uuid",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
            " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "é0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
        ] {
            assert_eq!(
                canonical_uuid(form),
                Err(Error::InvalidUuid { input: form.into() }),
                "{form}"
            );
        }
    }
}
