//! Stream-name rules: a stream name is `category-id`, where the id may be
//! compound (`cardinal+rest`). Everything splits on the *first* separator,
//! as Message DB's `split_part`/`strpos` do.

/// Separates the category from the id.
pub const ID_SEPARATOR: char = '-';
/// Separates the cardinal id from the rest of a compound id.
pub const COMPOUND_ID_SEPARATOR: char = '+';

/// Everything before the first `-`; the whole name when there is none.
/// `category("a:b-c")` is `"a:b"`.
pub fn category(stream_name: &str) -> &str {
    match stream_name.find(ID_SEPARATOR) {
        Some(at) => &stream_name[..at],
        None => stream_name,
    }
}

/// Everything after the first `-`, or `None` when the name has no `-`.
/// `id("a-")` is `Some("")`; `id("a-b-c+d")` is `Some("b-c+d")`.
pub fn id(stream_name: &str) -> Option<&str> {
    stream_name
        .find(ID_SEPARATOR)
        .map(|at| &stream_name[at + ID_SEPARATOR.len_utf8()..])
}

/// The id up to its first `+`, or `None` when the name has no id.
/// `cardinal_id("a-b-c+d")` is `Some("b-c")`.
pub fn cardinal_id(stream_name: &str) -> Option<&str> {
    id(stream_name).map(|id| match id.find(COMPOUND_ID_SEPARATOR) {
        Some(at) => &id[..at],
        None => id,
    })
}

/// True when the name has no `-`. A NULL name counts as a category, as in
/// Message DB (so `get_stream_messages(NULL)` is refused as a category).
pub fn is_category(stream_name: Option<&str>) -> bool {
    match stream_name {
        Some(name) => !name.contains(ID_SEPARATOR),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn category_examples() {
        assert_eq!(category("someStream-123"), "someStream");
        assert_eq!(category("someStream"), "someStream");
        assert_eq!(category("a:b-c"), "a:b");
        assert_eq!(category("cat-a+b"), "cat");
        assert_eq!(category("a-b-c+d"), "a");
        assert_eq!(category("-x"), "");
        assert_eq!(category(""), "");
    }

    #[test]
    fn id_examples() {
        assert_eq!(id("someStream-123"), Some("123"));
        assert_eq!(id("someStream"), None);
        assert_eq!(id("a-"), Some(""));
        assert_eq!(id("a-b-c+d"), Some("b-c+d"));
        assert_eq!(id("cat-a+b"), Some("a+b"));
    }

    #[test]
    fn cardinal_id_examples() {
        assert_eq!(cardinal_id("someStream-123"), Some("123"));
        assert_eq!(cardinal_id("someStream"), None);
        assert_eq!(cardinal_id("a-b-c+d"), Some("b-c"));
        assert_eq!(cardinal_id("cat-a+b"), Some("a"));
        assert_eq!(cardinal_id("cat-+b"), Some(""));
        assert_eq!(cardinal_id("a-"), Some(""));
    }

    #[test]
    fn is_category_examples() {
        assert!(is_category(Some("someStream")));
        assert!(!is_category(Some("someStream-123")));
        assert!(!is_category(Some("a-")));
        assert!(is_category(Some("")));
        assert!(is_category(None));
    }

    #[test]
    fn unicode_names_split_on_characters() {
        assert_eq!(category("über-straße+1"), "über");
        assert_eq!(id("über-straße+1"), Some("straße+1"));
        assert_eq!(cardinal_id("über-straße+1"), Some("straße"));
    }

    proptest! {
        #[test]
        fn category_and_id_rebuild_the_name(cat in "[^-]*", rest in ".*") {
            let name = format!("{cat}-{rest}");
            prop_assert_eq!(category(&name), cat.as_str());
            prop_assert_eq!(id(&name), Some(rest.as_str()));
            prop_assert!(!is_category(Some(&name)));
            prop_assert_eq!(format!("{}-{}", category(&name), id(&name).unwrap()), name.clone());
        }

        #[test]
        fn a_name_without_separator_is_its_own_category(name in "[^-]*") {
            prop_assert_eq!(category(&name), name.as_str());
            prop_assert_eq!(id(&name), None);
            prop_assert_eq!(cardinal_id(&name), None);
            prop_assert!(is_category(Some(&name)));
        }

        #[test]
        fn cardinal_id_is_a_prefix_of_id(name in ".*") {
            match (id(&name), cardinal_id(&name)) {
                (Some(id), Some(cardinal)) => {
                    prop_assert!(id.starts_with(cardinal));
                    prop_assert!(!cardinal.contains(COMPOUND_ID_SEPARATOR));
                    let rest = &id[cardinal.len()..];
                    prop_assert!(rest.is_empty() || rest.starts_with(COMPOUND_ID_SEPARATOR));
                }
                (None, None) => {}
                other => prop_assert!(false, "id and cardinal_id disagree: {:?}", other),
            }
        }
    }
}
