//! The README's Rust example: the message store on a rusqlite connection
//! of the program's own, with no library file to load.

use rusqlite::Connection;

fn main() -> rusqlite::Result<()> {
    let conn = Connection::open_in_memory()?;
    message_store_sqlite::register(&conn)?;

    let position: i64 = conn.query_row(
        "SELECT write_message(gen_random_uuid(), ?1, 'Opened', ?2)",
        ("account-123", r#"{"owner": "ada"}"#),
        |row| row.get(0),
    )?;
    println!("Opened at position {position}");

    let mut read = conn.prepare("SELECT position, type, data FROM get_stream_messages(?1)")?;
    let mut rows = read.query(["account-123"])?;
    while let Some(row) = rows.next()? {
        let (position, kind, data): (i64, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        println!("{position} {kind} {data}");
    }
    Ok(())
}
