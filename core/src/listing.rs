//! Argument rules of the listings, `get_streams(prefix, after, limit)` and
//! `get_categories(after, limit)`, and the walk each engine's statement
//! makes over its index.
//!
//! Both listings walk an index of names with a skip scan: from a first
//! name, each step one index probe for the smallest name above the last.
//! How the walk starts and when it may stop depends on whether names that
//! share a prefix are contiguous in the index's order ([`Order`]).

use crate::error::Error;

/// The rows a listing returns when its limit is NULL or omitted.
pub const DEFAULT_LIMIT: i64 = 100;

/// Which listing a call is, for error texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    Streams,
    Categories,
}

impl Listing {
    pub fn name(self) -> &'static str {
        match self {
            Listing::Streams => "get_streams",
            Listing::Categories => "get_categories",
        }
    }
}

/// The order of the index a listing walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Names sharing a prefix are contiguous, and bytewise comparison
    /// agrees with the index's (SQLite's BINARY; Postgres' C, POSIX and
    /// C.UTF-8): a prefix is a range of the index.
    Bytewise,
    /// Any other collation (`en_US`, ICU): names sharing a prefix may lie
    /// apart, and only the index itself can compare two names.
    Collated,
}

/// Validated arguments of a listing. An empty prefix is no prefix; an
/// empty cursor is no cursor (the listing starts at the first name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListingRead<'a> {
    pub listing: Listing,
    /// Empty for no prefix filter.
    pub prefix: &'a [u8],
    pub after: Option<&'a [u8]>,
    pub limit: i64,
}

fn refuse_nul(listing: Listing, argument: &'static str, value: &[u8]) -> Result<(), Error> {
    if value.contains(&0) {
        return Err(Error::ListingNul {
            function: listing.name(),
            argument,
        });
    }
    Ok(())
}

impl<'a> ListingRead<'a> {
    /// `get_streams(prefix, after, limit)`.
    pub fn streams(
        prefix: Option<&'a [u8]>,
        after: Option<&'a [u8]>,
        limit: Option<i64>,
    ) -> Result<Self, Error> {
        ListingRead::new(Listing::Streams, prefix, after, limit)
    }

    /// `get_categories(after, limit)`.
    pub fn categories(after: Option<&'a [u8]>, limit: Option<i64>) -> Result<Self, Error> {
        ListingRead::new(Listing::Categories, None, after, limit)
    }

    /// The checks in argument order: the prefix, the cursor, the limit.
    fn new(
        listing: Listing,
        prefix: Option<&'a [u8]>,
        after: Option<&'a [u8]>,
        limit: Option<i64>,
    ) -> Result<Self, Error> {
        let prefix = prefix.unwrap_or_default();
        refuse_nul(listing, "prefix", prefix)?;
        if let Some(after) = after {
            refuse_nul(listing, "after", after)?;
        }
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit < 1 {
            return Err(Error::ListingLimitTooSmall {
                function: listing.name(),
                limit,
            });
        }
        Ok(ListingRead {
            listing,
            prefix,
            after: after.filter(|after| !after.is_empty()),
            limit,
        })
    }

    /// The walk over an index of the given order. The statements take its
    /// fields as parameters: 1 `from`, 2 `skip_from`, 3 `limit`,
    /// 4 `while_prefix`, 5 `keep_prefix`.
    pub fn walk(&self, order: Order) -> Walk<'a> {
        let (from, skip_from) = match (order, self.after) {
            // A cursor below the prefix: every name with the prefix is at
            // or above the prefix itself, which may be a name.
            (Order::Bytewise, Some(after)) if after < self.prefix => (self.prefix, false),
            (Order::Bytewise, None) => (self.prefix, false),
            (_, Some(after)) => (after, true),
            // The empty name is the first in every order.
            (Order::Collated, None) => (&[][..], false),
        };
        Walk {
            from,
            skip_from,
            limit: self.limit,
            while_prefix: match order {
                Order::Bytewise => self.prefix,
                Order::Collated => &[],
            },
            keep_prefix: self.prefix,
        }
    }
}

/// A listing's walk over its index: it starts at the first name at or
/// above `from` (leaving `from` itself out when `skip_from`), goes on
/// while the names start with `while_prefix`, and lists those that start
/// with `keep_prefix`, at most `limit` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Walk<'a> {
    pub from: &'a [u8],
    pub skip_from: bool,
    pub limit: i64,
    pub while_prefix: &'a [u8],
    pub keep_prefix: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names a walk lists out of `names`, given in the index's order:
    /// what the engines' statements compute.
    fn list<'n>(walk: &Walk<'_>, names: &[&'n [u8]]) -> Vec<&'n [u8]> {
        names
            .iter()
            .copied()
            .skip_while(|name| *name < walk.from)
            .filter(|name| !(walk.skip_from && *name == walk.from))
            .take_while(|name| name.starts_with(walk.while_prefix))
            .filter(|name| name.starts_with(walk.keep_prefix))
            .take(usize::try_from(walk.limit).unwrap_or(usize::MAX))
            .collect()
    }

    fn b(text: &str) -> Option<&[u8]> {
        Some(text.as_bytes())
    }

    #[test]
    fn defaults_and_empty_arguments() {
        let read = ListingRead::streams(None, None, None).unwrap();
        assert_eq!((read.prefix, read.after, read.limit), (&b""[..], None, 100));
        let read = ListingRead::streams(b(""), b(""), Some(1)).unwrap();
        assert_eq!((read.prefix, read.after, read.limit), (&b""[..], None, 1));
        let read = ListingRead::categories(b("a"), Some(7)).unwrap();
        assert_eq!(
            (read.listing, read.prefix, read.after, read.limit),
            (Listing::Categories, &b""[..], b("a"), 7)
        );
    }

    #[test]
    fn refusals_in_argument_order() {
        assert_eq!(
            ListingRead::streams(b("a\0"), b("b\0"), Some(0)),
            Err(Error::ListingNul {
                function: "get_streams",
                argument: "prefix"
            })
        );
        assert_eq!(
            ListingRead::streams(b("a"), b("b\0"), Some(0)),
            Err(Error::ListingNul {
                function: "get_streams",
                argument: "after"
            })
        );
        assert_eq!(
            ListingRead::streams(None, None, Some(0)),
            Err(Error::ListingLimitTooSmall {
                function: "get_streams",
                limit: 0
            })
        );
        assert_eq!(
            ListingRead::categories(b("\0"), Some(-1)),
            Err(Error::ListingNul {
                function: "get_categories",
                argument: "after"
            })
        );
        assert_eq!(
            ListingRead::categories(None, Some(i64::MIN)),
            Err(Error::ListingLimitTooSmall {
                function: "get_categories",
                limit: i64::MIN
            })
        );
    }

    #[test]
    fn bytewise_walks_start_at_the_prefix_or_the_cursor() {
        let read = ListingRead::streams(b("account-"), None, None).unwrap();
        assert_eq!(
            read.walk(Order::Bytewise),
            Walk {
                from: b"account-",
                skip_from: false,
                limit: 100,
                while_prefix: b"account-",
                keep_prefix: b"account-",
            }
        );
        // A cursor below the prefix starts at the prefix.
        let read = ListingRead::streams(b("account-"), b("account"), None).unwrap();
        assert_eq!(read.walk(Order::Bytewise).from, b"account-");
        assert!(!read.walk(Order::Bytewise).skip_from);
        let read = ListingRead::streams(b("account-"), b("account-1"), None).unwrap();
        assert_eq!(read.walk(Order::Bytewise).from, b"account-1");
        assert!(read.walk(Order::Bytewise).skip_from);
        // A cursor equal to the prefix leaves the stream named so out.
        let read = ListingRead::streams(b("account-"), b("account-"), None).unwrap();
        assert_eq!(read.walk(Order::Bytewise).from, b"account-");
        assert!(read.walk(Order::Bytewise).skip_from);
    }

    #[test]
    fn collated_walks_start_at_the_cursor_and_filter() {
        let read = ListingRead::streams(b("account-"), None, Some(5)).unwrap();
        assert_eq!(
            read.walk(Order::Collated),
            Walk {
                from: b"",
                skip_from: false,
                limit: 5,
                while_prefix: b"",
                keep_prefix: b"account-",
            }
        );
        let read = ListingRead::streams(b("account-"), b("a"), None).unwrap();
        assert_eq!(read.walk(Order::Collated).from, b"a");
        assert!(read.walk(Order::Collated).skip_from);
    }

    #[test]
    fn the_reference_walk() {
        let names: Vec<&[u8]> = [
            "account",
            "account-",
            "account-1",
            "account-2",
            "accounts",
            "b",
        ]
        .iter()
        .map(|name| name.as_bytes())
        .collect();
        let list = |prefix, after, limit| {
            let read = ListingRead::streams(prefix, after, limit).unwrap();
            let walk = read.walk(Order::Bytewise);
            list(&walk, &names)
                .into_iter()
                .map(|name| std::str::from_utf8(name).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            list(b("account-"), None, None),
            ["account-", "account-1", "account-2"]
        );
        assert_eq!(
            list(b("account-"), b("account-"), None),
            ["account-1", "account-2"]
        );
        assert_eq!(
            list(b("account-"), b("account-2"), None),
            Vec::<&str>::new()
        );
        assert_eq!(
            list(b("account"), b("account-1"), Some(2)),
            ["account-2", "accounts"]
        );
        assert_eq!(list(None, b("accounts"), None), ["b"]);
    }
}
