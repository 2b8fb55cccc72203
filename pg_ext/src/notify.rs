//! Consumers woken on write: while `message_store.notify` is on, the
//! writers record each category they write and its highest global position
//! in the transaction, and at commit one `pg_notify('message_store', …)` per
//! category goes out (core's `notify` module has the rules and payloads).
//!
//! The record lives in a backend-local static (a backend is one thread) and
//! is emptied, and its memory freed, at every end of a transaction: commit,
//! abort and prepare. A rolled-back subtransaction's writes are forgotten.
//! A prepared transaction notifies nothing: Postgres refuses to prepare a
//! transaction that queued a notification, so the record is dropped before
//! it prepares, and `COMMIT PREPARED` later sends nothing.

use std::cell::{Cell, RefCell};
use std::ffi::{c_void, CStr};

use message_store_core::notify::{notify_enabled, payloads, Pending, CHANNEL};
use pgrx::pg_guard;
use pgrx::pg_sys::{self, Datum};

use crate::fmgr::{check, setting};

const NOTIFY: &CStr = c"message_store.notify";

thread_local! {
    static PENDING: RefCell<Pending> = const { RefCell::new(Pending::new()) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Whether `message_store.notify` is on; a value that is not a boolean is
/// an error (22023) before the writer stores anything.
pub fn enabled() -> bool {
    check(notify_enabled(setting(NOTIFY).as_deref()))
}

/// Records that this transaction wrote `category` up to `global_position`.
pub fn record(category: &[u8], global_position: i64) {
    register_callbacks();
    // SAFETY: reads the current transaction state's nesting level; a
    // writer runs inside a transaction.
    let level = unsafe { pg_sys::GetCurrentTransactionNestLevel() };
    PENDING.with(|pending| {
        pending
            .borrow_mut()
            .record(level, category, global_position)
    });
}

/// Registers the transaction callbacks once per backend, at the first
/// write recorded.
fn register_callbacks() {
    if REGISTERED.get() {
        return;
    }
    // SAFETY: the callbacks are functions of this library, which Postgres
    // never unloads, and take no argument.
    unsafe {
        pg_sys::RegisterXactCallback(Some(transaction_callback), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(subtransaction_callback), std::ptr::null_mut());
    }
    REGISTERED.set(true);
}

#[pg_guard]
unsafe extern "C-unwind" fn transaction_callback(
    event: pg_sys::XactEvent::Type,
    _arg: *mut c_void,
) {
    use pg_sys::XactEvent::*;
    match event {
        // Before Postgres processes the transaction's pending
        // notifications. Every payload fits Postgres' limit and the channel
        // is a valid name, so pg_notify does not refuse any.
        XACT_EVENT_PRE_COMMIT => {
            let categories = PENDING.with(|pending| pending.borrow_mut().take());
            for payload in payloads(&categories) {
                send(&payload);
            }
        }
        _ => PENDING.with(|pending| pending.borrow_mut().clear()),
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn subtransaction_callback(
    event: pg_sys::SubXactEvent::Type,
    _subtransaction: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut c_void,
) {
    use pg_sys::SubXactEvent::*;
    if !matches!(event, SUBXACT_EVENT_COMMIT_SUB | SUBXACT_EVENT_ABORT_SUB) {
        return;
    }
    // SAFETY: Postgres calls these events while the ending subtransaction
    // is still the current one, so this is its nesting level.
    let level = unsafe { pg_sys::GetCurrentTransactionNestLevel() };
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        if event == SUBXACT_EVENT_COMMIT_SUB {
            pending.commit_subtransaction(level);
        } else {
            pending.abort_subtransaction(level);
        }
    });
}

/// `pg_notify(CHANNEL, payload)`.
fn send(payload: &[u8]) {
    // SAFETY: cstring_to_text_with_len copies the bytes into texts in the
    // current memory context (the transaction's, alive through the call);
    // pg_notify takes two texts, neither NULL, and copies them into the
    // transaction's pending notifications.
    unsafe {
        let channel =
            pg_sys::cstring_to_text_with_len(CHANNEL.as_ptr().cast(), CHANNEL.len() as i32);
        let payload =
            pg_sys::cstring_to_text_with_len(payload.as_ptr().cast(), payload.len() as i32);
        pgrx::fcinfo::direct_function_call_as_datum(
            pg_sys::pg_notify,
            &[
                Some(Datum::from(channel.cast::<c_void>())),
                Some(Datum::from(payload.cast::<c_void>())),
            ],
        );
    }
}
