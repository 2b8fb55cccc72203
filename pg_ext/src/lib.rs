//! The `message_store` Postgres extension: Message DB 1.3's functions as C
//! functions over the rules in `message_store_core`.

mod condition;
mod fmgr;
mod spi;

use fmgr::{
    arg_bytes, arg_datum, arg_i64, arg_str, check, return_null, return_text, setting,
    setting_is_on, sql_function, text_datum,
};
use message_store_core::condition::Dialect;
use message_store_core::error::display_nullable;
use message_store_core::read::{sql_condition_enabled, CategoryRead, ConditionGate, StreamRead};
use message_store_core::statement::Statement;
use message_store_core::write::CategoryLock;
use message_store_core::{self as rules, MESSAGE_STORE_VERSION};
use pgrx::pg_sys::{self, Datum};
use spi::{Connection, Param, SetResult};

::pgrx::pg_module_magic!();

::pgrx::extension_sql_file!("../../sql/schema.sql", name = "schema");

const DEBUG: &std::ffi::CStr = c"message_store.debug";
const DEBUG_WRITE: &std::ffi::CStr = c"message_store.debug_write";
const DEBUG_GET: &std::ffi::CStr = c"message_store.debug_get";
const SQL_CONDITION: &std::ffi::CStr = c"message_store.sql_condition";

fn debug_write() -> bool {
    setting_is_on(DEBUG_WRITE) || setting_is_on(DEBUG)
}

fn debug_get() -> bool {
    setting_is_on(DEBUG_GET) || setting_is_on(DEBUG)
}

/// A reader's SQL condition on Postgres: `message_store.sql_condition`,
/// and Postgres' lexical rules as `standard_conforming_strings` sets them.
/// Postgres' parser then reads the condition too (`condition.rs`).
struct Settings;

impl ConditionGate for Settings {
    fn enabled(&self) -> bool {
        sql_condition_enabled(setting(SQL_CONDITION).as_deref())
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres {
            standard_conforming_strings: setting_is_on(c"standard_conforming_strings"),
        }
    }
}

/// A name or other text argument as it appears in a notice.
fn shown(bytes: Option<&[u8]>) -> String {
    display_nullable(bytes.map(String::from_utf8_lossy))
}

fn notice(lines: &[String]) {
    for line in lines {
        pgrx::notice!("{line}");
    }
}

// Stream-name rules.

sql_function! {
    /// `category(stream_name varchar) RETURNS varchar`, STRICT.
    fn message_store_category / pg_finfo_message_store_category(fcinfo) {
        let name = arg_bytes(fcinfo, 0).unwrap_or_default();
        text_datum(rules::category(name))
    }
}

sql_function! {
    /// `id(stream_name varchar) RETURNS varchar`, STRICT.
    fn message_store_id / pg_finfo_message_store_id(fcinfo) {
        let name = arg_bytes(fcinfo, 0).unwrap_or_default();
        return_text(rules::id(name), fcinfo)
    }
}

sql_function! {
    /// `cardinal_id(stream_name varchar) RETURNS varchar`, STRICT.
    fn message_store_cardinal_id / pg_finfo_message_store_cardinal_id(fcinfo) {
        let name = arg_bytes(fcinfo, 0).unwrap_or_default();
        return_text(rules::cardinal_id(name), fcinfo)
    }
}

sql_function! {
    /// `is_category(stream_name varchar) RETURNS boolean`; NULL is a category.
    fn message_store_is_category / pg_finfo_message_store_is_category(fcinfo) {
        Datum::from(rules::is_category(arg_bytes(fcinfo, 0)))
    }
}

sql_function! {
    /// `hash_64(value varchar) RETURNS bigint`, STRICT.
    fn message_store_hash_64 / pg_finfo_message_store_hash_64(fcinfo) {
        Datum::from(rules::hash_64(arg_bytes(fcinfo, 0).unwrap_or_default()))
    }
}

sql_function! {
    /// `is_consumer_group_member(stream_name, member, size) RETURNS boolean`, STRICT.
    fn message_store_is_consumer_group_member / pg_finfo_message_store_is_consumer_group_member(fcinfo) {
        let name = arg_bytes(fcinfo, 0).unwrap_or_default();
        let member = arg_i64(fcinfo, 1).unwrap_or_default();
        let size = arg_i64(fcinfo, 2).unwrap_or_default();
        Datum::from(check(rules::is_consumer_group_member(name, member, size)))
    }
}

sql_function! {
    /// `message_store_version() RETURNS varchar`: the Message DB API level.
    fn message_store_message_store_version / pg_finfo_message_store_message_store_version(_fcinfo) {
        text_datum(MESSAGE_STORE_VERSION.as_bytes())
    }
}

// Locking and writing.

/// Takes the transaction-scoped advisory lock of the stream's category, so
/// writers of one category commit in global-position order. A NULL name
/// takes no lock. Returns the lock key.
unsafe fn acquire_lock(stream_name: Option<&[u8]>, debug: bool) -> Option<i64> {
    let lock = stream_name.map(CategoryLock::of);
    let category = lock.map(|lock| lock.category);
    let key = lock.map(|lock| lock.key);
    if let Some(key) = key {
        unsafe {
            pgrx::fcinfo::direct_function_call_as_datum(
                pg_sys::pg_advisory_xact_lock_int8,
                &[Some(Datum::from(key))],
            );
        }
    }
    if debug {
        notice(&[
            "» acquire_lock".to_string(),
            format!("stream_name: {}", shown(stream_name)),
            format!("_category: {}", shown(category)),
            format!("_category_name_hash: {}", display_nullable(key)),
        ]);
    }
    key
}

sql_function! {
    /// `acquire_lock(stream_name varchar) RETURNS bigint`.
    fn message_store_acquire_lock / pg_finfo_message_store_acquire_lock(fcinfo) {
        match acquire_lock(arg_bytes(fcinfo, 0), debug_write()) {
            Some(key) => Datum::from(key),
            None => return_null(fcinfo),
        }
    }
}

sql_function! {
    /// `stream_version(stream_name varchar) RETURNS bigint`: NULL for an empty stream.
    fn message_store_stream_version / pg_finfo_message_store_stream_version(fcinfo) {
        let connection = Connection::connect();
        let version = connection.select_i64(Statement::StreamVersion, &[Param(arg_datum(fcinfo, 0))]);
        connection.finish();
        match version {
            Some(version) => Datum::from(version),
            None => return_null(fcinfo),
        }
    }
}

/// A text datum read as a uuid by Postgres' own input function (which
/// accepts upper case, braces and missing hyphens, and raises 22P02
/// `invalid input syntax for type uuid` otherwise).
unsafe fn uuid_from_text(text: Datum) -> Datum {
    unsafe {
        let chars = pg_sys::text_to_cstring(text.cast_mut_ptr());
        pgrx::fcinfo::direct_function_call_as_datum(pg_sys::uuid_in, &[Some(Datum::from(chars))])
            .expect("uuid_in returns a uuid")
    }
}

/// The text of a jsonb datum, for debug notices.
unsafe fn jsonb_text(datum: Option<Datum>) -> String {
    match datum {
        Some(datum) => unsafe {
            let text =
                pgrx::fcinfo::direct_function_call_as_datum(pg_sys::jsonb_out, &[Some(datum)])
                    .expect("jsonb_out returns text");
            std::ffi::CStr::from_ptr(text.cast_mut_ptr())
                .to_string_lossy()
                .into_owned()
        },
        None => "<NULL>".to_string(),
    }
}

sql_function! {
    /// `write_message(id, stream_name, type, data, metadata, expected_version) RETURNS bigint`:
    /// appends a message to a stream and returns its position.
    fn message_store_write_message / pg_finfo_message_store_write_message(fcinfo) {
        let id = arg_datum(fcinfo, 0);
        let stream_name_datum = arg_datum(fcinfo, 1);
        let stream_name = arg_bytes(fcinfo, 1);
        let message_type = arg_datum(fcinfo, 2);
        let data = arg_datum(fcinfo, 3);
        let metadata = arg_datum(fcinfo, 4);
        let expected_version = arg_i64(fcinfo, 5);
        let debug = debug_write();

        acquire_lock(stream_name, debug);
        let connection = Connection::connect();
        let stream_version =
            connection.select_i64(Statement::StreamVersion, &[Param(stream_name_datum)]);
        let position = check(rules::write::next_position(
            stream_name,
            stream_version,
            expected_version,
        ));
        // The id becomes a uuid here, after the version check and before the
        // insert: an id that is not a uuid fails with Postgres' own error and
        // uses up no global position, however the insert is planned.
        let id = id.map(|text| uuid_from_text(text));
        connection.execute(
            Statement::Insert,
            &[
                Param(id),
                Param(stream_name_datum),
                Param(Some(Datum::from(position))),
                Param(message_type),
                Param(data),
                Param(metadata),
            ],
            pg_sys::SPI_OK_INSERT,
        );
        connection.finish();

        if debug {
            let stream_version = stream_version.unwrap_or(rules::write::EMPTY_STREAM_VERSION);
            notice(&[
                "» write_message".to_string(),
                format!("id ($1): {}", shown(arg_bytes(fcinfo, 0))),
                format!("stream_name ($2): {}", shown(stream_name)),
                format!("type ($3): {}", shown(arg_bytes(fcinfo, 2))),
                format!("data ($4): {}", jsonb_text(data)),
                format!("metadata ($5): {}", jsonb_text(metadata)),
                format!("expected_version ($6): {}", display_nullable(expected_version)),
                format!("_stream_version: {stream_version}"),
                format!("_next_position: {position}"),
            ]);
        }
        Datum::from(position)
    }
}

// Reading.

/// Runs a read into the call's result: the statement's kept plan, or the
/// one-off query that holds a caller's SQL condition.
unsafe fn read_messages(
    fcinfo: pg_sys::FunctionCallInfo,
    statement: Statement,
    condition_sql: Option<&str>,
    params: &[Param],
) -> Datum {
    unsafe {
        let result = SetResult::new(fcinfo);
        let connection = Connection::connect();
        match condition_sql {
            Some(sql) => {
                connection.read_sql_into_result(&result, sql, spi::arg_types(statement), params)
            }
            None => connection.read_into_result(&result, statement, params),
        }
        connection.finish();
        result.finish(fcinfo)
    }
}

/// The limit parameter: NULL reads without a limit.
fn limit_param(limit: Option<i64>) -> Param {
    Param(limit.map(Datum::from))
}

sql_function! {
    /// `get_stream_messages(stream_name, position, batch_size, condition) RETURNS SETOF message`.
    fn message_store_get_stream_messages / pg_finfo_message_store_get_stream_messages(fcinfo) {
        let read = check(StreamRead::new(
            arg_bytes(fcinfo, 0),
            arg_i64(fcinfo, 1),
            arg_i64(fcinfo, 2),
            arg_str(fcinfo, 3),
            &Settings,
        ));
        let statement = Statement::of_stream_read(&read);
        if let Some(condition) = read.condition {
            condition::parse_condition(condition);
        }
        let sql = read.condition.map(|condition| spi::text(statement).with_condition(condition));
        if debug_get() {
            notice(&[
                "» get_stream_messages".to_string(),
                format!("stream_name ($1): {}", shown(Some(read.stream_name))),
                format!("position ($2): {}", read.position),
                format!("batch_size ($3): {}", read.batch_size),
                format!("condition ($4): {}", display_nullable(read.condition)),
                format!(
                    "Generated Command: {}",
                    sql.clone().unwrap_or_else(|| spi::text(statement).sql())
                ),
            ]);
        }
        let limit = check(read.limit());
        let params = [
            Param(arg_datum(fcinfo, 0)),
            Param(Some(Datum::from(read.position))),
            limit_param(limit),
        ];
        read_messages(fcinfo, statement, sql.as_deref(), &params)
    }
}

sql_function! {
    /// `get_category_messages(category, position, batch_size, correlation,
    /// consumer_group_member, consumer_group_size, condition) RETURNS SETOF message`.
    fn message_store_get_category_messages / pg_finfo_message_store_get_category_messages(fcinfo) {
        let read = check(CategoryRead::new(
            arg_bytes(fcinfo, 0),
            arg_i64(fcinfo, 1),
            arg_i64(fcinfo, 2),
            arg_bytes(fcinfo, 3),
            arg_i64(fcinfo, 4),
            arg_i64(fcinfo, 5),
            arg_str(fcinfo, 6),
            &Settings,
        ));
        let statement = Statement::of_category_read(&read);
        if let Some(condition) = read.condition {
            condition::parse_condition(condition);
        }
        let sql = read.condition.map(|condition| spi::text(statement).with_condition(condition));
        if debug_get() {
            notice(&[
                "» get_category_messages".to_string(),
                format!("category ($1): {}", shown(read.category)),
                format!("position ($2): {}", read.position),
                format!("batch_size ($3): {}", read.batch_size),
                format!("correlation ($4): {}", shown(read.correlation)),
                format!(
                    "consumer_group_member ($5): {}",
                    display_nullable(read.consumer_group.map(|g| g.member))
                ),
                format!(
                    "consumer_group_size ($6): {}",
                    display_nullable(read.consumer_group.map(|g| g.size))
                ),
                format!("condition: {}", display_nullable(read.condition)),
                format!(
                    "Generated Command: {}",
                    sql.clone().unwrap_or_else(|| spi::text(statement).sql())
                ),
            ]);
        }
        let limit = check(read.check_execution());
        let params = [
            Param(arg_datum(fcinfo, 0)),
            Param(Some(Datum::from(read.position))),
            limit_param(limit),
            Param(arg_datum(fcinfo, 3)),
            Param(read.consumer_group.map(|g| Datum::from(g.member))),
            Param(read.consumer_group.map(|g| Datum::from(g.size))),
        ];
        read_messages(fcinfo, statement, sql.as_deref(), &params)
    }
}

sql_function! {
    /// `get_last_stream_message(stream_name, type) RETURNS SETOF message`: 0 or 1 row.
    fn message_store_get_last_stream_message / pg_finfo_message_store_get_last_stream_message(fcinfo) {
        let stream_name = arg_datum(fcinfo, 0);
        let message_type = arg_datum(fcinfo, 1);
        let statement = Statement::last_message(message_type.is_some());
        if debug_get() {
            notice(&[
                "» get_last_message".to_string(),
                format!("stream_name ($1): {}", shown(arg_bytes(fcinfo, 0))),
                format!("type ($2): {}", shown(arg_bytes(fcinfo, 1))),
                format!("Generated Command: {}", spi::text(statement).sql()),
            ]);
        }
        read_messages(fcinfo, statement, None, &[Param(stream_name), Param(message_type)])
    }
}
