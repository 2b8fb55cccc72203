//! Read replicas: what a hot standby refuses, and read-your-writes.
//!
//! Every function that writes refuses at once, with core's `ReadOnly`
//! error (25006), where nothing can be written: on a standby, or in a
//! read-only transaction. It checks before it takes a lock or reads
//! anything, so a refused call does no work.

use message_store_core::Error;
use pgrx::pg_sys;

use crate::fmgr::raise;

/// Refuses `function`, a function that writes, on a standby or in a
/// read-only transaction.
pub fn refuse_read_only(function: &'static str) {
    // SAFETY: RecoveryInProgress reads shared memory the startup process
    // updates; it may be called in any backend at any time.
    let standby = unsafe { pg_sys::RecoveryInProgress() };
    // SAFETY: XactReadOnly is the current transaction's read-only flag,
    // written by this backend's one thread between statements.
    let read_only = unsafe { pg_sys::XactReadOnly };
    if standby || read_only {
        raise(Error::ReadOnly { function, standby });
    }
}
