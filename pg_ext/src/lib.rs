//! The `message_store` Postgres extension: Message DB 1.3's functions as C
//! functions over the rules in `message_store_core`.

mod all;
mod condition;
mod fmgr;
mod listing;
mod notify;
mod replica;
mod retention;
pub mod signatures;
mod spi;
mod transfer;

use fmgr::{check, setting, setting_is_on, sql_function, Call};
use message_store_core::batch::{Batch, Call as BatchCall, Plan};
use message_store_core::condition::Dialect;
use message_store_core::error::display_nullable;
use message_store_core::read::{sql_condition_enabled, CategoryRead, ConditionGate, StreamRead};
use message_store_core::statement::Statement;
use message_store_core::write::CategoryLock;
use message_store_core::{self as rules, MESSAGE_STORE_VERSION};
use pgrx::pg_sys::{self, Datum};
use signatures::*;
use spi::{Connection, JsonbStep, Param};

::pgrx::pg_module_magic!();

// Adopting a Message DB store in place runs first (it makes the store's
// objects members before schema.sql replaces them).
::pgrx::extension_sql_file!("../../sql/adopt.sql", name = "adopt", bootstrap);
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
    fn message_store_category / pg_finfo_message_store_category = category::FUNCTION;
    |call| {
        let name = call.bytes(category::STREAM_NAME).unwrap_or_default();
        let result = call.return_text(Some(rules::category(name)));
        call.panic_probe();
        result
    }
}

sql_function! {
    /// `id(stream_name varchar) RETURNS varchar`, STRICT.
    fn message_store_id / pg_finfo_message_store_id = id::FUNCTION;
    |call| {
        let name = call.bytes(id::STREAM_NAME).unwrap_or_default();
        call.return_text(rules::id(name))
    }
}

sql_function! {
    /// `cardinal_id(stream_name varchar) RETURNS varchar`, STRICT.
    fn message_store_cardinal_id / pg_finfo_message_store_cardinal_id = cardinal_id::FUNCTION;
    |call| {
        let name = call.bytes(cardinal_id::STREAM_NAME).unwrap_or_default();
        call.return_text(rules::cardinal_id(name))
    }
}

sql_function! {
    /// `is_category(stream_name varchar) RETURNS boolean`; NULL is a category.
    fn message_store_is_category / pg_finfo_message_store_is_category = is_category::FUNCTION;
    |call| {
        Datum::from(rules::is_category(call.bytes(is_category::STREAM_NAME)))
    }
}

sql_function! {
    /// `hash_64(value varchar) RETURNS bigint`, STRICT.
    fn message_store_hash_64 / pg_finfo_message_store_hash_64 = hash_64::FUNCTION;
    |call| {
        Datum::from(rules::hash_64(call.bytes(hash_64::VALUE).unwrap_or_default()))
    }
}

sql_function! {
    /// `is_consumer_group_member(stream_name, member, size) RETURNS boolean`, STRICT.
    fn message_store_is_consumer_group_member / pg_finfo_message_store_is_consumer_group_member
        = is_consumer_group_member::FUNCTION;
    |call| {
        use is_consumer_group_member as f;
        let name = call.bytes(f::STREAM_NAME).unwrap_or_default();
        let member = call.i64(f::CONSUMER_GROUP_MEMBER).unwrap_or_default();
        let size = call.i64(f::CONSUMER_GROUP_SIZE).unwrap_or_default();
        Datum::from(check(rules::is_consumer_group_member(name, member, size)))
    }
}

sql_function! {
    /// `message_store_version() RETURNS varchar`: the Message DB API level.
    fn message_store_message_store_version / pg_finfo_message_store_message_store_version
        = message_store_version::FUNCTION;
    |call| {
        call.return_text(Some(MESSAGE_STORE_VERSION.as_bytes()))
    }
}

// Locking and writing.

/// Takes a transaction-scoped advisory lock (`pg_advisory_xact_lock`).
fn advisory_xact_lock(key: i64) {
    // SAFETY: pg_advisory_xact_lock_int8 takes one bigint, not NULL.
    unsafe {
        pgrx::fcinfo::direct_function_call_as_datum(
            pg_sys::pg_advisory_xact_lock_int8,
            &[Some(Datum::from(key))],
        );
    }
}

/// Takes the transaction-scoped advisory lock of the stream's category, so
/// writers of one category commit in global-position order. A NULL name
/// takes no lock. Returns the lock key.
fn acquire_lock(stream_name: Option<&[u8]>, debug: bool) -> Option<i64> {
    let lock = stream_name.map(CategoryLock::of);
    let category = lock.map(|lock| lock.category);
    let key = lock.map(|lock| lock.key);
    if let Some(key) = key {
        advisory_xact_lock(key);
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
    fn message_store_acquire_lock / pg_finfo_message_store_acquire_lock = acquire_lock::FUNCTION;
    |call| {
        call.return_i64(acquire_lock(call.bytes(acquire_lock::STREAM_NAME), debug_write()))
    }
}

sql_function! {
    /// `stream_version(stream_name varchar) RETURNS bigint`: NULL for an empty stream.
    fn message_store_stream_version / pg_finfo_message_store_stream_version
        = stream_version::FUNCTION;
    |call| {
        let connection = Connection::connect();
        let version = connection.select_i64(
            Statement::StreamVersion,
            &[call.param(stream_version::STREAM_NAME)],
        );
        connection.finish();
        call.return_i64(version)
    }
}

sql_function! {
    /// `write_message(id, stream_name, type, data, metadata, expected_version) RETURNS bigint`:
    /// appends a message to a stream and returns its position.
    fn message_store_write_message / pg_finfo_message_store_write_message
        = write_message::FUNCTION;
    |call| {
        use write_message as f;
        replica::refuse_read_only("write_message");
        let stream_name = call.bytes(f::STREAM_NAME);
        let expected_version = call.i64(f::EXPECTED_VERSION);
        let debug = debug_write();
        let notify = notify::enabled();

        acquire_lock(stream_name, debug);
        let connection = Connection::connect();
        let stream_version =
            connection.select_i64(Statement::StreamVersion, &[call.param(f::STREAM_NAME)]);
        let position = check(rules::write::next_position(
            stream_name,
            stream_version,
            expected_version,
        ));
        // The id becomes a uuid here, after the version check and before the
        // insert: an id that is not a uuid fails with Postgres' own error and
        // uses up no global position, however the insert is planned.
        let id = call.uuid_param(f::ID);
        connection.execute(
            Statement::Insert,
            &[
                id,
                call.param(f::STREAM_NAME),
                Param::int8(Some(position)),
                call.param(f::TYPE),
                call.param(f::DATA),
                call.param(f::METADATA),
            ],
            pg_sys::SPI_OK_INSERT,
        );
        if notify {
            let category = rules::category(stream_name.unwrap_or_default());
            notify::record(category, connection.current_global_position());
        }
        call.panic_probe();
        connection.finish();

        if debug {
            let stream_version = stream_version.unwrap_or(rules::write::EMPTY_STREAM_VERSION);
            notice(&[
                "» write_message".to_string(),
                format!("id ($1): {}", shown(call.bytes(f::ID))),
                format!("stream_name ($2): {}", shown(stream_name)),
                format!("type ($3): {}", shown(call.bytes(f::TYPE))),
                format!("data ($4): {}", call.jsonb_text(f::DATA)),
                format!("metadata ($5): {}", call.jsonb_text(f::METADATA)),
                format!("expected_version ($6): {}", display_nullable(expected_version)),
                format!("_stream_version: {stream_version}"),
                format!("_next_position: {position}"),
            ]);
        }
        Datum::from(position)
    }
}

/// Writes a checked batch in the order core's `batch` module gives:
/// the category locks in ascending key order, then (idempotent) the stored
/// outcome, then the versions, the plan and the rows. `insert` inserts the
/// plan's rows and returns how many it inserted; a batch of one message
/// goes in through `write_message`'s statement instead. Returns each
/// entry's last position. With `notify`, records the categories written
/// (`notify`): here when the batch writes one category, by `insert` when
/// it writes more.
fn write_checked_batch(
    batch: &Batch<'_>,
    idempotent: bool,
    notify: bool,
    argument: Param<'_>,
    insert: impl FnOnce(&Connection, &Plan<'_>) -> u64,
) -> Vec<i64> {
    for key in batch.lock_keys() {
        advisory_xact_lock(key);
    }
    let connection = Connection::connect();
    if idempotent {
        let ids: Vec<&str> = batch
            .entries
            .iter()
            .flat_map(|entry| entry.messages.iter().map(|message| message.id.as_str()))
            .collect();
        let mut stored = connection.stored_by_id(&format!("{{{}}}", ids.join(",")));
        if let Some(positions) = check(batch.stored_outcome(|id| stored.remove(id))) {
            connection.finish();
            return positions;
        }
    }
    let plan = check(batch.plan(|name| {
        connection.select_i64(Statement::StreamVersion, &[connection.text_param(name)])
    }));
    let inserted = match plan.rows[..] {
        // One message: write_message's own statement, which costs less
        // than a set-based insert's plan around one row. Its data and
        // metadata are taken from the argument as jsonb, not read again
        // from their text.
        [row] => {
            let message = &batch.entries[row.entry].messages[row.message];
            let path = match batch.call {
                BatchCall::WriteMessages => vec![JsonbStep::Element(row.message)],
                BatchCall::WriteBatch => vec![
                    JsonbStep::Element(row.entry),
                    JsonbStep::Field("messages"),
                    JsonbStep::Element(row.message),
                ],
            };
            let element = connection.jsonb_at(argument, &path);
            let member = |key| connection.jsonb_at(element, &[JsonbStep::Field(key)]);
            connection.execute(
                Statement::Insert,
                &[
                    connection.uuid_bytes_param(&message.uuid),
                    connection.text_param(row.stream_name),
                    Param::int8(Some(row.position)),
                    connection.text_param(&message.type_),
                    member("data"),
                    match message.metadata {
                        Some(_) => member("metadata"),
                        None => Param::null(pg_sys::JSONBOID),
                    },
                ],
                pg_sys::SPI_OK_INSERT,
            )
        }
        _ => insert(&connection, &plan),
    };
    assert_eq!(
        inserted,
        plan.rows.len() as u64,
        "{} inserted another number of rows than it planned",
        batch.call.name()
    );
    if notify {
        if let [category] = &batch_categories(batch)[..] {
            notify::record(category, connection.current_global_position());
        }
    }
    connection.finish();
    plan.last_positions()
}

/// The distinct categories a batch writes to.
fn batch_categories<'b>(batch: &'b Batch<'_>) -> Vec<&'b [u8]> {
    let mut categories: Vec<&[u8]> = batch
        .entries
        .iter()
        .map(|entry| rules::category(entry.stream_name.as_bytes()))
        .collect();
    categories.sort_unstable();
    categories.dedup();
    categories
}

fn debug_batch(batch: &Batch<'_>, idempotent: bool, positions: &[i64]) {
    let mut lines = vec![format!("» {}", batch.call.name())];
    for (index, entry) in batch.entries.iter().enumerate() {
        lines.push(format!(
            "entry {index}: stream_name: {}, expected_version: {}, messages: {}, last position: {}",
            entry.stream_name,
            display_nullable(entry.expected_version),
            entry.messages.len(),
            positions[index]
        ));
    }
    lines.push(format!("idempotent: {idempotent}"));
    notice(&lines);
}

sql_function! {
    /// `write_messages(stream_name, messages, expected_version, idempotent) RETURNS bigint`:
    /// appends every message of a JSON array to one stream, atomically, and
    /// returns the last one's position.
    fn message_store_write_messages / pg_finfo_message_store_write_messages
        = write_messages::FUNCTION;
    |call| {
        use write_messages as f;
        replica::refuse_read_only("write_messages");
        let json = call.jsonb_out(f::MESSAGES);
        let batch = check(Batch::of_write_messages(
            call.bytes(f::STREAM_NAME),
            json.as_deref(),
            call.i64(f::EXPECTED_VERSION),
        ));
        let idempotent = call.bool(f::IDEMPOTENT).unwrap_or(false);
        let messages = call.param(f::MESSAGES);
        let notify = notify::enabled();
        let positions = write_checked_batch(&batch, idempotent, notify, messages, |connection, plan| {
            let before = plan.entries[0].first - 1;
            connection.execute(
                Statement::InsertMessages,
                &[
                    messages,
                    call.param(f::STREAM_NAME),
                    Param::int8(Some(before)),
                ],
                pg_sys::SPI_OK_INSERT,
            )
        });
        call.panic_probe();
        if debug_write() {
            debug_batch(&batch, idempotent, &positions);
        }
        Datum::from(positions[0])
    }
}

sql_function! {
    /// `write_batch(batch, idempotent) RETURNS bigint[]`: writes the
    /// messages of several streams, atomically, and returns each entry's
    /// last position in input order.
    fn message_store_write_batch / pg_finfo_message_store_write_batch = write_batch::FUNCTION;
    |call| {
        use write_batch as f;
        replica::refuse_read_only("write_batch");
        let json = call.jsonb_out(f::BATCH);
        let batch = check(Batch::of_write_batch(json.as_deref()));
        let idempotent = call.bool(f::IDEMPOTENT).unwrap_or(false);
        let entries = call.param(f::BATCH);
        let notify = notify::enabled();
        let several_categories = notify && batch_categories(&batch).len() > 1;
        let positions = write_checked_batch(&batch, idempotent, notify, entries, |connection, plan| {
            let before: Vec<i64> = plan.entries.iter().map(|span| span.first - 1).collect();
            let params = [entries, connection.int8_array_param(&before)];
            if several_categories {
                // Each stream's highest position, from the rows the insert
                // returns; the record keeps each category's highest.
                let (inserted, streams) = connection.insert_entries_positions(&params);
                for (stream_name, position) in &streams {
                    notify::record(rules::category(stream_name), *position);
                }
                return inserted;
            }
            connection.execute(Statement::InsertEntries, &params, pg_sys::SPI_OK_INSERT)
        });
        call.panic_probe();
        if debug_write() {
            debug_batch(&batch, idempotent, &positions);
        }
        call.return_i64_array(&positions)
    }
}

// Reading.

/// Runs a read into the call's result: the statement's kept plan, or the
/// one-off query that holds a caller's SQL condition.
fn read_messages(
    call: &Call,
    statement: Statement,
    condition_sql: Option<&str>,
    params: &[Param],
) -> Datum {
    let result = call.set_result();
    let connection = Connection::connect();
    match condition_sql {
        Some(sql) => connection.read_sql_into_result(&result, sql, statement, params),
        None => connection.read_into_result(&result, statement, params),
    }
    call.panic_probe();
    connection.finish();
    call.return_set(result)
}

sql_function! {
    /// `get_stream_messages(stream_name, position, batch_size, condition) RETURNS SETOF message`.
    fn message_store_get_stream_messages / pg_finfo_message_store_get_stream_messages
        = get_stream_messages::FUNCTION;
    |call| {
        use get_stream_messages as f;
        let read = check(StreamRead::new(
            call.bytes(f::STREAM_NAME),
            call.i64(f::POSITION),
            call.i64(f::BATCH_SIZE),
            call.text(f::CONDITION),
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
            call.param(f::STREAM_NAME),
            Param::int8(Some(read.position)),
            Param::int8(limit),
        ];
        read_messages(&call, statement, sql.as_deref(), &params)
    }
}

sql_function! {
    /// `get_category_messages(category, position, batch_size, correlation,
    /// consumer_group_member, consumer_group_size, condition) RETURNS SETOF message`.
    fn message_store_get_category_messages / pg_finfo_message_store_get_category_messages
        = get_category_messages::FUNCTION;
    |call| {
        use get_category_messages as f;
        let read = check(CategoryRead::new(
            call.bytes(f::CATEGORY),
            call.i64(f::POSITION),
            call.i64(f::BATCH_SIZE),
            call.bytes(f::CORRELATION),
            call.i64(f::CONSUMER_GROUP_MEMBER),
            call.i64(f::CONSUMER_GROUP_SIZE),
            call.text(f::CONDITION),
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
            call.param(f::CATEGORY),
            Param::int8(Some(read.position)),
            Param::int8(limit),
            call.param(f::CORRELATION),
            Param::int8(read.consumer_group.map(|g| g.member)),
            Param::int8(read.consumer_group.map(|g| g.size)),
        ];
        read_messages(&call, statement, sql.as_deref(), &params)
    }
}

sql_function! {
    /// `get_last_stream_message(stream_name, type) RETURNS SETOF message`: 0 or 1 row.
    fn message_store_get_last_stream_message / pg_finfo_message_store_get_last_stream_message
        = get_last_stream_message::FUNCTION;
    |call| {
        use get_last_stream_message as f;
        let message_type = call.param(f::TYPE);
        let statement = Statement::last_message(!call.is_null(f::TYPE));
        if debug_get() {
            notice(&[
                "» get_last_message".to_string(),
                format!("stream_name ($1): {}", shown(call.bytes(f::STREAM_NAME))),
                format!("type ($2): {}", shown(call.bytes(f::TYPE))),
                format!("Generated Command: {}", spi::text(statement).sql()),
            ]);
        }
        read_messages(&call, statement, None, &[call.param(f::STREAM_NAME), message_type])
    }
}
