//! The statements behind the functions, prepared once per backend and kept
//! (SPI_keepplan), so no call parses or plans its query again; and their
//! execution, readers streaming straight into the function's result.
//!
//! Every name in the statements carries its schema, operators included, so a
//! caller's search_path cannot change what they mean.

use message_store_core::batch::StoredRow;
use message_store_core::listing::Order;
use message_store_core::statement::{Statement, Text};
use message_store_core::{condition::Fault, Error};
use pgrx::pg_sys::{self, Datum, Oid};
use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crate::fmgr::raise;

// The pieces of the statements, put together at compile time.

/// The columns of `message_store.message`, in its order.
macro_rules! select_messages {
    () => {
        "SELECT id::pg_catalog.varchar, stream_name::pg_catalog.varchar, \
         type::pg_catalog.varchar, position, global_position, data::pg_catalog.varchar, \
         metadata::pg_catalog.varchar, time FROM message_store.messages"
    };
}
macro_rules! stream_filter {
    () => {
        " WHERE stream_name OPERATOR(pg_catalog.=) $1 AND position OPERATOR(pg_catalog.>=) $2"
    };
}
macro_rules! stream_order {
    () => {
        " ORDER BY position LIMIT $3"
    };
}
/// The category's messages from a global position on, written as bounds on
/// the `messages_category` index (category, then global position): the
/// category from both sides, then the position. It selects exactly
/// `category = $1 AND global_position >= $2` (text comparison under a
/// deterministic collation is equal only for equal bytes), but Postgres does
/// not treat the two bounds as an equality, so the category stays in the
/// order (`category_order`) and only that index can deliver it: no plan walks
/// the primary key filtering out other categories' rows, which Postgres
/// prefers on large tables when an equality lets it drop the category from
/// the order. The index scan starts at (category, position) and ends where
/// the category ends; every bound is a plain comparison of one column.
macro_rules! category_filter {
    () => {
        " WHERE message_store.category(stream_name) OPERATOR(pg_catalog.>=) $1 \
         AND message_store.category(stream_name) OPERATOR(pg_catalog.<=) $1 \
         AND global_position OPERATOR(pg_catalog.>=) $2"
    };
}
macro_rules! correlation_filter {
    () => {
        " AND message_store.category(metadata OPERATOR(pg_catalog.->>) 'correlationStreamName') \
         OPERATOR(pg_catalog.=) $4"
    };
}
macro_rules! consumer_group_filter {
    () => {
        " AND message_store.is_consumer_group_member(stream_name, $5, $6)"
    };
}
macro_rules! category_order {
    () => {
        " ORDER BY message_store.category(stream_name), global_position LIMIT $3"
    };
}
macro_rules! last_message_filter {
    () => {
        " WHERE stream_name OPERATOR(pg_catalog.=) $1"
    };
}
macro_rules! last_message_type_filter {
    () => {
        " AND type OPERATOR(pg_catalog.=) $2"
    };
}
macro_rules! last_message_order {
    () => {
        " ORDER BY position DESC LIMIT 1"
    };
}

/// The eight columns of `messages` as an export reads them: the texts, the
/// integers, and the time as a timestamp.
macro_rules! select_export {
    () => {
        "SELECT id::pg_catalog.text, stream_name, type, position, global_position, \
         data::pg_catalog.text, metadata::pg_catalog.text, time FROM message_store.messages"
    };
}

/// A batch message's id (`m` is the message's JSON), the first column of
/// its row.
macro_rules! message_id {
    () => {
        "(m.value OPERATOR(pg_catalog.->>) 'id')::pg_catalog.uuid"
    };
}
/// A batch message's type, data and metadata, the last columns of its row.
macro_rules! message_values {
    () => {
        ", m.value OPERATOR(pg_catalog.->>) 'type', m.value OPERATOR(pg_catalog.->) 'data', \
         CASE WHEN m.value OPERATOR(pg_catalog.->) 'metadata' OPERATOR(pg_catalog.=) \
         'null'::pg_catalog.jsonb THEN NULL ELSE m.value OPERATOR(pg_catalog.->) 'metadata' END"
    };
}

/// Parameter types of a stream read: stream_name, position, limit.
const STREAM_READ_TYPES: [Oid; 3] = [pg_sys::TEXTOID, pg_sys::INT8OID, pg_sys::INT8OID];
/// Parameter types of a category read: category, position, limit,
/// correlation, consumer group member, consumer group size. Every variant
/// takes all six; a variant ignores the ones it does not filter on.
const CATEGORY_READ_TYPES: [Oid; 6] = [
    pg_sys::VARCHAROID,
    pg_sys::INT8OID,
    pg_sys::INT8OID,
    pg_sys::VARCHAROID,
    pg_sys::INT8OID,
    pg_sys::INT8OID,
];

/// A statement's SQL on Postgres, in core's two parts (filters, then order).
pub fn text(statement: Statement) -> Text<'static> {
    let (filtered, order) = match statement {
        Statement::StreamVersion => (
            concat!(
                "SELECT pg_catalog.max(position) FROM message_store.messages",
                last_message_filter!()
            ),
            "",
        ),
        Statement::Insert => (
            "INSERT INTO message_store.messages \
             (id, stream_name, position, type, data, metadata) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            "",
        ),
        Statement::StreamRead => (
            concat!(select_messages!(), stream_filter!()),
            stream_order!(),
        ),
        Statement::CategoryRead => (
            concat!(select_messages!(), category_filter!()),
            category_order!(),
        ),
        Statement::CategoryReadCorrelated => (
            concat!(
                select_messages!(),
                category_filter!(),
                correlation_filter!()
            ),
            category_order!(),
        ),
        Statement::CategoryReadGrouped => (
            concat!(
                select_messages!(),
                category_filter!(),
                consumer_group_filter!()
            ),
            category_order!(),
        ),
        Statement::CategoryReadCorrelatedGrouped => (
            concat!(
                select_messages!(),
                category_filter!(),
                correlation_filter!(),
                consumer_group_filter!()
            ),
            category_order!(),
        ),
        Statement::LastMessage => (
            concat!(select_messages!(), last_message_filter!()),
            last_message_order!(),
        ),
        Statement::LastMessageOfType => (
            concat!(
                select_messages!(),
                last_message_filter!(),
                last_message_type_filter!()
            ),
            last_message_order!(),
        ),
        // A batch's rows, straight from its jsonb argument, which core
        // has checked: positions follow the version before the batch ($3)
        // in array order, and the rows are inserted in that order, so
        // their global positions are too. JSON null metadata is SQL NULL.
        Statement::InsertMessages => (
            concat!(
                "INSERT INTO message_store.messages \
                 (id, stream_name, position, type, data, metadata) \
                 SELECT ",
                message_id!(),
                ", $2, $3 OPERATOR(pg_catalog.+) m.ordinality",
                message_values!(),
                " FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS m \
                 ORDER BY m.ordinality"
            ),
            "",
        ),
        // `write_batch`: each entry's messages follow that entry's version
        // before it ($2, one per entry, in input order).
        Statement::InsertEntries => (
            concat!(
                "INSERT INTO message_store.messages \
                 (id, stream_name, position, type, data, metadata) \
                 SELECT ",
                message_id!(),
                ", e.value OPERATOR(pg_catalog.->>) 'stream_name', \
                 $2[e.ordinality] OPERATOR(pg_catalog.+) m.ordinality",
                message_values!(),
                " FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS e, \
                 pg_catalog.jsonb_array_elements(e.value OPERATOR(pg_catalog.->) 'messages') \
                 WITH ORDINALITY AS m \
                 ORDER BY e.ordinality, m.ordinality"
            ),
            "",
        ),
        // $1 is the ids as an array literal (`{…,…}`).
        Statement::StoredById => (
            "SELECT id::pg_catalog.text, stream_name, position, type, \
             data::pg_catalog.text, metadata::pg_catalog.text FROM message_store.messages \
             WHERE id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.uuid[])",
            "",
        ),
        Statement::Export => (
            concat!(
                select_export!(),
                " WHERE global_position OPERATOR(pg_catalog.>=) $2"
            ),
            " ORDER BY global_position LIMIT $3",
        ),
        Statement::ExportCategory => (
            concat!(select_export!(), category_filter!()),
            category_order!(),
        ),
        Statement::MaxGlobalPosition => (
            "SELECT pg_catalog.max(global_position) FROM message_store.messages",
            "",
        ),
        Statement::StoredMessagesById => (
            concat!(
                select_export!(),
                " WHERE id OPERATOR(pg_catalog.=) ANY ($1)"
            ),
            "",
        ),
        Statement::StreamVersions => (
            "SELECT stream_name, pg_catalog.max(position) FROM message_store.messages \
             WHERE stream_name OPERATOR(pg_catalog.=) ANY ($1) GROUP BY stream_name",
            "",
        ),
        // An import's rows, one array per column, in line order: every
        // column as the lines give it; data and metadata are jsonb text.
        // (The several-array `unnest` is only the unqualified name's.)
        Statement::ImportRows => (
            "INSERT INTO message_store.messages \
             (id, stream_name, type, position, global_position, data, metadata, time) \
             SELECT r.id, r.stream_name, r.type, r.position, r.global_position, \
             r.data::pg_catalog.jsonb, r.metadata::pg_catalog.jsonb, r.time \
             FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), \
             pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), \
             pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8)) WITH ORDINALITY \
             AS r(id, stream_name, type, position, global_position, data, metadata, time, n) \
             ORDER BY r.n",
            "",
        ),
        // Every category's messages from $2 up to the bound $1, which the
        // call chose so that none below it is still to commit.
        Statement::AllRead => (
            concat!(
                select_messages!(),
                " WHERE global_position OPERATOR(pg_catalog.>=) $2 \
                 AND global_position OPERATOR(pg_catalog.<=) $1"
            ),
            " ORDER BY global_position LIMIT $3",
        ),
        // The sequence's row in pg_sequence, by the name every store's
        // sequence has (an adopted one is checked for it).
        Statement::AllReadBound => (
            "SELECT pg_catalog.max(global_position), \
             (SELECT s.seqcache FROM pg_catalog.pg_sequence s WHERE s.seqrelid \
             OPERATOR(pg_catalog.=) 'message_store.messages_global_position_seq'::pg_catalog.regclass) \
             FROM message_store.messages",
            "",
        ),
        // A skip scan of `messages_stream` (core's `listing::Walk`): the
        // first name at or above $1, then for each name the smallest one
        // above it, one index probe each, while the names start with $4;
        // a name's version and last time are its last message's, one probe
        // of the same index backwards. The walk is lazy: it stops once the
        // limit ($3) has its rows. `starts_with` compares bytes.
        Statement::Streams => (
            "WITH RECURSIVE names(stream_name) AS ( \
             (SELECT m.stream_name FROM message_store.messages m \
             WHERE m.stream_name OPERATOR(pg_catalog.>=) $1 ORDER BY m.stream_name LIMIT 1) \
             UNION ALL \
             SELECT (SELECT m.stream_name FROM message_store.messages m \
             WHERE m.stream_name OPERATOR(pg_catalog.>) n.stream_name \
             ORDER BY m.stream_name LIMIT 1) \
             FROM names n WHERE pg_catalog.starts_with(n.stream_name, $4)) \
             SELECT n.stream_name::pg_catalog.varchar, l.position, l.time FROM names n \
             CROSS JOIN LATERAL (SELECT m.position, m.time FROM message_store.messages m \
             WHERE m.stream_name OPERATOR(pg_catalog.=) n.stream_name \
             ORDER BY m.position DESC LIMIT 1) l \
             WHERE pg_catalog.starts_with(n.stream_name, $5) \
             AND NOT ($2 AND n.stream_name OPERATOR(pg_catalog.=) $1)",
            " LIMIT $3",
        ),
        // The same walk over `messages_category`'s first column; a
        // category's head is its highest global position, one probe of
        // that index backwards (bounded from both sides, as a category
        // read is, so no plan walks the primary key instead).
        Statement::Categories => (
            "WITH RECURSIVE categories(category) AS ( \
             (SELECT message_store.category(m.stream_name) FROM message_store.messages m \
             WHERE message_store.category(m.stream_name) OPERATOR(pg_catalog.>=) \
             $1::pg_catalog.varchar \
             ORDER BY message_store.category(m.stream_name) LIMIT 1) \
             UNION ALL \
             SELECT (SELECT message_store.category(m.stream_name) FROM message_store.messages m \
             WHERE message_store.category(m.stream_name) OPERATOR(pg_catalog.>) c.category \
             ORDER BY message_store.category(m.stream_name) LIMIT 1) \
             FROM categories c WHERE c.category IS NOT NULL) \
             SELECT c.category, h.global_position FROM categories c \
             CROSS JOIN LATERAL (SELECT m.global_position FROM message_store.messages m \
             WHERE message_store.category(m.stream_name) OPERATOR(pg_catalog.>=) c.category \
             AND message_store.category(m.stream_name) OPERATOR(pg_catalog.<=) c.category \
             ORDER BY message_store.category(m.stream_name) DESC, m.global_position DESC \
             LIMIT 1) h \
             WHERE NOT ($2 AND c.category OPERATOR(pg_catalog.=) $1::pg_catalog.varchar)",
            " LIMIT $3",
        ),
        // Retention (core's `retention::Removal`): the ids of at most $4
        // messages below every bound given ($2 a timestamptz, compared
        // with the stored UTC time; $3 a global position), each with at
        // least $5 messages of its stream after it, then one delete of
        // them by primary key. A NULL bound is no bound; the coalesced
        // bounds stay plain comparisons, so the global position bound
        // limits the index range.
        Statement::RemoveFromStream => (
            "DELETE FROM message_store.messages WHERE global_position \
             OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT m.global_position \
             FROM message_store.messages m WHERE m.stream_name OPERATOR(pg_catalog.=) $1 \
             AND m.position OPERATOR(pg_catalog.<=) ((SELECT pg_catalog.max(s.position) \
             FROM message_store.messages s WHERE s.stream_name OPERATOR(pg_catalog.=) $1) \
             OPERATOR(pg_catalog.-) $5) \
             AND m.global_position OPERATOR(pg_catalog.<) \
             COALESCE($3, 9223372036854775807::pg_catalog.int8) \
             AND m.time OPERATOR(pg_catalog.<) COALESCE(pg_catalog.timezone('utc', $2), \
             'infinity'::pg_catalog.timestamp) \
             ORDER BY m.position LIMIT $4))",
            "",
        ),
        // The same over a category, through `messages_category` in global
        // position order; each stream's last position is one probe of
        // `messages_stream` backwards.
        Statement::RemoveFromCategory => (
            "DELETE FROM message_store.messages WHERE global_position \
             OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT m.global_position \
             FROM message_store.messages m \
             WHERE message_store.category(m.stream_name) OPERATOR(pg_catalog.>=) $1 \
             AND message_store.category(m.stream_name) OPERATOR(pg_catalog.<=) $1 \
             AND m.global_position OPERATOR(pg_catalog.<) \
             COALESCE($3, 9223372036854775807::pg_catalog.int8) \
             AND m.time OPERATOR(pg_catalog.<) COALESCE(pg_catalog.timezone('utc', $2), \
             'infinity'::pg_catalog.timestamp) \
             AND m.position OPERATOR(pg_catalog.<=) ((SELECT pg_catalog.max(s.position) \
             FROM message_store.messages s \
             WHERE s.stream_name OPERATOR(pg_catalog.=) m.stream_name) \
             OPERATOR(pg_catalog.-) $5) \
             ORDER BY message_store.category(m.stream_name), m.global_position LIMIT $4))",
            "",
        ),
        Statement::RedactStream => (
            "UPDATE message_store.messages SET data = NULL, metadata = NULL \
             WHERE stream_name OPERATOR(pg_catalog.=) $1",
            "",
        ),
    };
    Text { filtered, order }
}

/// The parameter types of a statement's `$n`.
pub fn arg_types(statement: Statement) -> &'static [Oid] {
    match statement {
        Statement::StreamVersion => &[pg_sys::TEXTOID],
        Statement::Insert => &[
            pg_sys::UUIDOID,
            pg_sys::TEXTOID,
            pg_sys::INT8OID,
            pg_sys::TEXTOID,
            pg_sys::JSONBOID,
            pg_sys::JSONBOID,
        ],
        Statement::StreamRead => &STREAM_READ_TYPES,
        Statement::CategoryRead
        | Statement::CategoryReadCorrelated
        | Statement::CategoryReadGrouped
        | Statement::CategoryReadCorrelatedGrouped => &CATEGORY_READ_TYPES,
        Statement::LastMessage | Statement::LastMessageOfType => {
            &[pg_sys::TEXTOID, pg_sys::TEXTOID]
        }
        Statement::InsertMessages => &[pg_sys::JSONBOID, pg_sys::TEXTOID, pg_sys::INT8OID],
        Statement::InsertEntries => &[pg_sys::JSONBOID, pg_sys::INT8ARRAYOID],
        Statement::StoredById => &[pg_sys::TEXTOID],
        Statement::Export | Statement::ExportCategory => &CATEGORY_READ_TYPES[..3],
        Statement::MaxGlobalPosition => &[],
        Statement::StoredMessagesById => &[pg_sys::UUIDARRAYOID],
        Statement::StreamVersions => &[pg_sys::TEXTARRAYOID],
        Statement::AllRead => &[pg_sys::INT8OID, pg_sys::INT8OID, pg_sys::INT8OID],
        Statement::AllReadBound => &[],
        Statement::ImportRows => &[
            pg_sys::UUIDARRAYOID,
            pg_sys::TEXTARRAYOID,
            pg_sys::TEXTARRAYOID,
            pg_sys::INT8ARRAYOID,
            pg_sys::INT8ARRAYOID,
            pg_sys::TEXTARRAYOID,
            pg_sys::TEXTARRAYOID,
            pg_sys::TIMESTAMPARRAYOID,
        ],
        Statement::Streams => &[
            pg_sys::TEXTOID,
            pg_sys::BOOLOID,
            pg_sys::INT8OID,
            pg_sys::TEXTOID,
            pg_sys::TEXTOID,
        ],
        Statement::Categories => &[pg_sys::TEXTOID, pg_sys::BOOLOID, pg_sys::INT8OID],
        Statement::RemoveFromStream | Statement::RemoveFromCategory => &[
            pg_sys::TEXTOID,
            pg_sys::TIMESTAMPTZOID,
            pg_sys::INT8OID,
            pg_sys::INT8OID,
            pg_sys::INT8OID,
        ],
        Statement::RedactStream => &[pg_sys::TEXTOID],
    }
}

thread_local! {
    static PLANS: [Cell<pg_sys::SPIPlanPtr>; Statement::COUNT] =
        const { [const { Cell::new(ptr::null_mut()) }; Statement::COUNT] };
}

/// The global position this session drew last: after a write, the highest
/// of its rows (positions are drawn in row order, and only ever rise). Run
/// only while `message_store.notify` is on.
const CURRENT_GLOBAL_POSITION: &CStr =
    c"SELECT pg_catalog.currval('message_store.messages_global_position_seq'::pg_catalog.regclass)";

/// `write_batch`'s rows inserted as [`Statement::InsertEntries`] inserts
/// them, selecting each stream's highest global position and its number of
/// rows: in its place while `message_store.notify` is on and the batch
/// writes to more than one category.
fn insert_entries_positions_sql() -> String {
    format!(
        "WITH i AS ({} RETURNING stream_name, global_position) \
         SELECT i.stream_name::pg_catalog.text, pg_catalog.max(i.global_position), \
         pg_catalog.count(*) FROM i GROUP BY i.stream_name",
        text(Statement::InsertEntries).sql()
    )
}

thread_local! {
    /// The kept plans of the two statements above.
    static NOTIFY_PLANS: [Cell<pg_sys::SPIPlanPtr>; 2] =
        const { [const { Cell::new(ptr::null_mut()) }; 2] };
}

/// A parameter value: its datum (`None` for NULL) and its type, valid for
/// `'a`. Statements check each parameter's type against theirs.
#[derive(Clone, Copy)]
pub struct Param<'a> {
    datum: Option<Datum>,
    type_oid: Oid,
    value: PhantomData<&'a ()>,
}

impl<'a> Param<'a> {
    /// # Safety
    /// `datum` is `None` or a value of type `type_oid`, and what it points
    /// to (for a type passed by reference) stays valid for `'a`.
    pub unsafe fn new(datum: Option<Datum>, type_oid: Oid) -> Param<'a> {
        Param {
            datum,
            type_oid,
            value: PhantomData,
        }
    }
}

impl Param<'static> {
    /// A timestamptz, passed by value.
    pub fn timestamptz(value: Option<i64>) -> Param<'static> {
        Param {
            datum: value.map(Datum::from),
            type_oid: pg_sys::TIMESTAMPTZOID,
            value: PhantomData,
        }
    }

    /// SQL NULL of a type.
    pub fn null(type_oid: Oid) -> Param<'static> {
        Param {
            datum: None,
            type_oid,
            value: PhantomData,
        }
    }

    /// A bigint, passed by value.
    pub fn int8(value: Option<i64>) -> Param<'static> {
        Param {
            datum: value.map(Datum::from),
            type_oid: pg_sys::INT8OID,
            value: PhantomData,
        }
    }
}

/// Whether a value of type `given` may be passed as a parameter of type
/// `declared`: the same type, or varchar as text (binary compatible).
fn passes_as(given: Oid, declared: Oid) -> bool {
    given == declared || (given == pg_sys::VARCHAROID && declared == pg_sys::TEXTOID)
}

/// Checks that `params` are values of a statement's parameter types, so
/// executing it reads each datum as what it is.
fn check_params(statement: Statement, params: &[Param]) {
    let types = arg_types(statement);
    assert!(
        params.len() == types.len()
            && params
                .iter()
                .zip(types)
                .all(|(param, &declared)| passes_as(param.type_oid, declared)),
        "parameters of {statement:?} do not match its types"
    );
}

/// One step into a jsonb value: an array's element (from 0) or an
/// object's member.
#[derive(Clone, Copy, Debug)]
pub enum JsonbStep<'s> {
    Element(usize),
    Field(&'s str),
}

/// An open SPI connection of the current call. Not `Send`: SPI is the
/// backend's one thread's.
pub struct Connection(PhantomData<*mut ()>);

impl Connection {
    pub fn connect() -> Connection {
        // SAFETY: a C function's call may open an SPI connection; it is
        // finished by `finish` or by the (sub)transaction's abort.
        let rc = unsafe { pg_sys::SPI_connect() };
        check_rc(rc, pg_sys::SPI_OK_CONNECT as i32, c"SPI_connect");
        Connection(PhantomData)
    }

    /// Finishes the SPI connection. On an error the connection is not
    /// finished here: the (sub)transaction's abort releases it.
    pub fn finish(self) {
        // SAFETY: this connection is the innermost open one: each call opens
        // and finishes its own, and nothing in between keeps one open.
        unsafe {
            pg_sys::SPI_finish();
        }
    }

    /// A statement's plan, made once per backend and kept. It is a generic
    /// plan (made without the call's values) from the first call on, so no
    /// call plans its statement: every kept statement has one right plan
    /// whatever the values (the unique indexes for writes and stream reads,
    /// the category index, which alone delivers `category_order`, for
    /// category reads), and planning with the values would add about two
    /// thirds to a category read (the category bounds send the planner
    /// through the index's histogram on every call). Postgres makes the plan
    /// again when the table's statistics or definition change.
    fn kept_plan(&self, statement: Statement) -> pg_sys::SPIPlanPtr {
        PLANS.with(|plans| {
            let slot = &plans[statement.index()];
            if slot.get().is_null() {
                let sql =
                    CString::new(text(statement).sql()).expect("the statements' texts hold no NUL");
                let plan = self.prepare(
                    &sql,
                    arg_types(statement),
                    pg_sys::CURSOR_OPT_GENERIC_PLAN as i32,
                );
                // SAFETY: the plan was just prepared, and is neither kept nor
                // freed; kept, it lives as long as the backend.
                unsafe { pg_sys::SPI_keepplan(plan) };
                slot.set(plan);
            }
            slot.get()
        })
    }

    /// One of the plans only `message_store.notify` runs, made once per
    /// backend and kept as [`Connection::kept_plan`] keeps its plans.
    fn kept_notify_plan(&self, index: usize, sql: &CStr, types: &[Oid]) -> pg_sys::SPIPlanPtr {
        NOTIFY_PLANS.with(|plans| {
            let slot = &plans[index];
            if slot.get().is_null() {
                let plan = self.prepare(sql, types, pg_sys::CURSOR_OPT_GENERIC_PLAN as i32);
                // SAFETY: as in `kept_plan`.
                unsafe { pg_sys::SPI_keepplan(plan) };
                slot.set(plan);
            }
            slot.get()
        })
    }

    /// The global position this session drew last (`currval` of the
    /// global-position sequence), after a write.
    pub fn current_global_position(&self) -> i64 {
        let plan = self.kept_notify_plan(0, CURRENT_GLOBAL_POSITION, &[]);
        // SAFETY: the plan takes no parameters; a SELECT that succeeded
        // leaves its one row of one bigint (checked) in SPI_tuptable, read
        // before anything else runs.
        unsafe {
            let rc = pg_sys::SPI_execute_plan(plan, ptr::null_mut(), ptr::null(), false, 1);
            check_rc(rc, pg_sys::SPI_OK_SELECT as i32, c"SPI_execute_plan");
            let table = pg_sys::SPI_tuptable;
            assert!(
                pg_sys::SPI_processed == 1
                    && (*(*table).tupdesc).natts == 1
                    && pg_sys::SPI_gettypeid((*table).tupdesc, 1) == pg_sys::INT8OID,
                "currval selects one bigint"
            );
            let mut is_null = false;
            let value = pg_sys::SPI_getbinval(*(*table).vals, (*table).tupdesc, 1, &mut is_null);
            assert!(!is_null, "currval is not NULL");
            value.value() as i64
        }
    }

    /// Inserts `write_batch`'s rows (the parameters of
    /// [`Statement::InsertEntries`]) and returns how many it inserted and
    /// each stream's highest global position among them.
    pub fn insert_entries_positions(&self, params: &[Param]) -> (u64, HashMap<Vec<u8>, i64>) {
        let statement = Statement::InsertEntries;
        check_params(statement, params);
        let sql = CString::new(insert_entries_positions_sql())
            .expect("the statements' texts hold no NUL");
        let plan = self.kept_notify_plan(1, &sql, arg_types(statement));
        let (mut values, nulls) = values_and_nulls(params);
        // SAFETY: as in `select_i64`.
        let rc = unsafe {
            pg_sys::SPI_execute_plan(plan, values.as_mut_ptr(), nulls.as_ptr(), false, 0)
        };
        check_rc(rc, pg_sys::SPI_OK_SELECT as i32, c"SPI_execute_plan");
        let mut inserted = 0;
        let mut positions = HashMap::new();
        // SAFETY: a SELECT that succeeded leaves its SPI_processed rows in
        // SPI_tuptable, of a text and two bigints (checked), read before
        // anything else runs; the name is copied at once.
        unsafe {
            let table = pg_sys::SPI_tuptable;
            let desc = (*table).tupdesc;
            assert!(
                (*desc).natts == 3
                    && pg_sys::SPI_gettypeid(desc, 1) == pg_sys::TEXTOID
                    && pg_sys::SPI_gettypeid(desc, 2) == pg_sys::INT8OID
                    && pg_sys::SPI_gettypeid(desc, 3) == pg_sys::INT8OID,
                "the batch's insert selects a name, a position and a count"
            );
            for &row in std::slice::from_raw_parts((*table).vals, pg_sys::SPI_processed as usize) {
                let mut is_null = false;
                let name = pg_sys::SPI_getbinval(row, desc, 1, &mut is_null);
                assert!(!is_null, "a stream name is NULL");
                let name = text_bytes(name).to_vec();
                let position = pg_sys::SPI_getbinval(row, desc, 2, &mut is_null);
                let count = pg_sys::SPI_getbinval(row, desc, 3, &mut is_null);
                inserted += count.value() as u64;
                positions.insert(name, position.value() as i64);
            }
            pg_sys::SPI_freetuptable(table);
        }
        (inserted, positions)
    }

    fn prepare(&self, sql: &CStr, arg_types: &[Oid], cursor_options: i32) -> pg_sys::SPIPlanPtr {
        // SAFETY: SPI is connected (`self`); SPI_prepare_cursor reads a
        // NUL-terminated text and `arg_types.len()` type oids, and copies
        // both.
        unsafe {
            let plan = pg_sys::SPI_prepare_cursor(
                sql.as_ptr(),
                arg_types.len() as i32,
                arg_types.as_ptr().cast_mut(),
                cursor_options,
            );
            if plan.is_null() {
                check_rc(pg_sys::SPI_result, 0, c"SPI_prepare");
            }
            plan
        }
    }

    /// Runs a kept statement that returns at most one row of one bigint.
    pub fn select_i64(&self, statement: Statement, params: &[Param]) -> Option<i64> {
        let [value] = self.select_i64s(statement, params);
        value
    }

    /// Runs a kept statement that returns at most one row of `N` bigints;
    /// all NULL when it returns no row.
    pub fn select_i64s<const N: usize>(
        &self,
        statement: Statement,
        params: &[Param],
    ) -> [Option<i64>; N] {
        check_params(statement, params);
        let plan = self.kept_plan(statement);
        let (mut values, nulls) = values_and_nulls(params);
        // SAFETY: the plan takes `params.len()` parameters of the types
        // `check_params` checked, valid for this call; values and nulls
        // hold one entry each.
        let rc = unsafe {
            pg_sys::SPI_execute_plan(plan, values.as_mut_ptr(), nulls.as_ptr(), false, 1)
        };
        check_rc(rc, pg_sys::SPI_OK_SELECT as i32, c"SPI_execute_plan");
        // SAFETY: a SELECT that succeeded leaves its rows in SPI_tuptable,
        // and at least one when SPI_processed says so; the values are read,
        // after checking each column is a bigint, before anything else runs.
        unsafe {
            if pg_sys::SPI_processed == 0 {
                return [None; N];
            }
            let table = pg_sys::SPI_tuptable;
            let tupdesc = (*table).tupdesc;
            assert!(
                usize::try_from((*tupdesc).natts) == Ok(N)
                    && (1..=N as i32).all(|i| pg_sys::SPI_gettypeid(tupdesc, i) == pg_sys::INT8OID),
                "{statement:?} does not select {N} bigints"
            );
            std::array::from_fn(|i| {
                let mut is_null = false;
                let value =
                    pg_sys::SPI_getbinval(*(*table).vals, tupdesc, i as i32 + 1, &mut is_null);
                // A bigint datum holds the value itself (64-bit Postgres).
                (!is_null).then(|| value.value() as i64)
            })
        }
    }

    /// Runs a kept statement that changes rows, and returns how many it
    /// changed.
    pub fn execute(&self, statement: Statement, params: &[Param], expected: u32) -> u64 {
        check_params(statement, params);
        let plan = self.kept_plan(statement);
        let (mut values, nulls) = values_and_nulls(params);
        // SAFETY: the plan takes `params.len()` parameters of the types
        // `check_params` checked, valid for this call; values and nulls
        // hold one entry each.
        let rc = unsafe {
            pg_sys::SPI_execute_plan(plan, values.as_mut_ptr(), nulls.as_ptr(), false, 0)
        };
        check_rc(rc, expected as i32, c"SPI_execute_plan");
        // SAFETY: SPI sets SPI_processed for the statement just run.
        unsafe { pg_sys::SPI_processed }
    }

    /// Runs `sql`, a statement of `params.len()` parameters of their
    /// types, planned for this call only (for the statements too rare to
    /// keep a plan for, such as the retention policies'), and returns how
    /// many rows it changed.
    pub fn execute_once(&self, sql: &CStr, params: &[Param], expected: u32) -> u64 {
        let types: Vec<Oid> = params.iter().map(|param| param.type_oid).collect();
        let (mut values, nulls) = values_and_nulls(params);
        // SAFETY: SPI is connected (`self`); the statement text is
        // NUL-terminated, and each of the `params.len()` values is NULL or
        // a datum of the type given beside it, valid for this call.
        let rc = unsafe {
            pg_sys::SPI_execute_with_args(
                sql.as_ptr(),
                params.len() as i32,
                types.as_ptr().cast_mut(),
                values.as_mut_ptr(),
                nulls.as_ptr(),
                false,
                0,
            )
        };
        check_rc(rc, expected as i32, c"SPI_execute_with_args");
        // SAFETY: SPI sets SPI_processed for the statement just run.
        unsafe { pg_sys::SPI_processed }
    }

    /// The stored retention policies, in the order of their categories'
    /// bytes: each category with its policy's kind and amount.
    pub fn retention_policies(&self) -> Vec<(Vec<u8>, String, i64)> {
        // Sorted here, not by the query: apply_retention_policies runs with
        // enable_sort off, under which a sorting plan's cost would pass
        // jit_above_cost and every call would compile its few rows.
        let sql = c"SELECT category::pg_catalog.text, kind::pg_catalog.text, amount \
            FROM message_store.retention_policies";
        // SAFETY: SPI is connected (`self`); the text is NUL-terminated.
        let rc = unsafe { pg_sys::SPI_execute(sql.as_ptr(), false, 0) };
        check_rc(rc, pg_sys::SPI_OK_SELECT as i32, c"SPI_execute");
        // SAFETY: a SELECT that succeeded leaves its SPI_processed rows in
        // SPI_tuptable, of two texts and a bigint (checked), copied before
        // anything else runs; the table's columns are NOT NULL.
        unsafe {
            let table = pg_sys::SPI_tuptable;
            let desc = (*table).tupdesc;
            assert!(
                (*desc).natts == 3
                    && pg_sys::SPI_gettypeid(desc, 1) == pg_sys::TEXTOID
                    && pg_sys::SPI_gettypeid(desc, 2) == pg_sys::TEXTOID
                    && pg_sys::SPI_gettypeid(desc, 3) == pg_sys::INT8OID,
                "the retention policies are a text, a text and a bigint"
            );
            let rows = std::slice::from_raw_parts((*table).vals, pg_sys::SPI_processed as usize);
            let mut policies: Vec<(Vec<u8>, String, i64)> = rows
                .iter()
                .map(|&row| {
                    let mut is_null = false;
                    let category = pg_sys::SPI_getbinval(row, desc, 1, &mut is_null);
                    assert!(!is_null, "a policy's category is NULL");
                    let kind = pg_sys::SPI_getbinval(row, desc, 2, &mut is_null);
                    assert!(!is_null, "a policy's kind is NULL");
                    let amount = pg_sys::SPI_getbinval(row, desc, 3, &mut is_null);
                    assert!(!is_null, "a policy's amount is NULL");
                    (
                        text_bytes(category).to_vec(),
                        String::from_utf8_lossy(text_bytes(kind)).into_owned(),
                        amount.value() as i64,
                    )
                })
                .collect();
            pg_sys::SPI_freetuptable(table);
            policies.sort_by(|a, b| a.0.cmp(&b.0));
            policies
        }
    }

    /// A text parameter holding `value`, valid while the connection is
    /// open.
    pub fn text_param(&self, value: &str) -> Param<'_> {
        self.bytes_param(value.as_bytes())
    }

    /// A text parameter holding `value`, text of the database's encoding,
    /// valid while the connection is open.
    pub fn bytes_param(&self, value: &[u8]) -> Param<'_> {
        let len = i32::try_from(value.len()).expect("a text parameter is shorter than 1 GB");
        // SAFETY: cstring_to_text_with_len copies `len` bytes into a new
        // text in the current memory context, which while SPI is connected
        // is the connection's procedure context, kept until SPI_finish:
        // after every use of this borrow of the connection.
        unsafe {
            let text = pg_sys::cstring_to_text_with_len(value.as_ptr().cast(), len);
            Param::new(Some(Datum::from(text)), pg_sys::TEXTOID)
        }
    }

    /// A uuid parameter holding `bytes`, valid while the connection is
    /// open.
    pub fn uuid_bytes_param(&self, bytes: &[u8; 16]) -> Param<'_> {
        // SAFETY: a uuid datum points to its sixteen bytes (pg_uuid_t);
        // they are copied into memory of the current context, the
        // connection's procedure context (see `text_param`).
        unsafe {
            let uuid = pg_sys::palloc(bytes.len()).cast::<u8>();
            ptr::copy_nonoverlapping(bytes.as_ptr(), uuid, bytes.len());
            Param::new(Some(Datum::from(uuid)), pg_sys::UUIDOID)
        }
    }

    /// The value at `path` inside a jsonb parameter, as a jsonb parameter
    /// valid while the connection is open: what `->` returns, step by
    /// step, with no text in between. NULL where a step finds nothing.
    pub fn jsonb_at(&self, jsonb: Param, path: &[JsonbStep]) -> Param<'_> {
        assert_eq!(jsonb.type_oid, pg_sys::JSONBOID, "jsonb_at reads a jsonb");
        let mut value = jsonb.datum;
        for step in path {
            let Some(datum) = value else { break };
            // SAFETY: `datum` is a jsonb (the parameter's type, then each
            // step's result); jsonb_array_element takes a jsonb and an
            // int4, jsonb_object_field a jsonb and a text, and each returns
            // NULL or a new jsonb made in the current memory context, the
            // connection's procedure context (see `text_param`).
            value = unsafe {
                match *step {
                    JsonbStep::Element(index) => {
                        let index = i32::try_from(index).expect("a jsonb array index is an int4");
                        pgrx::fcinfo::direct_function_call_as_datum(
                            pg_sys::jsonb_array_element,
                            &[Some(datum), Some(Datum::from(index))],
                        )
                    }
                    JsonbStep::Field(key) => {
                        let len = i32::try_from(key.len()).expect("a key is shorter than 1 GB");
                        let key = pg_sys::cstring_to_text_with_len(key.as_ptr().cast(), len);
                        pgrx::fcinfo::direct_function_call_as_datum(
                            pg_sys::jsonb_object_field,
                            &[Some(datum), Some(Datum::from(key))],
                        )
                    }
                }
            };
        }
        // SAFETY: NULL or a jsonb of the procedure context, as above.
        unsafe { Param::new(value, pg_sys::JSONBOID) }
    }

    /// A `bigint[]` parameter holding `values`, valid while the connection
    /// is open.
    pub fn int8_array_param(&self, values: &[i64]) -> Param<'_> {
        // The array is made in the current memory context, the connection's
        // procedure context (see `text_param`).
        let array = int8_array(values);
        // SAFETY: a bigint[] datum, valid until SPI_finish.
        unsafe { Param::new(Some(array), pg_sys::INT8ARRAYOID) }
    }

    /// The stored messages with the ids of `ids` (an array literal of
    /// uuids, `{…,…}`), by id: `Statement::StoredById`.
    pub fn stored_by_id(&self, ids: &str) -> HashMap<String, StoredRow> {
        let statement = Statement::StoredById;
        let params = [self.text_param(ids)];
        check_params(statement, &params);
        let plan = self.kept_plan(statement);
        let (mut values, nulls) = values_and_nulls(&params);
        // SAFETY: as in `select_i64`.
        let rc = unsafe {
            pg_sys::SPI_execute_plan(plan, values.as_mut_ptr(), nulls.as_ptr(), false, 0)
        };
        check_rc(rc, pg_sys::SPI_OK_SELECT as i32, c"SPI_execute_plan");
        let mut rows = HashMap::new();
        // SAFETY: a SELECT that succeeded leaves its SPI_processed rows in
        // SPI_tuptable, of the statement's six columns (checked), read
        // before anything else runs; SPI_getvalue returns NULL or a
        // NUL-terminated text output, copied at once.
        unsafe {
            let table = pg_sys::SPI_tuptable;
            let desc = (*table).tupdesc;
            assert!((*desc).natts == 6, "{statement:?} selects six columns");
            let rows_read =
                std::slice::from_raw_parts((*table).vals, pg_sys::SPI_processed as usize);
            for &row in rows_read {
                let column = |n: i32| {
                    let value = pg_sys::SPI_getvalue(row, desc, n);
                    (!value.is_null()).then(|| CStr::from_ptr(value).to_string_lossy().into_owned())
                };
                let text = |n: i32| {
                    column(n).unwrap_or_else(|| panic!("{statement:?}: column {n} is NULL"))
                };
                let id = text(1);
                let stored = StoredRow {
                    stream_name: text(2),
                    position: text(3).parse().expect("a position prints as an integer"),
                    type_: text(4),
                    data: column(5),
                    metadata: column(6),
                };
                rows.insert(id, stored);
            }
        }
        rows
    }

    /// Runs a kept read and streams its rows into the set-returning
    /// function's result.
    pub fn read_into_result(&self, result: &SetResult, statement: Statement, params: &[Param]) {
        check_params(statement, params);
        // SAFETY: a kept plan of `statement`, whose parameter types
        // `check_params` checked `params` against.
        unsafe {
            self.run_into(
                result,
                self.kept_plan(statement),
                arg_types(statement),
                params,
            )
        }
    }

    /// Plans and runs a one-off read of `statement`'s parameters (one with
    /// a caller's SQL condition).
    pub fn read_sql_into_result(
        &self,
        result: &SetResult,
        sql: &str,
        statement: Statement,
        params: &[Param],
    ) {
        check_params(statement, params);
        let sql = CString::new(sql)
            .unwrap_or_else(|_| raise(Error::InvalidCondition { fault: Fault::Nul }));
        let plan = self.prepare(&sql, arg_types(statement), 0);
        // The condition was checked to be one expression, so the text is
        // one statement; a plan of several would run them all.
        // SAFETY: the plan was just prepared and not freed; its list of
        // sources is read before anything else runs.
        let one_statement = unsafe {
            let sources = pg_sys::SPI_plan_get_plan_sources(plan);
            !sources.is_null() && (*sources).length == 1
        };
        if !one_statement {
            // SAFETY: the plan is this function's, not kept, freed once.
            unsafe { pg_sys::SPI_freeplan(plan) };
            raise(Error::InvalidCondition {
                fault: Fault::NotOneExpression,
            });
        }
        // SAFETY: the plan was prepared with `statement`'s parameter types,
        // which `check_params` checked `params` against.
        unsafe { self.run_into(result, plan, arg_types(statement), params) };
        // SAFETY: the plan is this function's, not kept, freed once.
        unsafe { pg_sys::SPI_freeplan(plan) };
    }

    /// # Safety
    /// `plan` is a valid plan prepared with the parameter types
    /// `arg_types`, and each of `params` is a value that passes as its type.
    unsafe fn run_into(
        &self,
        result: &SetResult,
        plan: pg_sys::SPIPlanPtr,
        arg_types: &[Oid],
        params: &[Param],
    ) {
        // SAFETY: makeParamList allocates room for `params.len()` entries,
        // each set here; SPI_execute_plan_extended reads them with the
        // options and writes the rows to the result's receiver, which is
        // valid for the call (`SetResult`).
        unsafe {
            let list = pg_sys::makeParamList(params.len() as i32);
            let slots = (*list).params.as_mut_slice(params.len());
            // The plan's own types: the executor refuses a parameter whose
            // type differs from the one the plan was prepared with.
            for ((slot, param), &type_oid) in slots.iter_mut().zip(params).zip(arg_types) {
                *slot = pg_sys::ParamExternData {
                    value: param.datum.unwrap_or(Datum::from(0)),
                    isnull: param.datum.is_none(),
                    pflags: pg_sys::PARAM_FLAG_CONST as u16,
                    ptype: type_oid,
                };
            }
            let options = pg_sys::SPIExecuteOptions {
                params: list,
                read_only: false,
                allow_nonatomic: false,
                // A statement that returns no rows is an error, not an empty read.
                must_return_tuples: true,
                tcount: 0,
                dest: result.dest.as_ptr(),
                owner: ptr::null_mut(),
            };
            let rc = pg_sys::SPI_execute_plan_extended(plan, &options);
            check_rc(
                rc,
                pg_sys::SPI_OK_SELECT as i32,
                c"SPI_execute_plan_extended",
            );
        }
    }
}

// Moving a store: the export's and import's reads and writes.

/// The statement that holds every writer off for an import: it conflicts
/// with the lock each INSERT takes (ROW EXCLUSIVE) and with itself, and
/// waits for writers in flight to end. It needs UPDATE, DELETE or TRUNCATE
/// on the table, which a client role does not have.
const LOCK_FOR_IMPORT: &CStr = c"LOCK TABLE message_store.messages IN SHARE ROW EXCLUSIVE MODE";
/// The global-position sequence's state.
const SEQUENCE_STATE: &CStr =
    c"SELECT last_value, is_called FROM message_store.messages_global_position_seq";
/// The global-position sequence set to $1 as drawn, so it gives $1 + 1 next.
const SEQUENCE_SET: &CStr = c"SELECT pg_catalog.setval(\
    'message_store.messages_global_position_seq'::pg_catalog.regclass, $1, true)";

/// How many rows an export or a look-up reads per fetch from its cursor.
const CHUNK_ROWS: std::ffi::c_long = 1000;

/// The eight columns of a stored message as `select_export!` reads them:
/// the texts as the database's bytes, the time as Postgres' timestamp
/// (microseconds since 2000-01-01 00:00:00), valid while the row is read.
#[derive(Clone, Copy, Debug)]
pub struct StoredColumns<'t> {
    pub id: &'t [u8],
    pub stream_name: &'t [u8],
    pub type_: &'t [u8],
    pub position: i64,
    pub global_position: i64,
    pub data: Option<&'t [u8]>,
    pub metadata: Option<&'t [u8]>,
    pub time: i64,
}

/// The column types of `select_export!`, in order.
const STORED_COLUMN_TYPES: [Oid; 8] = [
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::INT8OID,
    pg_sys::INT8OID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::TIMESTAMPOID,
];

/// A memory context of its own, current while `run` runs, emptied by
/// `reset`; deleted when dropped (or with its parent, on an error).
struct ScratchContext(pg_sys::MemoryContext);

impl ScratchContext {
    fn new(name: &'static CStr) -> ScratchContext {
        // SAFETY: a new context under the current one (SPI's procedure
        // context), with a static name and the default sizes.
        ScratchContext(unsafe {
            pg_sys::AllocSetContextCreateInternal(
                pg_sys::CurrentMemoryContext,
                name.as_ptr(),
                pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
            )
        })
    }

    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        /// Puts the previous context back, also when `f` raises an error.
        struct Restore(pg_sys::MemoryContext);
        impl Drop for Restore {
            fn drop(&mut self) {
                // SAFETY: the backend's one thread sets the current memory
                // context; this puts back the one that was current before.
                unsafe { pg_sys::CurrentMemoryContext = self.0 };
            }
        }
        // SAFETY: the context is alive (deleted only by `drop`); the
        // backend's one thread sets the current memory context.
        let _restore = unsafe {
            let restore = Restore(pg_sys::CurrentMemoryContext);
            pg_sys::CurrentMemoryContext = self.0;
            restore
        };
        f()
    }

    /// Frees everything allocated in the context.
    fn reset(&self) {
        // SAFETY: the context is alive, and nothing allocated in it is
        // used after `run` returned (its borrows end with `run`).
        unsafe { pg_sys::MemoryContextReset(self.0) };
    }
}

impl Drop for ScratchContext {
    fn drop(&mut self) {
        // SAFETY: the context is this value's, not current (`run` put the
        // previous one back), deleted once.
        unsafe { pg_sys::MemoryContextDelete(self.0) };
    }
}

/// A text column's bytes, detoasted (into the current memory context, if
/// stored out of line or compressed), valid until that context is reset.
///
/// # Safety
/// `datum` is a text value valid at least as long as `'t`, and the current
/// memory context is not reset or deleted within `'t`.
unsafe fn text_bytes<'t>(datum: Datum) -> &'t [u8] {
    // SAFETY: by the contract.
    unsafe {
        let varlena = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
        pgrx::varlena::varlena_to_byte_slice(varlena)
    }
}

/// A one-dimensional array (lower bound 1) of `elements`, NULL where
/// `None`, of elements of type `type_oid` with that type's length, passing
/// and alignment, made in the current memory context.
///
/// # Safety
/// Each element is a datum of `type_oid`, valid while the array is made
/// (construct_md_array copies it); `len`, `byval` and `align` are the
/// type's own (pg_type's typlen, typbyval, typalign).
unsafe fn array_of(
    elements: &[Option<Datum>],
    type_oid: Oid,
    len: i32,
    byval: bool,
    align: u8,
) -> Datum {
    let mut values: Vec<Datum> = elements
        .iter()
        .map(|element| element.unwrap_or(Datum::from(0)))
        .collect();
    let mut nulls: Vec<bool> = elements.iter().map(Option::is_none).collect();
    let mut dims = [i32::try_from(elements.len()).expect("fewer than 2^31 elements")];
    let mut lower_bounds = [1];
    // SAFETY: `values` and `nulls` hold `dims[0]` entries each, the
    // elements are values of the type described (the contract), and
    // construct_md_array copies them into a new array.
    Datum::from(unsafe {
        pg_sys::construct_md_array(
            values.as_mut_ptr(),
            nulls.as_mut_ptr(),
            1,
            dims.as_mut_ptr(),
            lower_bounds.as_mut_ptr(),
            type_oid,
            len,
            byval,
            align as std::ffi::c_char,
        )
    })
}

impl Connection {
    /// Runs a kept read of the eight columns of `select_export!` through a
    /// cursor and calls `each` for every row, in the read's order. Rows are
    /// fetched [`CHUNK_ROWS`] at a time; a chunk's rows, their detoasted
    /// texts and whatever `each` leaves in the current memory context are
    /// freed before the next chunk is fetched, so memory stays bounded by
    /// one chunk however many rows the read returns.
    pub fn for_each_stored(
        &self,
        statement: Statement,
        params: &[Param],
        mut each: impl FnMut(&StoredColumns<'_>),
    ) {
        check_params(statement, params);
        let plan = self.kept_plan(statement);
        let (mut values, nulls) = values_and_nulls(params);
        // SAFETY: the plan is a kept SELECT taking `params.len()`
        // parameters of the types `check_params` checked, valid for this
        // call; values and nulls hold one entry each. SPI_cursor_open
        // raises an error rather than return no portal.
        let portal = unsafe {
            pg_sys::SPI_cursor_open(
                ptr::null(),
                plan,
                values.as_mut_ptr(),
                nulls.as_ptr(),
                false,
            )
        };
        let scratch = ScratchContext::new(c"message_store chunk");
        loop {
            // SAFETY: the portal is open (closed only below); the fetch
            // leaves its rows in SPI_tuptable.
            let (table, count) = unsafe {
                pg_sys::SPI_cursor_fetch(portal, true, CHUNK_ROWS);
                (pg_sys::SPI_tuptable, pg_sys::SPI_processed as usize)
            };
            if count > 0 {
                // SAFETY: the fetch's table holds `count` rows of the
                // statement's eight columns (checked before any is read,
                // so heap_deform_tuple fills exactly the eight entries of
                // `datums` and `nulls`); each text is read as text, each bigint and
                // timestamp (by value on 64-bit Postgres) as an i64. Rows
                // and texts stay valid until the table is freed and the
                // scratch context reset, after `run`.
                scratch.run(|| unsafe {
                    let desc = (*table).tupdesc;
                    assert!(
                        (*desc).natts == 8
                            && (1..=8).all(|n| {
                                pg_sys::SPI_gettypeid(desc, n)
                                    == STORED_COLUMN_TYPES[n as usize - 1]
                            }),
                        "{statement:?} does not select the eight stored columns"
                    );
                    // One deforming of each row into all eight columns: a
                    // column read alone walks the row from its start.
                    let mut datums = [Datum::from(0); 8];
                    let mut nulls = [false; 8];
                    for &row in std::slice::from_raw_parts((*table).vals, count) {
                        pg_sys::heap_deform_tuple(
                            row,
                            desc,
                            datums.as_mut_ptr(),
                            nulls.as_mut_ptr(),
                        );
                        let value = |n: i32| {
                            let i = n as usize - 1;
                            (!nulls[i]).then_some(datums[i])
                        };
                        let required = |n: i32| {
                            value(n).unwrap_or_else(|| panic!("{statement:?}: column {n} is NULL"))
                        };
                        let columns = StoredColumns {
                            id: text_bytes(required(1)),
                            stream_name: text_bytes(required(2)),
                            type_: text_bytes(required(3)),
                            position: required(4).value() as i64,
                            global_position: required(5).value() as i64,
                            data: value(6).map(|datum| text_bytes(datum)),
                            metadata: value(7).map(|datum| text_bytes(datum)),
                            time: required(8).value() as i64,
                        };
                        each(&columns);
                    }
                });
            }
            // SAFETY: the table is the fetch's, freed once; nothing read
            // from it or from the scratch context is used after `run`.
            unsafe { pg_sys::SPI_freetuptable(table) };
            scratch.reset();
            if count == 0 {
                break;
            }
        }
        // SAFETY: the portal is open, and closed once.
        unsafe { pg_sys::SPI_cursor_close(portal) };
    }

    /// Each stream's version, by name, for the streams of `names` that
    /// have messages: `Statement::StreamVersions`.
    pub fn stream_versions(&self, names: &[&str]) -> HashMap<String, i64> {
        let statement = Statement::StreamVersions;
        let params =
            [self.text_array_param(&names.iter().map(|&name| Some(name)).collect::<Vec<_>>())];
        check_params(statement, &params);
        let plan = self.kept_plan(statement);
        let (mut values, nulls) = values_and_nulls(&params);
        // SAFETY: as in `select_i64`.
        let rc = unsafe {
            pg_sys::SPI_execute_plan(plan, values.as_mut_ptr(), nulls.as_ptr(), false, 0)
        };
        check_rc(rc, pg_sys::SPI_OK_SELECT as i32, c"SPI_execute_plan");
        let mut versions = HashMap::with_capacity(names.len());
        // SAFETY: a SELECT that succeeded leaves its SPI_processed rows in
        // SPI_tuptable, of a text and a bigint (checked), read before
        // anything else runs; the name is copied at once.
        unsafe {
            let table = pg_sys::SPI_tuptable;
            let desc = (*table).tupdesc;
            assert!(
                (*desc).natts == 2
                    && pg_sys::SPI_gettypeid(desc, 1) == pg_sys::TEXTOID
                    && pg_sys::SPI_gettypeid(desc, 2) == pg_sys::INT8OID,
                "{statement:?} selects a name and a version"
            );
            for &row in std::slice::from_raw_parts((*table).vals, pg_sys::SPI_processed as usize) {
                let mut is_null = false;
                let name = pg_sys::SPI_getbinval(row, desc, 1, &mut is_null);
                assert!(!is_null, "{statement:?}: a stream name is NULL");
                let name = String::from_utf8_lossy(text_bytes(name)).into_owned();
                let version = pg_sys::SPI_getbinval(row, desc, 2, &mut is_null);
                assert!(!is_null, "{statement:?}: a version is NULL");
                versions.insert(name, version.value() as i64);
            }
            pg_sys::SPI_freetuptable(table);
        }
        versions
    }

    /// Takes the lock that holds every writer off until the transaction
    /// ends ([`LOCK_FOR_IMPORT`]), waiting for the writers in flight.
    pub fn lock_for_import(&self) {
        // SAFETY: SPI is connected; SPI_execute reads a NUL-terminated
        // statement, which it parses, plans and runs once.
        let rc = unsafe { pg_sys::SPI_execute(LOCK_FOR_IMPORT.as_ptr(), false, 0) };
        check_rc(rc, pg_sys::SPI_OK_UTILITY as i32, c"SPI_execute");
    }

    /// Moves the global-position sequence on so that it next gives a value
    /// above `highest`, unless it already would; it never moves back.
    /// Returns whether it moved.
    pub fn continue_sequence_after(&self, highest: i64) -> bool {
        // SAFETY: SPI is connected; the statement is a NUL-terminated
        // SELECT of one row of a bigint and a boolean (checked), read
        // before anything else runs.
        let (last_value, is_called) = unsafe {
            let rc = pg_sys::SPI_execute(SEQUENCE_STATE.as_ptr(), true, 0);
            check_rc(rc, pg_sys::SPI_OK_SELECT as i32, c"SPI_execute");
            let table = pg_sys::SPI_tuptable;
            let desc = (*table).tupdesc;
            assert!(
                pg_sys::SPI_processed == 1
                    && (*desc).natts == 2
                    && pg_sys::SPI_gettypeid(desc, 1) == pg_sys::INT8OID
                    && pg_sys::SPI_gettypeid(desc, 2) == pg_sys::BOOLOID,
                "a sequence has one row of last_value and is_called"
            );
            let row = *(*table).vals;
            let mut is_null = false;
            let last_value = pg_sys::SPI_getbinval(row, desc, 1, &mut is_null).value() as i64;
            let is_called = pg_sys::SPI_getbinval(row, desc, 2, &mut is_null).value() != 0;
            pg_sys::SPI_freetuptable(table);
            (last_value, is_called)
        };
        // A sequence drawn at the largest bigint gives nothing more: it is
        // past every position already.
        let next = if is_called {
            last_value.checked_add(1)
        } else {
            Some(last_value)
        };
        if next.is_none_or(|next| next > highest) {
            return false;
        }
        let mut types = [pg_sys::INT8OID];
        let mut values = [Datum::from(highest)];
        let nulls = [b' ' as std::ffi::c_char];
        // SAFETY: SPI is connected; the statement takes one bigint, given
        // by value with its type and a not-NULL flag.
        let rc = unsafe {
            pg_sys::SPI_execute_with_args(
                SEQUENCE_SET.as_ptr(),
                1,
                types.as_mut_ptr(),
                values.as_mut_ptr(),
                nulls.as_ptr(),
                false,
                0,
            )
        };
        check_rc(rc, pg_sys::SPI_OK_SELECT as i32, c"SPI_execute_with_args");
        true
    }

    /// A `text[]` parameter of `values` (NULL where `None`), valid while
    /// the connection is open.
    pub fn text_array_param(&self, values: &[Option<&str>]) -> Param<'_> {
        let scratch = ScratchContext::new(c"message_store texts");
        // The texts are made in a context of their own, freed once the
        // array (in the connection's procedure context, see `text_param`)
        // holds copies of them.
        let texts: Vec<Option<Datum>> = scratch.run(|| {
            values
                .iter()
                .map(|value| {
                    value.map(|value| {
                        let len = i32::try_from(value.len()).expect("a text is shorter than 1 GB");
                        // SAFETY: copies `len` bytes into a new text in
                        // the scratch context.
                        Datum::from(unsafe {
                            pg_sys::cstring_to_text_with_len(value.as_ptr().cast(), len)
                        })
                    })
                })
                .collect()
        });
        // SAFETY: text datums, alive until `scratch` is dropped below;
        // text's typlen -1, passed by reference, int alignment.
        let array = unsafe { array_of(&texts, pg_sys::TEXTOID, -1, false, b'i') };
        drop(scratch);
        // SAFETY: a text[] datum, valid until SPI_finish.
        unsafe { Param::new(Some(array), pg_sys::TEXTARRAYOID) }
    }

    /// A `uuid[]` parameter of `values`' bytes, valid while the connection
    /// is open.
    pub fn uuid_array_param(&self, values: &[&[u8; 16]]) -> Param<'_> {
        let elements: Vec<Option<Datum>> = values
            .iter()
            .map(|bytes| Some(Datum::from(bytes.as_ptr())))
            .collect();
        // SAFETY: a uuid datum points to its sixteen bytes (pg_uuid_t),
        // which `values` holds while the array is made; uuid's typlen 16,
        // passed by reference, char alignment. The array is made in the
        // connection's procedure context (see `text_param`).
        let array = unsafe { array_of(&elements, pg_sys::UUIDOID, 16, false, b'c') };
        // SAFETY: a uuid[] datum, valid until SPI_finish.
        unsafe { Param::new(Some(array), pg_sys::UUIDARRAYOID) }
    }

    /// A `timestamp[]` parameter of `values` (Postgres' timestamps,
    /// microseconds since 2000-01-01), valid while the connection is open.
    pub fn timestamp_array_param(&self, values: &[i64]) -> Param<'_> {
        let elements: Vec<Option<Datum>> = values
            .iter()
            .map(|&value| Some(Datum::from(value)))
            .collect();
        // SAFETY: a timestamp is a bigint by value on 64-bit Postgres;
        // timestamp's typlen 8, by value, double alignment. The array is
        // made in the connection's procedure context (see `text_param`).
        let array = unsafe { array_of(&elements, pg_sys::TIMESTAMPOID, 8, true, b'd') };
        // SAFETY: a timestamp[] datum, valid until SPI_finish.
        unsafe { Param::new(Some(array), pg_sys::TIMESTAMPARRAYOID) }
    }
}

/// A `bigint[]` of `values` (one dimension, from 1, no NULL), allocated in
/// the current memory context.
pub fn int8_array(values: &[i64]) -> Datum {
    let elements: Vec<Option<Datum>> = values
        .iter()
        .map(|&value| Some(Datum::from(value)))
        .collect();
    // SAFETY: bigint datums, passed by value, 8 bytes, double-aligned
    // (int8's pg_type entry on 64-bit Postgres).
    unsafe { array_of(&elements, pg_sys::INT8OID, 8, true, b'd') }
}

fn values_and_nulls(params: &[Param]) -> (Vec<Datum>, Vec<std::ffi::c_char>) {
    params
        .iter()
        .map(|p| match p.datum {
            Some(datum) => (datum, b' ' as std::ffi::c_char),
            None => (Datum::from(0), b'n' as std::ffi::c_char),
        })
        .unzip()
}

fn check_rc(rc: i32, expected: i32, what: &CStr) {
    if rc != expected {
        // SAFETY: SPI_result_code_string returns a static NUL-terminated
        // text for any code.
        let text = unsafe { CStr::from_ptr(pg_sys::SPI_result_code_string(rc)) };
        pgrx::ereport!(
            ERROR,
            pgrx::PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!(
                "{} failed: {}",
                what.to_string_lossy(),
                text.to_string_lossy()
            )
        );
    }
}

unsafe extern "C-unwind" {
    // executor/tstoreReceiver.h; not in pgrx 0.18.1's bindings. Only stores
    // its arguments in the receiver, so it cannot raise an error.
    fn SetTuplestoreDestReceiverParams(
        receiver: *mut pg_sys::DestReceiver,
        store: *mut pg_sys::Tuplestorestate,
        context: pg_sys::MemoryContext,
        detoast: bool,
        target_tupdesc: pg_sys::TupleDesc,
        map_failure_msg: *const std::ffi::c_char,
    );
}

/// Postgres' text for a query whose rows do not match the function's result.
const STRUCTURE_MISMATCH: &CStr = c"structure of query does not match function result type";

/// The materialized result of a set-returning call, and a receiver that
/// appends query rows to it, valid for the call (`'fcinfo`).
pub struct SetResult<'fcinfo> {
    dest: NonNull<pg_sys::DestReceiver>,
    rsinfo: NonNull<pg_sys::ReturnSetInfo>,
    call: PhantomData<&'fcinfo mut pg_sys::DestReceiver>,
}

impl<'fcinfo> SetResult<'fcinfo> {
    /// Sets up the call's result (checking that the caller accepts a set)
    /// for a function that returns rows of a row type.
    ///
    /// # Safety
    /// `fcinfo` is the function manager's call information for the current
    /// call, valid for `'fcinfo`, which ends no later than the call.
    pub unsafe fn new(fcinfo: pg_sys::FunctionCallInfo) -> SetResult<'fcinfo> {
        // SAFETY: by the contract; the function's result type is a row type.
        unsafe { SetResult::init(fcinfo, 0) }
    }

    /// Sets up the call's result for a function that returns a set of one
    /// scalar type: its rows are of the one column the caller expects.
    ///
    /// # Safety
    /// As for [`SetResult::new`].
    pub unsafe fn of_expected_columns(fcinfo: pg_sys::FunctionCallInfo) -> SetResult<'fcinfo> {
        // SAFETY: by the contract.
        unsafe { SetResult::init(fcinfo, pg_sys::MAT_SRF_USE_EXPECTED_DESC) }
    }

    /// # Safety
    /// As for [`SetResult::new`]; `flags` are InitMaterializedSRF's.
    unsafe fn init(fcinfo: pg_sys::FunctionCallInfo, flags: u32) -> SetResult<'fcinfo> {
        // SAFETY: InitMaterializedSRF checks that the call's result info is
        // a ReturnSetInfo that takes a materialized set of the function's
        // row type, or the caller's expected row (raising an error
        // otherwise), and sets its store and descriptor, which live for the
        // query; the receiver is allocated in the call's context.
        unsafe {
            pg_sys::InitMaterializedSRF(fcinfo, flags);
            let rsinfo = (*fcinfo).resultinfo as *mut pg_sys::ReturnSetInfo;
            let dest = pg_sys::CreateDestReceiver(pg_sys::CommandDest::DestTuplestore);
            // Rows go in only as the call's result type: rows of another
            // shape fail as PL/pgSQL's RETURN QUERY fails (42804), never
            // stored as that type. Equal descriptors need no conversion.
            SetTuplestoreDestReceiverParams(
                dest,
                (*rsinfo).setResult,
                (*(*rsinfo).econtext).ecxt_per_query_memory,
                false,
                (*rsinfo).setDesc,
                STRUCTURE_MISMATCH.as_ptr(),
            );
            SetResult {
                dest: NonNull::new(dest).expect("CreateDestReceiver returns a receiver"),
                rsinfo: NonNull::new(rsinfo).expect("InitMaterializedSRF checked the result info"),
                call: PhantomData,
            }
        }
    }

    /// Appends one row of one text column holding `text`. The store copies
    /// the row (and keeps it on disk past `work_mem`); the text made for it
    /// is freed at once.
    pub fn put_text(&self, text: &str) {
        let len = i32::try_from(text.len()).expect("a text result is shorter than 1 GB");
        // SAFETY: the result info is this call's (`new`), its store and
        // descriptor set by InitMaterializedSRF; the descriptor is checked
        // to be one text column before a row of one text datum goes in.
        // tuplestore_putvalues copies the row into the store's own memory,
        // so the text, made in the current context, is freed after it.
        unsafe {
            let rsinfo = self.rsinfo.as_ptr();
            let desc = (*rsinfo).setDesc;
            assert!(
                (*desc).natts == 1 && (*desc).attrs.as_slice(1)[0].atttypid == pg_sys::TEXTOID,
                "a set of text takes rows of one text column"
            );
            let value = pg_sys::cstring_to_text_with_len(text.as_ptr().cast(), len);
            let mut values = [Datum::from(value)];
            let mut nulls = [false];
            pg_sys::tuplestore_putvalues(
                (*rsinfo).setResult,
                desc,
                values.as_mut_ptr(),
                nulls.as_mut_ptr(),
            );
            pg_sys::pfree(value.cast());
        }
    }

    /// Done putting rows in: the set is complete.
    pub fn finish(self) {
        // SAFETY: the receiver is this result's, valid for the call, and
        // destroyed once (`self` is consumed).
        unsafe {
            if let Some(destroy) = (*self.dest.as_ptr()).rDestroy {
                destroy(self.dest.as_ptr());
            }
        }
    }
}

// Listing: the order of the stream index.

/// Whether the stream index (`messages_stream`) orders names by their
/// bytes: its collation is libc's C, POSIX or C.UTF-8 (the database's
/// when the index uses the default collation). Read at run time, so a
/// kept plan follows an index made again; no row (no such index) reads as
/// another order, whose walk is right under every collation.
const STREAM_INDEX_IS_BYTEWISE: &CStr = c"SELECT \
    (CASE WHEN c.collprovider OPERATOR(pg_catalog.=) 'd' THEN d.datlocprovider \
     ELSE c.collprovider END) OPERATOR(pg_catalog.=) 'c' \
    AND pg_catalog.lower(CASE WHEN c.collprovider OPERATOR(pg_catalog.=) 'd' THEN d.datcollate \
     ELSE c.collcollate END) OPERATOR(pg_catalog.=) ANY ('{c,posix,c.utf8,c.utf-8}'::pg_catalog.text[]) \
    FROM pg_catalog.pg_index i \
    JOIN pg_catalog.pg_collation c ON c.oid OPERATOR(pg_catalog.=) i.indcollation[0] \
    JOIN pg_catalog.pg_database d ON d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database() \
    WHERE i.indexrelid OPERATOR(pg_catalog.=) \
    pg_catalog.to_regclass('message_store.messages_stream')";

thread_local! {
    static ORDER_PLAN: Cell<pg_sys::SPIPlanPtr> = const { Cell::new(ptr::null_mut()) };
}

impl Connection {
    /// The order of the stream index, read once per call with a kept plan
    /// (a few catalog look-ups through the system caches).
    pub fn stream_index_order(&self) -> Order {
        let plan = ORDER_PLAN.with(|slot| {
            if slot.get().is_null() {
                let plan = self.prepare(STREAM_INDEX_IS_BYTEWISE, &[], 0);
                // SAFETY: the plan was just prepared, and is neither kept
                // nor freed; kept, it lives as long as the backend.
                unsafe { pg_sys::SPI_keepplan(plan) };
                slot.set(plan);
            }
            slot.get()
        });
        // SAFETY: a kept plan of a SELECT without parameters; at most one
        // row of one boolean (checked), read before anything else runs.
        unsafe {
            let rc = pg_sys::SPI_execute_plan(plan, ptr::null_mut(), ptr::null(), true, 1);
            check_rc(rc, pg_sys::SPI_OK_SELECT as i32, c"SPI_execute_plan");
            if pg_sys::SPI_processed == 0 {
                return Order::Collated;
            }
            let table = pg_sys::SPI_tuptable;
            let desc = (*table).tupdesc;
            assert!(
                (*desc).natts == 1 && pg_sys::SPI_gettypeid(desc, 1) == pg_sys::BOOLOID,
                "the stream index's order is one boolean"
            );
            let mut is_null = false;
            let bytewise = pg_sys::SPI_getbinval(*(*table).vals, desc, 1, &mut is_null);
            let bytewise = !is_null && bytewise.value() != 0;
            pg_sys::SPI_freetuptable(table);
            if bytewise {
                Order::Bytewise
            } else {
                Order::Collated
            }
        }
    }
}
