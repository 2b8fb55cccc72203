//! What the extension keeps for one connection: its prepared statements, its
//! settings, and what it knows of the database's message store tables.
//!
//! Statements are prepared once and kept, because preparing costs more than
//! the write itself. SQLite refuses to close a connection that still has
//! statements, and it disconnects virtual tables before it checks; so the
//! statements are kept only while one of the extension's virtual tables is
//! connected, and finalized when the last one disconnects.

use std::sync::{Arc, Mutex, MutexGuard};

use message_store_core::statement::{Statement, Text};

use crate::migrate;
use crate::shape;
use crate::stmt::{Db, SqliteError, Stmt};

// `category_of_stream_name!()` and `category_of_correlation!()`: the
// category expressions of `sql/sqlite_schema.sql`'s category index, which
// the category reads must repeat exactly for SQLite to use that index.
include!(concat!(env!("OUT_DIR"), "/category.rs"));

macro_rules! select_messages {
    () => {
        "SELECT id, stream_name, type, position, global_position, data, metadata, time FROM main.messages WHERE "
    };
}

macro_rules! stream_filter {
    () => {
        "stream_name = ?1 AND position >= ?2"
    };
}

macro_rules! category_filter {
    () => {
        concat!(
            category_of_stream_name!(),
            " = ?1 AND global_position >= ?2"
        )
    };
}

macro_rules! correlation_filter {
    () => {
        concat!(" AND ", category_of_correlation!(), " = ?4")
    };
}

macro_rules! group_filter {
    () => {
        " AND is_consumer_group_member(stream_name, ?5, ?6)"
    };
}

macro_rules! category_order {
    () => {
        " ORDER BY global_position LIMIT ?3"
    };
}

/// A statement's SQL on SQLite, in core's two parts (filters, then order).
/// Parameter numbers are fixed per reader (see core's `statement`), so one
/// binding routine serves every variant.
pub fn text(statement: Statement) -> Text<'static> {
    let (filtered, order) = match statement {
        Statement::StreamVersion => (
            "SELECT max(position) FROM main.messages WHERE stream_name = ?1",
            "",
        ),
        // One statement: SQLite takes the write lock before it reads the
        // stream's version, so no other writer can slip in between. The
        // position and the expected-version check come from core.
        Statement::Insert => (
            concat!(
                "INSERT INTO main.messages (position, time, stream_name, type, data, metadata, id) ",
                "SELECT message_store_next_position(?1, max(position), ?7), ?2, ?1, ?3, ?4, ?5, ?6 ",
                "FROM main.messages WHERE stream_name = ?1 ",
                "RETURNING position"
            ),
            "",
        ),
        Statement::StreamRead => (
            concat!(select_messages!(), stream_filter!()),
            " ORDER BY position LIMIT ?3",
        ),
        Statement::CategoryRead => (
            concat!(select_messages!(), category_filter!()),
            category_order!(),
        ),
        Statement::CategoryReadCorrelated => (
            concat!(select_messages!(), category_filter!(), correlation_filter!()),
            category_order!(),
        ),
        Statement::CategoryReadGrouped => (
            concat!(select_messages!(), category_filter!(), group_filter!()),
            category_order!(),
        ),
        Statement::CategoryReadCorrelatedGrouped => (
            concat!(
                select_messages!(),
                category_filter!(),
                correlation_filter!(),
                group_filter!()
            ),
            category_order!(),
        ),
        Statement::LastMessage => (
            concat!(select_messages!(), "stream_name = ?1"),
            " ORDER BY position DESC LIMIT 1",
        ),
        Statement::LastMessageOfType => (
            concat!(select_messages!(), "stream_name = ?1 AND type = ?2"),
            " ORDER BY position DESC LIMIT 1",
        ),
        // A batch's rows go in with one statement, which takes the write
        // lock before its table asks the call (?1, the call's number) to
        // read versions and plan the rows (`batch.rs`); data and metadata
        // are canonical already. Both batch writers insert alike.
        Statement::InsertMessages | Statement::InsertEntries => (
            concat!(
                "INSERT INTO main.messages (position, time, stream_name, type, data, metadata, id) ",
                "SELECT position, time, stream_name, type, data, metadata, id ",
                "FROM main.message_store_batch_rows(?1)"
            ),
            "",
        ),
        Statement::StoredById => (
            "SELECT stream_name, position, type, data, metadata FROM main.messages WHERE id = ?1",
            "",
        ),
        Statement::Export => (
            concat!(select_messages!(), "global_position >= ?2"),
            " ORDER BY global_position LIMIT ?3",
        ),
        Statement::ExportCategory => (
            concat!(select_messages!(), category_filter!()),
            category_order!(),
        ),
        Statement::MaxGlobalPosition => ("SELECT max(global_position) FROM main.messages", ""),
        Statement::StoredMessagesById => (concat!(select_messages!(), "id = ?1"), ""),
        Statement::StreamVersions => (
            "SELECT stream_name, max(position) FROM main.messages WHERE stream_name = ?1",
            "",
        ),
        // An import's rows go in as a batch's do, with one statement whose
        // table asks the call (?1) to plan under the write lock
        // (`transfer.rs`): every column as the line gives it, `time` in
        // Postgres' text, as the writers store it.
        Statement::ImportRows => (
            concat!(
                "INSERT INTO main.messages ",
                "(global_position, position, time, stream_name, type, data, metadata, id) ",
                "SELECT global_position, position, time, stream_name, type, data, metadata, id ",
                "FROM main.message_store_batch_rows(?1)"
            ),
            "",
        ),
        // SQLite's writers are serialised, so global position order is
        // commit order: every category's messages from ?2 on, no bound.
        Statement::AllRead => (
            concat!(select_messages!(), "global_position >= ?2"),
            " ORDER BY global_position LIMIT ?3",
        ),
        Statement::AllReadBound => ("SELECT max(global_position), 1 FROM main.messages", ""),
        // A skip scan of `messages_stream` (core's `listing::Walk`): the
        // first name at or above ?1, then for each name the smallest one
        // above it, one index probe each, while the names start with ?4
        // (BINARY order keeps a prefix's names together); a name's version
        // and last time are its last message's, found through the same
        // index backwards. The outer query reads the walk as a co-routine
        // (a join would make SQLite materialize it whole first), so the
        // walk stops at the limit.
        Statement::Streams => (
            concat!(
                "WITH RECURSIVE names(stream_name) AS (",
                "SELECT (SELECT stream_name FROM main.messages WHERE stream_name >= ?1 ",
                "ORDER BY stream_name LIMIT 1) ",
                "UNION ALL ",
                "SELECT (SELECT m.stream_name FROM main.messages m ",
                "WHERE m.stream_name > n.stream_name ORDER BY m.stream_name LIMIT 1) ",
                "FROM names n WHERE substr(n.stream_name, 1, length(?4)) = ?4) ",
                "SELECT n.stream_name, ",
                "(SELECT max(m.position) FROM main.messages m WHERE m.stream_name = n.stream_name), ",
                "(SELECT m.time FROM main.messages m WHERE m.stream_name = n.stream_name ",
                "ORDER BY m.position DESC LIMIT 1) ",
                "FROM names n WHERE n.stream_name IS NOT NULL ",
                "AND substr(n.stream_name, 1, length(?5)) = ?5 ",
                "AND NOT (?2 AND n.stream_name = ?1)"
            ),
            " LIMIT ?3",
        ),
        // The same walk over `messages_category`'s first column; a
        // category's head is its highest global position, the last entry
        // of that index's range for the category.
        Statement::Categories => (
            concat!(
                "WITH RECURSIVE categories(category) AS (",
                "SELECT (SELECT ",
                category_of_stream_name!(),
                " FROM main.messages WHERE ",
                category_of_stream_name!(),
                " >= ?1 ORDER BY ",
                category_of_stream_name!(),
                " LIMIT 1) ",
                "UNION ALL ",
                "SELECT (SELECT ",
                category_of_stream_name!(),
                " FROM main.messages WHERE ",
                category_of_stream_name!(),
                " > categories.category ORDER BY ",
                category_of_stream_name!(),
                " LIMIT 1) ",
                "FROM categories WHERE categories.category IS NOT NULL) ",
                "SELECT category, (SELECT global_position FROM main.messages WHERE ",
                category_of_stream_name!(),
                " = categories.category ORDER BY global_position DESC LIMIT 1) ",
                "FROM categories WHERE category IS NOT NULL AND NOT (?2 AND category = ?1)"
            ),
            " LIMIT ?3",
        ),
        // Retention (core's `retention::Removal`): at most ?4 messages
        // below every bound given (?2 a stored-time text, which compares
        // as text in time order; ?3 a global position), each with at least
        // ?5 messages of its stream after it, lowest position first.
        Statement::RemoveFromStream => (
            concat!(
                "DELETE FROM main.messages WHERE global_position IN (",
                "SELECT m.global_position FROM main.messages m WHERE m.stream_name = ?1 ",
                "AND m.position <= (SELECT max(s.position) FROM main.messages s ",
                "WHERE s.stream_name = ?1) - ?5 ",
                "AND m.global_position < coalesce(?3, 9223372036854775807) ",
                "AND (?2 IS NULL OR m.time < ?2) ",
                "ORDER BY m.position LIMIT ?4)"
            ),
            "",
        ),
        // The same over a category, through `messages_category` in global
        // position order; each stream's last position is one probe of
        // `messages_stream` backwards.
        Statement::RemoveFromCategory => (
            concat!(
                "DELETE FROM main.messages WHERE global_position IN (",
                "SELECT m.global_position FROM main.messages m WHERE ",
                category_of_stream_name!(),
                " = ?1 ",
                "AND m.global_position < coalesce(?3, 9223372036854775807) ",
                "AND (?2 IS NULL OR m.time < ?2) ",
                "AND m.position <= (SELECT max(s.position) FROM main.messages s ",
                "WHERE s.stream_name = m.stream_name) - ?5 ",
                "ORDER BY m.global_position LIMIT ?4)"
            ),
            "",
        ),
        Statement::RedactStream => (
            "UPDATE main.messages SET data = NULL, metadata = NULL WHERE stream_name = ?1",
            "",
        ),
    };
    Text { filtered, order }
}

/// Whether the database holds a message store this extension can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Schema {
    /// Not checked since the connection loaded the extension.
    Unknown,
    /// Checked and current.
    Ready,
}

struct Kept {
    statements: [Vec<Stmt>; Statement::COUNT],
    /// How many of the extension's virtual tables are connected.
    holders: usize,
}

pub struct Session {
    pub db: Db,
    kept: Mutex<Kept>,
    schema: Mutex<Schema>,
    /// `message_store.sql_condition`, as `set_config` left it.
    sql_condition: Mutex<Option<String>>,
}

/// A statement lent out of the session; it goes back when dropped.
pub struct Lent {
    session: Arc<Session>,
    statement: Statement,
    stmt: Option<Stmt>,
}

impl std::ops::Deref for Lent {
    type Target = Stmt;
    fn deref(&self) -> &Stmt {
        self.stmt
            .as_ref()
            .expect("a lent statement is present until dropped")
    }
}

impl std::ops::DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut Stmt {
        self.stmt
            .as_mut()
            .expect("a lent statement is present until dropped")
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(mut stmt) = self.stmt.take() {
            stmt.reset();
            let mut kept = lock(&self.session.kept);
            if kept.holders > 0 {
                kept.statements[self.statement.index()].push(stmt);
            }
        }
    }
}

/// A poisoned lock only means a panic was caught while it was held; the
/// data (statement lists, flags) is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The name of the virtual table that holds kept statements for scalar functions.
pub const HOLDER_TABLE: &str = "message_store_settings";

pub const SQL_CONDITION_SETTING: &str = "message_store.sql_condition";

const SCHEMA_SQL: &str = include_str!("../../sql/sqlite_schema.sql");
const SCHEMA_VERSION: i64 = message_store_core::release::sqlite_schema_version();
/// The columns of `retention_policies`, in order.
const POLICY_COLUMNS: [&str; 3] = ["category", "kind", "amount"];

const TABLE_COLUMNS: [&str; 8] = [
    "global_position",
    "position",
    "time",
    "stream_name",
    "type",
    "data",
    "metadata",
    "id",
];

/// What a check of the database found.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// No `messages` table: reads find nothing, the first write creates it.
    Absent,
    /// The message store's tables at the schema version recorded in them
    /// (this library's or older); `None` when an interrupted creation did
    /// not get as far as recording it.
    Store { version: Option<i64> },
}

impl Session {
    pub fn new(db: Db) -> Arc<Session> {
        Arc::new(Session {
            db,
            kept: Mutex::new(Kept {
                statements: Default::default(),
                holders: 0,
            }),
            schema: Mutex::new(Schema::Unknown),
            sql_condition: Mutex::new(None),
        })
    }

    pub fn holder_connected(&self) {
        lock(&self.kept).holders += 1;
    }

    /// When the last holder goes, every kept statement is finalized, so the
    /// connection can close.
    pub fn holder_disconnected(&self) {
        let dropped = {
            let mut kept = lock(&self.kept);
            kept.holders = kept.holders.saturating_sub(1);
            if kept.holders == 0 {
                std::mem::take(&mut kept.statements)
            } else {
                Default::default()
            }
        };
        drop(dropped);
    }

    /// Connects the holder table if no virtual table of ours is connected yet.
    fn ensure_holder(&self) {
        if lock(&self.kept).holders == 0 {
            // Preparing a statement that names the eponymous table connects
            // it for the rest of the connection's life.
            let _ = self
                .db
                .prepare(&format!("SELECT name FROM {HOLDER_TABLE}"), false);
        }
    }

    /// A kept `statement`, prepared if none is free.
    pub fn lend(self: &Arc<Self>, statement: Statement) -> Result<Lent, SqliteError> {
        let free = lock(&self.kept).statements[statement.index()].pop();
        let stmt = match free {
            Some(stmt) => stmt,
            None => {
                self.ensure_holder();
                self.db.prepare(&text(statement).sql(), true)?
            }
        };
        Ok(Lent {
            session: Arc::clone(self),
            statement,
            stmt: Some(stmt),
        })
    }

    pub fn sql_condition(&self) -> Option<String> {
        lock(&self.sql_condition).clone()
    }

    pub fn set_sql_condition(&self, value: Option<String>) {
        *lock(&self.sql_condition) = value;
    }

    pub fn sql_condition_enabled(&self) -> bool {
        message_store_core::read::sql_condition_enabled(lock(&self.sql_condition).as_deref())
    }

    fn schema_ready(&self) -> bool {
        *lock(&self.schema) == Schema::Ready
    }

    /// Whether readers have a store to read; an error when the database's
    /// `messages` table is something else or a newer schema.
    pub fn store_exists(&self) -> Result<bool, String> {
        if self.schema_ready() {
            return Ok(true);
        }
        match self.inspect()? {
            Found::Absent => Ok(false),
            Found::Store { version } => {
                // An older store is read as it is, and checked again until
                // a write migrates it.
                if version == Some(SCHEMA_VERSION) {
                    *lock(&self.schema) = Schema::Ready;
                }
                Ok(true)
            }
        }
    }

    /// Creates the message store's tables unless they are there, and
    /// migrates a store at an older schema version to this library's.
    pub fn ensure_store(&self) -> Result<(), String> {
        if self.schema_ready() {
            return Ok(());
        }
        match self.inspect()? {
            found @ (Found::Absent | Found::Store { version: None }) => {
                self.refuse_foreign_policies(found == Found::Absent)?;
                self.db.execute_batch(SCHEMA_SQL).map_err(|e| {
                    format!("creating the message store's tables failed: {}", e.message)
                })?;
            }
            Found::Store { version: Some(v) } if v < SCHEMA_VERSION => self.migrate(v)?,
            Found::Store { version: Some(_) } => {}
        }
        *lock(&self.schema) = Schema::Ready;
        Ok(())
    }

    /// Applies the migrations from schema version `from` to this library's
    /// in one transaction (a savepoint, which nests in a transaction of the
    /// caller's), and records the new version.
    fn migrate(&self, from: i64) -> Result<(), String> {
        // Refused before anything is written when no way exists.
        migrate::path(migrate::MIGRATIONS, from, SCHEMA_VERSION)?;
        let failed = |e: SqliteError| {
            format!(
                "migrating the message store from schema version {from} to {SCHEMA_VERSION} failed: {}",
                e.message
            )
        };
        self.db
            .execute_batch("SAVEPOINT message_store_migration")
            .map_err(failed)?;
        let applied = (|| {
            // The write lock first, then the version again: another
            // connection may have migrated the file since it was read.
            self.db
                .execute_batch("UPDATE main.message_store_schema SET version = version WHERE 0")
                .map_err(failed)?;
            let Some(version) = self.recorded_version().map_err(failed)? else {
                return Err(failed(SqliteError {
                    code: rusqlite::ffi::SQLITE_ERROR,
                    message: "message_store_schema holds no version".to_string(),
                }));
            };
            for step in migrate::path(migrate::MIGRATIONS, version, SCHEMA_VERSION)? {
                self.db.execute_batch(step.sql).map_err(failed)?;
            }
            self.db
                .execute_batch(&format!(
                    "UPDATE main.message_store_schema SET version = {SCHEMA_VERSION}"
                ))
                .map_err(failed)?;
            self.db
                .execute_batch("RELEASE message_store_migration")
                .map_err(failed)
        })();
        if applied.is_err() {
            // Nothing of a failed migration stays; the savepoint goes too.
            let _ = self.db.execute_batch(
                "ROLLBACK TO message_store_migration; RELEASE message_store_migration",
            );
        }
        applied
    }

    /// The schema version recorded in the file; `None` without the table or a row.
    fn recorded_version(&self) -> Result<Option<i64>, SqliteError> {
        let mut stmt = self
            .db
            .prepare("SELECT max(version) FROM main.message_store_schema", false)?;
        Ok(if stmt.step()? {
            stmt.column_opt_i64(0)
        } else {
            None
        })
    }

    /// Whether a statement failed, with `error_message`, because the
    /// tables are gone since this connection checked them; if so, the next
    /// use checks again.
    pub fn table_dropped(&self, error_message: &str) -> bool {
        let dropped = error_message.starts_with("no such table");
        if dropped {
            *lock(&self.schema) = Schema::Unknown;
        }
        dropped
    }

    /// How a `messages` table with the store's column names, and the
    /// store's indexes where they exist, differ from a message store's.
    fn shape_difference(&self) -> Result<Option<String>, SqliteError> {
        let expected = shape::Expected::from_schema(SCHEMA_SQL);
        let text = |stmt: &Stmt, i| {
            stmt.column_text(i)
                .map(|t| String::from_utf8_lossy(t).into_owned())
        };
        let mut table = self.db.prepare(
            "SELECT sql FROM main.sqlite_schema WHERE type = 'table' AND name = 'messages' COLLATE NOCASE",
            false,
        )?;
        let sql = if table.step()? { text(&table, 0) } else { None };
        if let Some(difference) = expected.table_difference(&sql.unwrap_or_default()) {
            return Ok(Some(difference));
        }
        let names: Vec<String> = expected
            .index_names()
            .map(|name| format!("'{name}'"))
            .collect();
        let mut objects = self.db.prepare(
            &format!(
                "SELECT name, sql FROM main.sqlite_schema WHERE lower(name) IN ({})",
                names.join(", ")
            ),
            false,
        )?;
        while objects.step()? {
            let name = text(&objects, 0).unwrap_or_default();
            if let Some(difference) = expected.index_difference(&name, text(&objects, 1).as_deref())
            {
                return Ok(Some(difference));
            }
        }
        // Other indexes are the owner's business, but a unique one would
        // refuse writes a message store takes.
        let mut unique = self.db.prepare(
            "SELECT name FROM pragma_index_list('messages', 'main') WHERE \"unique\" AND origin = 'c'",
            false,
        )?;
        while unique.step()? {
            let name = text(&unique, 0).unwrap_or_default();
            if !expected
                .index_names()
                .any(|ours| ours.eq_ignore_ascii_case(&name))
            {
                return Ok(Some(format!(
                    "it has the unique index \"{name}\", which a message store's table does not"
                )));
            }
        }
        Ok(None)
    }

    /// Before the store's tables are made: a `retention_policies` table
    /// that is not the store's is refused and left as it is, where the
    /// schema's `CREATE TABLE IF NOT EXISTS` would take it for the store's.
    /// In a database without a message store (`absent`) and with no trace
    /// of one (`message_store_schema`), any such table is someone else's;
    /// one with the store's columns left by an interrupted creation, or
    /// beside a `messages` table dropped from a store, is the store's own.
    fn refuse_foreign_policies(&self, absent: bool) -> Result<(), String> {
        let names = self.table_columns("retention_policies")?;
        if names.is_empty() {
            return Ok(());
        }
        if absent && self.table_columns("message_store_schema")?.is_empty() {
            return Err(
                "table \"retention_policies\" exists in a database without a message store: \
                 the message store keeps its retention policies in a table of that name; rename \
                 or drop it, or keep the store in another database"
                    .to_string(),
            );
        }
        if names != POLICY_COLUMNS {
            return Err(not_a_store_table(
                "retention_policies",
                &names,
                &POLICY_COLUMNS,
            ));
        }
        Ok(())
    }

    /// The column names of table `table` of the main schema, in order;
    /// none when there is no such table.
    fn table_columns(&self, table: &str) -> Result<Vec<String>, String> {
        let failed = |e: SqliteError| format!("reading the database schema failed: {}", e.message);
        let mut columns = self
            .db
            .prepare("SELECT name FROM pragma_table_info(?1, 'main')", false)
            .map_err(failed)?;
        columns.bind_text(1, table.as_bytes());
        let mut names = Vec::new();
        while columns.step().map_err(failed)? {
            names.push(
                String::from_utf8_lossy(columns.column_text(0).unwrap_or_default()).into_owned(),
            );
        }
        Ok(names)
    }

    fn inspect(&self) -> Result<Found, String> {
        let failed = |e: SqliteError| format!("reading the database schema failed: {}", e.message);
        let names = self.table_columns("messages")?;
        if names.is_empty() {
            return Ok(Found::Absent);
        }
        // The version before the table: a newer schema may have changed
        // the table, and is refused for its version.
        let version = match self.recorded_version() {
            Ok(version) => version,
            // No version table: an interrupted creation, finished by the next write.
            Err(e) if e.message.starts_with("no such table") => None,
            Err(e) => return Err(failed(e)),
        };
        if let Some(v) = version.filter(|v| *v > SCHEMA_VERSION) {
            return Err(format!(
                "the message store in this database has schema version {v}, newer than this extension's {SCHEMA_VERSION}: load a newer release of the extension"
            ));
        }
        if names != TABLE_COLUMNS {
            return Err(not_a_store_table("messages", &names, &TABLE_COLUMNS));
        }
        if let Some(difference) = self.shape_difference().map_err(failed)? {
            return Err(format!(
                "table \"messages\" exists and is not a message store table: {difference}"
            ));
        }
        Ok(Found::Store { version })
    }
}

/// The refusal of a table of the store's name whose columns are not the
/// store's.
fn not_a_store_table(table: &str, columns: &[String], expected: &[&str]) -> String {
    format!(
        "table \"{table}\" exists and is not a message store table: its columns are ({}), a message store's are ({})",
        columns.join(", "),
        expected.join(", ")
    )
}
