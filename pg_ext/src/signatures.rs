//! The SQL signatures of the extension's C functions, as `sql/schema.sql`
//! declares them: each function's arguments (position, name, type), its
//! defaults, result, volatility, strictness and C symbol.
//!
//! The functions read their arguments only through the [`Arg`] constants
//! here, each made from its function's table by [`Function::arg`], which
//! refuses (when the crate compiles) a position the table does not have or
//! a type it does not give there; `fmgr::Call` checks at each read that the
//! called function's table gives the argument's type at its position.
//! `tests/pg_client/tests/signatures.rs` compares the tables with
//! `sql/schema.sql`, every released install script and the installed
//! catalog. Pure Rust, no pgrx, so that test can include the file.

use std::marker::PhantomData;

/// The SQL types of the functions' arguments and results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SqlType {
    Varchar,
    Bigint,
    Jsonb,
    Boolean,
    /// `bigint[]`.
    BigintArray,
    /// `message_store.message`, the readers' row type.
    Message,
    Text,
    /// `message_store.stream_listing`, `get_streams`' row type.
    StreamListing,
    /// `message_store.category_listing`, `get_categories`' row type.
    CategoryListing,
    /// `timestamptz`.
    Timestamptz,
    /// `void`: a function whose call returns nothing.
    Void,
}

impl SqlType {
    /// The type's name as the catalog prints it (`format_type`).
    pub const fn catalog_name(self) -> &'static str {
        match self {
            SqlType::Varchar => "character varying",
            SqlType::Bigint => "bigint",
            SqlType::Jsonb => "jsonb",
            SqlType::Boolean => "boolean",
            SqlType::BigintArray => "bigint[]",
            SqlType::Message => "message_store.message",
            SqlType::Text => "text",
            SqlType::StreamListing => "message_store.stream_listing",
            SqlType::CategoryListing => "message_store.category_listing",
            SqlType::Timestamptz => "timestamp with time zone",
            SqlType::Void => "void",
        }
    }
}

/// An argument type a function reads, as a Rust type, so a read of the
/// wrong kind does not compile.
pub trait ArgType {
    const SQL: SqlType;
}

/// `varchar`: read as bytes (or UTF-8 text) or passed on as a datum.
pub struct Varchar;
/// `bigint`.
pub struct Bigint;
/// `jsonb`: passed on as a datum, or printed.
pub struct Jsonb;
/// `boolean`.
pub struct Boolean;
/// `text`: read as UTF-8 text.
pub struct Text;
/// `timestamptz`: microseconds since 2000-01-01 00:00 UTC.
pub struct Timestamptz;

impl ArgType for Varchar {
    const SQL: SqlType = SqlType::Varchar;
}
impl ArgType for Bigint {
    const SQL: SqlType = SqlType::Bigint;
}
impl ArgType for Jsonb {
    const SQL: SqlType = SqlType::Jsonb;
}
impl ArgType for Boolean {
    const SQL: SqlType = SqlType::Boolean;
}
impl ArgType for Text {
    const SQL: SqlType = SqlType::Text;
}
impl ArgType for Timestamptz {
    const SQL: SqlType = SqlType::Timestamptz;
}

/// One argument of one function, as its reads name it: its position (from
/// 0) and name in the function's table, and its type as a Rust type.
pub struct Arg<T> {
    pub position: usize,
    pub name: &'static str,
    ty: PhantomData<T>,
}

impl<T> Clone for Arg<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Arg<T> {}

impl<T: ArgType> Arg<T> {
    /// The argument as its function's table lists it.
    pub const fn declared(self) -> Declared {
        Declared {
            name: self.name,
            ty: T::SQL,
        }
    }
}

/// An argument as the SQL declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Declared {
    pub name: &'static str,
    pub ty: SqlType,
}

const fn declared(name: &'static str, ty: SqlType) -> Declared {
    Declared { name, ty }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Volatility {
    Immutable,
    Stable,
    Volatile,
}

impl Volatility {
    /// `pg_proc.provolatile`.
    pub const fn code(self) -> char {
        match self {
            Volatility::Immutable => 'i',
            Volatility::Stable => 's',
            Volatility::Volatile => 'v',
        }
    }
}

/// A C function of the extension, as its `CREATE FUNCTION` declares it.
#[derive(Debug)]
pub struct Function {
    /// The name in schema `message_store`.
    pub name: &'static str,
    /// The release whose install script first declares it.
    pub since: &'static str,
    /// The library's symbol (`AS 'MODULE_PATHNAME', '<symbol>'`).
    pub symbol: &'static str,
    /// In position order.
    pub args: &'static [Declared],
    /// How many trailing arguments have a default.
    pub defaults: usize,
    pub returns: SqlType,
    /// `RETURNS SETOF`.
    pub returns_set: bool,
    pub volatility: Volatility,
    pub strict: bool,
    pub parallel_safe: bool,
}

impl Function {
    /// The argument at `position`, read as `T`. Used in constants, so a
    /// position the table does not have, or a type it does not give there,
    /// stops the crate from compiling.
    pub const fn arg<T: ArgType>(&self, position: usize) -> Arg<T> {
        assert!(position < self.args.len(), "no argument at this position");
        let declared = self.args[position];
        assert!(
            declared.ty as u8 == T::SQL as u8,
            "the argument is declared with another type"
        );
        Arg {
            position,
            name: declared.name,
            ty: PhantomData,
        }
    }

    /// Whether `arg` is this function's argument at its position.
    pub fn declares<T: ArgType>(&self, arg: Arg<T>) -> bool {
        self.args.get(arg.position) == Some(&arg.declared())
    }
}

/// A scalar over one stream name: IMMUTABLE, STRICT, PARALLEL SAFE.
macro_rules! name_rule {
    ($module:ident, $symbol:literal, $returns:ident, strict: $strict:literal) => {
        pub mod $module {
            use super::*;
            pub const FUNCTION: Function = Function {
                name: stringify!($module),
                since: "0.1.0",
                symbol: $symbol,
                args: &[declared("stream_name", SqlType::Varchar)],
                defaults: 0,
                returns: SqlType::$returns,
                returns_set: false,
                volatility: Volatility::Immutable,
                strict: $strict,
                parallel_safe: true,
            };
            pub const STREAM_NAME: Arg<Varchar> = FUNCTION.arg(0);
        }
    };
}

name_rule!(category, "message_store_category", Varchar, strict: true);
name_rule!(id, "message_store_id", Varchar, strict: true);
name_rule!(cardinal_id, "message_store_cardinal_id", Varchar, strict: true);
// Not STRICT: a NULL name counts as a category.
name_rule!(is_category, "message_store_is_category", Boolean, strict: false);

pub mod hash_64 {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "hash_64",
        since: "0.1.0",
        symbol: "message_store_hash_64",
        args: &[declared("value", SqlType::Varchar)],
        defaults: 0,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Immutable,
        strict: true,
        parallel_safe: true,
    };
    pub const VALUE: Arg<Varchar> = FUNCTION.arg(0);
}

pub mod is_consumer_group_member {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "is_consumer_group_member",
        since: "0.1.0",
        symbol: "message_store_is_consumer_group_member",
        args: &[
            declared("stream_name", SqlType::Varchar),
            declared("consumer_group_member", SqlType::Bigint),
            declared("consumer_group_size", SqlType::Bigint),
        ],
        defaults: 0,
        returns: SqlType::Boolean,
        returns_set: false,
        volatility: Volatility::Immutable,
        strict: true,
        parallel_safe: true,
    };
    pub const STREAM_NAME: Arg<Varchar> = FUNCTION.arg(0);
    pub const CONSUMER_GROUP_MEMBER: Arg<Bigint> = FUNCTION.arg(1);
    pub const CONSUMER_GROUP_SIZE: Arg<Bigint> = FUNCTION.arg(2);
}

pub mod message_store_version {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "message_store_version",
        since: "0.1.0",
        symbol: "message_store_message_store_version",
        args: &[],
        defaults: 0,
        returns: SqlType::Varchar,
        returns_set: false,
        volatility: Volatility::Stable,
        strict: false,
        parallel_safe: true,
    };
}

pub mod acquire_lock {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "acquire_lock",
        since: "0.1.0",
        symbol: "message_store_acquire_lock",
        args: &[declared("stream_name", SqlType::Varchar)],
        defaults: 0,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const STREAM_NAME: Arg<Varchar> = FUNCTION.arg(0);
}

pub mod stream_version {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "stream_version",
        since: "0.1.0",
        symbol: "message_store_stream_version",
        args: &[declared("stream_name", SqlType::Varchar)],
        defaults: 0,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const STREAM_NAME: Arg<Varchar> = FUNCTION.arg(0);
}

pub mod write_message {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "write_message",
        since: "0.1.0",
        symbol: "message_store_write_message",
        args: &[
            declared("id", SqlType::Varchar),
            declared("stream_name", SqlType::Varchar),
            declared("type", SqlType::Varchar),
            declared("data", SqlType::Jsonb),
            declared("metadata", SqlType::Jsonb),
            declared("expected_version", SqlType::Bigint),
        ],
        defaults: 2,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const ID: Arg<Varchar> = FUNCTION.arg(0);
    pub const STREAM_NAME: Arg<Varchar> = FUNCTION.arg(1);
    pub const TYPE: Arg<Varchar> = FUNCTION.arg(2);
    pub const DATA: Arg<Jsonb> = FUNCTION.arg(3);
    pub const METADATA: Arg<Jsonb> = FUNCTION.arg(4);
    pub const EXPECTED_VERSION: Arg<Bigint> = FUNCTION.arg(5);
}

pub mod get_stream_messages {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "get_stream_messages",
        since: "0.1.0",
        symbol: "message_store_get_stream_messages",
        args: &[
            declared("stream_name", SqlType::Varchar),
            declared("position", SqlType::Bigint),
            declared("batch_size", SqlType::Bigint),
            declared("condition", SqlType::Varchar),
        ],
        defaults: 3,
        returns: SqlType::Message,
        returns_set: true,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const STREAM_NAME: Arg<Varchar> = FUNCTION.arg(0);
    pub const POSITION: Arg<Bigint> = FUNCTION.arg(1);
    pub const BATCH_SIZE: Arg<Bigint> = FUNCTION.arg(2);
    pub const CONDITION: Arg<Varchar> = FUNCTION.arg(3);
}

pub mod get_category_messages {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "get_category_messages",
        since: "0.1.0",
        symbol: "message_store_get_category_messages",
        args: &[
            declared("category", SqlType::Varchar),
            declared("position", SqlType::Bigint),
            declared("batch_size", SqlType::Bigint),
            declared("correlation", SqlType::Varchar),
            declared("consumer_group_member", SqlType::Bigint),
            declared("consumer_group_size", SqlType::Bigint),
            declared("condition", SqlType::Varchar),
        ],
        defaults: 6,
        returns: SqlType::Message,
        returns_set: true,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const CATEGORY: Arg<Varchar> = FUNCTION.arg(0);
    pub const POSITION: Arg<Bigint> = FUNCTION.arg(1);
    pub const BATCH_SIZE: Arg<Bigint> = FUNCTION.arg(2);
    pub const CORRELATION: Arg<Varchar> = FUNCTION.arg(3);
    pub const CONSUMER_GROUP_MEMBER: Arg<Bigint> = FUNCTION.arg(4);
    pub const CONSUMER_GROUP_SIZE: Arg<Bigint> = FUNCTION.arg(5);
    pub const CONDITION: Arg<Varchar> = FUNCTION.arg(6);
}

pub mod get_last_stream_message {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "get_last_stream_message",
        since: "0.1.0",
        symbol: "message_store_get_last_stream_message",
        args: &[
            declared("stream_name", SqlType::Varchar),
            declared("type", SqlType::Varchar),
        ],
        defaults: 1,
        returns: SqlType::Message,
        returns_set: true,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const STREAM_NAME: Arg<Varchar> = FUNCTION.arg(0);
    pub const TYPE: Arg<Varchar> = FUNCTION.arg(1);
}

pub mod write_messages {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "write_messages",
        since: "0.2.0",
        symbol: "message_store_write_messages",
        args: &[
            declared("stream_name", SqlType::Varchar),
            declared("messages", SqlType::Jsonb),
            declared("expected_version", SqlType::Bigint),
            declared("idempotent", SqlType::Boolean),
        ],
        defaults: 2,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const STREAM_NAME: Arg<Varchar> = FUNCTION.arg(0);
    pub const MESSAGES: Arg<Jsonb> = FUNCTION.arg(1);
    pub const EXPECTED_VERSION: Arg<Bigint> = FUNCTION.arg(2);
    pub const IDEMPOTENT: Arg<Boolean> = FUNCTION.arg(3);
}

pub mod write_batch {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "write_batch",
        since: "0.2.0",
        symbol: "message_store_write_batch",
        args: &[
            declared("batch", SqlType::Jsonb),
            declared("idempotent", SqlType::Boolean),
        ],
        defaults: 1,
        returns: SqlType::BigintArray,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const BATCH: Arg<Jsonb> = FUNCTION.arg(0);
    pub const IDEMPOTENT: Arg<Boolean> = FUNCTION.arg(1);
}

pub mod get_all_messages {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "get_all_messages",
        since: "0.2.0",
        symbol: "message_store_get_all_messages",
        args: &[
            declared("position", SqlType::Bigint),
            declared("batch_size", SqlType::Bigint),
            declared("condition", SqlType::Varchar),
        ],
        defaults: 3,
        returns: SqlType::Message,
        returns_set: true,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const POSITION: Arg<Bigint> = FUNCTION.arg(0);
    pub const BATCH_SIZE: Arg<Bigint> = FUNCTION.arg(1);
    pub const CONDITION: Arg<Varchar> = FUNCTION.arg(2);
}

pub mod export_messages {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "export_messages",
        since: "0.2.0",
        symbol: "message_store_export_messages",
        args: &[
            declared("position", SqlType::Bigint),
            declared("batch_size", SqlType::Bigint),
            declared("category", SqlType::Varchar),
        ],
        defaults: 3,
        returns: SqlType::Text,
        returns_set: true,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const POSITION: Arg<Bigint> = FUNCTION.arg(0);
    pub const BATCH_SIZE: Arg<Bigint> = FUNCTION.arg(1);
    pub const CATEGORY: Arg<Varchar> = FUNCTION.arg(2);
}

pub mod import_messages {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "import_messages",
        since: "0.2.0",
        symbol: "message_store_import_messages",
        args: &[declared("lines", SqlType::Text)],
        defaults: 0,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const LINES: Arg<Text> = FUNCTION.arg(0);
}

pub mod get_streams {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "get_streams",
        since: "0.2.0",
        symbol: "message_store_get_streams",
        args: &[
            declared("prefix", SqlType::Varchar),
            declared("after", SqlType::Varchar),
            declared("limit", SqlType::Bigint),
        ],
        defaults: 3,
        returns: SqlType::StreamListing,
        returns_set: true,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const PREFIX: Arg<Varchar> = FUNCTION.arg(0);
    pub const AFTER: Arg<Varchar> = FUNCTION.arg(1);
    pub const LIMIT: Arg<Bigint> = FUNCTION.arg(2);
}

pub mod get_categories {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "get_categories",
        since: "0.2.0",
        symbol: "message_store_get_categories",
        args: &[
            declared("after", SqlType::Varchar),
            declared("limit", SqlType::Bigint),
        ],
        defaults: 2,
        returns: SqlType::CategoryListing,
        returns_set: true,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const AFTER: Arg<Varchar> = FUNCTION.arg(0);
    pub const LIMIT: Arg<Bigint> = FUNCTION.arg(1);
}

/// Retention and erasure (`pg_ext/src/retention.rs`): the operator's
/// functions, which `grant_client_privileges` leaves out.
pub mod remove_messages {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "remove_messages",
        since: "0.2.0",
        symbol: "message_store_remove_messages",
        args: &[
            declared("stream_or_category", SqlType::Varchar),
            declared("before_time", SqlType::Timestamptz),
            declared("before_global_position", SqlType::Bigint),
            declared("limit", SqlType::Bigint),
        ],
        defaults: 3,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const STREAM_OR_CATEGORY: Arg<Varchar> = FUNCTION.arg(0);
    pub const BEFORE_TIME: Arg<Timestamptz> = FUNCTION.arg(1);
    pub const BEFORE_GLOBAL_POSITION: Arg<Bigint> = FUNCTION.arg(2);
    pub const LIMIT: Arg<Bigint> = FUNCTION.arg(3);
}

pub mod redact_stream {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "redact_stream",
        since: "0.2.0",
        symbol: "message_store_redact_stream",
        args: &[declared("stream_name", SqlType::Varchar)],
        defaults: 0,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const STREAM_NAME: Arg<Varchar> = FUNCTION.arg(0);
}

pub mod set_retention_policy {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "set_retention_policy",
        since: "0.2.0",
        symbol: "message_store_set_retention_policy",
        args: &[
            declared("category", SqlType::Varchar),
            declared("kind", SqlType::Varchar),
            declared("amount", SqlType::Bigint),
        ],
        defaults: 0,
        returns: SqlType::Void,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const CATEGORY: Arg<Varchar> = FUNCTION.arg(0);
    pub const KIND: Arg<Varchar> = FUNCTION.arg(1);
    pub const AMOUNT: Arg<Bigint> = FUNCTION.arg(2);
}

pub mod clear_retention_policy {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "clear_retention_policy",
        since: "0.2.0",
        symbol: "message_store_clear_retention_policy",
        args: &[declared("category", SqlType::Varchar)],
        defaults: 0,
        returns: SqlType::Boolean,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const CATEGORY: Arg<Varchar> = FUNCTION.arg(0);
}

pub mod apply_retention_policies {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "apply_retention_policies",
        since: "0.2.0",
        symbol: "message_store_apply_retention_policies",
        args: &[declared("limit", SqlType::Bigint)],
        defaults: 1,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
    pub const LIMIT: Arg<Bigint> = FUNCTION.arg(0);
}

/// Every C function of the extension.
pub const FUNCTIONS: [&Function; 25] = [
    &category::FUNCTION,
    &id::FUNCTION,
    &cardinal_id::FUNCTION,
    &is_category::FUNCTION,
    &hash_64::FUNCTION,
    &is_consumer_group_member::FUNCTION,
    &message_store_version::FUNCTION,
    &acquire_lock::FUNCTION,
    &stream_version::FUNCTION,
    &write_message::FUNCTION,
    &get_stream_messages::FUNCTION,
    &get_category_messages::FUNCTION,
    &get_last_stream_message::FUNCTION,
    &write_messages::FUNCTION,
    &write_batch::FUNCTION,
    &export_messages::FUNCTION,
    &import_messages::FUNCTION,
    &get_all_messages::FUNCTION,
    &get_streams::FUNCTION,
    &get_categories::FUNCTION,
    &remove_messages::FUNCTION,
    &redact_stream::FUNCTION,
    &set_retention_policy::FUNCTION,
    &clear_retention_policy::FUNCTION,
    &apply_retention_policies::FUNCTION,
];
