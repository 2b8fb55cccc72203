//! The statements behind the functions, prepared once per backend and kept
//! (SPI_keepplan), so no call parses or plans its query again; and their
//! execution, readers streaming straight into the function's result.
//!
//! Every name in the statements carries its schema, operators included, so a
//! caller's search_path cannot change what they mean.

use message_store_core::statement::{Statement, Text};
use message_store_core::{condition::Fault, Error};
use pgrx::pg_sys::{self, Datum, Oid};
use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::ptr;

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
    }
}

thread_local! {
    static PLANS: [Cell<pg_sys::SPIPlanPtr>; Statement::COUNT] =
        const { [const { Cell::new(ptr::null_mut()) }; Statement::COUNT] };
}

/// A parameter value: its type and datum, `None` for NULL.
#[derive(Clone, Copy)]
pub struct Param(pub Option<Datum>);

pub struct Connection(());

impl Connection {
    pub fn connect() -> Connection {
        unsafe {
            let rc = pg_sys::SPI_connect();
            check_rc(rc, pg_sys::SPI_OK_CONNECT as i32, c"SPI_connect");
        }
        Connection(())
    }

    /// Finishes the SPI connection. On an error the connection is not
    /// finished here: the (sub)transaction's abort releases it.
    pub fn finish(self) {
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
                unsafe { pg_sys::SPI_keepplan(plan) };
                slot.set(plan);
            }
            slot.get()
        })
    }

    fn prepare(&self, sql: &CStr, arg_types: &[Oid], cursor_options: i32) -> pg_sys::SPIPlanPtr {
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
        unsafe {
            let plan = self.kept_plan(statement);
            let (mut values, nulls) = values_and_nulls(params);
            let rc = pg_sys::SPI_execute_plan(plan, values.as_mut_ptr(), nulls.as_ptr(), false, 1);
            check_rc(rc, pg_sys::SPI_OK_SELECT as i32, c"SPI_execute_plan");
            if pg_sys::SPI_processed == 0 {
                return None;
            }
            let table = pg_sys::SPI_tuptable;
            let mut is_null = false;
            let value = pg_sys::SPI_getbinval(*(*table).vals, (*table).tupdesc, 1, &mut is_null);
            (!is_null).then(|| value.value() as i64)
        }
    }

    /// Runs a kept statement that changes rows.
    pub fn execute(&self, statement: Statement, params: &[Param], expected: u32) {
        unsafe {
            let plan = self.kept_plan(statement);
            let (mut values, nulls) = values_and_nulls(params);
            let rc = pg_sys::SPI_execute_plan(plan, values.as_mut_ptr(), nulls.as_ptr(), false, 0);
            check_rc(rc, expected as i32, c"SPI_execute_plan");
        }
    }

    /// Runs a kept read and streams its rows into the set-returning
    /// function's result.
    pub unsafe fn read_into_result(
        &self,
        result: &SetResult,
        statement: Statement,
        params: &[Param],
    ) {
        unsafe {
            self.run_into(
                result,
                self.kept_plan(statement),
                arg_types(statement),
                params,
            )
        }
    }

    /// Plans and runs a one-off read (one with a caller's SQL condition).
    pub unsafe fn read_sql_into_result(
        &self,
        result: &SetResult,
        sql: &str,
        arg_types: &[Oid],
        params: &[Param],
    ) {
        let sql = CString::new(sql)
            .unwrap_or_else(|_| raise(Error::InvalidCondition { fault: Fault::Nul }));
        unsafe {
            let plan = self.prepare(&sql, arg_types, 0);
            // The condition was checked to be one expression, so the text is
            // one statement; a plan of several would run them all.
            let sources = pg_sys::SPI_plan_get_plan_sources(plan);
            if sources.is_null() || (*sources).length != 1 {
                pg_sys::SPI_freeplan(plan);
                raise(Error::InvalidCondition {
                    fault: Fault::NotOneExpression,
                });
            }
            self.run_into(result, plan, arg_types, params);
            pg_sys::SPI_freeplan(plan);
        }
    }

    unsafe fn run_into(
        &self,
        result: &SetResult,
        plan: pg_sys::SPIPlanPtr,
        arg_types: &[Oid],
        params: &[Param],
    ) {
        unsafe {
            let list = pg_sys::makeParamList(params.len() as i32);
            let slots = (*list).params.as_mut_slice(params.len());
            for ((slot, param), type_oid) in slots.iter_mut().zip(params).zip(arg_types) {
                *slot = pg_sys::ParamExternData {
                    value: param.0.unwrap_or(Datum::from(0)),
                    isnull: param.0.is_none(),
                    pflags: pg_sys::PARAM_FLAG_CONST as u16,
                    ptype: *type_oid,
                };
            }
            let options = pg_sys::SPIExecuteOptions {
                params: list,
                read_only: false,
                allow_nonatomic: false,
                // A statement that returns no rows is an error, not an empty read.
                must_return_tuples: true,
                tcount: 0,
                dest: result.dest,
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

fn values_and_nulls(params: &[Param]) -> (Vec<Datum>, Vec<std::ffi::c_char>) {
    params
        .iter()
        .map(|p| match p.0 {
            Some(datum) => (datum, b' ' as std::ffi::c_char),
            None => (Datum::from(0), b'n' as std::ffi::c_char),
        })
        .unzip()
}

fn check_rc(rc: i32, expected: i32, what: &CStr) {
    if rc != expected {
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
    // executor/tstoreReceiver.h; not in pgrx's bindings. Only stores its
    // arguments in the receiver, so it cannot raise an error.
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
/// appends query rows to it.
pub struct SetResult {
    dest: *mut pg_sys::DestReceiver,
}

impl SetResult {
    /// Sets up the call's result (checking that the caller accepts a set).
    pub unsafe fn new(fcinfo: pg_sys::FunctionCallInfo) -> SetResult {
        unsafe {
            pg_sys::InitMaterializedSRF(fcinfo, 0);
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
            SetResult { dest }
        }
    }

    /// The SQL return value of a materialized set-returning call.
    pub unsafe fn finish(self, fcinfo: pg_sys::FunctionCallInfo) -> Datum {
        unsafe {
            if let Some(destroy) = (*self.dest).rDestroy {
                destroy(self.dest);
            }
            pgrx::fcinfo::pg_return_null(fcinfo)
        }
    }
}
