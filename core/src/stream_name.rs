//! Stream-name rules: a stream name is `category-id`, where the id may be
//! compound (`cardinal+rest`). Everything splits on the *first* separator,
//! as Message DB's `split_part`/`strpos` do.
//!
//! The rules work on bytes: both separators are ASCII, and every server
//! encoding Postgres allows (and SQLite's UTF-8) keeps ASCII bytes out of
//! multibyte characters, so a split never cuts a character.

/// Separates the category from the id.
pub const ID_SEPARATOR: u8 = b'-';
/// Separates the cardinal id from the rest of a compound id.
pub const COMPOUND_ID_SEPARATOR: u8 = b'+';

fn split_first(name: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    name.iter()
        .position(|&b| b == separator)
        .map(|at| (&name[..at], &name[at + 1..]))
}

/// Everything before the first `-`; the whole name when there is none.
/// `category("a:b-c")` is `"a:b"`.
pub fn category(stream_name: &[u8]) -> &[u8] {
    split_first(stream_name, ID_SEPARATOR).map_or(stream_name, |(category, _)| category)
}

/// Everything after the first `-`, or `None` when the name has no `-`.
/// `id("a-")` is `Some("")`; `id("a-b-c+d")` is `Some("b-c+d")`.
pub fn id(stream_name: &[u8]) -> Option<&[u8]> {
    split_first(stream_name, ID_SEPARATOR).map(|(_, id)| id)
}

/// The id up to its first `+`, or `None` when the name has no id.
/// `cardinal_id("a-b-c+d")` is `Some("b-c")`.
pub fn cardinal_id(stream_name: &[u8]) -> Option<&[u8]> {
    id(stream_name)
        .map(|id| split_first(id, COMPOUND_ID_SEPARATOR).map_or(id, |(cardinal, _)| cardinal))
}

/// True when the name has no `-`. A NULL name counts as a category, as in
/// Message DB (so `get_stream_messages(NULL)` is refused as a category).
pub fn is_category(stream_name: Option<&[u8]>) -> bool {
    match stream_name {
        Some(name) => !name.contains(&ID_SEPARATOR),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn category_examples() {
        assert_eq!(category(b"someStream-123"), b"someStream");
        assert_eq!(category(b"someStream"), b"someStream");
        assert_eq!(category(b"a:b-c"), b"a:b");
        assert_eq!(category(b"cat-a+b"), b"cat");
        assert_eq!(category(b"a-b-c+d"), b"a");
        assert_eq!(category(b"-x"), b"");
        assert_eq!(category(b""), b"");
    }

    #[test]
    fn id_examples() {
        assert_eq!(id(b"someStream-123"), Some(&b"123"[..]));
        assert_eq!(id(b"someStream"), None);
        assert_eq!(id(b"a-"), Some(&b""[..]));
        assert_eq!(id(b"a-b-c+d"), Some(&b"b-c+d"[..]));
        assert_eq!(id(b"cat-a+b"), Some(&b"a+b"[..]));
    }

    #[test]
    fn cardinal_id_examples() {
        assert_eq!(cardinal_id(b"someStream-123"), Some(&b"123"[..]));
        assert_eq!(cardinal_id(b"someStream"), None);
        assert_eq!(cardinal_id(b"a-b-c+d"), Some(&b"b-c"[..]));
        assert_eq!(cardinal_id(b"cat-a+b"), Some(&b"a"[..]));
        assert_eq!(cardinal_id(b"cat-+b"), Some(&b""[..]));
        assert_eq!(cardinal_id(b"a-"), Some(&b""[..]));
    }

    #[test]
    fn is_category_examples() {
        assert!(is_category(Some(b"someStream")));
        assert!(!is_category(Some(b"someStream-123")));
        assert!(!is_category(Some(b"a-")));
        assert!(is_category(Some(b"")));
        assert!(is_category(None));
    }

    #[test]
    fn unicode_names_split_on_characters() {
        assert_eq!(category("über-straße+1".as_bytes()), "über".as_bytes());
        assert_eq!(id("über-straße+1".as_bytes()), Some("straße+1".as_bytes()));
        assert_eq!(
            cardinal_id("über-straße+1".as_bytes()),
            Some("straße".as_bytes())
        );
    }

    proptest! {
        #[test]
        fn category_and_id_rebuild_the_name(cat in "[^-]*", rest in ".*") {
            let name = format!("{cat}-{rest}");
            let name = name.as_bytes();
            prop_assert_eq!(category(name), cat.as_bytes());
            prop_assert_eq!(id(name), Some(rest.as_bytes()));
            prop_assert!(!is_category(Some(name)));
            let rebuilt = [category(name), b"-", id(name).unwrap()].concat();
            prop_assert_eq!(rebuilt.as_slice(), name);
        }

        #[test]
        fn a_name_without_separator_is_its_own_category(name in "[^-]*") {
            let name = name.as_bytes();
            prop_assert_eq!(category(name), name);
            prop_assert_eq!(id(name), None);
            prop_assert_eq!(cardinal_id(name), None);
            prop_assert!(is_category(Some(name)));
        }

        #[test]
        fn splits_keep_utf8_valid(name in ".*") {
            let name = name.as_bytes();
            prop_assert!(std::str::from_utf8(category(name)).is_ok());
            if let Some(id) = id(name) {
                prop_assert!(std::str::from_utf8(id).is_ok());
            }
            if let Some(cardinal) = cardinal_id(name) {
                prop_assert!(std::str::from_utf8(cardinal).is_ok());
            }
        }

        #[test]
        fn cardinal_id_is_a_prefix_of_id(name in ".*") {
            let name = name.as_bytes();
            match (id(name), cardinal_id(name)) {
                (Some(id), Some(cardinal)) => {
                    prop_assert!(id.starts_with(cardinal));
                    prop_assert!(!cardinal.contains(&COMPOUND_ID_SEPARATOR));
                    let rest = &id[cardinal.len()..];
                    prop_assert!(rest.is_empty() || rest[0] == COMPOUND_ID_SEPARATOR);
                }
                (None, None) => {}
                other => prop_assert!(false, "id and cardinal_id disagree: {:?}", other),
            }
        }
    }
}
