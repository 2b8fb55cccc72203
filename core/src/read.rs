//! Argument rules of the readers, checked in Message DB's order.
//!
//! Each reader has two steps: `new` makes the checks Message DB makes before
//! it builds its query (these raise before any debug notice), and
//! [`StreamRead::limit`] / [`CategoryRead::check_execution`] make the checks
//! Postgres itself makes when that query runs.

use crate::condition::{self, Dialect};
use crate::error::Error;
use crate::stream_name::{is_category, ID_SEPARATOR};

/// Text of a name inside an error message.
fn lossy(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

pub const DEFAULT_BATCH_SIZE: i64 = 1000;
pub const DEFAULT_STREAM_POSITION: i64 = 0;
pub const DEFAULT_CATEGORY_POSITION: i64 = 1;
/// A batch size of -1 reads without a limit.
pub const UNLIMITED_BATCH_SIZE: i64 = -1;

/// Whether `message_store.sql_condition` lets a reader take a SQL condition:
/// refused while the setting is unset or `off`, allowed for any other value
/// (an empty string included).
pub fn sql_condition_enabled(setting: Option<&str>) -> bool {
    !matches!(setting, None | Some("off"))
}

fn limit_of(batch_size: i64) -> Result<Option<i64>, Error> {
    match batch_size {
        UNLIMITED_BATCH_SIZE => Ok(None),
        n if n < 0 => Err(Error::LimitMustNotBeNegative),
        n => Ok(Some(n)),
    }
}

/// What a reader asks of its engine about a caller's SQL condition, only
/// when one is given: whether `message_store.sql_condition` lets readers
/// take one, and the lexical rules the engine will parse it with.
pub trait ConditionGate {
    fn enabled(&self) -> bool;
    fn dialect(&self) -> Dialect;
}

/// A condition is refused while the setting is off, then refused unless it
/// is one expression (the condition rule): in this order on both engines,
/// after the other arguments' checks and before anything runs.
fn check_condition(condition: Option<&str>, gate: &impl ConditionGate) -> Result<(), Error> {
    if let Some(condition) = condition {
        if !gate.enabled() {
            return Err(Error::SqlConditionNotActivated);
        }
        condition::checked(condition, gate.dialect())?;
    }
    Ok(())
}

/// Validated arguments of `get_stream_messages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRead<'a> {
    pub stream_name: &'a [u8],
    pub position: i64,
    pub batch_size: i64,
    pub condition: Option<&'a str>,
}

impl<'a> StreamRead<'a> {
    /// `gate` is asked only when a condition is given.
    pub fn new(
        stream_name: Option<&'a [u8]>,
        position: Option<i64>,
        batch_size: Option<i64>,
        condition: Option<&'a str>,
        gate: &impl ConditionGate,
    ) -> Result<Self, Error> {
        let stream_name = match stream_name {
            Some(name) if !is_category(Some(name)) => name,
            other => {
                return Err(Error::MustBeStreamName {
                    stream_name: other.map(lossy),
                })
            }
        };
        check_condition(condition, gate)?;
        Ok(StreamRead {
            stream_name,
            position: position.unwrap_or(DEFAULT_STREAM_POSITION),
            batch_size: batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
            condition,
        })
    }

    /// The row limit, `None` for unlimited; fails as a negative SQL `LIMIT` does.
    pub fn limit(&self) -> Result<Option<i64>, Error> {
        limit_of(self.batch_size)
    }
}

/// A consumer group member and the group's size, both checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerGroup {
    pub member: i64,
    pub size: i64,
}

impl ConsumerGroup {
    pub fn new(member: Option<i64>, size: Option<i64>) -> Result<Option<Self>, Error> {
        let (member, size) = match (member, size) {
            (None, None) => return Ok(None),
            (Some(member), Some(size)) => (member, size),
            (member, size) => return Err(Error::ConsumerGroupIncomplete { member, size }),
        };
        if size < 1 {
            return Err(Error::ConsumerGroupSizeTooSmall { member, size });
        }
        if member < 0 {
            return Err(Error::ConsumerGroupMemberNegative { member, size });
        }
        if member >= size {
            return Err(Error::ConsumerGroupMemberTooLarge { member, size });
        }
        Ok(Some(ConsumerGroup { member, size }))
    }
}

/// Validated arguments of `get_category_messages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryRead<'a> {
    /// NULL reads nothing (no stream has a NULL category), as in Message DB.
    pub category: Option<&'a [u8]>,
    pub position: i64,
    pub batch_size: i64,
    pub correlation: Option<&'a [u8]>,
    pub consumer_group: Option<ConsumerGroup>,
    pub condition: Option<&'a str>,
}

impl<'a> CategoryRead<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        category: Option<&'a [u8]>,
        position: Option<i64>,
        batch_size: Option<i64>,
        correlation: Option<&'a [u8]>,
        consumer_group_member: Option<i64>,
        consumer_group_size: Option<i64>,
        condition: Option<&'a str>,
        gate: &impl ConditionGate,
    ) -> Result<Self, Error> {
        if !is_category(category) {
            return Err(Error::MustBeCategory {
                category: category.map(lossy),
            });
        }
        if let Some(correlation) = correlation {
            if correlation.contains(&ID_SEPARATOR) {
                return Err(Error::CorrelationMustBeCategory {
                    correlation: lossy(correlation),
                });
            }
        }
        let consumer_group = ConsumerGroup::new(consumer_group_member, consumer_group_size)?;
        check_condition(condition, gate)?;
        Ok(CategoryRead {
            category,
            position: position.unwrap_or(DEFAULT_CATEGORY_POSITION),
            batch_size: batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
            correlation,
            consumer_group,
            condition,
        })
    }

    /// The checks Postgres makes when Message DB's query runs: the group size
    /// is bound as a smallint, then the limit is read. Returns the limit.
    pub fn check_execution(&self) -> Result<Option<i64>, Error> {
        if let Some(group) = self.consumer_group {
            if i16::try_from(group.size).is_err() {
                return Err(Error::SmallintOutOfRange);
            }
        }
        limit_of(self.batch_size)
    }
}

/// Validated arguments of `get_all_messages`: `get_category_messages`'
/// rules for the position, the batch size and the condition, on every
/// category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllRead<'a> {
    pub position: i64,
    pub batch_size: i64,
    pub condition: Option<&'a str>,
}

impl<'a> AllRead<'a> {
    /// `gate` is asked only when a condition is given.
    pub fn new(
        position: Option<i64>,
        batch_size: Option<i64>,
        condition: Option<&'a str>,
        gate: &impl ConditionGate,
    ) -> Result<Self, Error> {
        check_condition(condition, gate)?;
        Ok(AllRead {
            position: position.unwrap_or(DEFAULT_CATEGORY_POSITION),
            batch_size: batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
            condition,
        })
    }

    /// The row limit, `None` for unlimited; fails as a negative SQL `LIMIT`
    /// does, when the query runs.
    pub fn limit(&self) -> Result<Option<i64>, Error> {
        limit_of(self.batch_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Option<&[u8]> {
        Some(text.as_bytes())
    }
    struct Gate(bool);
    impl ConditionGate for Gate {
        fn enabled(&self) -> bool {
            self.0
        }
        fn dialect(&self) -> Dialect {
            Dialect::Sqlite
        }
    }
    /// Asked nothing: a read without a condition never consults its gate.
    struct Unasked;
    impl ConditionGate for Unasked {
        fn enabled(&self) -> bool {
            panic!("the gate was asked without a condition")
        }
        fn dialect(&self) -> Dialect {
            panic!("the gate was asked without a condition")
        }
    }
    const ON: &Gate = &Gate(true);
    const OFF: &Gate = &Gate(false);

    #[test]
    fn setting_gate() {
        assert!(!sql_condition_enabled(None));
        assert!(!sql_condition_enabled(Some("off")));
        assert!(sql_condition_enabled(Some("on")));
        assert!(sql_condition_enabled(Some("")));
        assert!(sql_condition_enabled(Some("OFF")));
    }

    #[test]
    fn stream_read_defaults_and_errors() {
        let read = StreamRead::new(name("s-1"), None, None, None, &Unasked).unwrap();
        assert_eq!((read.position, read.batch_size), (0, 1000));
        assert_eq!(read.limit(), Ok(Some(1000)));
        assert_eq!(
            StreamRead::new(name("s"), None, None, None, OFF),
            Err(Error::MustBeStreamName {
                stream_name: Some("s".into())
            })
        );
        assert_eq!(
            StreamRead::new(None, None, None, None, OFF),
            Err(Error::MustBeStreamName { stream_name: None })
        );
        assert_eq!(
            StreamRead::new(name("s-1"), None, None, Some("true"), OFF),
            Err(Error::SqlConditionNotActivated)
        );
        assert!(StreamRead::new(name("s-1"), None, None, Some("true"), ON).is_ok());
        let read = StreamRead::new(name("s-1"), Some(3), Some(-1), None, OFF).unwrap();
        assert_eq!(read.limit(), Ok(None));
        let read = StreamRead::new(name("s-1"), None, Some(-2), None, OFF).unwrap();
        assert_eq!(read.limit(), Err(Error::LimitMustNotBeNegative));
        let read = StreamRead::new(name("s-1"), None, Some(0), None, OFF).unwrap();
        assert_eq!(read.limit(), Ok(Some(0)));
    }

    #[test]
    fn category_read_checks_in_order() {
        // The category check comes before the correlation and group checks.
        assert_eq!(
            CategoryRead::new(
                name("a-1"),
                None,
                None,
                name("x-1"),
                Some(1),
                None,
                None,
                OFF
            ),
            Err(Error::MustBeCategory {
                category: Some("a-1".into())
            })
        );
        assert_eq!(
            CategoryRead::new(name("a"), None, None, name("x-1"), Some(1), None, None, OFF),
            Err(Error::CorrelationMustBeCategory {
                correlation: "x-1".into()
            })
        );
        assert_eq!(
            CategoryRead::new(name("a"), None, None, None, Some(1), None, Some("x"), OFF),
            Err(Error::ConsumerGroupIncomplete {
                member: Some(1),
                size: None
            })
        );
        assert_eq!(
            CategoryRead::new(name("a"), None, None, None, None, Some(2), None, OFF),
            Err(Error::ConsumerGroupIncomplete {
                member: None,
                size: Some(2)
            })
        );
        assert_eq!(
            CategoryRead::new(name("a"), None, None, None, Some(-1), Some(0), None, OFF),
            Err(Error::ConsumerGroupSizeTooSmall {
                member: -1,
                size: 0
            })
        );
        assert_eq!(
            CategoryRead::new(name("a"), None, None, None, Some(-1), Some(2), None, OFF),
            Err(Error::ConsumerGroupMemberNegative {
                member: -1,
                size: 2
            })
        );
        assert_eq!(
            CategoryRead::new(name("a"), None, None, None, Some(2), Some(2), None, OFF),
            Err(Error::ConsumerGroupMemberTooLarge { member: 2, size: 2 })
        );
        assert_eq!(
            CategoryRead::new(
                name("a"),
                None,
                None,
                None,
                Some(0),
                Some(2),
                Some("x"),
                OFF
            ),
            Err(Error::SqlConditionNotActivated)
        );
        let read = CategoryRead::new(None, None, None, None, None, None, None, &Unasked).unwrap();
        assert_eq!(
            (read.category, read.position, read.batch_size),
            (None, 1, 1000)
        );
    }

    #[test]
    fn condition_checks_gate_first_then_text() {
        use crate::condition::Fault;
        assert_eq!(
            StreamRead::new(name("s-1"), None, None, Some("1; x"), OFF),
            Err(Error::SqlConditionNotActivated)
        );
        assert_eq!(
            StreamRead::new(name("s-1"), None, None, Some("1; x"), ON),
            Err(Error::InvalidCondition {
                fault: Fault::Semicolon
            })
        );
        // The stream name is checked before the condition.
        assert_eq!(
            StreamRead::new(name("s"), None, None, Some("1; x"), ON),
            Err(Error::MustBeStreamName {
                stream_name: Some("s".into())
            })
        );
        // The group is checked before the condition; the text after the gate.
        assert_eq!(
            CategoryRead::new(name("a"), None, None, None, Some(3), Some(2), Some(")"), ON),
            Err(Error::ConsumerGroupMemberTooLarge { member: 3, size: 2 })
        );
        assert_eq!(
            CategoryRead::new(name("a"), None, None, None, None, None, Some(")"), ON),
            Err(Error::InvalidCondition {
                fault: Fault::UnopenedParenthesis
            })
        );
        let read = CategoryRead::new(
            name("a"),
            None,
            None,
            None,
            None,
            None,
            Some("type = 'x'"),
            ON,
        )
        .unwrap();
        assert_eq!(read.condition, Some("type = 'x'"));
    }

    #[test]
    fn category_read_execution_checks() {
        let read = CategoryRead::new(
            name("a"),
            None,
            Some(-5),
            None,
            Some(0),
            Some(40000),
            None,
            OFF,
        )
        .unwrap();
        assert_eq!(read.check_execution(), Err(Error::SmallintOutOfRange));
        let read = CategoryRead::new(
            name("a"),
            None,
            Some(-5),
            None,
            Some(0),
            Some(32767),
            None,
            OFF,
        )
        .unwrap();
        assert_eq!(read.check_execution(), Err(Error::LimitMustNotBeNegative));
        let read =
            CategoryRead::new(name("a"), None, Some(-1), None, None, None, None, OFF).unwrap();
        assert_eq!(read.check_execution(), Ok(None));
    }

    #[test]
    fn all_read_defaults_and_errors() {
        let read = AllRead::new(None, None, None, OFF).unwrap();
        assert_eq!(
            read,
            AllRead {
                position: 1,
                batch_size: 1000,
                condition: None
            }
        );
        assert_eq!(read.limit(), Ok(Some(1000)));
        let read = AllRead::new(Some(7), Some(-1), None, OFF).unwrap();
        assert_eq!((read.position, read.limit()), (7, Ok(None)));
        let read = AllRead::new(Some(0), Some(-2), None, OFF).unwrap();
        assert_eq!(read.limit(), Err(Error::LimitMustNotBeNegative));
        assert_eq!(
            AllRead::new(None, Some(-2), Some("type = 'A'"), OFF),
            Err(Error::SqlConditionNotActivated)
        );
        let read = AllRead::new(None, None, Some("type = 'A'"), &Gate(true)).unwrap();
        assert_eq!(read.condition, Some("type = 'A'"));
        assert!(matches!(
            AllRead::new(None, None, Some("true; DROP TABLE messages"), &Gate(true)),
            Err(Error::InvalidCondition { .. })
        ));
    }
}
