//! The readers' argument rules (`read::StreamRead::new`,
//! `read::CategoryRead::new`, then `limit` / `check_execution`) on any
//! arguments, built from the input with `arbitrary`: they never panic; each
//! answer is the one Message DB's checks give, in its order, written out
//! again here; every refusal has the catalogue's text and SQLSTATE; the
//! engine's gate is asked only about a condition that is given; and an
//! accepted read keeps its invariants (defaults filled in, a consumer group
//! member in 0..size).

#![no_main]

use std::cell::Cell;

use libfuzzer_sys::arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use message_store_core::condition::{self, Dialect};
use message_store_core::read::{CategoryRead, ConditionGate, ConsumerGroup, StreamRead};
use message_store_core::Error;

/// The engine's side of a condition, recording what it was asked.
struct Gate {
    enabled: bool,
    dialect: Dialect,
    asked_enabled: Cell<bool>,
    asked_dialect: Cell<bool>,
}

impl ConditionGate for Gate {
    fn enabled(&self) -> bool {
        self.asked_enabled.set(true);
        self.enabled
    }
    fn dialect(&self) -> Dialect {
        assert!(
            self.enabled,
            "the dialect was asked while conditions are off"
        );
        self.asked_dialect.set(true);
        self.dialect
    }
}

/// The constructors' last argument, made from the gate: the one line to
/// change when that parameter changes.
fn gate(gate: &Gate) -> &Gate {
    gate
}

/// Integers near the edges the rules care about, or any.
fn int(u: &mut Unstructured) -> Result<Option<i64>> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => None,
        1 => Some(u.int_in_range(-3..=5)?),
        2 => Some(*u.choose(&[
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            i16::MIN as i64,
            i16::MAX as i64,
            i16::MAX as i64 + 1,
            -1000,
            1000,
        ])?),
        _ => Some(u.arbitrary()?),
    })
}

fn lossy(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// The catalogue's text and SQLSTATE of each reader error, written out.
fn check_catalogue(error: &Error) {
    let nullable = |v: &Option<String>| v.clone().unwrap_or_else(|| "<NULL>".into());
    let int = |v: &Option<i64>| v.map_or("<NULL>".into(), |v| v.to_string());
    let group =
        |m: String, s: String| format!("(Consumer Group Member: {m}, Consumer Group Size: {s})");
    let (text, sqlstate) = match error {
        Error::MustBeStreamName { stream_name } => (
            format!("Must be a stream name: {}", nullable(stream_name)),
            "P0001",
        ),
        Error::MustBeCategory { category } => (
            format!("Must be a category: {}", nullable(category)),
            "P0001",
        ),
        Error::CorrelationMustBeCategory { correlation } => (
            format!("Correlation must be a category (Correlation: {correlation})"),
            "P0001",
        ),
        Error::ConsumerGroupIncomplete { member, size } => (
            format!(
                "Consumer group member and size must be specified {}",
                group(int(member), int(size))
            ),
            "P0001",
        ),
        Error::ConsumerGroupSizeTooSmall { member, size } => (
            format!(
                "Consumer group size must not be less than 1 {}",
                group(member.to_string(), size.to_string())
            ),
            "P0001",
        ),
        Error::ConsumerGroupMemberNegative { member, size } => (
            format!(
                "Consumer group member must not be less than 0 {}",
                group(member.to_string(), size.to_string())
            ),
            "P0001",
        ),
        Error::ConsumerGroupMemberTooLarge { member, size } => (
            format!(
                "Consumer group member must be less than the group size {}",
                group(member.to_string(), size.to_string())
            ),
            "P0001",
        ),
        Error::SqlConditionNotActivated => (
            "Retrieval with SQL condition is not activated".into(),
            "P0001",
        ),
        Error::InvalidCondition { fault } => (
            format!("SQL condition must be one boolean expression: {fault}"),
            "42601",
        ),
        Error::SmallintOutOfRange => ("smallint out of range".into(), "22003"),
        Error::LimitMustNotBeNegative => ("LIMIT must not be negative".into(), "2201W"),
        other => panic!("not a reader error: {other:?}"),
    };
    assert_eq!(error.to_string(), text);
    assert_eq!(error.sqlstate(), sqlstate);
}

/// Message DB's condition check, after every other argument's: refused
/// while the setting is off, then by the condition rule. Also what the gate
/// must have been asked.
fn expected_condition(condition: Option<&str>, g: &Gate) -> (std::result::Result<(), Error>, bool) {
    let Some(condition) = condition else {
        return (Ok(()), false);
    };
    if !g.enabled {
        return (Err(Error::SqlConditionNotActivated), true);
    }
    let checked =
        condition::check(condition, g.dialect).map_err(|fault| Error::InvalidCondition { fault });
    (checked, true)
}

fn expected_limit(batch_size: i64) -> std::result::Result<Option<i64>, Error> {
    match batch_size {
        -1 => Ok(None),
        n if n < 0 => Err(Error::LimitMustNotBeNegative),
        n => Ok(Some(n)),
    }
}

fn check_gate(g: &Gate, should_ask: bool) {
    assert_eq!(g.asked_enabled.get(), should_ask, "gate asked");
    assert_eq!(
        g.asked_dialect.get(),
        should_ask && g.enabled,
        "dialect asked"
    );
}

/// A reader's arguments and its engine's answers (`cargo fuzz fmt
/// reader_args <file>` shows them).
#[derive(Debug)]
struct Args<'a> {
    enabled: bool,
    dialect: Dialect,
    name: Option<&'a [u8]>,
    correlation: Option<&'a [u8]>,
    position: Option<i64>,
    batch_size: Option<i64>,
    member: Option<i64>,
    size: Option<i64>,
    condition: Option<&'a str>,
}

impl<'a> Arbitrary<'a> for Args<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Args {
            enabled: u.arbitrary()?,
            dialect: *u.choose(&[
                Dialect::Sqlite,
                Dialect::Postgres {
                    standard_conforming_strings: true,
                },
                Dialect::Postgres {
                    standard_conforming_strings: false,
                },
            ])?,
            name: u.arbitrary()?,
            correlation: u.arbitrary()?,
            position: int(u)?,
            batch_size: int(u)?,
            member: int(u)?,
            size: int(u)?,
            condition: u.arbitrary()?,
        })
    }
}

fn run(args: Args) {
    let Args {
        enabled,
        dialect,
        name,
        correlation,
        position,
        batch_size,
        member,
        size,
        condition,
    } = args;
    let g = Gate {
        enabled,
        dialect,
        asked_enabled: Cell::new(false),
        asked_dialect: Cell::new(false),
    };

    // get_stream_messages
    let read = StreamRead::new(name, position, batch_size, condition, gate(&g));
    let has_id = name.is_some_and(|n| n.contains(&b'-'));
    let (expected, asked) = if has_id {
        expected_condition(condition, &g)
    } else {
        (
            Err(Error::MustBeStreamName {
                stream_name: name.map(lossy),
            }),
            false,
        )
    };
    check_gate(&g, asked);
    match (&read, expected) {
        (Ok(read), Ok(())) => {
            assert_eq!(Some(read.stream_name), name);
            assert_eq!(read.position, position.unwrap_or(0));
            assert_eq!(read.batch_size, batch_size.unwrap_or(1000));
            assert_eq!(read.condition, condition);
            let limit = read.limit();
            assert_eq!(limit, expected_limit(read.batch_size));
            if let Err(error) = &limit {
                check_catalogue(error);
            }
        }
        (Err(error), Err(expected)) => {
            assert_eq!(error, &expected);
            check_catalogue(error);
        }
        (read, expected) => panic!("stream read {read:?}, expected {expected:?}"),
    }

    // get_category_messages: the same name as a category.
    g.asked_enabled.set(false);
    g.asked_dialect.set(false);
    let read = CategoryRead::new(
        name,
        position,
        batch_size,
        correlation,
        member,
        size,
        condition,
        gate(&g),
    );
    let group = match (member, size) {
        (None, None) => Ok(None),
        (Some(member), Some(size)) if size < 1 => {
            Err(Error::ConsumerGroupSizeTooSmall { member, size })
        }
        (Some(member), Some(size)) if member < 0 => {
            Err(Error::ConsumerGroupMemberNegative { member, size })
        }
        (Some(member), Some(size)) if member >= size => {
            Err(Error::ConsumerGroupMemberTooLarge { member, size })
        }
        (Some(member), Some(size)) => Ok(Some(ConsumerGroup { member, size })),
        (member, size) => Err(Error::ConsumerGroupIncomplete { member, size }),
    };
    let (expected, asked) = if name.is_some_and(|n| n.contains(&b'-')) {
        (
            Err(Error::MustBeCategory {
                category: name.map(lossy),
            }),
            false,
        )
    } else if let Some(correlation) = correlation.filter(|c| c.contains(&b'-')) {
        (
            Err(Error::CorrelationMustBeCategory {
                correlation: lossy(correlation),
            }),
            false,
        )
    } else if let Err(error) = &group {
        (Err(error.clone()), false)
    } else {
        expected_condition(condition, &g)
    };
    check_gate(&g, asked);
    match (&read, expected) {
        (Ok(read), Ok(())) => {
            assert_eq!(read.category, name);
            assert_eq!(read.position, position.unwrap_or(1));
            assert_eq!(read.batch_size, batch_size.unwrap_or(1000));
            assert_eq!(read.correlation, correlation);
            assert_eq!(read.condition, condition);
            assert_eq!(Ok(read.consumer_group), group);
            if let Some(group) = read.consumer_group {
                assert!((0..group.size).contains(&group.member), "{group:?}");
            }
            // Postgres binds the group size as a smallint, then reads the limit.
            let executed = read.check_execution();
            let expected = match read.consumer_group {
                Some(group) if group.size > i64::from(i16::MAX) => Err(Error::SmallintOutOfRange),
                _ => expected_limit(read.batch_size),
            };
            assert_eq!(executed, expected);
            if let Err(error) = &executed {
                check_catalogue(error);
            }
        }
        (Err(error), Err(expected)) => {
            assert_eq!(error, &expected);
            check_catalogue(error);
        }
        (read, expected) => panic!("category read {read:?}, expected {expected:?}"),
    }
}

fuzz_target!(|args: Args| run(args));
