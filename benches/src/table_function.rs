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

use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr;

use rusqlite::{ffi, Connection};

/// Registers `name(arg1, …)` on `conn`: the rows of `sql` with `?1`, `?2`, …
/// bound to the arguments, every argument required.
pub fn register(conn: &Connection, name: &str, sql: &str) -> Result<(), String> {
    let name = CString::new(name).map_err(|e| e.to_string())?;
    let aux = Box::into_raw(Box::new(CString::new(sql).map_err(|e| e.to_string())?));
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

unsafe extern "C" fn drop_aux(aux: *mut c_void) {
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
    ..unsafe { std::mem::zeroed() }
};

#[repr(C)]
struct Tab {
    base: ffi::sqlite3_vtab,
    stmt: *mut ffi::sqlite3_stmt,
    columns: c_int,
    params: c_int,
}

#[repr(C)]
struct Cursor {
    base: ffi::sqlite3_vtab_cursor,
    row: bool,
}

unsafe fn tab_of(cursor: *mut ffi::sqlite3_vtab_cursor) -> &'static Tab {
    unsafe { &*(*cursor).pVtab.cast::<Tab>() }
}

unsafe extern "C" fn connect(
    db: *mut ffi::sqlite3,
    aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    vtab: *mut *mut ffi::sqlite3_vtab,
    _err: *mut *mut c_char,
) -> c_int {
    let sql = unsafe { &*aux.cast::<CString>() };
    let mut stmt = ptr::null_mut();
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
    let rc = unsafe { ffi::sqlite3_declare_vtab(db, declaration.as_ptr()) };
    if rc != ffi::SQLITE_OK {
        unsafe { ffi::sqlite3_finalize(stmt) };
        return rc;
    }
    let tab = Box::new(Tab {
        base: unsafe { std::mem::zeroed() },
        stmt,
        columns,
        params,
    });
    unsafe { *vtab = Box::into_raw(tab).cast() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn disconnect(vtab: *mut ffi::sqlite3_vtab) -> c_int {
    let tab = unsafe { Box::from_raw(vtab.cast::<Tab>()) };
    unsafe { ffi::sqlite3_finalize(tab.stmt) };
    ffi::SQLITE_OK
}

/// Argument `k` is parameter `?k`; a plan without every argument is refused.
unsafe extern "C" fn best_index(
    vtab: *mut ffi::sqlite3_vtab,
    info: *mut ffi::sqlite3_index_info,
) -> c_int {
    let tab = unsafe { &*vtab.cast::<Tab>() };
    let info = unsafe { &mut *info };
    let mut given = 0;
    for i in 0..info.nConstraint.max(0) as usize {
        let constraint = unsafe { &*info.aConstraint.add(i) };
        let arg = constraint.iColumn - tab.columns;
        if arg >= 0
            && constraint.usable != 0
            && c_int::from(constraint.op) == ffi::SQLITE_INDEX_CONSTRAINT_EQ
        {
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

unsafe extern "C" fn open(
    _vtab: *mut ffi::sqlite3_vtab,
    cursor: *mut *mut ffi::sqlite3_vtab_cursor,
) -> c_int {
    let new = Box::new(Cursor {
        base: unsafe { std::mem::zeroed() },
        row: false,
    });
    unsafe { *cursor = Box::into_raw(new).cast() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn close(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    unsafe { ffi::sqlite3_reset(tab_of(cursor).stmt) };
    drop(unsafe { Box::from_raw(cursor.cast::<Cursor>()) });
    ffi::SQLITE_OK
}

/// Steps the query; an error stops the benchmark.
unsafe fn step(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    let rc = unsafe { ffi::sqlite3_step(tab_of(cursor).stmt) };
    let row = match rc {
        ffi::SQLITE_ROW => true,
        ffi::SQLITE_DONE => false,
        _ => return rc,
    };
    unsafe { (*cursor.cast::<Cursor>()).row = row };
    ffi::SQLITE_OK
}

unsafe extern "C" fn filter(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    _idx_num: c_int,
    _idx_str: *const c_char,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    let stmt = unsafe { tab_of(cursor) }.stmt;
    unsafe {
        ffi::sqlite3_reset(stmt);
        for i in 0..argc {
            ffi::sqlite3_bind_value(stmt, i + 1, *argv.add(i as usize));
        }
        step(cursor)
    }
}

unsafe extern "C" fn next(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    unsafe { step(cursor) }
}

unsafe extern "C" fn eof(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    c_int::from(!unsafe { &*cursor.cast::<Cursor>() }.row)
}

unsafe extern "C" fn column(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    ctx: *mut ffi::sqlite3_context,
    i: c_int,
) -> c_int {
    unsafe {
        let value = ffi::sqlite3_column_value(tab_of(cursor).stmt, i);
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

unsafe extern "C" fn rowid(_cursor: *mut ffi::sqlite3_vtab_cursor, rowid: *mut i64) -> c_int {
    unsafe { *rowid = 0 };
    ffi::SQLITE_OK
}
