//! The statements behind the functions, the same on both engines: which one
//! a call runs, and where a caller's SQL condition goes in a read's query.
//!
//! Each engine writes the SQL of every [`Statement`] in its own dialect, as a
//! [`Text`] of two parts, and keeps one prepared statement of each kind per
//! connection. The parameter numbers are the same on both engines for the
//! readers: 1 the stream name or category, 2 the position, 3 the limit, 4 the
//! correlation category, 5 and 6 the consumer group member and size.

use crate::read::{CategoryRead, StreamRead};

/// A statement a function runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Statement {
    /// The stream's highest position (`stream_version`, and the writer's check).
    StreamVersion,
    Insert,
    StreamRead,
    CategoryRead,
    CategoryReadCorrelated,
    CategoryReadGrouped,
    CategoryReadCorrelatedGrouped,
    LastMessage,
    LastMessageOfType,
    /// The rows of a `write_messages` call, at the positions core planned.
    /// Postgres inserts the whole jsonb argument in one set-based
    /// statement; SQLite inserts one row per step.
    InsertMessages,
    /// The rows of a `write_batch` call, as [`Statement::InsertMessages`].
    InsertEntries,
    /// The stored messages with the ids of an idempotent batch (Postgres:
    /// all ids in one statement; SQLite: one id per step).
    StoredById,
    /// `export_messages` of every category: the eight columns of each
    /// message from global position 2 on, ascending, at most 3 of them.
    /// (Parameter 1, the category, is not read.)
    Export,
    /// `export_messages` of category 1, as [`Statement::Export`].
    ExportCategory,
    /// The store's highest global position (`import_messages`).
    MaxGlobalPosition,
    /// The stored messages, all eight columns, with the ids of an import
    /// (Postgres: all ids in one statement; SQLite: one id per step).
    StoredMessagesById,
    /// Each stream's name and version (Postgres: the names of parameter 1,
    /// a text array, in one statement; SQLite: one name per step).
    StreamVersions,
    /// The rows of an import, every column as the lines give it.
    ImportRows,
    /// `get_all_messages`: the messages of every category from global
    /// position 2 on, ascending, at most 3 of them. On Postgres parameter
    /// 1 is the highest global position the call returns
    /// ([`Statement::AllReadBound`]); SQLite needs no bound and does not
    /// read it.
    AllRead,
    /// Postgres: the highest global position stored and visible, and the
    /// cache size of the global position sequence, which `get_all_messages`
    /// needs to be 1 (values handed out in order). SQLite gives the highest
    /// global position and 1: its writers are serialised.
    AllReadBound,
    /// `get_streams`: a skip scan of the stream index
    /// ([`crate::listing::Walk`]; parameters 1 `from`, 2 `skip_from`,
    /// 3 the limit, 4 `while_prefix`, 5 `keep_prefix`), each name with its
    /// version and its last message's time.
    Streams,
    /// `get_categories`: a skip scan of the category index (parameters 1
    /// to 3 as [`Statement::Streams`]), each category with its highest
    /// global position.
    Categories,
    /// `remove_messages` of one stream ([`crate::retention::Removal`]):
    /// parameters 1 the stream name, 2 the time bound or NULL, 3 the global
    /// position bound or NULL, 4 the limit, 5 `keep_last`. It deletes the
    /// stream's messages below every bound given with at least `keep_last`
    /// of its messages after them, lowest position first, at most the limit,
    /// and its count of rows is the call's answer.
    RemoveFromStream,
    /// `remove_messages` of a category and the retention policies: as
    /// [`Statement::RemoveFromStream`] over every stream of category 1,
    /// lowest global position first.
    RemoveFromCategory,
    /// `redact_stream`: data and metadata of every message of stream 1 set
    /// to NULL; its count of rows is the call's answer.
    RedactStream,
}

impl Statement {
    pub const COUNT: usize = 25;

    /// Every statement, in the order of [`Statement::index`].
    pub const ALL: [Statement; Statement::COUNT] = [
        Statement::StreamVersion,
        Statement::Insert,
        Statement::StreamRead,
        Statement::CategoryRead,
        Statement::CategoryReadCorrelated,
        Statement::CategoryReadGrouped,
        Statement::CategoryReadCorrelatedGrouped,
        Statement::LastMessage,
        Statement::LastMessageOfType,
        Statement::InsertMessages,
        Statement::InsertEntries,
        Statement::StoredById,
        Statement::Export,
        Statement::ExportCategory,
        Statement::MaxGlobalPosition,
        Statement::StoredMessagesById,
        Statement::StreamVersions,
        Statement::ImportRows,
        Statement::AllRead,
        Statement::AllReadBound,
        Statement::Streams,
        Statement::Categories,
        Statement::RemoveFromStream,
        Statement::RemoveFromCategory,
        Statement::RedactStream,
    ];

    /// A dense index, for a table of one kept statement per kind.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The statement of a category read: the correlation and the consumer
    /// group each add a filter.
    pub fn category_read(correlated: bool, grouped: bool) -> Statement {
        match (correlated, grouped) {
            (false, false) => Statement::CategoryRead,
            (true, false) => Statement::CategoryReadCorrelated,
            (false, true) => Statement::CategoryReadGrouped,
            (true, true) => Statement::CategoryReadCorrelatedGrouped,
        }
    }

    /// The statement a checked category read runs.
    pub fn of_category_read(read: &CategoryRead<'_>) -> Statement {
        Statement::category_read(read.correlation.is_some(), read.consumer_group.is_some())
    }

    /// The statement a checked stream read runs.
    pub fn of_stream_read(_read: &StreamRead<'_>) -> Statement {
        Statement::StreamRead
    }

    /// The statement of `get_last_stream_message`: a type given adds a filter.
    pub fn last_message(type_given: bool) -> Statement {
        if type_given {
            Statement::LastMessageOfType
        } else {
            Statement::LastMessage
        }
    }
}

/// A statement's SQL in one engine's dialect, in two parts: the select with
/// its filters, and what follows the filters (order and limit, or nothing).
/// A caller's condition goes between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Text<'a> {
    pub filtered: &'a str,
    pub order: &'a str,
}

impl Text<'_> {
    /// The statement as it runs without a condition.
    pub fn sql(&self) -> String {
        [self.filtered, self.order].concat()
    }

    /// The statement with a caller's condition, already checked by the
    /// condition rule ([`crate::condition::checked`]), added to its filters.
    pub fn with_condition(&self, condition: &str) -> String {
        crate::condition::with_condition(self.filtered, condition, self.order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::ConditionGate;

    struct Off;
    impl ConditionGate for Off {
        fn enabled(&self) -> bool {
            false
        }
        fn dialect(&self) -> crate::condition::Dialect {
            crate::condition::Dialect::Sqlite
        }
    }

    #[test]
    fn indexes_are_dense_and_in_order() {
        for (i, statement) in Statement::ALL.iter().enumerate() {
            assert_eq!(statement.index(), i);
        }
    }

    #[test]
    fn reads_map_to_their_statements() {
        let read = |correlation: Option<&'static [u8]>, member, size| {
            CategoryRead::new(
                Some(b"a"),
                None,
                None,
                correlation,
                member,
                size,
                None,
                &Off,
            )
            .unwrap()
        };
        assert_eq!(
            Statement::of_category_read(&read(None, None, None)),
            Statement::CategoryRead
        );
        assert_eq!(
            Statement::of_category_read(&read(Some(b"b"), None, None)),
            Statement::CategoryReadCorrelated
        );
        assert_eq!(
            Statement::of_category_read(&read(None, Some(0), Some(2))),
            Statement::CategoryReadGrouped
        );
        assert_eq!(
            Statement::of_category_read(&read(Some(b"b"), Some(1), Some(2))),
            Statement::CategoryReadCorrelatedGrouped
        );
        let stream = StreamRead::new(Some(b"a-1"), None, None, None, &Off).unwrap();
        assert_eq!(Statement::of_stream_read(&stream), Statement::StreamRead);
        assert_eq!(Statement::last_message(false), Statement::LastMessage);
        assert_eq!(Statement::last_message(true), Statement::LastMessageOfType);
    }

    #[test]
    fn a_condition_goes_between_the_filters_and_the_order() {
        let text = Text {
            filtered: "SELECT * FROM messages WHERE stream_name = ?1",
            order: " ORDER BY position LIMIT ?3",
        };
        assert_eq!(
            text.sql(),
            "SELECT * FROM messages WHERE stream_name = ?1 ORDER BY position LIMIT ?3"
        );
        assert_eq!(
            text.with_condition("type = 'A'"),
            "SELECT * FROM messages WHERE stream_name = ?1 AND (type = 'A'\n) ORDER BY position LIMIT ?3"
        );
    }
}
