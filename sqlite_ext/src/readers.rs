//! The readers as table-valued functions: eponymous virtual tables whose
//! hidden columns are the Postgres functions' arguments, in their order, so
//! `SELECT * FROM get_stream_messages('account-1', 0, 10)` reads as it does
//! on Postgres. Omitted trailing arguments take the defaults.
//!
//! `message_store_settings` is a virtual table too: it shows the connection's
//! settings and holds the statements kept for the scalar functions.

use std::borrow::Cow;
use std::ffi::{c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use message_store_core::read::{CategoryRead, StreamRead};
use rusqlite::ffi;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::vtab::{
    Context, Filters, IndexConstraintOp, IndexInfo, VTab, VTabConnection, VTabCursor,
};

use crate::args::Arg;
use crate::session::{Kind, Lent, Session, SQL_CONDITION_SETTING};
use crate::stmt::Stmt;
use crate::{failure, Failure};

/// Columns of `message_store.message`; the arguments follow as hidden columns.
const RESULT_COLUMNS: c_int = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    StreamMessages,
    CategoryMessages,
    LastStreamMessage,
}

impl Reader {
    pub fn name(self) -> &'static str {
        match self {
            Reader::StreamMessages => "get_stream_messages",
            Reader::CategoryMessages => "get_category_messages",
            Reader::LastStreamMessage => "get_last_stream_message",
        }
    }

    /// The Postgres argument names, in order; the first is required.
    fn arguments(self) -> &'static [&'static str] {
        match self {
            Reader::StreamMessages => &["stream_name", "position", "batch_size", "condition"],
            Reader::CategoryMessages => &[
                "category",
                "position",
                "batch_size",
                "correlation",
                "consumer_group_member",
                "consumer_group_size",
                "condition",
            ],
            Reader::LastStreamMessage => &["stream_name", "type"],
        }
    }

    fn declaration(self) -> &'static CStr {
        match self {
            Reader::StreamMessages => c"CREATE TABLE x(id TEXT, stream_name TEXT, type TEXT, position INTEGER, global_position INTEGER, data TEXT, metadata TEXT, time TEXT, arg_stream_name HIDDEN, arg_position HIDDEN, arg_batch_size HIDDEN, arg_condition HIDDEN)",
            Reader::CategoryMessages => c"CREATE TABLE x(id TEXT, stream_name TEXT, type TEXT, position INTEGER, global_position INTEGER, data TEXT, metadata TEXT, time TEXT, arg_category HIDDEN, arg_position HIDDEN, arg_batch_size HIDDEN, arg_correlation HIDDEN, arg_consumer_group_member HIDDEN, arg_consumer_group_size HIDDEN, arg_condition HIDDEN)",
            Reader::LastStreamMessage => c"CREATE TABLE x(id TEXT, stream_name TEXT, type TEXT, position INTEGER, global_position INTEGER, data TEXT, metadata TEXT, time TEXT, arg_stream_name HIDDEN, arg_type HIDDEN)",
        }
    }

    fn arg(self, index: usize) -> Arg {
        Arg {
            function: self.name(),
            name: self.arguments()[index],
        }
    }
}

/// Runs a virtual table method so that a panic becomes an error, never an
/// unwind into SQLite.
fn guarded<T>(what: &str, body: impl FnOnce() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|_| Err(failure(format!("{what}: internal error (panic)"))))
}

#[repr(C)]
pub struct ReaderTab {
    base: ffi::sqlite3_vtab,
    session: Arc<Session>,
    reader: Reader,
}

impl Drop for ReaderTab {
    fn drop(&mut self) {
        self.session.holder_disconnected();
    }
}

unsafe impl<'vtab> VTab<'vtab> for ReaderTab {
    type Aux = (Arc<Session>, Reader);
    type Cursor = ReaderCursor<'vtab>;

    fn connect(
        _db: &mut VTabConnection,
        aux: Option<&Self::Aux>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        let (session, reader) = aux
            .cloned()
            .ok_or_else(|| failure("reader registered without its session".to_string()))?;
        session.holder_connected();
        Ok((
            Cow::Borrowed(reader.declaration()),
            ReaderTab {
                base: ffi::sqlite3_vtab::default(),
                session,
                reader,
            },
        ))
    }

    /// Every argument given is an equality constraint on its hidden column;
    /// they reach `filter` in argument order, flagged in `idx_num`.
    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        guarded(self.reader.name(), || {
            let count = self.reader.arguments().len();
            let mut usable: Vec<Option<usize>> = vec![None; count];
            let mut unusable = 0u32;
            for (i, constraint) in info.constraints().enumerate() {
                let Some(arg) = arg_of(constraint.column(), count) else {
                    continue;
                };
                if constraint.operator() != IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ {
                    continue;
                }
                if constraint.is_usable() {
                    usable[arg] = Some(i);
                } else {
                    unusable |= 1 << arg;
                }
            }
            let mut idx_num = 0;
            let mut argv = 0;
            for (arg, constraint) in usable.iter().enumerate() {
                if let Some(constraint) = constraint {
                    argv += 1;
                    idx_num |= 1 << arg;
                    let mut usage = info.constraint_usage(*constraint);
                    usage.set_argv_index(argv);
                    usage.set_omit(true);
                }
            }
            // An argument that comes from a table joined later: ask SQLite
            // for another plan (this is how a lateral join is planned).
            if unusable & !(idx_num as u32) != 0 {
                return Ok(false);
            }
            if idx_num & 1 == 0 {
                return Err(failure(format!(
                    "{}: argument \"{}\" is required",
                    self.reader.name(),
                    self.reader.arguments()[0]
                )));
            }
            info.set_idx_num(idx_num);
            info.set_estimated_cost(10.0);
            info.set_estimated_rows(100);
            Ok(true)
        })
    }

    fn open(&'vtab mut self) -> rusqlite::Result<ReaderCursor<'vtab>> {
        Ok(ReaderCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            tab: self,
            rows: None,
            row: false,
            rowid: 0,
            args: Vec::new(),
        })
    }
}

fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Integer(n),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn arg_of(column: c_int, count: usize) -> Option<usize> {
    let arg = usize::try_from(column.checked_sub(RESULT_COLUMNS)?).ok()?;
    (arg < count).then_some(arg)
}

/// Where a cursor's rows come from: a kept statement, or one prepared for
/// this call because it carries a caller's SQL condition.
enum Rows {
    Kept(Lent),
    Own(Stmt),
}

impl std::ops::Deref for Rows {
    type Target = Stmt;
    fn deref(&self) -> &Stmt {
        match self {
            Rows::Kept(lent) => lent,
            Rows::Own(stmt) => stmt,
        }
    }
}

#[repr(C)]
pub struct ReaderCursor<'vtab> {
    base: ffi::sqlite3_vtab_cursor,
    tab: &'vtab ReaderTab,
    rows: Option<Rows>,
    row: bool,
    rowid: i64,
    /// The arguments as given, returned for the hidden columns.
    args: Vec<Value>,
}

/// The bound values of a read; parameter numbers are fixed across readers
/// (see `session.rs`).
struct Binding<'a> {
    kind: Kind,
    condition: Option<&'a str>,
    texts: [(c_int, Option<&'a [u8]>); 2],
    integers: [(c_int, Option<i64>); 4],
}

impl ReaderCursor<'_> {
    fn start(&mut self, idx_num: c_int, args: &Filters<'_>) -> Result<(), Failure> {
        let reader = self.tab.reader;
        let session = &self.tab.session;
        let count = reader.arguments().len();
        self.args = vec![Value::Null; count];
        let mut given = args.iter();
        for (arg, slot) in self.args.iter_mut().enumerate() {
            if idx_num & (1 << arg) != 0 {
                if let Some(value) = given.next() {
                    *slot = owned(value);
                }
            }
        }
        let values: Vec<ValueRef<'_>> = self.args.iter().map(Into::into).collect();
        let text = |i: usize| reader.arg(i).text(values[i]);
        let str = |i: usize| reader.arg(i).str(values[i]);
        let integer = |i: usize| reader.arg(i).integer(values[i]);
        let enabled = || session.sql_condition_enabled();

        let binding = match reader {
            Reader::StreamMessages => {
                let (name, position, batch_size, condition) =
                    (text(0)?, integer(1)?, integer(2)?, str(3)?);
                let read = StreamRead::new(name, position, batch_size, condition, enabled)?;
                let limit = read.limit()?;
                Binding {
                    kind: Kind::StreamRead,
                    condition: read.condition,
                    texts: [(1, Some(read.stream_name)), (0, None)],
                    integers: [
                        (2, Some(read.position)),
                        (3, Some(limit.unwrap_or(-1))),
                        (0, None),
                        (0, None),
                    ],
                }
            }
            Reader::CategoryMessages => {
                let (category, position, batch_size, correlation, member, size, condition) = (
                    text(0)?,
                    integer(1)?,
                    integer(2)?,
                    text(3)?,
                    integer(4)?,
                    integer(5)?,
                    str(6)?,
                );
                let read = CategoryRead::new(
                    category,
                    position,
                    batch_size,
                    correlation,
                    member,
                    size,
                    condition,
                    enabled,
                )?;
                let limit = read.check_execution()?;
                if read.category.is_none() {
                    // No stream has a NULL category.
                    return Ok(());
                }
                let group = read.consumer_group;
                Binding {
                    kind: Kind::category_read(read.correlation.is_some(), group.is_some()),
                    condition: read.condition,
                    texts: [(1, read.category), (4, read.correlation)],
                    integers: [
                        (2, Some(read.position)),
                        (3, Some(limit.unwrap_or(-1))),
                        (5, group.map(|g| g.member)),
                        (6, group.map(|g| g.size)),
                    ],
                }
            }
            Reader::LastStreamMessage => {
                let (name, type_) = (text(0)?, text(1)?);
                let Some(name) = name else {
                    return Ok(());
                };
                Binding {
                    kind: if type_.is_some() {
                        Kind::LastMessageOfType
                    } else {
                        Kind::LastMessage
                    },
                    condition: None,
                    texts: [(1, Some(name)), (2, type_)],
                    integers: [(0, None); 4],
                }
            }
        };
        if !session.store_exists()? {
            return Ok(());
        }
        let run = || -> Result<(Rows, bool), crate::stmt::SqliteError> {
            let rows = match binding.condition {
                Some(condition) => Rows::Own(
                    session
                        .db
                        .prepare(&binding.kind.sql_with_condition(condition), false)?,
                ),
                None => Rows::Kept(session.lend(binding.kind)?),
            };
            // Parameters left unbound are NULL; unused slots hold no value.
            for (index, value) in binding.texts {
                if let Some(value) = value {
                    rows.bind_text(index, value);
                }
            }
            for (index, value) in binding.integers {
                if let Some(value) = value {
                    rows.bind_i64(index, value);
                }
            }
            let row = rows.step()?;
            Ok((rows, row))
        };
        let (rows, row) = match run() {
            Ok(found) => found,
            Err(error) => {
                // The tables were dropped since this connection checked them.
                if session.table_dropped(&error) && !session.store_exists()? {
                    return Ok(());
                }
                return Err(error.message.into());
            }
        };
        self.row = row;
        self.rows = Some(rows);
        Ok(())
    }
}

unsafe impl VTabCursor for ReaderCursor<'_> {
    fn filter(
        &mut self,
        idx_num: c_int,
        _idx_str: Option<&str>,
        args: &Filters<'_>,
    ) -> rusqlite::Result<()> {
        let name = self.tab.reader.name();
        guarded(name, || {
            // A cursor is re-filtered for each outer row of a join.
            self.rows = None;
            self.row = false;
            self.rowid = 0;
            self.start(idx_num, args).map_err(failure)
        })
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        guarded(self.tab.reader.name(), || {
            self.rowid += 1;
            self.row = match &self.rows {
                Some(rows) => rows.step().map_err(|e| failure(e.message))?,
                None => false,
            };
            if !self.row {
                // Back to the pool as soon as the rows are read.
                self.rows = None;
            }
            Ok(())
        })
    }

    fn eof(&self) -> bool {
        !self.row
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        guarded(self.tab.reader.name(), || {
            if i < RESULT_COLUMNS {
                match &self.rows {
                    Some(rows) => ctx.set_result(&ToSqlOutput::Borrowed(rows.column_value(i))),
                    None => ctx.set_result(&Value::Null),
                }
            } else {
                let value = usize::try_from(i - RESULT_COLUMNS)
                    .ok()
                    .and_then(|arg| self.args.get(arg))
                    .unwrap_or(&Value::Null);
                ctx.set_result(value)
            }
        })
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.rowid)
    }
}

/// `message_store_settings(name, value)`: the connection's settings.
#[repr(C)]
pub struct SettingsTab {
    base: ffi::sqlite3_vtab,
    session: Arc<Session>,
}

impl Drop for SettingsTab {
    fn drop(&mut self) {
        self.session.holder_disconnected();
    }
}

unsafe impl<'vtab> VTab<'vtab> for SettingsTab {
    type Aux = Arc<Session>;
    type Cursor = SettingsCursor<'vtab>;

    fn connect(
        _db: &mut VTabConnection,
        aux: Option<&Self::Aux>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        let session = aux
            .cloned()
            .ok_or_else(|| failure("settings registered without a session".to_string()))?;
        session.holder_connected();
        Ok((
            Cow::Borrowed(c"CREATE TABLE x(name TEXT, value TEXT)"),
            SettingsTab {
                base: ffi::sqlite3_vtab::default(),
                session,
            },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        info.set_estimated_cost(1.0);
        info.set_estimated_rows(1);
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<SettingsCursor<'vtab>> {
        Ok(SettingsCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            tab: self,
            rows: Vec::new(),
            at: 0,
        })
    }
}

#[repr(C)]
pub struct SettingsCursor<'vtab> {
    base: ffi::sqlite3_vtab_cursor,
    tab: &'vtab SettingsTab,
    rows: Vec<(&'static str, Option<String>)>,
    at: usize,
}

unsafe impl VTabCursor for SettingsCursor<'_> {
    fn filter(
        &mut self,
        _idx_num: c_int,
        _idx_str: Option<&str>,
        _args: &Filters<'_>,
    ) -> rusqlite::Result<()> {
        self.rows = vec![(SQL_CONDITION_SETTING, self.tab.session.sql_condition())];
        self.at = 0;
        Ok(())
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.at += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.at >= self.rows.len()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let (name, value) = &self.rows[self.at];
        match i {
            0 => ctx.set_result(name),
            _ => ctx.set_result(value),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.at as i64)
    }
}
