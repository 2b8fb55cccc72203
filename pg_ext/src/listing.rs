//! Listing a store on Postgres: `get_streams(prefix, after, limit)` and
//! `get_categories(after, limit)`, each a skip scan of an existing index
//! (`messages_stream`, `messages_category`) with one probe per name listed,
//! through a statement kept per backend. They read only.

use message_store_core::listing::{ListingRead, Order, Walk};
use message_store_core::statement::Statement;
use pgrx::pg_sys::{self, Datum};

use crate::fmgr::{check, sql_function, Call};
use crate::signatures::{get_categories, get_streams};
use crate::spi::{self, Connection, Param};
use crate::{debug_get, notice, shown};

/// Runs a listing's walk into the call's result.
fn list<'a>(
    call: &Call<'a>,
    statement: Statement,
    name: &str,
    walk: impl FnOnce(&Connection) -> Walk<'a>,
) -> Datum {
    let result = call.set_result();
    let connection = Connection::connect();
    let walk = walk(&connection);
    let streams = statement == Statement::Streams;
    if debug_get() {
        let mut lines = vec![
            format!("» {name}"),
            format!("from ($1): {}", shown(Some(walk.from))),
            format!("skip_from ($2): {}", walk.skip_from),
            format!("limit ($3): {}", walk.limit),
        ];
        if streams {
            lines.push(format!(
                "while_prefix ($4): {}",
                shown(Some(walk.while_prefix))
            ));
            lines.push(format!(
                "keep_prefix ($5): {}",
                shown(Some(walk.keep_prefix))
            ));
        }
        lines.push(format!("Generated Command: {}", spi::text(statement).sql()));
        notice(&lines);
    }
    // SAFETY: a boolean datum holds the value itself.
    let skip = unsafe { Param::new(Some(Datum::from(walk.skip_from)), pg_sys::BOOLOID) };
    let mut params = vec![
        connection.bytes_param(walk.from),
        skip,
        Param::int8(Some(walk.limit)),
    ];
    if streams {
        params.push(connection.bytes_param(walk.while_prefix));
        params.push(connection.bytes_param(walk.keep_prefix));
    }
    connection.read_into_result(&result, statement, &params);
    call.panic_probe();
    connection.finish();
    call.return_set(result)
}

sql_function! {
    /// `get_streams(prefix, after, "limit") RETURNS SETOF stream_listing`:
    /// the stream names after a cursor, in the stream index's order, of
    /// those starting with a prefix, each with its version and the time of
    /// its last message.
    fn message_store_get_streams / pg_finfo_message_store_get_streams = get_streams::FUNCTION;
    |call| {
        use get_streams as f;
        let read = check(ListingRead::streams(
            call.bytes(f::PREFIX),
            call.bytes(f::AFTER),
            call.i64(f::LIMIT),
        ));
        list(&call, Statement::Streams, "get_streams", |connection| {
            // A prefix is a range of the index only where names sharing it
            // are contiguous; elsewhere the walk goes from the cursor on
            // and keeps the names with the prefix.
            read.walk(connection.stream_index_order())
        })
    }
}

sql_function! {
    /// `get_categories(after, "limit") RETURNS SETOF category_listing`: the
    /// categories after a cursor, in the category index's order, each with
    /// its highest global position.
    fn message_store_get_categories / pg_finfo_message_store_get_categories
        = get_categories::FUNCTION;
    |call| {
        use get_categories as f;
        let read = check(ListingRead::categories(call.bytes(f::AFTER), call.i64(f::LIMIT)));
        // Without a prefix the walk is the same in every order.
        list(&call, Statement::Categories, "get_categories", |_| {
            read.walk(Order::Collated)
        })
    }
}
