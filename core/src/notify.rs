//! Consumers woken on write (Postgres, `message_store.notify`): the setting's
//! values, the categories a transaction wrote with the highest global
//! position written to each, and the payload of each notification.
//!
//! A notification is a hint: the consumer still reads from its own
//! position, and loses nothing when it misses one.

use std::collections::BTreeMap;

use crate::Error;

/// The channel a consumer listens on (`LISTEN message_store`).
pub const CHANNEL: &str = "message_store";

/// Postgres refuses a payload of 8000 bytes or more
/// (`NOTIFY_PAYLOAD_MAX_LENGTH`, with the default block size).
pub const PAYLOAD_LIMIT: usize = 7999;

/// Whether `message_store.notify` is on. Unset or empty (`RESET`) is off;
/// otherwise the text is read as Postgres reads a boolean setting: `on`,
/// `off`, `true`, `false`, `yes`, `no`, `1`, `0`, any case, and any
/// prefix of `true`, `false`, `yes` and `no` (`t`, `f`, `y`, `n`…) and of
/// `off` from two letters. Anything else is an error.
pub fn notify_enabled(setting: Option<&str>) -> Result<bool, Error> {
    let value = match setting {
        None | Some("") => return Ok(false),
        Some(value) => value,
    };
    let lower = value.to_ascii_lowercase();
    let prefix_of = |word: &str| !lower.is_empty() && word.starts_with(lower.as_str());
    if prefix_of("true") || prefix_of("yes") || lower == "on" || lower == "1" {
        Ok(true)
    } else if prefix_of("false")
        || prefix_of("no")
        || (lower.len() >= 2 && prefix_of("off"))
        || lower == "0"
    {
        Ok(false)
    } else {
        Err(Error::InvalidNotifySetting {
            value: value.to_string(),
        })
    }
}

/// The categories written in one (sub)transaction level.
#[derive(Debug, Default)]
struct Frame {
    level: i32,
    categories: BTreeMap<Vec<u8>, i64>,
}

fn merge(into: &mut BTreeMap<Vec<u8>, i64>, category: Vec<u8>, global_position: i64) {
    let highest = into.entry(category).or_insert(global_position);
    *highest = (*highest).max(global_position);
}

/// What a transaction wrote while the setting was on: for each category,
/// the highest global position written, kept by (sub)transaction nesting
/// level so that a rolled-back savepoint's writes are forgotten. Frames
/// are in ascending level order.
#[derive(Debug, Default)]
pub struct Pending {
    frames: Vec<Frame>,
}

impl Pending {
    pub const fn new() -> Pending {
        Pending { frames: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Records a write to `category` up to `global_position` at nesting
    /// `level` (1 for the top transaction).
    pub fn record(&mut self, level: i32, category: &[u8], global_position: i64) {
        if self.frames.last().is_none_or(|frame| frame.level < level) {
            self.frames.push(Frame {
                level,
                categories: BTreeMap::new(),
            });
        }
        let frame = self.frames.last_mut().expect("a frame was just pushed");
        if let Some(highest) = frame.categories.get_mut(category) {
            *highest = (*highest).max(global_position);
        } else {
            frame.categories.insert(category.to_vec(), global_position);
        }
    }

    /// The subtransaction at `level` committed: what it and any deeper
    /// level wrote now belongs to `level - 1`.
    pub fn commit_subtransaction(&mut self, level: i32) {
        let mut moved = BTreeMap::new();
        while self.frames.last().is_some_and(|frame| frame.level >= level) {
            let frame = self.frames.pop().expect("a frame was just seen");
            for (category, position) in frame.categories {
                merge(&mut moved, category, position);
            }
        }
        if moved.is_empty() {
            return;
        }
        let parent = level - 1;
        match self.frames.last_mut() {
            Some(frame) if frame.level == parent => {
                for (category, position) in moved {
                    merge(&mut frame.categories, category, position);
                }
            }
            _ => self.frames.push(Frame {
                level: parent,
                categories: moved,
            }),
        }
    }

    /// The subtransaction at `level` rolled back: what it and any deeper
    /// level wrote is forgotten.
    pub fn abort_subtransaction(&mut self, level: i32) {
        while self.frames.last().is_some_and(|frame| frame.level >= level) {
            self.frames.pop();
        }
    }

    /// Every category recorded, each with its highest global position, in
    /// category order; leaves nothing recorded and frees what was held.
    pub fn take(&mut self) -> BTreeMap<Vec<u8>, i64> {
        let mut all = BTreeMap::new();
        for frame in std::mem::take(&mut self.frames) {
            for (category, position) in frame.categories {
                merge(&mut all, category, position);
            }
        }
        all
    }

    /// Forgets everything recorded and frees what was held.
    pub fn clear(&mut self) {
        self.frames = Vec::new();
    }
}

/// The payload of one category's notification:
/// `{"category":"account","global_position":123}`, the name as a JSON
/// string (its bytes kept, `"`, `\` and control characters escaped).
fn payload(category: Option<&[u8]>, global_position: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + category.map_or(0, <[u8]>::len));
    out.extend_from_slice(b"{\"category\":");
    match category {
        None => out.extend_from_slice(b"null"),
        Some(name) => {
            out.push(b'"');
            for &byte in name {
                match byte {
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    0x00..=0x1f => {
                        out.extend_from_slice(format!("\\u{byte:04x}").as_bytes());
                    }
                    _ => out.push(byte),
                }
            }
            out.push(b'"');
        }
    }
    out.extend_from_slice(format!(",\"global_position\":{global_position}}}").as_bytes());
    out
}

/// The payloads to send at commit, one per category in category order. A
/// category whose payload would pass [`PAYLOAD_LIMIT`] is not named: the
/// categories that do not fit share one last payload,
/// `{"category":null,"global_position":N}` with the highest of their
/// positions, which tells a consumer to read every category it follows.
pub fn payloads(categories: &BTreeMap<Vec<u8>, i64>) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(categories.len());
    let mut unnamed: Option<i64> = None;
    for (category, &position) in categories {
        let text = payload(Some(category), position);
        if text.len() <= PAYLOAD_LIMIT {
            out.push(text);
        } else {
            unnamed = Some(unnamed.map_or(position, |highest| highest.max(position)));
        }
    }
    if let Some(position) = unnamed {
        out.push(payload(None, position));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(payloads: Vec<Vec<u8>>) -> Vec<String> {
        payloads
            .into_iter()
            .map(|p| String::from_utf8(p).unwrap())
            .collect()
    }

    #[test]
    fn the_setting_reads_as_postgres_booleans() {
        for on in ["on", "ON", "true", "t", "TRU", "yes", "y", "1"] {
            assert_eq!(notify_enabled(Some(on)), Ok(true), "{on}");
        }
        for off in ["off", "of", "OFF", "false", "f", "no", "n", "0", ""] {
            assert_eq!(notify_enabled(Some(off)), Ok(false), "{off}");
        }
        assert_eq!(notify_enabled(None), Ok(false));
        for bad in ["o", "maybe", " on", "2", "onn"] {
            let error = notify_enabled(Some(bad)).unwrap_err();
            assert_eq!(error.sqlstate(), "22023");
            assert_eq!(
                error.to_string(),
                format!(
                    "invalid value for parameter \"message_store.notify\": \"{bad}\" \
                     (a Boolean: on, off, true, false, yes, no, 1, 0)"
                )
            );
        }
    }

    #[test]
    fn one_payload_per_category_with_its_highest_position() {
        let mut pending = Pending::new();
        pending.record(1, b"account", 5);
        pending.record(1, b"withdrawal", 6);
        pending.record(1, b"account", 7);
        pending.record(1, b"account", 3);
        let categories = pending.take();
        assert!(pending.is_empty());
        assert_eq!(
            text(payloads(&categories)),
            [
                r#"{"category":"account","global_position":7}"#,
                r#"{"category":"withdrawal","global_position":6}"#
            ]
        );
    }

    #[test]
    fn savepoints_keep_or_forget_their_writes() {
        let mut pending = Pending::new();
        pending.record(1, b"a", 1);
        pending.record(2, b"b", 2);
        pending.record(3, b"c", 3);
        pending.abort_subtransaction(3);
        pending.commit_subtransaction(2);
        pending.record(2, b"d", 4);
        pending.abort_subtransaction(2);
        // A level that wrote nothing commits without a trace.
        pending.commit_subtransaction(2);
        pending.record(3, b"e", 5);
        pending.commit_subtransaction(3);
        pending.commit_subtransaction(2);
        let categories = pending.take();
        assert_eq!(
            categories.into_iter().collect::<Vec<_>>(),
            [(b"a".to_vec(), 1), (b"b".to_vec(), 2), (b"e".to_vec(), 5)]
        );
        pending.record(2, b"x", 9);
        pending.abort_subtransaction(2);
        assert!(pending.take().is_empty());
        pending.record(1, b"y", 9);
        pending.clear();
        assert!(pending.is_empty());
    }

    #[test]
    fn names_are_json_strings() {
        let mut categories = BTreeMap::new();
        categories.insert(b"a\"b\\c\x01\xc3\xa9".to_vec(), 12);
        assert_eq!(
            payloads(&categories),
            [b"{\"category\":\"a\\\"b\\\\c\\u0001\xc3\xa9\",\"global_position\":12}".to_vec()]
        );
    }

    #[test]
    fn names_too_long_for_a_payload_share_one_without_a_name() {
        let fits = PAYLOAD_LIMIT - r#"{"category":"","global_position":1}"#.len();
        let mut categories = BTreeMap::new();
        categories.insert(vec![b'a'; fits], 1);
        categories.insert(vec![b'b'; fits + 1], 30);
        categories.insert(vec![b'c'; 10_000], 20);
        categories.insert(b"d".to_vec(), 4);
        let out = payloads(&categories);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].len(), PAYLOAD_LIMIT);
        assert_eq!(out[1], br#"{"category":"d","global_position":4}"#);
        assert_eq!(out[2], br#"{"category":null,"global_position":30}"#);
    }
}
