//! The SQL signatures of the extension's C functions, as `sql/schema.sql`
//! declares them: each function's arguments (position, name, type), its
//! defaults, result, volatility, strictness and C symbol.
//!
//! The functions read their arguments only through the [`Arg`] constants
//! here (`fmgr::Call` checks each read against its function's table), and
//! `tests/pg_client/tests/signatures.rs` compares this table with
//! `sql/schema.sql`, every released install script and the installed
//! catalog: a read at a position or of a type that the SQL does not declare
//! fails that test. Pure Rust, no pgrx, so that test can include the file.

use std::marker::PhantomData;

/// The SQL types of the functions' arguments and results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlType {
    Varchar,
    Bigint,
    Jsonb,
    Boolean,
    /// `message_store.message`, the readers' row type.
    Message,
}

impl SqlType {
    /// The type's name as the catalog prints it (`format_type`).
    pub const fn catalog_name(self) -> &'static str {
        match self {
            SqlType::Varchar => "character varying",
            SqlType::Bigint => "bigint",
            SqlType::Jsonb => "jsonb",
            SqlType::Boolean => "boolean",
            SqlType::Message => "message_store.message",
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

impl ArgType for Varchar {
    const SQL: SqlType = SqlType::Varchar;
}
impl ArgType for Bigint {
    const SQL: SqlType = SqlType::Bigint;
}
impl ArgType for Jsonb {
    const SQL: SqlType = SqlType::Jsonb;
}

/// One argument of one function: its position (from 0) and name.
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
    pub const fn new(position: usize, name: &'static str) -> Arg<T> {
        Arg {
            position,
            name,
            ty: PhantomData,
        }
    }

    /// The argument as its function's table lists it.
    pub const fn declared(self) -> Declared {
        Declared {
            position: self.position,
            name: self.name,
            ty: T::SQL,
        }
    }
}

/// An argument as the SQL declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Declared {
    pub position: usize,
    pub name: &'static str,
    pub ty: SqlType,
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
    /// The argument at `position`, if this function has one.
    pub fn arg(&self, position: usize) -> Option<&Declared> {
        self.args.get(position)
    }
}

/// A scalar over one stream name: IMMUTABLE, STRICT, PARALLEL SAFE.
macro_rules! name_rule {
    ($module:ident, $symbol:literal, $returns:ident, strict: $strict:literal) => {
        pub mod $module {
            use super::*;
            pub const STREAM_NAME: Arg<Varchar> = Arg::new(0, "stream_name");
            pub const FUNCTION: Function = Function {
                name: stringify!($module),
                symbol: $symbol,
                args: &[STREAM_NAME.declared()],
                defaults: 0,
                returns: SqlType::$returns,
                returns_set: false,
                volatility: Volatility::Immutable,
                strict: $strict,
                parallel_safe: true,
            };
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
    pub const VALUE: Arg<Varchar> = Arg::new(0, "value");
    pub const FUNCTION: Function = Function {
        name: "hash_64",
        symbol: "message_store_hash_64",
        args: &[VALUE.declared()],
        defaults: 0,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Immutable,
        strict: true,
        parallel_safe: true,
    };
}

pub mod is_consumer_group_member {
    use super::*;
    pub const STREAM_NAME: Arg<Varchar> = Arg::new(0, "stream_name");
    pub const CONSUMER_GROUP_MEMBER: Arg<Bigint> = Arg::new(1, "consumer_group_member");
    pub const CONSUMER_GROUP_SIZE: Arg<Bigint> = Arg::new(2, "consumer_group_size");
    pub const FUNCTION: Function = Function {
        name: "is_consumer_group_member",
        symbol: "message_store_is_consumer_group_member",
        args: &[
            STREAM_NAME.declared(),
            CONSUMER_GROUP_MEMBER.declared(),
            CONSUMER_GROUP_SIZE.declared(),
        ],
        defaults: 0,
        returns: SqlType::Boolean,
        returns_set: false,
        volatility: Volatility::Immutable,
        strict: true,
        parallel_safe: true,
    };
}

pub mod message_store_version {
    use super::*;
    pub const FUNCTION: Function = Function {
        name: "message_store_version",
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
    pub const STREAM_NAME: Arg<Varchar> = Arg::new(0, "stream_name");
    pub const FUNCTION: Function = Function {
        name: "acquire_lock",
        symbol: "message_store_acquire_lock",
        args: &[STREAM_NAME.declared()],
        defaults: 0,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
}

pub mod stream_version {
    use super::*;
    pub const STREAM_NAME: Arg<Varchar> = Arg::new(0, "stream_name");
    pub const FUNCTION: Function = Function {
        name: "stream_version",
        symbol: "message_store_stream_version",
        args: &[STREAM_NAME.declared()],
        defaults: 0,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
}

pub mod write_message {
    use super::*;
    pub const ID: Arg<Varchar> = Arg::new(0, "id");
    pub const STREAM_NAME: Arg<Varchar> = Arg::new(1, "stream_name");
    pub const TYPE: Arg<Varchar> = Arg::new(2, "type");
    pub const DATA: Arg<Jsonb> = Arg::new(3, "data");
    pub const METADATA: Arg<Jsonb> = Arg::new(4, "metadata");
    pub const EXPECTED_VERSION: Arg<Bigint> = Arg::new(5, "expected_version");
    pub const FUNCTION: Function = Function {
        name: "write_message",
        symbol: "message_store_write_message",
        args: &[
            ID.declared(),
            STREAM_NAME.declared(),
            TYPE.declared(),
            DATA.declared(),
            METADATA.declared(),
            EXPECTED_VERSION.declared(),
        ],
        defaults: 2,
        returns: SqlType::Bigint,
        returns_set: false,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
}

pub mod get_stream_messages {
    use super::*;
    pub const STREAM_NAME: Arg<Varchar> = Arg::new(0, "stream_name");
    pub const POSITION: Arg<Bigint> = Arg::new(1, "position");
    pub const BATCH_SIZE: Arg<Bigint> = Arg::new(2, "batch_size");
    pub const CONDITION: Arg<Varchar> = Arg::new(3, "condition");
    pub const FUNCTION: Function = Function {
        name: "get_stream_messages",
        symbol: "message_store_get_stream_messages",
        args: &[
            STREAM_NAME.declared(),
            POSITION.declared(),
            BATCH_SIZE.declared(),
            CONDITION.declared(),
        ],
        defaults: 3,
        returns: SqlType::Message,
        returns_set: true,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
}

pub mod get_category_messages {
    use super::*;
    pub const CATEGORY: Arg<Varchar> = Arg::new(0, "category");
    pub const POSITION: Arg<Bigint> = Arg::new(1, "position");
    pub const BATCH_SIZE: Arg<Bigint> = Arg::new(2, "batch_size");
    pub const CORRELATION: Arg<Varchar> = Arg::new(3, "correlation");
    pub const CONSUMER_GROUP_MEMBER: Arg<Bigint> = Arg::new(4, "consumer_group_member");
    pub const CONSUMER_GROUP_SIZE: Arg<Bigint> = Arg::new(5, "consumer_group_size");
    pub const CONDITION: Arg<Varchar> = Arg::new(6, "condition");
    pub const FUNCTION: Function = Function {
        name: "get_category_messages",
        symbol: "message_store_get_category_messages",
        args: &[
            CATEGORY.declared(),
            POSITION.declared(),
            BATCH_SIZE.declared(),
            CORRELATION.declared(),
            CONSUMER_GROUP_MEMBER.declared(),
            CONSUMER_GROUP_SIZE.declared(),
            CONDITION.declared(),
        ],
        defaults: 6,
        returns: SqlType::Message,
        returns_set: true,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
}

pub mod get_last_stream_message {
    use super::*;
    pub const STREAM_NAME: Arg<Varchar> = Arg::new(0, "stream_name");
    pub const TYPE: Arg<Varchar> = Arg::new(1, "type");
    pub const FUNCTION: Function = Function {
        name: "get_last_stream_message",
        symbol: "message_store_get_last_stream_message",
        args: &[STREAM_NAME.declared(), TYPE.declared()],
        defaults: 1,
        returns: SqlType::Message,
        returns_set: true,
        volatility: Volatility::Volatile,
        strict: false,
        parallel_safe: false,
    };
}

/// Every C function of the extension.
pub const FUNCTIONS: [&Function; 13] = [
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
];

/// Each table lists its arguments in position order, and its defaults are
/// among them: checked when the crate compiles.
const _: () = {
    let mut f = 0;
    while f < FUNCTIONS.len() {
        let function = FUNCTIONS[f];
        assert!(function.defaults <= function.args.len());
        let mut a = 0;
        while a < function.args.len() {
            assert!(function.args[a].position == a);
            a += 1;
        }
        f += 1;
    }
};
