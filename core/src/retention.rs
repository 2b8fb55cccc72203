//! Argument rules of retention and erasure: `remove_messages`,
//! `redact_stream`, and the stored retention policies
//! (`set_retention_policy`, `clear_retention_policy`,
//! `apply_retention_policies`).
//!
//! Removal always keeps the last message of every stream, so a stream's
//! version, expected-version writes and the positions readers have seen
//! stay as they were: a stream's positions never restart. Removal runs in
//! bounded batches, oldest global position first, so a call never holds
//! its locks for long; a caller loops while a call removes its limit.

use crate::error::Error;
use crate::stream_name::is_category;

/// The messages a `remove_messages` (or a policy's) call removes at most
/// when its limit is NULL or omitted.
pub const DEFAULT_LIMIT: i64 = 1000;

/// A retention or erasure function, for error texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    RemoveMessages,
    RedactStream,
    SetRetentionPolicy,
    ClearRetentionPolicy,
    ApplyRetentionPolicies,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::RemoveMessages => "remove_messages",
            Operation::RedactStream => "redact_stream",
            Operation::SetRetentionPolicy => "set_retention_policy",
            Operation::ClearRetentionPolicy => "clear_retention_policy",
            Operation::ApplyRetentionPolicies => "apply_retention_policies",
        }
    }
}

/// What a removal reaches: one stream, or every stream of a category. A
/// name without the ID separator (`-`) is a category, as `is_category`
/// says; any other name is one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    Stream(&'a [u8]),
    Category(&'a [u8]),
}

impl<'a> Scope<'a> {
    pub fn of(name: &'a [u8]) -> Scope<'a> {
        if is_category(Some(name)) {
            Scope::Category(name)
        } else {
            Scope::Stream(name)
        }
    }

    pub fn name(self) -> &'a [u8] {
        match self {
            Scope::Stream(name) | Scope::Category(name) => name,
        }
    }
}

fn required<T>(operation: Operation, argument: &'static str, value: Option<T>) -> Result<T, Error> {
    value.ok_or(Error::RetentionArgumentNull {
        function: operation.name(),
        argument,
    })
}

fn name_argument<'a>(
    operation: Operation,
    argument: &'static str,
    value: Option<&'a [u8]>,
) -> Result<&'a [u8], Error> {
    let value = required(operation, argument, value)?;
    if value.contains(&0) {
        return Err(Error::NulInText);
    }
    Ok(value)
}

/// A removal's limit: NULL is the default, anything below 1 is refused.
pub fn limit(operation: Operation, limit: Option<i64>) -> Result<i64, Error> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit < 1 {
        return Err(Error::RetentionLimitTooSmall {
            function: operation.name(),
            limit,
        });
    }
    Ok(limit)
}

/// One batch of removal, as the engines' removal statements take it
/// (parameters: 1 the stream or category name, 2 the time bound or NULL,
/// 3 the global position bound or NULL, 4 the limit, 5 `keep_last`).
/// A message is removed when it is below every bound given, and at least
/// `keep_last` messages of its stream come after it, oldest global
/// position first, at most `limit` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Removal<'a> {
    pub scope: Scope<'a>,
    /// The engine passes its own time value (a `timestamptz` on Postgres,
    /// a stored-time text on SQLite); core only knows whether one is given.
    pub before_time: bool,
    pub before_global_position: Option<i64>,
    pub limit: i64,
    /// Messages kept at the end of each stream, at least 1.
    pub keep_last: i64,
}

impl<'a> Removal<'a> {
    /// `remove_messages(stream_or_category, before_time,
    /// before_global_position, limit)`: the checks in argument order, then
    /// that a bound is given.
    pub fn new(
        stream_or_category: Option<&'a [u8]>,
        before_time: bool,
        before_global_position: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Removal<'a>, Error> {
        let operation = Operation::RemoveMessages;
        let name = name_argument(operation, "stream_or_category", stream_or_category)?;
        let limit = self::limit(operation, limit)?;
        if !before_time && before_global_position.is_none() {
            return Err(Error::RemovalUnbounded);
        }
        Ok(Removal {
            scope: Scope::of(name),
            before_time,
            before_global_position,
            limit,
            keep_last: 1,
        })
    }
}

/// `redact_stream(stream_name)`: the stream whose messages' data and
/// metadata become NULL. Any name is one stream, matched exactly.
pub fn redaction(stream_name: Option<&[u8]>) -> Result<&[u8], Error> {
    name_argument(Operation::RedactStream, "stream_name", stream_name)
}

/// How a policy keeps a category's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Messages younger than this many seconds, and each stream's last.
    Seconds(i64),
    /// The last this many messages of each stream.
    Last(i64),
}

impl Keep {
    pub const KINDS: [&'static str; 2] = ["keep_seconds", "keep_last"];

    /// `kind` and `amount` as a policy row stores them.
    pub fn parse(kind: &str, amount: i64) -> Result<Keep, Error> {
        let keep = match kind {
            "keep_seconds" => Keep::Seconds(amount),
            "keep_last" => Keep::Last(amount),
            _ => {
                return Err(Error::UnknownRetentionKind {
                    kind: kind.to_string(),
                })
            }
        };
        if amount < 1 {
            return Err(Error::RetentionAmountTooSmall {
                kind: keep.kind(),
                amount,
            });
        }
        Ok(keep)
    }

    pub fn kind(self) -> &'static str {
        match self {
            Keep::Seconds(_) => "keep_seconds",
            Keep::Last(_) => "keep_last",
        }
    }

    pub fn amount(self) -> i64 {
        match self {
            Keep::Seconds(amount) | Keep::Last(amount) => amount,
        }
    }

    /// The removal this policy makes in `category`, at most `limit`
    /// messages. For [`Keep::Seconds`] the engine passes, as the time
    /// bound, the time `amount` seconds before the transaction's `now()`
    /// (SQLite: before the call's clock, [`Keep::cutoff_micros`]).
    pub fn removal(self, category: &[u8], limit: i64) -> Removal<'_> {
        match self {
            Keep::Seconds(_) => Removal {
                scope: Scope::Category(category),
                before_time: true,
                before_global_position: None,
                limit,
                keep_last: 1,
            },
            Keep::Last(last) => Removal {
                scope: Scope::Category(category),
                before_time: false,
                before_global_position: None,
                limit,
                keep_last: last,
            },
        }
    }

    /// [`Keep::Seconds`]' time bound in microseconds since 1970 from a
    /// clock reading, saturating; `None` for [`Keep::Last`].
    pub fn cutoff_micros(self, now_micros: i64) -> Option<i64> {
        match self {
            Keep::Seconds(seconds) => {
                Some(now_micros.saturating_sub(seconds.saturating_mul(1_000_000)))
            }
            Keep::Last(_) => None,
        }
    }
}

/// A checked `set_retention_policy(category, kind, amount)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy<'a> {
    pub category: &'a [u8],
    pub keep: Keep,
}

impl<'a> Policy<'a> {
    pub fn new(
        category: Option<&'a [u8]>,
        kind: Option<&str>,
        amount: Option<i64>,
    ) -> Result<Policy<'a>, Error> {
        let operation = Operation::SetRetentionPolicy;
        let category = name_argument(operation, "category", category)?;
        policy_category(category)?;
        let kind = required(operation, "kind", kind)?;
        let amount = required(operation, "amount", amount)?;
        Ok(Policy {
            category,
            keep: Keep::parse(kind, amount)?,
        })
    }
}

/// A row of the retention policies table as `apply_retention_policies`
/// reads it, held to `set_retention_policy`'s rules (the table's checks
/// hold kinds and amounts, not the category), so that a row stored some
/// other way is refused by name rather than applied.
pub fn stored_policy<'a>(
    category: Option<&'a [u8]>,
    kind: Option<&str>,
    amount: Option<i64>,
) -> Result<Policy<'a>, Error> {
    Policy::new(category, kind, amount).map_err(|error| Error::StoredPolicyRefused {
        category: category.map_or_else(
            || "<NULL>".to_string(),
            |category| String::from_utf8_lossy(category).into_owned(),
        ),
        reason: error.to_string(),
        sqlstate: error.sqlstate(),
    })
}

fn policy_category(category: &[u8]) -> Result<(), Error> {
    if !is_category(Some(category)) {
        return Err(Error::MustBeCategory {
            category: Some(String::from_utf8_lossy(category).into_owned()),
        });
    }
    Ok(())
}

/// `clear_retention_policy(category)`.
pub fn cleared_policy(category: Option<&[u8]>) -> Result<&[u8], Error> {
    let category = name_argument(Operation::ClearRetentionPolicy, "category", category)?;
    policy_category(category)?;
    Ok(category)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(result: Result<impl std::fmt::Debug, Error>) -> (String, &'static str) {
        let error = result.unwrap_err();
        (error.to_string(), error.sqlstate())
    }

    #[test]
    fn a_name_without_the_separator_is_a_category() {
        assert_eq!(Scope::of(b"account"), Scope::Category(b"account"));
        assert_eq!(Scope::of(b"account-1"), Scope::Stream(b"account-1"));
        assert_eq!(
            Scope::of(b"account:command-1+2"),
            Scope::Stream(b"account:command-1+2")
        );
        assert_eq!(
            Scope::of(b"account:command"),
            Scope::Category(b"account:command")
        );
    }

    #[test]
    fn removal_arguments_in_order() {
        assert_eq!(
            text(Removal::new(None, false, None, Some(-1))),
            (
                "remove_messages: stream_or_category must not be NULL".to_string(),
                "22004"
            )
        );
        assert_eq!(
            text(Removal::new(Some(b"a\0b"), true, None, None)),
            (
                "invalid byte sequence for encoding \"UTF8\": 0x00".to_string(),
                "22021"
            )
        );
        assert_eq!(
            text(Removal::new(Some(b"account"), false, None, Some(0))),
            (
                "remove_messages: limit must be at least 1 (limit: 0)".to_string(),
                "2201W"
            )
        );
        assert_eq!(
            text(Removal::new(Some(b"account"), false, None, None)),
            (
                "remove_messages: before_time and before_global_position are both NULL; \
                 give at least one bound (with neither, every message but each stream's last \
                 would go)"
                    .to_string(),
                "22023"
            )
        );
        let removal = Removal::new(Some(b"account-1"), false, Some(10), None).unwrap();
        assert_eq!(
            removal,
            Removal {
                scope: Scope::Stream(b"account-1"),
                before_time: false,
                before_global_position: Some(10),
                limit: DEFAULT_LIMIT,
                keep_last: 1,
            }
        );
        let removal = Removal::new(Some(b"account"), true, None, Some(5)).unwrap();
        assert_eq!(removal.scope, Scope::Category(b"account"));
        assert_eq!(removal.limit, 5);
    }

    #[test]
    fn policies() {
        assert_eq!(
            Policy::new(Some(b"commands"), Some("keep_last"), Some(3)).unwrap(),
            Policy {
                category: b"commands",
                keep: Keep::Last(3)
            }
        );
        assert_eq!(
            text(Policy::new(Some(b"commands-1"), Some("keep_last"), Some(3))),
            ("Must be a category: commands-1".to_string(), "P0001")
        );
        assert_eq!(
            text(Policy::new(None, Some("keep_last"), Some(3))),
            (
                "set_retention_policy: category must not be NULL".to_string(),
                "22004"
            )
        );
        assert_eq!(
            text(Policy::new(Some(b"commands"), None, Some(3))),
            (
                "set_retention_policy: kind must not be NULL".to_string(),
                "22004"
            )
        );
        assert_eq!(
            text(Policy::new(Some(b"commands"), Some("keep_last"), None)),
            (
                "set_retention_policy: amount must not be NULL".to_string(),
                "22004"
            )
        );
        assert_eq!(
            text(Policy::new(Some(b"commands"), Some("keep_days"), Some(3))),
            (
                "unknown retention policy kind: \"keep_days\" (the kinds are keep_seconds and keep_last)"
                    .to_string(),
                "22023"
            )
        );
        assert_eq!(
            text(Policy::new(
                Some(b"commands"),
                Some("keep_seconds"),
                Some(0)
            )),
            (
                "retention policy keep_seconds needs an amount of at least 1 (amount: 0)"
                    .to_string(),
                "22023"
            )
        );
        assert_eq!(
            text(cleared_policy(Some(b"a-1"))),
            ("Must be a category: a-1".to_string(), "P0001")
        );
        assert_eq!(
            text(redaction(None)),
            (
                "redact_stream: stream_name must not be NULL".to_string(),
                "22004"
            )
        );
        assert_eq!(redaction(Some(b"account")).unwrap(), b"account");
    }

    #[test]
    fn a_policy_removal_keeps_each_stream_s_last() {
        let last = Keep::Last(3).removal(b"c", 10);
        assert_eq!((last.keep_last, last.before_time), (3, false));
        let seconds = Keep::Seconds(60).removal(b"c", 10);
        assert_eq!((seconds.keep_last, seconds.before_time), (1, true));
        assert_eq!(
            Keep::Seconds(60).cutoff_micros(100_000_000),
            Some(40_000_000)
        );
        assert_eq!(Keep::Seconds(i64::MAX).cutoff_micros(0), Some(-i64::MAX));
        assert_eq!(Keep::Last(2).cutoff_micros(5), None);
    }

    #[test]
    fn read_only_refusals() {
        assert_eq!(
            (
                Error::ReadOnly {
                    function: "write_message",
                    standby: true
                }
                .to_string(),
                Error::ReadOnly {
                    function: "write_message",
                    standby: true
                }
                .sqlstate()
            ),
            (
                "cannot execute write_message during recovery: this server is a standby, \
                 which is read-only; write on the primary"
                    .to_string(),
                "25006"
            )
        );
        assert_eq!(
            Error::ReadOnly {
                function: "remove_messages",
                standby: false
            }
            .to_string(),
            "cannot execute remove_messages in a read-only transaction"
        );
    }

    #[test]
    fn a_stored_policy_is_held_to_the_rules_by_name() {
        assert_eq!(
            text(stored_policy(Some(b"bad-1"), Some("keep_last"), Some(1))),
            (
                "apply_retention_policies: the stored policy of category \"bad-1\" is refused: Must be a category: bad-1".to_string(),
                "P0001"
            )
        );
        assert_eq!(
            text(stored_policy(None, Some("keep_last"), Some(1))),
            (
                "apply_retention_policies: the stored policy of category \"<NULL>\" is refused: set_retention_policy: category must not be NULL".to_string(),
                "22004"
            )
        );
        assert_eq!(
            stored_policy(Some(b"log"), Some("keep_seconds"), Some(60)).map(|p| p.keep),
            Ok(Keep::Seconds(60))
        );
    }
}
