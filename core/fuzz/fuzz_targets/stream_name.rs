//! Core's stream-name rules on any bytes, as the extensions hand them over:
//! `text::utf8_text` first (what a UTF-8 Postgres database does to every
//! text argument), then `category`, `id`, `cardinal_id`, `is_category`,
//! `hash_64`, `is_consumer_group_member` and the category lock, each checked
//! against the law it must keep. `hash_64` is checked against Message DB's
//! definition, `('x' || left(md5(value), 16))::bit(64)::bigint`, computed
//! here with another MD5 (the `md5` crate; core uses `md-5`) and through the
//! hex text, as Postgres computes it. Group membership is checked with
//! i128 arithmetic, where `abs` and `%` cannot overflow.
//!
//! The whole input is the name; its first 8 bytes, read as a little-endian
//! i64, are also tried as a group size and member, beside fixed sizes at the
//! edges.

#![no_main]

use libfuzzer_sys::fuzz_target;
use message_store_core::text::utf8_text;
use message_store_core::write::CategoryLock;
use message_store_core::{cardinal_id, category, hash_64, id, is_category};
use message_store_core::{is_consumer_group_member, Error};

/// Message DB's hash_64: the first 16 hex digits of md5(value), read as a
/// 64-bit two's complement bit string.
fn message_db_hash_64(value: &[u8]) -> i64 {
    let hex = format!("{:x}", md5::compute(value));
    u64::from_str_radix(&hex[..16], 16).expect("md5 hex") as i64
}

/// The first position of `byte`, by plain iteration.
fn first(name: &[u8], byte: u8) -> Option<usize> {
    (0..name.len()).find(|&i| name[i] == byte)
}

fn check_text(data: &[u8]) {
    let result = utf8_text(data);
    match std::str::from_utf8(data) {
        Ok(text) if !text.contains('\0') => assert_eq!(result, Ok(text)),
        Ok(_) => assert_eq!(result, Err(Error::NulInText)),
        Err(error) => {
            let valid = &data[..error.valid_up_to()];
            if valid.contains(&0) {
                assert_eq!(result, Err(Error::NulInText));
                return;
            }
            let Err(error @ Error::InvalidByteSequence { bytes }) = &result else {
                panic!("{data:x?}: {result:?}");
            };
            // The bytes shown start at the first one that is not UTF-8 and
            // run as far as its lead byte says, within the text.
            let rest = &data[valid.len()..];
            let run = match rest[0] {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf7 => 4,
                _ => 1,
            };
            assert_eq!(bytes.as_slice(), &rest[..run.min(rest.len())]);
            assert_eq!(error.sqlstate(), "22021");
            let shown: Vec<String> = bytes.iter().map(|b| format!("0x{b:02x}")).collect();
            assert_eq!(
                error.to_string(),
                format!(
                    "invalid byte sequence for encoding \"UTF8\": {}",
                    shown.join(" ")
                )
            );
        }
    }
}

/// `is_consumer_group_member` against `mod(abs(hash), size) = member` in i128.
/// `hash` is Message DB's hash of the cardinal id, if there is one.
fn check_member(name: &[u8], hash: Option<i64>, member: i64, size: i64) {
    let got = is_consumer_group_member(name, member, size);
    let expected = if size < 1 {
        Err(Error::ConsumerGroupSizeTooSmall { member, size })
    } else {
        match hash {
            None => Ok(false),
            Some(hash) => {
                if hash == i64::MIN {
                    Err(Error::BigintOutOfRange)
                } else {
                    Ok(i128::from(hash).abs() % i128::from(size) == i128::from(member))
                }
            }
        }
    };
    assert_eq!(got, expected, "{name:x?} member {member} of {size}");
}

fuzz_target!(|data: &[u8]| {
    check_text(data);
    let name = data;

    let dash = first(name, b'-');
    let category = category(name);
    let id = id(name);
    let cardinal = cardinal_id(name);
    assert_eq!(is_category(Some(name)), dash.is_none());
    assert!(is_category(None));
    match dash {
        None => {
            assert_eq!(category, name);
            assert_eq!(id, None);
            assert_eq!(cardinal, None);
        }
        Some(at) => {
            assert_eq!(category, &name[..at]);
            assert_eq!(id, Some(&name[at + 1..]));
            let id = &name[at + 1..];
            let cardinal_len = first(id, b'+').unwrap_or(id.len());
            assert_eq!(cardinal, Some(&id[..cardinal_len]));
        }
    }
    assert!(!category.contains(&b'-'));
    // The splits never cut a character of valid text.
    if let Ok(text) = std::str::from_utf8(name) {
        for part in [Some(category), id, cardinal].into_iter().flatten() {
            assert!(std::str::from_utf8(part).is_ok(), "{text:?}");
        }
    }

    for value in [Some(name), Some(category), id, cardinal]
        .into_iter()
        .flatten()
    {
        assert_eq!(hash_64(value), message_db_hash_64(value), "{value:x?}");
    }
    let lock = CategoryLock::of(name);
    assert_eq!(lock.category, category);
    assert_eq!(lock.key, message_db_hash_64(category));

    let from_input = data
        .get(..8)
        .map(|bytes| i64::from_le_bytes(bytes.try_into().unwrap()));
    let sizes = [1, 2, 3, 4, 7, 32767, 32768, i64::MAX, 0, -1, i64::MIN];
    let hash = cardinal.map(message_db_hash_64);
    for size in sizes.into_iter().chain(from_input) {
        let owner = hash.map(|hash| (i128::from(hash).abs() % i128::from(size.max(1))) as i64);
        let members = [0, 1, -1, size, size.wrapping_sub(1), i64::MIN, i64::MAX];
        for member in members
            .into_iter()
            .chain(owner)
            .chain(owner.map(|o| o.wrapping_add(1)))
            .chain(from_input)
        {
            check_member(name, hash, member, size);
        }
    }
});
