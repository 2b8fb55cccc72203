//! Retention and erasure: `remove_messages`, `redact_stream`, and the
//! retention policies (`set_retention_policy`, `clear_retention_policy`,
//! `apply_retention_policies`). Core's `retention` has every argument rule;
//! this module reads SQLite's arguments, runs the statements and keeps the
//! policies in `retention_policies` (schema version 2).
//!
//! Each removal and the redaction are one statement, atomic on its own, in
//! the caller's transaction or their own. `apply_retention_policies` runs
//! one removal per policy, inside a savepoint that first takes the write
//! lock, so it is atomic too and no other connection writes between its
//! reading the policies and removing. The policies' statements are plain
//! ones, prepared per call: core's `Statement` set is the one both engines
//! keep plans of, and Postgres runs its own policy statements through SPI.
//!
//! A call that writes nothing on a database without a message store (a
//! removal, a redaction, clearing or applying policies) leaves it without
//! one; one that writes (setting a policy) creates the store, and any call
//! on a store of an older schema version migrates it first, as the other
//! writers do.

use std::sync::Arc;

use message_store_core::error::Error;
use message_store_core::retention::{self, Keep, Operation, Policy, Removal, Scope};
use message_store_core::statement::Statement;
use message_store_core::time::{format_timestamp, now_micros, parse_time_bound};
use rusqlite::functions::Context;

use crate::args::Arg;
use crate::session::Session;
use crate::stmt::SqliteError;
use crate::Failure;

const SET_POLICY: &str = "INSERT INTO main.retention_policies (category, kind, amount) \
     VALUES (?1, ?2, ?3) \
     ON CONFLICT (category) DO UPDATE SET kind = excluded.kind, amount = excluded.amount";
const CLEAR_POLICY: &str = "DELETE FROM main.retention_policies WHERE category = ?1";
const POLICIES: &str =
    "SELECT category, kind, amount FROM main.retention_policies ORDER BY category";

/// The earliest time whose stored text compares in time order with the
/// store's times (`0001-01-01 00:00:00`); a time bound before it removes
/// nothing.
const EARLIEST_BOUND: i64 = -62_135_596_800_000_000;

fn arg(operation: Operation, name: &'static str) -> Arg {
    Arg {
        function: operation.name(),
        name,
    }
}

/// Whether the store is there to change, migrated to this library's schema
/// version first when it is older; `create` makes it when it is absent.
fn store(session: &Session, create: bool) -> Result<bool, Failure> {
    if !create && !session.store_exists()? {
        return Ok(false);
    }
    session.ensure_store()?;
    Ok(true)
}

/// Runs `body` on the store (see [`store`]); `absent` is the answer when
/// there is none. A table gone since this connection checked it (a
/// rolled-back first write or migration) is looked for again, once.
fn on_store<T>(
    session: &Arc<Session>,
    create: bool,
    absent: T,
    body: impl Fn(&Arc<Session>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    if !store(session, create)? {
        return Ok(absent);
    }
    match body(session) {
        Err(Failure(message)) if session.table_dropped(&message) => {
            if !store(session, create)? {
                return Ok(absent);
            }
            body(session)
        }
        result => result,
    }
}

/// One batch of removal: how many messages it removed. `before_time` is
/// the stored text of the time bound.
fn remove(
    session: &Arc<Session>,
    removal: &Removal<'_>,
    before_time: Option<&str>,
) -> Result<i64, SqliteError> {
    let statement = match removal.scope {
        Scope::Stream(_) => Statement::RemoveFromStream,
        Scope::Category(_) => Statement::RemoveFromCategory,
    };
    let mut stmt = session.lend(statement)?;
    stmt.bind_text(1, removal.scope.name());
    stmt.bind_opt_text(2, before_time.map(str::as_bytes));
    stmt.bind_opt_i64(3, removal.before_global_position);
    stmt.bind_i64(4, removal.limit);
    stmt.bind_i64(5, removal.keep_last);
    while stmt.step()? {}
    Ok(session.db.changes())
}

/// `remove_messages(stream_or_category, before_time,
/// before_global_position, limit)`: each argument read in order (its type,
/// and `before_time`'s text as a time, as Postgres reads a `timestamptz`
/// argument before the call), then core's rules.
pub fn remove_messages(session: &Arc<Session>, ctx: &Context<'_>) -> Result<i64, Failure> {
    let operation = Operation::RemoveMessages;
    let optional = |i: usize| (i < ctx.len()).then(|| ctx.get_raw(i));
    let name = arg(operation, "stream_or_category").text(ctx.get_raw(0))?;
    let before_time = match optional(1) {
        Some(value) => arg(operation, "before_time").str(value)?,
        None => None,
    };
    let before_time = before_time
        .map(|text| {
            parse_time_bound(text)
                .map(format_timestamp)
                .ok_or_else(|| Error::InvalidTimeBound {
                    function: operation.name(),
                    argument: "before_time",
                    value: text.to_string(),
                })
        })
        .transpose()?;
    let before_global_position = match optional(2) {
        Some(value) => arg(operation, "before_global_position").integer(value)?,
        None => None,
    };
    let limit = match optional(3) {
        Some(value) => arg(operation, "limit").integer(value)?,
        None => None,
    };
    let removal = Removal::new(name, before_time.is_some(), before_global_position, limit)?;
    on_store(session, false, 0, |session| {
        remove(session, &removal, before_time.as_deref()).map_err(Failure::from)
    })
}

/// `redact_stream(stream_name)`: how many messages it set `data` and
/// `metadata` of to NULL.
pub fn redact_stream(session: &Arc<Session>, ctx: &Context<'_>) -> Result<i64, Failure> {
    let name = arg(Operation::RedactStream, "stream_name").text(ctx.get_raw(0))?;
    let name = retention::redaction(name)?;
    on_store(session, false, 0, |session| {
        let mut stmt = session.lend(Statement::RedactStream)?;
        stmt.bind_text(1, name);
        while stmt.step()? {}
        Ok(session.db.changes())
    })
}

/// `set_retention_policy(category, kind, amount)`: stores the policy,
/// replacing the category's one; NULL.
pub fn set_retention_policy(
    session: &Arc<Session>,
    ctx: &Context<'_>,
) -> Result<Option<i64>, Failure> {
    let operation = Operation::SetRetentionPolicy;
    let category = arg(operation, "category").text(ctx.get_raw(0))?;
    let kind = arg(operation, "kind").str(ctx.get_raw(1))?;
    let amount = arg(operation, "amount").integer(ctx.get_raw(2))?;
    let policy = Policy::new(category, kind, amount)?;
    on_store(session, true, None, |session| {
        let mut stmt = session.db.prepare(SET_POLICY, false)?;
        stmt.bind_text(1, policy.category);
        stmt.bind_text(2, policy.keep.kind().as_bytes());
        stmt.bind_i64(3, policy.keep.amount());
        while stmt.step()? {}
        Ok(None)
    })
}

/// `clear_retention_policy(category)`: 1 when the category had a policy,
/// 0 otherwise (Postgres' true and false).
pub fn clear_retention_policy(session: &Arc<Session>, ctx: &Context<'_>) -> Result<i64, Failure> {
    let category = arg(Operation::ClearRetentionPolicy, "category").text(ctx.get_raw(0))?;
    let category = retention::cleared_policy(category)?;
    on_store(session, false, 0, |session| {
        let mut stmt = session.db.prepare(CLEAR_POLICY, false)?;
        stmt.bind_text(1, category);
        while stmt.step()? {}
        Ok(i64::from(session.db.changes() > 0))
    })
}

/// A stored policy row, as read back.
struct Stored {
    category: Option<Vec<u8>>,
    kind: Option<String>,
    amount: Option<i64>,
}

fn stored_policies(session: &Session) -> Result<Vec<Stored>, SqliteError> {
    let mut stmt = session.db.prepare(POLICIES, false)?;
    let mut policies = Vec::new();
    while stmt.step()? {
        policies.push(Stored {
            category: stmt.column_text(0).map(<[u8]>::to_vec),
            kind: stmt
                .column_text(1)
                .map(|kind| String::from_utf8_lossy(kind).into_owned()),
            amount: stmt.column_opt_i64(2),
        });
    }
    Ok(policies)
}

/// `apply_retention_policies(limit)`: for each stored policy, in category
/// order, at most `limit` of its category's messages removed; the total.
pub fn apply_retention_policies(session: &Arc<Session>, ctx: &Context<'_>) -> Result<i64, Failure> {
    let operation = Operation::ApplyRetentionPolicies;
    let limit = match (!ctx.is_empty()).then(|| ctx.get_raw(0)) {
        Some(value) => arg(operation, "limit").integer(value)?,
        None => None,
    };
    let limit = retention::limit(operation, limit)?;
    // One clock reading for every policy of the call.
    let now = now_micros();
    on_store(session, false, 0, |session| {
        in_savepoint(session, || {
            // The write lock before the policies are read: no other
            // connection writes until the savepoint ends.
            session
                .db
                .execute_batch("UPDATE main.message_store_schema SET version = version WHERE 0")?;
            let mut total = 0;
            for stored in stored_policies(session)? {
                let policy = retention::stored_policy(
                    stored.category.as_deref(),
                    stored.kind.as_deref(),
                    stored.amount,
                )?;
                let removal = policy.keep.removal(policy.category, limit);
                let before_time = match policy.keep {
                    Keep::Seconds(_) => match policy.keep.cutoff_micros(now) {
                        Some(cutoff) if cutoff >= EARLIEST_BOUND => Some(format_timestamp(cutoff)),
                        // Nothing stored is older than year 1.
                        _ => continue,
                    },
                    Keep::Last(_) => None,
                };
                total += remove(session, &removal, before_time.as_deref())?;
            }
            Ok(total)
        })
    })
}

/// Runs `body` in a savepoint (a transaction of its own in autocommit
/// mode, nested in a caller's): released when it succeeds, undone when it
/// fails or panics, so a failed call changes nothing and leaves no
/// transaction open.
fn in_savepoint<T>(
    session: &Session,
    body: impl FnOnce() -> Result<T, Failure>,
) -> Result<T, Failure> {
    session
        .db
        .execute_batch("SAVEPOINT message_store_retention")?;
    let mut savepoint = Savepoint {
        session,
        open: true,
    };
    let value = body()?;
    session
        .db
        .execute_batch("RELEASE message_store_retention")?;
    savepoint.open = false;
    Ok(value)
}

/// An open savepoint, rolled back and ended when dropped unless released.
struct Savepoint<'a> {
    session: &'a Session,
    open: bool,
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.session.db.execute_batch(
                "ROLLBACK TO message_store_retention; RELEASE message_store_retention",
            );
        }
    }
}
