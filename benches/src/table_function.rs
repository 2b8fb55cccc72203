//! The least any table-valued function costs in SQLite: a virtual table
//! that does nothing but run one prepared query with its hidden columns as
//! the parameters and hand each column on. Reading the floor's query through
//! it measures what SQLite's virtual-table interface adds to a plain SELECT
//! (the outer statement's per-row `xNext`/`xColumn` calls and the copy of
//! each value into the outer statement), the bound under every reader of the
//! extension, since SQLite has no other way for a function to return rows.
//!
//! It is as lean as the extension's readers: the statement is prepared once,
//! texts are handed on with their terminator (one copy into the result's
//! reused buffer). It is a measuring instrument for the benchmarks only.
//!
//! The module is eponymous only (no `xCreate`): SQLite makes one `Tab` per
//! connection and schema, and all its cursors share the table's statement.

use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr;

use rusqlite::{ffi, Connection};

/// Registers `name(arg1, …)` on `conn`: the rows of `sql` with `?1`, `?2`, …
/// bound to the arguments, every argument required.
pub fn register(conn: &Connection, name: &str, sql: &str) -> Result<(), String> {
    let name = CString::new(name).map_err(|e| e.to_string())?;
    let aux = Box::into_raw(Box::new(CString::new(sql).map_err(|e| e.to_string())?));
    // SAFETY: the handle is `conn`'s open connection, used for this call
    // only; `name` is NUL-terminated and SQLite copies it. `MODULE` is
    // static. `aux` is a leaked `Box<CString>` that SQLite owns from here:
    // it passes it to `connect` and calls `drop_aux` on it once, when the
    // module goes or at once if this fails.
    let rc = unsafe {
        ffi::sqlite3_create_module_v2(
            conn.handle(),
            name.as_ptr(),
            &MODULE,
            aux.cast(),
            Some(drop_aux),
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(format!("registering {name:?} failed (SQLite error {rc})"))
    }
}

/// The destructor of the module's user data, the query's text.
///
/// # Safety
/// `aux` is the `Box<CString>` leaked by `register`, and SQLite calls this
/// once, after its last use.
unsafe extern "C" fn drop_aux(aux: *mut c_void) {
    // SAFETY: the box leaked by `register`, taken back once (the caller's
    // promise).
    drop(unsafe { Box::from_raw(aux.cast::<CString>()) });
}

static MODULE: ffi::sqlite3_module = ffi::sqlite3_module {
    iVersion: 1,
    xCreate: None,
    xConnect: Some(connect),
    xBestIndex: Some(best_index),
    xDisconnect: Some(disconnect),
    xDestroy: Some(disconnect),
    xOpen: Some(open),
    xClose: Some(close),
    xFilter: Some(filter),
    xNext: Some(next),
    xEof: Some(eof),
    xColumn: Some(column),
    xRowid: Some(rowid),
    // SAFETY: every other field is an optional function pointer, for which
    // all zero bits are `None`.
    ..unsafe { std::mem::zeroed() }
};

/// The virtual table. `#[repr(C)]` with `base` first, so the
/// `*mut sqlite3_vtab` SQLite passes back is a pointer to the `Tab` and
/// back.
#[repr(C)]
struct Tab {
    base: ffi::sqlite3_vtab,
    /// The query, prepared on the table's connection by `connect`,
    /// finalized by `disconnect`.
    stmt: *mut ffi::sqlite3_stmt,
    columns: c_int,
    params: c_int,
}

/// A cursor. `#[repr(C)]` with `base` first, as `Tab` is.
#[repr(C)]
struct Cursor {
    base: ffi::sqlite3_vtab_cursor,
    row: bool,
}

/// The query of the table of the cursor at `cursor`. A raw pointer, not
/// a reference to the `Tab`, so that no borrow outlives what it borrows.
///
/// # Safety
/// `cursor` is a live `Cursor` that `open` made and SQLite passed in; SQLite
/// set its `pVtab` to its table, a live `Tab`.
unsafe fn stmt_of(cursor: *mut ffi::sqlite3_vtab_cursor) -> *mut ffi::sqlite3_stmt {
    // SAFETY: the caller's promise: `cursor` is live and its `pVtab` is a
    // live `Tab` (`base` first), read here and not kept.
    unsafe { (*(*cursor).pVtab.cast::<Tab>()).stmt }
}

/// xConnect: prepares the query and declares a column for each of its
/// columns and a hidden one for each of its parameters.
///
/// # Safety
/// SQLite's xConnect contract: `db` is the connection being connected on,
/// `aux` the module's user data (the `CString` `register` leaked), `vtab`
/// writable.
unsafe extern "C" fn connect(
    db: *mut ffi::sqlite3,
    aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    vtab: *mut *mut ffi::sqlite3_vtab,
    _err: *mut *mut c_char,
) -> c_int {
    // SAFETY: `aux` is the `CString` leaked by `register`, alive until
    // `drop_aux`, which SQLite calls only once no method of the module runs;
    // the reference is used during this call only.
    let sql = unsafe { &*aux.cast::<CString>() };
    let mut stmt = ptr::null_mut();
    // SAFETY: `db` is the open connection xConnect runs on (its mutex held
    // by this thread); `sql` is NUL-terminated (length -1) and alive for the
    // call; `stmt` is a local for SQLite to write; no tail is asked for.
    let rc = unsafe {
        ffi::sqlite3_prepare_v3(
            db,
            sql.as_ptr(),
            -1,
            ffi::SQLITE_PREPARE_PERSISTENT,
            &mut stmt,
            ptr::null_mut(),
        )
    };
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    // SAFETY: `stmt` is the statement just prepared (SQLITE_OK), not
    // finalized.
    let (columns, params) = unsafe {
        (
            ffi::sqlite3_column_count(stmt),
            ffi::sqlite3_bind_parameter_count(stmt),
        )
    };
    let mut declaration = String::from("CREATE TABLE x(");
    for i in 0..columns {
        declaration.push_str(&format!("c{i}, "));
    }
    for i in 1..=params {
        declaration.push_str(&format!("arg{i} HIDDEN, "));
    }
    declaration.truncate(declaration.len() - 2);
    declaration.push(')');
    let declaration = CString::new(declaration).expect("no NUL");
    // SAFETY: called within xConnect, on its connection, as SQLite requires;
    // `declaration` is NUL-terminated and alive for the call.
    let rc = unsafe { ffi::sqlite3_declare_vtab(db, declaration.as_ptr()) };
    if rc != ffi::SQLITE_OK {
        // SAFETY: the statement prepared above, finalized once, here; no
        // `Tab` holds it.
        unsafe { ffi::sqlite3_finalize(stmt) };
        return rc;
    }
    let tab = Box::new(Tab {
        base: ffi::sqlite3_vtab::default(),
        stmt,
        columns,
        params,
    });
    // SAFETY: `vtab` is writable (xConnect's contract); SQLite owns the box
    // from here and gives it back to `disconnect` once.
    unsafe { *vtab = Box::into_raw(tab).cast() };
    ffi::SQLITE_OK
}

/// xDisconnect and xDestroy: the table and its statement go.
///
/// # Safety
/// `vtab` is a `Tab` that `connect` made, given back once, after its
/// cursors are closed.
unsafe extern "C" fn disconnect(vtab: *mut ffi::sqlite3_vtab) -> c_int {
    // SAFETY: the box `connect` leaked, taken back once (the caller's
    // promise).
    let tab = unsafe { Box::from_raw(vtab.cast::<Tab>()) };
    // SAFETY: the statement `connect` prepared, finalized once, here: the
    // `Tab` that held it is going and no cursor of it is open.
    unsafe { ffi::sqlite3_finalize(tab.stmt) };
    ffi::SQLITE_OK
}

/// xBestIndex. Argument `k` is parameter `?k`; a plan without every
/// argument is refused.
///
/// # Safety
/// SQLite's xBestIndex contract: `vtab` is a live `Tab`, `info` SQLite's,
/// with `nConstraint` entries in each of its two arrays.
unsafe extern "C" fn best_index(
    vtab: *mut ffi::sqlite3_vtab,
    info: *mut ffi::sqlite3_index_info,
) -> c_int {
    // SAFETY: `vtab` is a live `Tab` (the caller's promise), only read.
    let tab = unsafe { &*vtab.cast::<Tab>() };
    // SAFETY: `info` is SQLite's, valid and ours alone for this call.
    let info = unsafe { &mut *info };
    let mut given = 0;
    for i in 0..info.nConstraint.max(0) as usize {
        // SAFETY: `i < nConstraint`, the length of SQLite's `aConstraint`
        // array, valid for this call and only read.
        let constraint = unsafe { &*info.aConstraint.add(i) };
        let arg = constraint.iColumn - tab.columns;
        if arg >= 0
            && constraint.usable != 0
            && c_int::from(constraint.op) == ffi::SQLITE_INDEX_CONSTRAINT_EQ
        {
            // SAFETY: `i < nConstraint`, the length of `aConstraintUsage`
            // too, another array than `aConstraint`; the reference is the
            // only one to the entry and ends with this iteration.
            let usage = unsafe { &mut *info.aConstraintUsage.add(i) };
            usage.argvIndex = arg + 1;
            usage.omit = 1;
            given += 1;
        }
    }
    if given != tab.params {
        return ffi::SQLITE_CONSTRAINT;
    }
    info.estimatedCost = 10.0;
    info.estimatedRows = 100;
    ffi::SQLITE_OK
}

/// xOpen.
///
/// # Safety
/// SQLite's xOpen contract: `cursor` is writable.
unsafe extern "C" fn open(
    _vtab: *mut ffi::sqlite3_vtab,
    cursor: *mut *mut ffi::sqlite3_vtab_cursor,
) -> c_int {
    let new = Box::new(Cursor {
        base: ffi::sqlite3_vtab_cursor::default(),
        row: false,
    });
    // SAFETY: `cursor` is writable (xOpen's contract); SQLite owns the box
    // from here, sets its `pVtab`, and gives it back to `close` once.
    unsafe { *cursor = Box::into_raw(new).cast() };
    ffi::SQLITE_OK
}

/// xClose: the statement is reset, the cursor goes.
///
/// # Safety
/// `cursor` is a `Cursor` that `open` made, given back once, whose table is
/// live.
unsafe extern "C" fn close(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: `cursor` is still live (the caller's promise), so `stmt_of`'s
    // contract holds; the statement is the table's, not finalized until
    // `disconnect`, and this runs on its connection.
    unsafe { ffi::sqlite3_reset(stmt_of(cursor)) };
    // SAFETY: the box `open` leaked, taken back once (the caller's promise).
    drop(unsafe { Box::from_raw(cursor.cast::<Cursor>()) });
    ffi::SQLITE_OK
}

/// Steps the query; an error stops the benchmark.
///
/// # Safety
/// `cursor` is a live `Cursor` that SQLite passed in to xFilter or xNext,
/// with no other reference to it live.
unsafe fn step(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: `stmt_of`'s contract is the caller's promise; the statement is
    // the table's live one, stepped on its own connection, whose mutex the
    // outer statement's call holds.
    let rc = unsafe { ffi::sqlite3_step(stmt_of(cursor)) };
    let row = match rc {
        ffi::SQLITE_ROW => true,
        ffi::SQLITE_DONE => false,
        _ => return rc,
    };
    // SAFETY: `cursor` is a live `Cursor` (`base` first), no other reference
    // to it live (the caller's promise).
    unsafe { (*cursor.cast::<Cursor>()).row = row };
    ffi::SQLITE_OK
}

/// xFilter: the arguments are bound to the query's parameters and the
/// first row read.
///
/// # Safety
/// SQLite's xFilter contract: `cursor` is a live `Cursor` of this module,
/// `argv` holds `argc` values, valid for this call.
unsafe extern "C" fn filter(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    _idx_num: c_int,
    _idx_str: *const c_char,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    // SAFETY: `cursor` is a live `Cursor` (the caller's promise).
    let stmt = unsafe { stmt_of(cursor) };
    // SAFETY: `stmt` is the table's live statement, on this connection.
    // `argv` has `argc` entries (the caller's promise), each a protected
    // value SQLite passes for this call; `sqlite3_bind_value` copies it, so
    // nothing is kept past the call. `step` gets the cursor SQLite passed,
    // with no reference to it held here.
    unsafe {
        ffi::sqlite3_reset(stmt);
        for i in 0..argc {
            ffi::sqlite3_bind_value(stmt, i + 1, *argv.add(i as usize));
        }
        step(cursor)
    }
}

/// xNext.
///
/// # Safety
/// SQLite's xNext contract: `cursor` is a live `Cursor` of this module.
unsafe extern "C" fn next(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: the caller's promise, which is `step`'s.
    unsafe { step(cursor) }
}

/// xEof.
///
/// # Safety
/// SQLite's xEof contract: `cursor` is a live `Cursor` of this module.
unsafe extern "C" fn eof(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: a live `Cursor` (the caller's promise), only read.
    c_int::from(!unsafe { &*cursor.cast::<Cursor>() }.row)
}

/// xColumn: column `i` of the query's current row is handed on. Texts are
/// passed with their NUL terminator whenever they contain no NUL, so SQLite
/// copies each into the result's reused buffer once, as the extension's
/// readers do.
///
/// # Safety
/// SQLite's xColumn contract: `cursor` is a live `Cursor` of this module,
/// not at its end, and `ctx` this call's result context.
unsafe extern "C" fn column(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    ctx: *mut ffi::sqlite3_context,
    i: c_int,
) -> c_int {
    // SAFETY: `cursor` is live (the caller's promise), so `stmt_of`'s
    // contract holds. `sqlite3_column_value` checks `i` (a hidden column's
    // index, or no current row, gives a NULL value) and returns a value of
    // the statement's current row, valid until it is stepped, reset or
    // finalized, none of which happens in this call. It is an "unprotected"
    // value, which the sqlite3_value_* calls may read here: the statement
    // runs on the connection whose statement is calling xColumn, so that
    // connection's mutex is already held. The text read is non-null (checked
    // before the slice is made) and valid for `len` bytes until the value
    // changes, after its copy into the result (SQLITE_TRANSIENT). `ctx` is
    // this xColumn call's.
    unsafe {
        let value = ffi::sqlite3_column_value(stmt_of(cursor), i);
        if ffi::sqlite3_value_type(value) == ffi::SQLITE_TEXT {
            let text = ffi::sqlite3_value_text(value);
            let len = ffi::sqlite3_value_bytes(value).max(0) as usize;
            if !text.is_null() && !std::slice::from_raw_parts(text, len).contains(&0) {
                ffi::sqlite3_result_text(ctx, text.cast(), -1, ffi::SQLITE_TRANSIENT());
                return ffi::SQLITE_OK;
            }
        }
        ffi::sqlite3_result_value(ctx, value);
    }
    ffi::SQLITE_OK
}

/// xRowid: every row's rowid is 0.
///
/// # Safety
/// SQLite's xRowid contract: `rowid` is writable.
unsafe extern "C" fn rowid(_cursor: *mut ffi::sqlite3_vtab_cursor, rowid: *mut i64) -> c_int {
    // SAFETY: `rowid` is writable for this call (xRowid's contract).
    unsafe { *rowid = 0 };
    ffi::SQLITE_OK
}
