//! The rule of `write_message` that does not touch storage.

use crate::error::{display_nullable, Error};

/// A stream's category lock, which writers of the category take until
/// their transaction ends (`acquire_lock`): the category, and its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CategoryLock<'a> {
    pub category: &'a [u8],
    /// `hash_64` of the category, as in Message DB: the advisory lock's key
    /// on Postgres, and what `acquire_lock` returns on both engines.
    pub key: i64,
}

impl<'a> CategoryLock<'a> {
    pub fn of(stream_name: &'a [u8]) -> CategoryLock<'a> {
        let category = crate::stream_name::category(stream_name);
        CategoryLock {
            category,
            key: crate::hash::hash_64(category),
        }
    }
}

/// The version of a stream with no messages.
pub const EMPTY_STREAM_VERSION: i64 = -1;

/// Given the stream's current version (`None` when it has no messages) and
/// the caller's expected version, the position the new message takes.
/// An expected version of -1 means the stream must be empty. A NULL stream
/// name is let through here: storage refuses it (NOT NULL). A stream at the
/// largest bigint position takes no more messages: Message DB's
/// `_stream_version + 1` fails with `bigint out of range` there.
pub fn next_position(
    stream_name: Option<&[u8]>,
    stream_version: Option<i64>,
    expected_version: Option<i64>,
) -> Result<i64, Error> {
    let stream_version = stream_version.unwrap_or(EMPTY_STREAM_VERSION);
    check_expected_version(
        || display_nullable(stream_name.map(|name| String::from_utf8_lossy(name))),
        stream_version,
        expected_version,
    )?;
    stream_version.checked_add(1).ok_or(Error::BigintOutOfRange)
}

/// Message DB's expected-version check of a write onto a stream at
/// `stream_version` (-1 when empty): `stream_name` gives the name as the
/// error shows it, asked only on a mismatch.
pub fn check_expected_version(
    stream_name: impl FnOnce() -> String,
    stream_version: i64,
    expected_version: Option<i64>,
) -> Result<(), Error> {
    match expected_version {
        Some(expected_version) if expected_version != stream_version => {
            Err(Error::WrongExpectedVersion {
                expected_version,
                stream_name: stream_name(),
                stream_version,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_of_a_category_share_its_lock() {
        let lock = CategoryLock::of(b"account-123+x");
        assert_eq!(lock.category, b"account");
        assert_eq!(lock, CategoryLock::of(b"account"));
        assert_eq!(lock.key, CategoryLock::of(b"account-9").key);
        assert_ne!(lock.key, CategoryLock::of(b"accounts-1").key);
        // Message DB's key of "account": ('x' || left(md5('account'), 16))::bit(64)::bigint.
        assert_eq!(lock.key, -2132379389342958165);
    }

    #[test]
    fn positions_and_conflicts() {
        assert_eq!(next_position(Some(b"s-1"), None, None), Ok(0));
        assert_eq!(next_position(Some(b"s-1"), None, Some(-1)), Ok(0));
        assert_eq!(next_position(Some(b"s-1"), Some(0), Some(0)), Ok(1));
        assert_eq!(next_position(Some(b"s-1"), Some(4), None), Ok(5));
        assert_eq!(
            next_position(Some(b"s-1"), Some(0), Some(1)),
            Err(Error::WrongExpectedVersion {
                expected_version: 1,
                stream_name: "s-1".into(),
                stream_version: 0
            })
        );
        assert_eq!(
            next_position(None, None, Some(0)).unwrap_err().to_string(),
            "Wrong expected version: 0 (Stream: <NULL>, Stream Version: -1)"
        );
        assert_eq!(
            next_position(Some(b"s-1"), Some(0), Some(-1))
                .unwrap_err()
                .to_string(),
            "Wrong expected version: -1 (Stream: s-1, Stream Version: 0)"
        );
    }

    #[test]
    fn the_last_position_takes_no_next() {
        assert_eq!(
            next_position(Some(b"s-1"), Some(i64::MAX - 1), None),
            Ok(i64::MAX)
        );
        for expected in [None, Some(i64::MAX)] {
            let error = next_position(Some(b"s-1"), Some(i64::MAX), expected).unwrap_err();
            assert_eq!(error, Error::BigintOutOfRange);
            assert_eq!(
                (error.to_string().as_str(), error.sqlstate()),
                ("bigint out of range", "22003")
            );
        }
        // The version check comes first, as in Message DB.
        assert_eq!(
            next_position(Some(b"s-1"), Some(i64::MAX), Some(0))
                .unwrap_err()
                .to_string(),
            "Wrong expected version: 0 (Stream: s-1, Stream Version: 9223372036854775807)"
        );
    }
}
