//! `get_all_messages` on Postgres: every category's messages in global
//! order, without skipping a message whose transaction commits late.
//!
//! A global position is drawn when a writer inserts and becomes visible
//! when it commits, so a plain `global_position >= $1` read can return 11
//! while 10 is still to commit, and a reader that goes on from 12 never
//! sees 10. Every writer (the extension's writers, and Message DB's
//! clients' `acquire_lock` then INSERT) holds its category's advisory lock,
//! in exclusive mode and for its transaction, from before it draws its
//! position until it commits. So a call:
//!
//! 1. reads the highest global position stored and visible, `bound`. The
//!    sequence hands out values in order (CACHE 1, which the call checks),
//!    so every position up to `bound` was drawn before `bound` committed;
//! 2. lists the transactions of other sessions that hold a bigint advisory
//!    lock of this database in exclusive mode, and waits for each to end
//!    (the wait `CREATE INDEX CONCURRENTLY` makes for older transactions,
//!    which takes no lock a writer waits for). Each writer of a position up
//!    to `bound` either had committed or rolled back before the list was
//!    read, or is in it;
//! 3. reads from a new snapshot, which sees every such writer's commit, the
//!    messages from `position` up to `bound`.
//!
//! A snapshot taken once (REPEATABLE READ, SERIALIZABLE) would not see the
//! commits the call waits for, and on a standby the primary's locks are not
//! visible: both are refused.

use message_store_core::error::display_nullable;
use message_store_core::read::AllRead;
use message_store_core::statement::Statement;
use pgrx::pg_sys::{self, Datum};
use pgrx::PgSqlErrorCode;

use crate::fmgr::{check, sql_function};
use crate::signatures::get_all_messages as f;
use crate::spi::{self, Connection, Param};
use crate::{condition, debug_get, notice, read_messages, Settings};

/// The lock mode of `pg_advisory_xact_lock` and `pg_advisory_lock`.
const EXCLUSIVE_LOCK: i32 = pg_sys::ExclusiveLock as i32;
/// `locktag_field4` of an advisory lock on one bigint key (two int4 keys
/// give 2).
const BIGINT_KEY: u16 = 1;

fn refuse(code: PgSqlErrorCode, message: String) -> ! {
    pgrx::ereport!(ERROR, code, message);
}

/// Refuses a call that cannot keep the promise: during recovery, or in a
/// transaction whose snapshot is taken once.
fn refuse_unsound_context() {
    // SAFETY: RecoveryInProgress reads shared memory the startup process
    // updates; it may be called in any backend at any time.
    if unsafe { pg_sys::RecoveryInProgress() } {
        refuse(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "get_all_messages cannot run on a standby: the primary's writers still in flight, \
             which it waits for, are not visible during recovery; read every category on the \
             primary"
                .to_string(),
        );
    }
    if let Some(level) = crate::transfer::snapshot_taken_once() {
        refuse(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!(
                "get_all_messages runs only at READ COMMITTED, and this transaction is {level}: \
                 its snapshot, taken once, would not see the messages that writers still in \
                 flight commit below the positions it returns"
            ),
        );
    }
}

/// The transactions of other sessions (and prepared transactions) that
/// hold a bigint advisory lock of this database in exclusive mode: the
/// writers that may have drawn a global position and not yet committed.
fn writers_in_flight() -> Vec<pg_sys::VirtualTransactionId> {
    // SAFETY: GetLockStatusData returns a copy of the lock table's entries,
    // made in the current memory context, read here only.
    let data = unsafe { &*pg_sys::GetLockStatusData() };
    let count = usize::try_from(data.nelements).unwrap_or(0);
    let locks: &[pg_sys::LockInstanceData] = if count == 0 {
        &[]
    } else {
        // SAFETY: `locks` points to `nelements` entries (lock.h).
        unsafe { std::slice::from_raw_parts(data.locks, count) }
    };
    // SAFETY: this backend's own pid and database, set at its start.
    let (own_pid, database) = unsafe { (pg_sys::MyProcPid, pg_sys::MyDatabaseId) };
    let mut writers: Vec<pg_sys::VirtualTransactionId> = Vec::new();
    for lock in locks {
        let tag = &lock.locktag;
        let writer = tag.locktag_type == pg_sys::LockTagType::LOCKTAG_ADVISORY as u8
            && tag.locktag_field1 == database.to_u32()
            && tag.locktag_field4 == BIGINT_KEY
            && lock.holdMask & (1 << EXCLUSIVE_LOCK) != 0
            && lock.pid != own_pid
            // A session lock held outside a transaction has no transaction
            // to wait for, and that session is not writing.
            && lock.lxid != pg_sys::InvalidLocalTransactionId;
        let vxid = pg_sys::VirtualTransactionId {
            backendId: lock.backend,
            localTransactionId: lock.lxid,
        };
        let known = writers.iter().any(|w| {
            w.backendId == vxid.backendId && w.localTransactionId == vxid.localTransactionId
        });
        if writer && !known {
            writers.push(vxid);
        }
    }
    writers
}

/// Waits until each transaction has ended. A cancel or `lock_timeout`
/// ends the wait with Postgres' error, and a wait on a transaction that
/// waits for this one is a deadlock Postgres reports.
fn wait_for(writers: &[pg_sys::VirtualTransactionId]) {
    for &vxid in writers {
        // SAFETY: VirtualXactLock takes a virtual transaction id by value
        // and waits on its lock; an id that has ended returns at once.
        unsafe { pg_sys::VirtualXactLock(vxid, true) };
    }
}

/// The highest global position the call may return; `None` when no
/// message is stored.
fn bound(connection: &Connection) -> Option<i64> {
    let [highest, cache] = connection.select_i64s(Statement::AllReadBound, &[]);
    if cache != Some(1) {
        refuse(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "get_all_messages needs message_store.messages_global_position_seq to hand out \
                 its values in order, one at a time (CACHE 1), and its cache is {}",
                cache.map_or_else(|| "unknown".to_string(), |c| c.to_string())
            ),
        );
    }
    highest
}

sql_function! {
    /// `get_all_messages(position, batch_size, condition) RETURNS SETOF message`.
    fn message_store_get_all_messages / pg_finfo_message_store_get_all_messages
        = f::FUNCTION;
    |call| {
        let read = check(AllRead::new(
            call.i64(f::POSITION),
            call.i64(f::BATCH_SIZE),
            call.text(f::CONDITION),
            &Settings,
        ));
        let statement = Statement::AllRead;
        if let Some(condition) = read.condition {
            condition::parse_condition(condition);
        }
        let sql = read.condition.map(|condition| spi::text(statement).with_condition(condition));
        if debug_get() {
            notice(&[
                "» get_all_messages".to_string(),
                format!("position ($2): {}", read.position),
                format!("batch_size ($3): {}", read.batch_size),
                format!("condition: {}", display_nullable(read.condition)),
                format!(
                    "Generated Command: {}",
                    sql.clone().unwrap_or_else(|| spi::text(statement).sql())
                ),
            ]);
        }
        let limit = check(read.limit());
        refuse_unsound_context();
        let upper = {
            let connection = Connection::connect();
            let upper = bound(&connection);
            connection.finish();
            upper
        };
        // Nothing at or above the position is visible yet: the reader
        // asks again from the same position, and loses nothing.
        let upper = match upper {
            Some(upper) if upper >= read.position => upper,
            _ => return empty_result(&call),
        };
        wait_for(&writers_in_flight());
        let params = [
            Param::int8(Some(upper)),
            Param::int8(Some(read.position)),
            Param::int8(limit),
        ];
        read_messages(&call, statement, sql.as_deref(), &params)
    }
}

fn empty_result(call: &crate::fmgr::Call) -> Datum {
    let result = call.set_result();
    call.return_set(result)
}
