//! Retention and erasure on Postgres: `remove_messages`, `redact_stream`,
//! and the policies of `message_store.retention_policies`
//! (`set_retention_policy`, `clear_retention_policy`,
//! `apply_retention_policies`), over core's rules (`retention.rs`).
//!
//! These are the operator's functions: the install script takes EXECUTE
//! from PUBLIC, `grant_client_privileges` leaves them out, and
//! `grant_operator_privileges` grants them. Each refuses on a standby or in
//! a read-only transaction before it reads anything. A removal takes only
//! the row locks of the rows it deletes, so writers, other categories'
//! and its own, go on; it deletes at most its limit, and the caller's
//! transaction holds the locks until it ends.

use message_store_core::retention::{self, Operation, Policy, Removal, Scope};
use message_store_core::statement::Statement;
use pgrx::pg_sys;

use crate::fmgr::{check, sql_function};
use crate::replica::refuse_read_only;
use crate::signatures::{
    apply_retention_policies, clear_retention_policy, redact_stream, remove_messages,
    set_retention_policy,
};
use crate::spi::{Connection, Param};

/// Runs one batch of removal with its time bound `before_time`, a
/// timestamptz that is NULL exactly when the removal has none (the call's
/// own argument, or a policy's cutoff).
fn remove(connection: &Connection, removal: &Removal, before_time: Param) -> i64 {
    let statement = match removal.scope {
        Scope::Stream(_) => Statement::RemoveFromStream,
        Scope::Category(_) => Statement::RemoveFromCategory,
    };
    let params = [
        connection.bytes_param(removal.scope.name()),
        before_time,
        Param::int8(removal.before_global_position),
        Param::int8(Some(removal.limit)),
        Param::int8(Some(removal.keep_last)),
    ];
    connection.execute(statement, &params, pg_sys::SPI_OK_DELETE) as i64
}

sql_function! {
    /// `remove_messages(stream_or_category, before_time, before_global_position,
    /// "limit") RETURNS bigint`: removes at most `limit` messages of a stream
    /// (or of every stream of a category) older than `before_time` and below
    /// `before_global_position` (each when given), oldest first, always
    /// keeping each stream's last message; returns how many it removed.
    fn message_store_remove_messages / pg_finfo_message_store_remove_messages
        = remove_messages::FUNCTION;
    |call| {
        use remove_messages as f;
        refuse_read_only("remove_messages");
        let removal = check(Removal::new(
            call.bytes(f::STREAM_OR_CATEGORY),
            !call.is_null(f::BEFORE_TIME),
            call.i64(f::BEFORE_GLOBAL_POSITION),
            call.i64(f::LIMIT),
        ));
        let connection = Connection::connect();
        let removed = remove(&connection, &removal, call.param(f::BEFORE_TIME));
        call.panic_probe();
        connection.finish();
        call.return_i64(Some(removed))
    }
}

sql_function! {
    /// `redact_stream(stream_name) RETURNS bigint`: sets `data` and
    /// `metadata` of every message of the stream to NULL, keeping the rows;
    /// returns how many it changed.
    fn message_store_redact_stream / pg_finfo_message_store_redact_stream
        = redact_stream::FUNCTION;
    |call| {
        refuse_read_only("redact_stream");
        let stream_name = check(retention::redaction(call.bytes(redact_stream::STREAM_NAME)));
        let connection = Connection::connect();
        let params = [connection.bytes_param(stream_name)];
        let redacted = connection.execute(Statement::RedactStream, &params, pg_sys::SPI_OK_UPDATE);
        call.panic_probe();
        connection.finish();
        call.return_i64(Some(redacted as i64))
    }
}

sql_function! {
    /// `set_retention_policy(category, kind, amount) RETURNS void`: stores
    /// the category's policy, replacing the one it had.
    fn message_store_set_retention_policy / pg_finfo_message_store_set_retention_policy
        = set_retention_policy::FUNCTION;
    |call| {
        use set_retention_policy as f;
        refuse_read_only("set_retention_policy");
        let policy = check(Policy::new(
            call.bytes(f::CATEGORY),
            call.text(f::KIND),
            call.i64(f::AMOUNT),
        ));
        let connection = Connection::connect();
        let params = [
            connection.bytes_param(policy.category),
            connection.text_param(policy.keep.kind()),
            Param::int8(Some(policy.keep.amount())),
        ];
        connection.execute_once(
            c"INSERT INTO message_store.retention_policies (category, kind, amount) \
              VALUES ($1, $2, $3) ON CONFLICT (category) \
              DO UPDATE SET kind = EXCLUDED.kind, amount = EXCLUDED.amount",
            &params,
            pg_sys::SPI_OK_INSERT,
        );
        call.panic_probe();
        connection.finish();
        call.return_void()
    }
}

sql_function! {
    /// `clear_retention_policy(category) RETURNS boolean`: removes the
    /// category's policy; whether it had one.
    fn message_store_clear_retention_policy / pg_finfo_message_store_clear_retention_policy
        = clear_retention_policy::FUNCTION;
    |call| {
        refuse_read_only("clear_retention_policy");
        let category = check(retention::cleared_policy(call.bytes(clear_retention_policy::CATEGORY)));
        let connection = Connection::connect();
        let params = [connection.bytes_param(category)];
        let cleared = connection.execute_once(
            c"DELETE FROM message_store.retention_policies \
              WHERE category OPERATOR(pg_catalog.=) $1",
            &params,
            pg_sys::SPI_OK_DELETE,
        );
        call.panic_probe();
        connection.finish();
        call.return_bool(cleared > 0)
    }
}

sql_function! {
    /// `apply_retention_policies("limit") RETURNS bigint`: applies every
    /// stored policy, in the order of the categories' bytes, each removing
    /// at most `limit` of its category's messages, so that no category's
    /// backlog holds back another's; returns how many it removed in all.
    /// Called again until it returns 0, it removes everything due.
    fn message_store_apply_retention_policies / pg_finfo_message_store_apply_retention_policies
        = apply_retention_policies::FUNCTION;
    |call| {
        refuse_read_only("apply_retention_policies");
        let limit = check(retention::limit(
            Operation::ApplyRetentionPolicies,
            call.i64(apply_retention_policies::LIMIT),
        ));
        // SAFETY: reads the current transaction's start time, which is
        // what now() returns.
        let now = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
        let connection = Connection::connect();
        let mut removed = 0;
        for (category, kind, amount) in connection.retention_policies() {
            let keep = check(retention::stored_policy(Some(&category), Some(&kind), Some(amount))).keep;
            let removal = keep.removal(&category, limit);
            removed += remove(&connection, &removal, Param::timestamptz(keep.cutoff_micros(now)));
        }
        call.panic_probe();
        connection.finish();
        call.return_i64(Some(removed))
    }
}
