//! The semantics of Message DB 1.3 that both engines share. No FFI here:
//! the Postgres and SQLite extensions are thin adapters over this crate.

pub mod batch;
pub mod condition;
pub mod error;
pub mod hash;
pub mod json;
pub mod listing;
pub mod notify;
pub mod read;
pub mod release;
pub mod retention;
pub mod statement;
pub mod stream_name;
pub mod text;
pub mod time;
pub mod transfer;
pub mod uuid;
pub mod write;

pub use error::Error;
pub use hash::{hash_64, is_consumer_group_member};
pub use stream_name::{cardinal_id, category, id, is_category};

/// The Message DB API level this store implements.
pub const MESSAGE_STORE_VERSION: &str = "1.3.0";
