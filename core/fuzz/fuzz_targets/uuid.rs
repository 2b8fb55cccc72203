//! Core's uuid parsing (`uuid::parse_uuid`, `canonical_uuid`: how the SQLite
//! extension reads `write_message`'s id) on any text: it never panics; it
//! accepts exactly what Postgres 15's `uuid_in` accepts, by an oracle here
//! that states that rule another way; it refuses with Postgres' error
//! naming the input; and the canonical form round-trips through the `uuid`
//! crate, which also reads every form it knows but its `urn:uuid:` prefix
//! (in any case) as core does.
//!
//! Postgres' rule (`string_to_uuid`): an optional `{` that then needs its
//! `}` at the very end, and 32 hex digits of either case, where one `-` may
//! follow any fourth, eighth, …, twenty-eighth digit. Said another way,
//! below: inside the braces only hex digits and hyphens, 32 digits, and
//! every hyphen has a digit before it, a multiple of four digits before it,
//! and a digit after it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use message_store_core::uuid::{canonical_uuid, format_uuid, parse_uuid};
use message_store_core::Error;

fn uuid_in(input: &str) -> Option<[u8; 16]> {
    let inner = match input.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}')?,
        None => input,
    };
    let mut digits = Vec::with_capacity(32);
    let mut previous_was_hyphen = true; // no hyphen first
    for c in inner.chars() {
        match c {
            '-' => {
                if previous_was_hyphen || digits.is_empty() || digits.len() % 4 != 0 {
                    return None;
                }
                previous_was_hyphen = true;
            }
            c => {
                digits.push(c.to_digit(16)? as u8);
                previous_was_hyphen = false;
            }
        }
    }
    if digits.len() != 32 || previous_was_hyphen {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks(2)) {
        *byte = pair[0] << 4 | pair[1];
    }
    Some(bytes)
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_uuid(input);
    match uuid_in(input) {
        Some(bytes) => assert_eq!(parsed, Ok(bytes), "{input:?}"),
        None => {
            let error = parsed.clone().expect_err(input);
            assert_eq!(
                error,
                Error::InvalidUuid {
                    input: input.to_owned()
                }
            );
            assert_eq!(
                error.to_string(),
                format!("invalid input syntax for type uuid: \"{input}\"")
            );
            assert_eq!(error.sqlstate(), "22P02");
            assert_eq!(canonical_uuid(input), Err(error));
        }
    }
    // The uuid crate's forms are a subset of Postgres', but for its
    // `urn:uuid:` prefix, which it reads in any case.
    if let Ok(theirs) = uuid::Uuid::try_parse(input) {
        let urn = input
            .get(..9)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("urn:uuid:"));
        if !urn {
            assert_eq!(parsed, Ok(*theirs.as_bytes()), "{input:?}");
        }
    }
    let Ok(bytes) = parsed else {
        return;
    };
    let canonical = format_uuid(&bytes);
    let theirs = uuid::Uuid::from_bytes(bytes);
    assert_eq!(canonical, theirs.hyphenated().to_string());
    assert_eq!(canonical_uuid(input).as_ref(), Ok(&canonical));
    assert_eq!(uuid::Uuid::parse_str(&canonical), Ok(theirs));
    assert_eq!(canonical_uuid(&canonical).as_ref(), Ok(&canonical));
    assert_eq!(canonical, canonical.to_lowercase());
});
