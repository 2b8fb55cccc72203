//! The error catalogue: every error the message store raises itself, with
//! the exact text and SQLSTATE that Message DB 1.3 clients match on.

use std::fmt;

/// SQLSTATE `P0001` (raise_exception): what PL/pgSQL's `RAISE EXCEPTION` gives.
pub const RAISE_EXCEPTION: &str = "P0001";
/// SQLSTATE `22003` (numeric_value_out_of_range).
pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
/// SQLSTATE `2201W` (invalid_row_count_in_limit_clause).
pub const INVALID_ROW_COUNT_IN_LIMIT_CLAUSE: &str = "2201W";
/// SQLSTATE `22P02` (invalid_text_representation).
pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
/// SQLSTATE `22P05` (untranslatable_character).
pub const UNTRANSLATABLE_CHARACTER: &str = "22P05";
/// SQLSTATE `54001` (statement_too_complex).
pub const STATEMENT_TOO_COMPLEX: &str = "54001";
/// SQLSTATE `22021` (character_not_in_repertoire).
pub const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";
/// SQLSTATE `42601` (syntax_error).
pub const SYNTAX_ERROR: &str = "42601";
/// SQLSTATE `42804` (datatype_mismatch).
pub const DATATYPE_MISMATCH: &str = "42804";
/// SQLSTATE `23502` (not_null_violation).
pub const NOT_NULL_VIOLATION: &str = "23502";
/// SQLSTATE `23505` (unique_violation).
pub const UNIQUE_VIOLATION: &str = "23505";
/// SQLSTATE `54000` (program_limit_exceeded).
pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
/// SQLSTATE `22023` (invalid_parameter_value).
pub const INVALID_PARAMETER_VALUE: &str = "22023";
/// SQLSTATE `22008` (datetime_field_overflow).
pub const DATETIME_FIELD_OVERFLOW: &str = "22008";
/// SQLSTATE `22007` (invalid_datetime_format).
pub const INVALID_DATETIME_FORMAT: &str = "22007";
/// SQLSTATE `22004` (null_value_not_allowed).
pub const NULL_VALUE_NOT_ALLOWED: &str = "22004";
/// SQLSTATE `25006` (read_only_sql_transaction).
pub const READ_ONLY_SQL_TRANSACTION: &str = "25006";

/// How a possibly-NULL argument is printed inside an error text, as
/// PL/pgSQL's `RAISE` prints it.
pub fn display_nullable<T: fmt::Display>(value: Option<T>) -> String {
    match value {
        Some(v) => v.to_string(),
        None => "<NULL>".to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    WrongExpectedVersion {
        expected_version: i64,
        stream_name: String,
        stream_version: i64,
    },
    MustBeStreamName {
        stream_name: Option<String>,
    },
    MustBeCategory {
        category: Option<String>,
    },
    CorrelationMustBeCategory {
        correlation: String,
    },
    ConsumerGroupIncomplete {
        member: Option<i64>,
        size: Option<i64>,
    },
    ConsumerGroupSizeTooSmall {
        member: i64,
        size: i64,
    },
    ConsumerGroupMemberNegative {
        member: i64,
        size: i64,
    },
    ConsumerGroupMemberTooLarge {
        member: i64,
        size: i64,
    },
    SqlConditionNotActivated,
    /// A SQL condition that is not one expression inside the reader's query.
    InvalidCondition {
        fault: crate::condition::Fault,
    },
    /// A reader's query whose rows are not `message_store.message` rows
    /// (Postgres' text for a PL/pgSQL `RETURN QUERY` of another shape).
    QueryStructureMismatch,
    /// The consumer group size is passed to the query as a smallint.
    SmallintOutOfRange,
    /// `abs()` of the smallest bigint.
    BigintOutOfRange,
    LimitMustNotBeNegative,
    InvalidUuid {
        input: String,
    },
    /// JSON text Postgres' json input refuses; `detail` is Postgres' DETAIL line.
    InvalidJson {
        detail: String,
    },
    /// `\u0000` in a JSON string: jsonb cannot hold it.
    UnsupportedUnicodeEscape,
    /// A JSON number out of the range of Postgres' `numeric`.
    NumericOverflow,
    /// JSON nested deeper than the SQLite extension reads (SQLite's own limit).
    JsonTooDeep {
        limit: usize,
    },
    /// A NUL character in text. Postgres refuses it while checking the
    /// encoding, before any type sees the text.
    NulInText,
    /// A required column of `messages` was given NULL. Postgres raises this
    /// itself; the SQLite extension words its own constraint error the same way.
    NotNullViolation {
        column: String,
    },
    /// A duplicate id (`messages_id`) or stream position (`messages_stream`).
    UniqueViolation {
        constraint: &'static str,
    },
    /// Text that is not UTF-8: Postgres refuses it while checking the
    /// encoding, and shows the bytes of the first character it cannot read.
    InvalidByteSequence {
        bytes: Vec<u8>,
    },
    /// A value longer than the SQLite connection's length limit
    /// (`SQLITE_LIMIT_LENGTH`), in SQLite's own words. Postgres stores such
    /// jsonb (its numbers are binary) and has no text for it.
    StringOrBlobTooBig {
        limit: u64,
    },
    /// A `write_messages` or `write_batch` argument that is not a batch as
    /// `batch` documents it, or is past its limits; `place` names the
    /// entry or message at fault.
    InvalidBatch {
        place: crate::batch::Place,
        fault: crate::batch::Fault,
    },
    /// An idempotent write whose ids are stored, but not all of them, or
    /// not as this batch would write them.
    IdempotentConflict {
        place: crate::batch::Place,
        id: String,
        difference: crate::batch::Difference,
    },
    /// An `import_messages` text refused: `line` (from 1) names the line at
    /// fault, `None` the text as a whole (its limits).
    InvalidImport {
        line: Option<usize>,
        fault: crate::transfer::Fault,
    },
    /// A stored time outside years 0001 to 9999, which an export line
    /// cannot hold; `time` is Postgres' text of it.
    ExportTimeOutOfRange {
        global_position: i64,
        time: String,
    },
    /// A listing's (`get_streams`, `get_categories`) limit below 1.
    ListingLimitTooSmall {
        function: &'static str,
        limit: i64,
    },
    /// A listing's prefix or cursor holding a NUL character, which no
    /// name holds (SQLite passes such text; Postgres refuses it earlier).
    ListingNul {
        function: &'static str,
        argument: &'static str,
    },
    /// `message_store.notify` set to text that is not a Postgres boolean.
    InvalidNotifySetting {
        value: String,
    },
    /// A retention or erasure function's required argument given NULL.
    RetentionArgumentNull {
        function: &'static str,
        argument: &'static str,
    },
    /// A removal's limit below 1.
    RetentionLimitTooSmall {
        function: &'static str,
        limit: i64,
    },
    /// `remove_messages` with neither a time nor a global position bound.
    RemovalUnbounded,
    /// A time argument given as text (SQLite) that is not a time in UTC
    /// of a form [`crate::time::parse_time_bound`] reads.
    InvalidTimeBound {
        function: &'static str,
        argument: &'static str,
        value: String,
    },
    /// A retention policy kind that is not one of `retention::Keep::KINDS`.
    UnknownRetentionKind {
        kind: String,
    },
    /// A retention policy amount below 1.
    RetentionAmountTooSmall {
        kind: &'static str,
        amount: i64,
    },
    /// A row of the retention policies table, stored past
    /// `set_retention_policy`, that breaks its rules: refused by
    /// `apply_retention_policies` with the rule's text and SQLSTATE.
    StoredPolicyRefused {
        category: String,
        reason: String,
        sqlstate: &'static str,
    },
    /// A function that writes, called where nothing can be written: on a
    /// hot standby (`standby`), or in a read-only transaction. Raised
    /// before the function does any work.
    ReadOnly {
        function: &'static str,
        standby: bool,
    },
}

impl Error {
    /// The five-character SQLSTATE this error is raised with.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Error::SmallintOutOfRange | Error::BigintOutOfRange | Error::NumericOverflow => {
                NUMERIC_VALUE_OUT_OF_RANGE
            }
            Error::InvalidJson { .. } => INVALID_TEXT_REPRESENTATION,
            Error::UnsupportedUnicodeEscape => UNTRANSLATABLE_CHARACTER,
            Error::JsonTooDeep { .. } => STATEMENT_TOO_COMPLEX,
            Error::NulInText => CHARACTER_NOT_IN_REPERTOIRE,
            Error::LimitMustNotBeNegative => INVALID_ROW_COUNT_IN_LIMIT_CLAUSE,
            Error::InvalidUuid { .. } => INVALID_TEXT_REPRESENTATION,
            Error::InvalidCondition { .. } => SYNTAX_ERROR,
            Error::QueryStructureMismatch => DATATYPE_MISMATCH,
            Error::NotNullViolation { .. } => NOT_NULL_VIOLATION,
            Error::UniqueViolation { .. } => UNIQUE_VIOLATION,
            Error::InvalidByteSequence { .. } => CHARACTER_NOT_IN_REPERTOIRE,
            Error::StringOrBlobTooBig { .. } => PROGRAM_LIMIT_EXCEEDED,
            // An id that is not a uuid is refused as Postgres' uuid input
            // refuses it; every other fault is in the argument's value.
            Error::InvalidBatch {
                fault: crate::batch::Fault::InvalidId { .. },
                ..
            } => INVALID_TEXT_REPRESENTATION,
            Error::InvalidBatch { .. } => INVALID_PARAMETER_VALUE,
            // The ids are the stored messages' unique key (`messages_id`):
            // a write that meets them stored otherwise is a unique violation,
            // as a write that is not idempotent would be, and clients that
            // catch 23505 for a replayed id catch this too.
            Error::IdempotentConflict { .. } => UNIQUE_VIOLATION,
            // A line that is not well formed is 22P02, as a value's text
            // input refuses it; an id stored otherwise or repeated is 23505,
            // as `messages_id` would refuse it; a position or global position
            // out of order is 22023; the limits are 54000.
            Error::InvalidImport { fault, .. } => fault.sqlstate(),
            Error::ExportTimeOutOfRange { .. } => DATETIME_FIELD_OVERFLOW,
            Error::ListingLimitTooSmall { .. } => INVALID_ROW_COUNT_IN_LIMIT_CLAUSE,
            Error::ListingNul { .. } => CHARACTER_NOT_IN_REPERTOIRE,
            Error::InvalidNotifySetting { .. } => INVALID_PARAMETER_VALUE,
            Error::RetentionArgumentNull { .. } => NULL_VALUE_NOT_ALLOWED,
            Error::RetentionLimitTooSmall { .. } => INVALID_ROW_COUNT_IN_LIMIT_CLAUSE,
            Error::RemovalUnbounded
            | Error::UnknownRetentionKind { .. }
            | Error::RetentionAmountTooSmall { .. } => INVALID_PARAMETER_VALUE,
            Error::InvalidTimeBound { .. } => INVALID_DATETIME_FORMAT,
            Error::StoredPolicyRefused { sqlstate, .. } => sqlstate,
            Error::ReadOnly { .. } => READ_ONLY_SQL_TRANSACTION,
            _ => RAISE_EXCEPTION,
        }
    }
}

fn group_suffix(member: impl fmt::Display, size: impl fmt::Display) -> String {
    format!("(Consumer Group Member: {member}, Consumer Group Size: {size})")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WrongExpectedVersion {
                expected_version,
                stream_name,
                stream_version,
            } => write!(
                f,
                "Wrong expected version: {expected_version} (Stream: {stream_name}, Stream Version: {stream_version})"
            ),
            Error::MustBeStreamName { stream_name } => write!(
                f,
                "Must be a stream name: {}",
                display_nullable(stream_name.as_deref())
            ),
            Error::MustBeCategory { category } => write!(
                f,
                "Must be a category: {}",
                display_nullable(category.as_deref())
            ),
            Error::CorrelationMustBeCategory { correlation } => write!(
                f,
                "Correlation must be a category (Correlation: {correlation})"
            ),
            Error::ConsumerGroupIncomplete { member, size } => write!(
                f,
                "Consumer group member and size must be specified {}",
                group_suffix(display_nullable(*member), display_nullable(*size))
            ),
            Error::ConsumerGroupSizeTooSmall { member, size } => write!(
                f,
                "Consumer group size must not be less than 1 {}",
                group_suffix(member, size)
            ),
            Error::ConsumerGroupMemberNegative { member, size } => write!(
                f,
                "Consumer group member must not be less than 0 {}",
                group_suffix(member, size)
            ),
            Error::ConsumerGroupMemberTooLarge { member, size } => write!(
                f,
                "Consumer group member must be less than the group size {}",
                group_suffix(member, size)
            ),
            Error::SqlConditionNotActivated => {
                write!(f, "Retrieval with SQL condition is not activated")
            }
            Error::InvalidCondition { fault } => {
                write!(f, "SQL condition must be one boolean expression: {fault}")
            }
            Error::QueryStructureMismatch => {
                write!(f, "structure of query does not match function result type")
            }
            Error::SmallintOutOfRange => write!(f, "smallint out of range"),
            Error::BigintOutOfRange => write!(f, "bigint out of range"),
            Error::LimitMustNotBeNegative => write!(f, "LIMIT must not be negative"),
            Error::InvalidUuid { input } => {
                write!(f, "invalid input syntax for type uuid: \"{input}\"")
            }
            Error::InvalidJson { .. } => write!(f, "invalid input syntax for type json"),
            Error::UnsupportedUnicodeEscape => write!(f, "unsupported Unicode escape sequence"),
            Error::NumericOverflow => write!(f, "value overflows numeric format"),
            Error::JsonTooDeep { limit } => {
                write!(f, "JSON nested too deeply: more than {limit} levels")
            }
            Error::NulInText => write!(f, "invalid byte sequence for encoding \"UTF8\": 0x00"),
            Error::NotNullViolation { column } => write!(
                f,
                "null value in column \"{column}\" of relation \"messages\" violates not-null constraint"
            ),
            Error::UniqueViolation { constraint } => write!(
                f,
                "duplicate key value violates unique constraint \"{constraint}\""
            ),
            Error::InvalidByteSequence { bytes } => {
                write!(f, "invalid byte sequence for encoding \"UTF8\":")?;
                for byte in bytes {
                    write!(f, " 0x{byte:02x}")?;
                }
                Ok(())
            }
            Error::StringOrBlobTooBig { .. } => write!(f, "string or blob too big"),
            Error::InvalidBatch { place, fault } => {
                if *place != crate::batch::Place::Argument {
                    write!(f, "{place}: ")?;
                }
                write!(f, "{fault}")
            }
            Error::IdempotentConflict {
                place,
                id,
                difference,
            } => write!(f, "{place}: id {id} {difference}"),
            Error::InvalidImport { line, fault } => {
                if let Some(line) = line {
                    write!(f, "line {line}: ")?;
                }
                write!(f, "{fault}")
            }
            Error::ExportTimeOutOfRange {
                global_position,
                time,
            } => write!(
                f,
                "export_messages: the time of global position {global_position}, {time}, \
                 is outside years 0001 to 9999, which a line holds"
            ),
            Error::ListingLimitTooSmall { function, limit } => {
                write!(f, "{function}: limit must be at least 1 (limit: {limit})")
            }
            Error::ListingNul { function, argument } => {
                write!(f, "{function}: {argument} holds a NUL character, which no name holds")
            }
            Error::InvalidNotifySetting { value } => write!(
                f,
                "invalid value for parameter \"message_store.notify\": \"{value}\" \
                 (a Boolean: on, off, true, false, yes, no, 1, 0)"
            ),
            Error::RetentionArgumentNull { function, argument } => {
                write!(f, "{function}: {argument} must not be NULL")
            }
            Error::RetentionLimitTooSmall { function, limit } => {
                write!(f, "{function}: limit must be at least 1 (limit: {limit})")
            }
            Error::RemovalUnbounded => write!(
                f,
                "remove_messages: before_time and before_global_position are both NULL; \
                 give at least one bound (with neither, every message but each stream's last \
                 would go)"
            ),
            Error::InvalidTimeBound {
                function,
                argument,
                value,
            } => write!(
                f,
                "{function}: {argument} is not a time in UTC between years 0001 and 9999: \"{value}\" \
                 (give it as the store prints times, 2026-11-26 17:42:10.123456, or in ISO 8601, \
                 2026-11-26T17:42:10.123456Z)"
            ),
            Error::UnknownRetentionKind { kind } => write!(
                f,
                "unknown retention policy kind: \"{kind}\" (the kinds are keep_seconds and keep_last)"
            ),
            Error::RetentionAmountTooSmall { kind, amount } => write!(
                f,
                "retention policy {kind} needs an amount of at least 1 (amount: {amount})"
            ),
            Error::StoredPolicyRefused {
                category, reason, ..
            } => write!(
                f,
                "apply_retention_policies: the stored policy of category \"{category}\" is refused: {reason}"
            ),
            Error::ReadOnly {
                function,
                standby: true,
            } => write!(
                f,
                "cannot execute {function} during recovery: this server is a standby, \
                 which is read-only; write on the primary"
            ),
            Error::ReadOnly {
                function,
                standby: false,
            } => write!(f, "cannot execute {function} in a read-only transaction"),
        }
    }
}

impl Error {
    /// Postgres' DETAIL line for this error, where it gives one.
    pub fn detail(&self) -> Option<String> {
        match self {
            Error::InvalidJson { detail } => Some(detail.clone()),
            Error::UnsupportedUnicodeEscape => {
                Some("\\u0000 cannot be converted to text.".to_string())
            }
            Error::StringOrBlobTooBig { limit } => Some(format!(
                "The value is longer than the limit of {limit} bytes."
            )),
            _ => None,
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_sqlstates() {
        let cases: Vec<(Error, &str, &str)> = vec![
            (
                Error::WrongExpectedVersion {
                    expected_version: 1,
                    stream_name: "s-1".into(),
                    stream_version: 0,
                },
                "Wrong expected version: 1 (Stream: s-1, Stream Version: 0)",
                "P0001",
            ),
            (
                Error::MustBeStreamName { stream_name: None },
                "Must be a stream name: <NULL>",
                "P0001",
            ),
            (
                Error::MustBeCategory {
                    category: Some("a-1".into()),
                },
                "Must be a category: a-1",
                "P0001",
            ),
            (
                Error::CorrelationMustBeCategory {
                    correlation: "x-1".into(),
                },
                "Correlation must be a category (Correlation: x-1)",
                "P0001",
            ),
            (
                Error::ConsumerGroupIncomplete {
                    member: Some(1),
                    size: None,
                },
                "Consumer group member and size must be specified (Consumer Group Member: 1, Consumer Group Size: <NULL>)",
                "P0001",
            ),
            (
                Error::ConsumerGroupSizeTooSmall { member: 0, size: 0 },
                "Consumer group size must not be less than 1 (Consumer Group Member: 0, Consumer Group Size: 0)",
                "P0001",
            ),
            (
                Error::ConsumerGroupMemberNegative { member: -1, size: 2 },
                "Consumer group member must not be less than 0 (Consumer Group Member: -1, Consumer Group Size: 2)",
                "P0001",
            ),
            (
                Error::ConsumerGroupMemberTooLarge { member: 2, size: 2 },
                "Consumer group member must be less than the group size (Consumer Group Member: 2, Consumer Group Size: 2)",
                "P0001",
            ),
            (
                Error::SqlConditionNotActivated,
                "Retrieval with SQL condition is not activated",
                "P0001",
            ),
            (
                Error::InvalidCondition {
                    fault: crate::condition::Fault::Semicolon,
                },
                "SQL condition must be one boolean expression: \";\" outside a quoted string would end the statement",
                "42601",
            ),
            (
                Error::QueryStructureMismatch,
                "structure of query does not match function result type",
                "42804",
            ),
            (Error::SmallintOutOfRange, "smallint out of range", "22003"),
            (Error::LimitMustNotBeNegative, "LIMIT must not be negative", "2201W"),
            (
                Error::InvalidUuid { input: "x".into() },
                "invalid input syntax for type uuid: \"x\"",
                "22P02",
            ),
            (
                Error::InvalidJson {
                    detail: "Token \"x\" is invalid.".into(),
                },
                "invalid input syntax for type json",
                "22P02",
            ),
            (
                Error::UnsupportedUnicodeEscape,
                "unsupported Unicode escape sequence",
                "22P05",
            ),
            (Error::NumericOverflow, "value overflows numeric format", "22003"),
            (
                Error::JsonTooDeep { limit: 1000 },
                "JSON nested too deeply: more than 1000 levels",
                "54001",
            ),
            (
                Error::NulInText,
                "invalid byte sequence for encoding \"UTF8\": 0x00",
                "22021",
            ),
            (
                Error::NotNullViolation {
                    column: "type".into(),
                },
                "null value in column \"type\" of relation \"messages\" violates not-null constraint",
                "23502",
            ),
            (
                Error::UniqueViolation {
                    constraint: "messages_id",
                },
                "duplicate key value violates unique constraint \"messages_id\"",
                "23505",
            ),
            (
                Error::InvalidByteSequence {
                    bytes: vec![0xe2, 0x28, 0xa1],
                },
                "invalid byte sequence for encoding \"UTF8\": 0xe2 0x28 0xa1",
                "22021",
            ),
            (
                Error::StringOrBlobTooBig { limit: 100 },
                "string or blob too big",
                "54000",
            ),
            (
                Error::InvalidImport {
                    line: Some(3),
                    fault: crate::transfer::Fault::Missing { name: "time" },
                },
                "line 3: \"time\" is missing",
                "22P02",
            ),
            (
                Error::InvalidImport {
                    line: None,
                    fault: crate::transfer::Fault::TooManyLines {
                        limit: 10,
                        count: 11,
                    },
                },
                "import_messages: at most 10 lines per call (this call has 11)",
                "54000",
            ),
            (
                Error::ExportTimeOutOfRange {
                    global_position: 7,
                    time: "10000-01-01 00:00:00".into(),
                },
                "export_messages: the time of global position 7, 10000-01-01 00:00:00, is outside years 0001 to 9999, which a line holds",
                "22008",
            ),
            (
                Error::ListingLimitTooSmall {
                    function: "get_streams",
                    limit: 0,
                },
                "get_streams: limit must be at least 1 (limit: 0)",
                "2201W",
            ),
            (
                Error::ListingNul {
                    function: "get_categories",
                    argument: "after",
                },
                "get_categories: after holds a NUL character, which no name holds",
                "22021",
            ),
            (
                Error::InvalidTimeBound {
                    function: "remove_messages",
                    argument: "before_time",
                    value: "yesterday".into(),
                },
                "remove_messages: before_time is not a time in UTC between years 0001 and 9999: \"yesterday\" (give it as the store prints times, 2026-11-26 17:42:10.123456, or in ISO 8601, 2026-11-26T17:42:10.123456Z)",
                "22007",
            ),
        ];
        for (error, text, state) in cases {
            assert_eq!(error.to_string(), text);
            assert_eq!(error.sqlstate(), state);
        }
    }

    #[test]
    fn details() {
        let invalid = Error::InvalidJson {
            detail: "The input string ended unexpectedly.".into(),
        };
        assert_eq!(
            invalid.detail().as_deref(),
            Some("The input string ended unexpectedly.")
        );
        assert_eq!(
            Error::UnsupportedUnicodeEscape.detail().as_deref(),
            Some("\\u0000 cannot be converted to text.")
        );
        assert_eq!(Error::NumericOverflow.detail(), None);
        assert_eq!(Error::NulInText.detail(), None);
    }
}
