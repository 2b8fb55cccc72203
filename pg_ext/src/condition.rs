//! A reader's SQL condition on Postgres: after core's rule has read it with
//! Postgres' lexical rules (no `;`, no comment, no parenthesis the condition
//! did not open; see `read::ConditionGate`), Postgres' own parser reads it
//! alone, as PL/pgSQL reads an expression, and must find one expression and
//! nothing else (no second item, no alias, no `FROM`, `ORDER BY`, `LIMIT` or
//! other clause).

use std::ffi::CString;

use message_store_core::condition::Fault;
use message_store_core::Error;
use pgrx::pg_sys::{self, NodeTag};

use crate::fmgr::raise;

/// Refuses, with 42601 and core's text, a condition (already checked by
/// core's rule) that Postgres' parser does not read as one expression; a
/// text Postgres cannot parse fails with Postgres' own syntax error.
/// Nothing runs before this returns.
pub fn parse_condition(text: &str) {
    // Core refused a NUL, so the text converts.
    let Ok(text) = CString::new(text) else {
        raise(Error::InvalidCondition { fault: Fault::Nul })
    };
    // SAFETY: raw_parser reads a NUL-terminated string and returns a list
    // allocated in the call's memory context (or raises a syntax error).
    let tree =
        unsafe { pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_PLPGSQL_EXPR) };
    // SAFETY: the tree is the parser's, valid for the rest of the call.
    if !unsafe { is_one_expression(tree) } {
        raise(Error::InvalidCondition {
            fault: Fault::NotOneExpression,
        });
    }
}

/// The only element of a list of pointers, if it has exactly one.
///
/// # Safety
/// `list` is null or a valid pointer list.
unsafe fn only_element<T>(list: *mut pg_sys::List) -> Option<*mut T> {
    // SAFETY: a non-null list of length 1 has one valid cell.
    unsafe {
        if list.is_null() || (*list).length != 1 {
            return None;
        }
        Some((*(*list).elements).ptr_value.cast())
    }
}

/// Whether `node` is a node with `tag`.
///
/// # Safety
/// `node` is null or a valid node.
unsafe fn has_tag(node: *mut pg_sys::Node, tag: NodeTag) -> bool {
    // SAFETY: every node starts with its tag.
    !node.is_null() && unsafe { (*node).type_ } == tag
}

/// Whether a parse in PL/pgSQL expression mode found exactly one select
/// item, unnamed, not `*`, and no clause: what `SELECT <expression>` is.
///
/// # Safety
/// `tree` is a list the raw parser returned.
unsafe fn is_one_expression(tree: *mut pg_sys::List) -> bool {
    // SAFETY: each pointer is checked for its node tag before it is read as
    // that node; the parser's nodes are valid for the call.
    unsafe {
        let Some(raw) = only_element::<pg_sys::Node>(tree) else {
            return false;
        };
        if !has_tag(raw, NodeTag::T_RawStmt) {
            return false;
        }
        let select = (*raw.cast::<pg_sys::RawStmt>()).stmt;
        if !has_tag(select, NodeTag::T_SelectStmt) {
            return false;
        }
        let s = &*select.cast::<pg_sys::SelectStmt>();
        let no_clauses = s.distinctClause.is_null()
            && s.intoClause.is_null()
            && s.fromClause.is_null()
            && s.whereClause.is_null()
            && s.groupClause.is_null()
            && s.havingClause.is_null()
            && s.windowClause.is_null()
            && s.valuesLists.is_null()
            && s.sortClause.is_null()
            && s.limitOffset.is_null()
            && s.limitCount.is_null()
            && s.lockingClause.is_null()
            && s.withClause.is_null()
            && s.op == pg_sys::SetOperation::SETOP_NONE;
        if !no_clauses {
            return false;
        }
        let Some(target) = only_element::<pg_sys::Node>(s.targetList) else {
            return false;
        };
        if !has_tag(target, NodeTag::T_ResTarget) {
            return false;
        }
        let target = &*target.cast::<pg_sys::ResTarget>();
        if !target.name.is_null() || !target.indirection.is_null() || target.val.is_null() {
            return false;
        }
        !is_star(target.val)
    }
}

/// Whether an item is `*` or `name.*`.
///
/// # Safety
/// `node` is a valid node.
unsafe fn is_star(node: *mut pg_sys::Node) -> bool {
    // SAFETY: tags are checked before each node is read as its type.
    unsafe {
        if !has_tag(node, NodeTag::T_ColumnRef) {
            return false;
        }
        let fields = (*node.cast::<pg_sys::ColumnRef>()).fields;
        if fields.is_null() || (*fields).length == 0 {
            return false;
        }
        let last = (*(*fields).elements.add((*fields).length as usize - 1))
            .ptr_value
            .cast::<pg_sys::Node>();
        has_tag(last, NodeTag::T_A_Star)
    }
}
