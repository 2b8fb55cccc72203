//! The readers' SQL condition on SQLite: what the corpus cannot show —
//! random conditions never make a reader return another query's rows or
//! change the store (and the same texts pasted without the rule do), and
//! a NUL character is refused, as Postgres' text input refuses it, rather
//! than cutting the query short.

use message_store_sqlite_tests::{error_message, open_in_memory, Sqlite};

#[test]
fn random_conditions_never_escape_a_reader() {
    let mut engine = Sqlite(open_in_memory());
    let refused = message_store_slt::escapes::check_readers(&mut engine, 0x5eed_0002, 20_000);
    assert!(refused > 20_000, "most random texts are refused: {refused}");
}

/// The negative control: pasted as plain SQL, the same texts escape.
#[test]
fn random_conditions_escape_a_plain_paste() {
    let mut engine = Sqlite(open_in_memory());
    let escaped =
        message_store_slt::escapes::escapes_through_plain_paste(&mut engine, 0x5eed_0002, 20_000);
    assert!(escaped.len() >= 50, "escapes found: {escaped:?}");
}

#[test]
fn a_nul_character_is_refused() {
    let conn = open_in_memory();
    conn.execute_batch(
        "SELECT write_message('00000000-0000-4000-8000-000000000001', 'a-1', 'T', '{}');
         SELECT write_message('00000000-0000-4000-8000-000000000002', 'b-1', 'T', '{}');
         SELECT set_config('message_store.sql_condition', 'on', false);",
    )
    .unwrap();
    for read in [
        "SELECT count(*) FROM get_stream_messages('a-1', 0, 10, 'true' || char(0) || ') OR (true')",
        "SELECT count(*) FROM get_category_messages('a', 1, 10, NULL, NULL, NULL, 'true' || char(0))",
    ] {
        let error = conn
            .query_row(read, [], |row| row.get::<_, i64>(0))
            .unwrap_err();
        assert_eq!(
            error_message(error),
            "invalid byte sequence for encoding \"UTF8\": 0x00",
            "{read}"
        );
    }
}
