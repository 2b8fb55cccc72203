//! The scalar functions: the writers, the import, retention and erasure
//! (`retention.rs`), the stream version, the lock, the stream-name
//! functions, hash_64, and `set_config` for the connection's settings.

use std::sync::Arc;

use message_store_core::error::Error;
use message_store_core::{json, time, uuid, write, MESSAGE_STORE_VERSION};
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::Connection;

use crate::args::Arg;
use message_store_core::statement::Statement;

use crate::session::{Session, SQL_CONDITION_SETTING};
use crate::stmt::SqliteError;
use crate::{failure, Failure};

/// Pure functions: SQLite may use them in indexes, views and triggers.
const PURE: FunctionFlags = FunctionFlags::SQLITE_UTF8
    .union(FunctionFlags::SQLITE_DETERMINISTIC)
    .union(FunctionFlags::SQLITE_INNOCUOUS);
/// Functions that read or write the store or change the connection: never
/// from a view or trigger in a schema the application does not control.
const DIRECT: FunctionFlags = FunctionFlags::SQLITE_UTF8.union(FunctionFlags::SQLITE_DIRECTONLY);
/// Harmless anywhere, but a new value on every call.
const VOLATILE: FunctionFlags = FunctionFlags::SQLITE_UTF8.union(FunctionFlags::SQLITE_INNOCUOUS);

fn arg(function: &'static str, name: &'static str) -> Arg {
    Arg { function, name }
}

/// Registers a function under each of its argument counts. The body runs
/// in the guard, so a panic gives the error "<name>: internal error (panic
/// in xFunc)". rusqlite 0.40.2's trampoline (`call_boxed_closure` in
/// src/functions.rs) also runs the closure in `catch_unwind`, giving
/// "unwinding panic", and so would catch a panic of its own result
/// conversion; but its destructor (`free_boxed_value` in src/util/mod.rs)
/// catches nothing, hence `Held`.
fn define<T, F>(
    db: &Connection,
    name: &'static str,
    arities: std::ops::RangeInclusive<i32>,
    flags: FunctionFlags,
    body: F,
) -> rusqlite::Result<()>
where
    T: rusqlite::ToSql,
    F: Fn(&Context<'_>) -> Result<T, Failure> + Clone + Send + 'static,
{
    for arity in arities {
        let body = body.clone();
        db.create_scalar_function(name, arity, flags, move |ctx| {
            match crate::guard(name, "xFunc", || body(ctx)) {
                Ok(result) => result.map_err(failure),
                Err(panic) => Err(failure(panic)),
            }
        })?;
    }
    Ok(())
}

/// One `varchar` argument in, a value out; NULL in is NULL out.
fn define_text_function<T: rusqlite::ToSql + 'static>(
    db: &Connection,
    name: &'static str,
    argument: &'static str,
    body: fn(&[u8]) -> T,
) -> rusqlite::Result<()> {
    define(db, name, 1..=1, PURE, move |ctx| {
        Ok(arg(name, argument).text(ctx.get_raw(0))?.map(body))
    })
}

/// What a function's closure keeps (the session): SQLite drops the
/// closure through rusqlite's destructor, which catches nothing, so the
/// drop runs in the guard here, and a panic in it leaks the value.
struct Held<T> {
    value: Option<T>,
    function: &'static str,
}

impl<T> Held<T> {
    fn new(function: &'static str, value: T) -> Held<T> {
        Held {
            value: Some(value),
            function,
        }
    }
}

impl<T: Clone> Clone for Held<T> {
    fn clone(&self) -> Self {
        Held {
            value: self.value.clone(),
            function: self.function,
        }
    }
}

impl<T> std::ops::Deref for Held<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_ref().expect("present until dropped")
    }
}

impl<T> Drop for Held<T> {
    fn drop(&mut self) {
        let value = self.value.take();
        let _ = crate::guard(self.function, "xDestroy", move || drop(value));
    }
}

fn text_out(bytes: Option<&[u8]>) -> Option<String> {
    bytes.map(|b| String::from_utf8_lossy(b).into_owned())
}

pub fn register(db: &Connection, session: &Arc<Session>) -> rusqlite::Result<()> {
    define_text_function(db, "category", "stream_name", |name| {
        String::from_utf8_lossy(message_store_core::category(name)).into_owned()
    })?;
    define(db, "id", 1..=1, PURE, |ctx| {
        let name = arg("id", "stream_name").text(ctx.get_raw(0))?;
        Ok(text_out(name.and_then(message_store_core::id)))
    })?;
    define(db, "cardinal_id", 1..=1, PURE, |ctx| {
        let name = arg("cardinal_id", "stream_name").text(ctx.get_raw(0))?;
        Ok(text_out(name.and_then(message_store_core::cardinal_id)))
    })?;
    define(db, "is_category", 1..=1, PURE, |ctx| {
        let name = arg("is_category", "stream_name").text(ctx.get_raw(0))?;
        Ok(message_store_core::is_category(name))
    })?;
    define_text_function(db, "hash_64", "value", message_store_core::hash_64)?;
    define(db, "message_store_version", 0..=0, PURE, |_| {
        Ok(MESSAGE_STORE_VERSION)
    })?;
    // Postgres 13+ has it built in: the same SQL then runs on both engines.
    define(db, "gen_random_uuid", 0..=0, VOLATILE, |_| {
        Ok(::uuid::Uuid::new_v4().to_string())
    })?;
    define(db, "is_consumer_group_member", 3..=3, PURE, |ctx| {
        const F: &str = "is_consumer_group_member";
        let name = arg(F, "stream_name").text(ctx.get_raw(0))?;
        let member = arg(F, "consumer_group_member").integer(ctx.get_raw(1))?;
        let size = arg(F, "consumer_group_size").integer(ctx.get_raw(2))?;
        match (name, member, size) {
            (Some(name), Some(member), Some(size)) => Ok(Some(
                message_store_core::is_consumer_group_member(name, member, size)?,
            )),
            _ => Ok(None),
        }
    })?;
    // The writer's own statement asks core for the position (see `Statement::Insert` in session.rs).
    define(db, "message_store_next_position", 3..=3, DIRECT, |ctx| {
        const F: &str = "message_store_next_position";
        let name = arg(F, "stream_name").text(ctx.get_raw(0))?;
        let version = arg(F, "stream_version").integer(ctx.get_raw(1))?;
        let expected = arg(F, "expected_version").integer(ctx.get_raw(2))?;
        Ok(write::next_position(name, version, expected)?)
    })?;

    let s = Held::new("write_message", session.clone());
    define(db, "write_message", 4..=6, DIRECT, move |ctx| {
        write_message(&s, ctx)
    })?;
    let rows = Arc::new(crate::batch::RowSource::default());
    crate::batch::register_rows(db, &rows).map_err(crate::failure)?;
    let s = Held::new("write_messages", (session.clone(), rows.clone()));
    define(db, "write_messages", 2..=4, DIRECT, move |ctx| {
        crate::batch::write_messages(&s.0, &s.1, ctx)
    })?;
    let s = Held::new("write_batch", (session.clone(), rows.clone()));
    define(db, "write_batch", 1..=2, DIRECT, move |ctx| {
        crate::batch::write_batch(&s.0, &s.1, ctx)
    })?;
    let s = Held::new("import_messages", (session.clone(), rows));
    define(db, "import_messages", 1..=1, DIRECT, move |ctx| {
        crate::transfer::import_messages(&s.0, &s.1, ctx)
    })?;
    let s = Held::new("remove_messages", session.clone());
    define(db, "remove_messages", 1..=4, DIRECT, move |ctx| {
        crate::retention::remove_messages(&s, ctx)
    })?;
    let s = Held::new("redact_stream", session.clone());
    define(db, "redact_stream", 1..=1, DIRECT, move |ctx| {
        crate::retention::redact_stream(&s, ctx)
    })?;
    let s = Held::new("set_retention_policy", session.clone());
    define(db, "set_retention_policy", 3..=3, DIRECT, move |ctx| {
        crate::retention::set_retention_policy(&s, ctx)
    })?;
    let s = Held::new("clear_retention_policy", session.clone());
    define(db, "clear_retention_policy", 1..=1, DIRECT, move |ctx| {
        crate::retention::clear_retention_policy(&s, ctx)
    })?;
    let s = Held::new("apply_retention_policies", session.clone());
    define(db, "apply_retention_policies", 0..=1, DIRECT, move |ctx| {
        crate::retention::apply_retention_policies(&s, ctx)
    })?;
    let s = Held::new("stream_version", session.clone());
    define(db, "stream_version", 1..=1, DIRECT, move |ctx| {
        let name = arg("stream_version", "stream_name").text(ctx.get_raw(0))?;
        stream_version(&s, name)
    })?;
    let s = Held::new("acquire_lock", session.clone());
    define(db, "acquire_lock", 1..=1, DIRECT, move |ctx| {
        let name = arg("acquire_lock", "stream_name").text(ctx.get_raw(0))?;
        acquire_lock(&s, name)
    })?;
    let s = Held::new("set_config", session.clone());
    define(db, "set_config", 3..=3, DIRECT, move |ctx| {
        const F: &str = "set_config";
        let name = arg(F, "setting_name").str(ctx.get_raw(0))?;
        let value = arg(F, "new_value").str(ctx.get_raw(1))?;
        let is_local = arg(F, "is_local").integer(ctx.get_raw(2))?;
        if name != Some(SQL_CONDITION_SETTING) {
            return Err(Failure(format!(
                "unrecognized configuration parameter \"{}\": the message store's SQLite extension has only \"{SQL_CONDITION_SETTING}\"",
                name.unwrap_or("<NULL>")
            )));
        }
        if is_local.unwrap_or(0) != 0 {
            return Err(Failure(format!(
                "set_config: \"{SQL_CONDITION_SETTING}\" can only be set for the connection (is_local false)"
            )));
        }
        s.set_sql_condition(value.map(str::to_owned));
        Ok(value.unwrap_or("").to_owned())
    })?;
    Ok(())
}

fn stream_version(session: &Arc<Session>, name: Option<&[u8]>) -> Result<Option<i64>, Failure> {
    let Some(name) = name else {
        return Ok(None);
    };
    if !session.store_exists()? {
        return Ok(None);
    }
    let read = || -> Result<Option<i64>, SqliteError> {
        let mut stmt = session.lend(Statement::StreamVersion)?;
        stmt.bind_text(1, name);
        Ok(if stmt.step()? {
            stmt.column_opt_i64(0)
        } else {
            None
        })
    };
    match read() {
        Ok(version) => Ok(version),
        Err(error) if session.table_dropped(&error.message) && !session.store_exists()? => Ok(None),
        Err(error) => Err(Failure::from(error)),
    }
}

/// The category's lock key, as on Postgres. SQLite has one writer at a time
/// per database, so taking the database's write lock until the transaction
/// ends holds every category's lock.
fn acquire_lock(session: &Arc<Session>, name: Option<&[u8]>) -> Result<Option<i64>, Failure> {
    let Some(name) = name else {
        return Ok(None);
    };
    session.ensure_store()?;
    let lock = || {
        session
            .db
            .execute_batch("UPDATE main.message_store_schema SET version = version WHERE 0")
    };
    match lock() {
        Ok(()) => {}
        // Gone since this connection made them (a rolled-back first write):
        // made again, as the writer does.
        Err(error) if session.table_dropped(&error.message) => {
            session.ensure_store()?;
            lock().map_err(Failure::from)?;
        }
        Err(error) => return Err(Failure::from(error)),
    }
    Ok(Some(write::CategoryLock::of(name).key))
}

/// The text of a SQLite constraint error as Postgres words it.
pub(crate) fn constraint_error(error: SqliteError) -> Failure {
    let column = error
        .message
        .strip_prefix("NOT NULL constraint failed: messages.")
        .map(str::to_owned);
    match (error.code, column) {
        (rusqlite::ffi::SQLITE_CONSTRAINT_NOTNULL, Some(column)) => {
            Error::NotNullViolation { column }.into()
        }
        (rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE, _) if error.message.ends_with("messages.id") => {
            Error::UniqueViolation {
                constraint: "messages_id",
            }
            .into()
        }
        (rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE, _) => Error::UniqueViolation {
            constraint: "messages_stream",
        }
        .into(),
        _ => Failure::from(error),
    }
}

fn write_message(session: &Arc<Session>, ctx: &Context<'_>) -> Result<i64, Failure> {
    const F: &str = "write_message";
    let optional = |i: usize| (i < ctx.len()).then(|| ctx.get_raw(i));
    let id = arg(F, "id").str(ctx.get_raw(0))?;
    let stream_name = arg(F, "stream_name").text(ctx.get_raw(1))?;
    let type_ = arg(F, "type").text(ctx.get_raw(2))?;
    let data = arg(F, "data").str(ctx.get_raw(3))?;
    let metadata = match optional(4) {
        Some(value) => arg(F, "metadata").str(value)?,
        None => None,
    };
    let expected_version = match optional(5) {
        Some(value) => arg(F, "expected_version").integer(value)?,
        None => None,
    };
    // Postgres parses jsonb arguments when the call is bound, before the body
    // runs. Their text can be far longer than the input: it is refused as
    // soon as it would pass the longest value the connection stores.
    let max_len = session.db.length_limit();
    let canonical = |text: &str| json::canonical_json_within(text, max_len);
    let data = data.map(canonical).transpose()?;
    let metadata = metadata.map(canonical).transpose()?;
    let id = match id.map(uuid::canonical_uuid).transpose() {
        Ok(id) => id,
        Err(invalid) => {
            // Postgres checks the expected version before it casts the id.
            if expected_version.is_some() {
                let version = stream_version(session, stream_name)?;
                write::next_position(stream_name, version, expected_version)?;
            }
            return Err(invalid.into());
        }
    };
    insert_message(
        session,
        "write_message",
        &OneMessage {
            stream_name,
            type_,
            data: data.as_deref().map(str::as_bytes),
            metadata: metadata.as_deref().map(str::as_bytes),
            id: id.as_deref().map(str::as_bytes),
            expected_version,
        },
    )
}

/// One message as `write_message`'s statement takes it (NULLs are refused
/// by the table's NOT NULL columns).
pub(crate) struct OneMessage<'a> {
    pub stream_name: Option<&'a [u8]>,
    pub type_: Option<&'a [u8]>,
    /// Canonical JSON text.
    pub data: Option<&'a [u8]>,
    pub metadata: Option<&'a [u8]>,
    /// The canonical uuid form.
    pub id: Option<&'a [u8]>,
    pub expected_version: Option<i64>,
}

/// Writes one message with `write_message`'s single statement, which takes
/// the write lock before it reads the stream's version (core checks the
/// expected version inside it) and is atomic on its own; `function` names
/// the caller in the error of an insert without a position.
pub(crate) fn insert_message(
    session: &Arc<Session>,
    function: &str,
    message: &OneMessage<'_>,
) -> Result<i64, Failure> {
    let time = time::format_timestamp(time::now_micros());
    let insert = |session: &Arc<Session>| -> Result<i64, SqliteError> {
        let mut stmt = session.lend(Statement::Insert)?;
        stmt.bind_opt_text(1, message.stream_name);
        stmt.bind_text(2, time.as_bytes());
        stmt.bind_opt_text(3, message.type_);
        stmt.bind_opt_text(4, message.data);
        stmt.bind_opt_text(5, message.metadata);
        stmt.bind_opt_text(6, message.id);
        stmt.bind_opt_i64(7, message.expected_version);
        if !stmt.step()? {
            return Err(SqliteError {
                code: rusqlite::ffi::SQLITE_ERROR,
                message: format!("{function}: the insert gave no position"),
            });
        }
        let position = stmt.column_i64(0);
        // Stepping to the end commits an autocommit write and reports a
        // failed commit; resetting would hide it.
        stmt.step()?;
        Ok(position)
    };
    session.ensure_store()?;
    match insert(session) {
        Ok(position) => Ok(position),
        Err(error) if session.table_dropped(&error.message) => {
            session.ensure_store()?;
            insert(session).map_err(constraint_error)
        }
        Err(error) => Err(constraint_error(error)),
    }
}
