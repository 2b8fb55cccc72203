//! Harness for tests of the built SQLite extension. The library is found
//! through `MESSAGE_STORE_SQLITE_LIB`, by default the release build in the
//! workspace's `target/` (`cargo build --release -p message_store_sqlite`).

use std::path::PathBuf;

use message_store_slt::{Cell, Engine, EngineError};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

/// The shipped build of the extension: `MESSAGE_STORE_SQLITE_LIB`, or the
/// release build in the workspace's target directory.
pub fn library_path() -> PathBuf {
    built_library(
        "MESSAGE_STORE_SQLITE_LIB",
        "release",
        "cargo build --release -p message_store_sqlite",
    )
}

/// A build of the extension: the file `variable` names, or the one in the
/// target directory's `profile` folder, which `build` makes.
pub fn built_library(variable: &str, profile: &str, build: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let path = target.join(profile).join(format!(
        "libmessage_store_sqlite{}",
        std::env::consts::DLL_SUFFIX
    ));
    assert!(
        path.exists(),
        "{} is missing: build it with `{build}`",
        path.display()
    );
    path.canonicalize().expect("library path")
}

/// Loads the extension into a connection, by path, with its default entry point.
pub fn load(conn: &Connection) {
    unsafe {
        conn.load_extension_enable()
            .expect("enable extension loading");
        conn.load_extension(library_path(), None::<&str>)
            .expect("load the extension");
        conn.load_extension_disable()
            .expect("disable extension loading");
    }
}

pub fn open_in_memory() -> Connection {
    let conn = Connection::open_in_memory().expect("open :memory:");
    load(&conn);
    conn
}

pub fn open(path: &std::path::Path) -> Connection {
    let conn = Connection::open(path).expect("open database file");
    load(&conn);
    conn
}

/// The message of a failed statement, as the host sees it.
pub fn error_message(error: rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message,
        other => other.to_string(),
    }
}

/// Runs a query and renders every row's cells as text (NULL as `NULL`).
pub fn rows(conn: &Connection, sql: &str) -> Result<Vec<Vec<String>>, String> {
    let mut stmt = conn.prepare(sql).map_err(error_message)?;
    let columns = stmt.column_count();
    let mut out = Vec::new();
    let mut rows = stmt.query([]).map_err(error_message)?;
    while let Some(row) = rows.next().map_err(error_message)? {
        out.push(
            (0..columns)
                .map(|i| match row.get_ref(i).expect("column") {
                    ValueRef::Null => "NULL".to_string(),
                    ValueRef::Integer(n) => n.to_string(),
                    ValueRef::Real(r) => r.to_string(),
                    ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    ValueRef::Blob(b) => format!("<blob {} bytes>", b.len()),
                })
                .collect(),
        );
    }
    Ok(out)
}

/// The Postgres cluster the cross-engine tests compare with:
/// `MESSAGE_STORE_TEST_PG`, or the one `tests/setup.sh` starts.
pub fn postgres_admin() -> String {
    std::env::var("MESSAGE_STORE_TEST_PG").unwrap_or_else(|_| {
        "host=127.0.0.1 port=5432 user=postgres password=postgres dbname=postgres".to_string()
    })
}

/// A fresh UTF8 Postgres database `ms_test_<name>` with the extension, and
/// its name.
pub fn postgres_database(name: &str) -> (String, postgres::Client) {
    use postgres::{Client, NoTls};
    let db = format!("ms_test_{name}");
    let mut admin = Client::connect(&postgres_admin(), NoTls).expect("Postgres");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {db} TEMPLATE template0 ENCODING 'UTF8'"
        ))
        .unwrap();
    let mut client = Client::connect(&format!("{} dbname={db}", postgres_admin()), NoTls).unwrap();
    client
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    (db, client)
}

/// A connection as the corpus engine.
pub struct Sqlite(pub Connection);

impl Engine for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn run(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>, EngineError> {
        let error = |e: rusqlite::Error| EngineError {
            sqlstate: None,
            message: error_message(e),
        };
        let mut stmt = self.0.prepare(sql).map_err(error)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).map_err(error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(error)? {
            out.push(
                (0..columns)
                    .map(|i| match row.get_ref(i).expect("column") {
                        ValueRef::Null => Cell::Null,
                        ValueRef::Integer(n) => Cell::Integer(n),
                        ValueRef::Real(r) => Cell::Real(r),
                        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Cell::Text(format!("<blob {} bytes>", b.len())),
                    })
                    .collect(),
            );
        }
        Ok(out)
    }
}
