//! Core's jsonb text (`json::canonical_json` and `canonical_json_within`,
//! what the SQLite extension stores as data and metadata) against
//! serde_json, on any UTF-8 text:
//!
//! - it never panics, and every refusal is one of the catalogue's JSON
//!   errors, with its SQLSTATE and a DETAIL of Postgres' shape;
//! - it accepts exactly what serde_json reads as one JSON value, but for the
//!   rules below, where Postgres' jsonb (and core) differ from plain JSON;
//! - what it accepts, it prints as an oracle written here prints serde's
//!   value the way Postgres prints jsonb; that text reads back (serde_json)
//!   to the same value, and canonicalising it gives it back unchanged;
//! - its output limit cuts at the text's length (rule 9).
//!
//! The rules, each checked, not skipped:
//! 1. A NUL anywhere is refused first (`NulInText`): Postgres' text input
//!    refuses it before json sees it.
//! 2. A string or key holding U+0000 (`\u0000`) is refused
//!    (`UnsupportedUnicodeEscape`): jsonb's text cannot hold it.
//! 3. A number outside Postgres 15's `numeric` is refused (`NumericOverflow`):
//!    an exponent of magnitude `i32::MAX / 2` or more, a display scale
//!    (digits after the point, less the exponent) above 16383, or a nonzero
//!    value whose leading digit stands for 10^131072 or more (its weight in
//!    base-10000 digits is an int16).
//! 4. Nesting deeper than `MAX_DEPTH` containers is refused (`JsonTooDeep`).
//! 5. Of 2-4 the first one met in document order is the error, as Postgres'
//!    one pass meets it; members a later duplicate key replaces count too.
//! 6. Duplicate keys: the last one wins; keys are ordered shorter first,
//!    then bytewise.
//! 7. Numbers keep their value and their display scale (`1.50e1` is
//!    `15.0`), with no exponent and no sign on zero, as `numeric_out` prints.
//! 8. serde_json's own number token: with `arbitrary_precision` it reads an
//!    object whose first key is `$serde_json::private::Number` as a number.
//!    That is serde's quirk, not JSON: inputs that could spell that key are
//!    checked for everything but the comparison with serde.
//! 9. The output limit: a text longer than the limit is refused
//!    (`StringOrBlobTooBig`), one as long is not, and a refused input may be
//!    refused for the limit instead when the limit is met first. Members a
//!    later duplicate key replaces are dropped only when their object
//!    closes: until then their text counts, so a limit below the length of
//!    the text with every duplicate kept may refuse a text that fits.

#![no_main]

use std::fmt;

use libfuzzer_sys::fuzz_target;
use message_store_core::json::{canonical_json, canonical_json_within, MAX_DEPTH};
use message_store_core::Error;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The key serde_json's `arbitrary_precision` passes a number's text under.
const SERDE_NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// A JSON value as serde_json reads it, keeping every member of an object
/// in input order (duplicates too) and every number's text.
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    // With arbitrary_precision numbers come as maps (below); these are here
    // should serde ever hand one over as a machine number.
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.is_empty() && key == SERDE_NUMBER_TOKEN {
                return Ok(Json::Number(map.next_value::<String>()?));
            }
            members.push((key, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

/// serde_json's reading of the whole text as one value, at any depth.
fn serde_read(text: &str) -> Option<Json> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    let value = Json::deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(value)
}

/// Rule 8: whether the text, with every escape decoded wherever it is,
/// holds serde's number token. Decoding outside strings too only errs on
/// the side of leaving an input out of the comparison.
fn may_spell_serde_token(text: &str) -> bool {
    let mut decoded = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            decoded.push(c);
            continue;
        }
        match chars.next() {
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    decoded.push(c);
                }
            }
            Some(c) => decoded.push(c),
            None => {}
        }
    }
    decoded.contains(SERDE_NUMBER_TOKEN)
}

/// A JSON number's text as `numeric` reads it.
struct Decimal {
    negative: bool,
    /// The digits before and after the point, as written.
    digits: Vec<u8>,
    /// The power of ten the first written digit stands for.
    top: i64,
    /// The exponent, saturated far beyond every limit.
    exponent: i64,
    /// Digits after the point, less the exponent; never below 0.
    scale: i64,
}

impl Decimal {
    fn parse(text: &str) -> Decimal {
        let negative = text.starts_with('-');
        let body = text.trim_start_matches('-');
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(at) => (&body[..at], &body[at + 1..]),
            None => (body, "0"),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let exponent_sign = if exponent.starts_with('-') { -1 } else { 1 };
        let exponent = exponent_sign
            * exponent
                .trim_start_matches(['+', '-'])
                .bytes()
                .fold(0i64, |acc, d| (acc * 10 + i64::from(d - b'0')).min(1 << 40));
        let digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|d| d - b'0').collect();
        Decimal {
            negative,
            digits,
            top: int.len() as i64 - 1 + exponent,
            exponent,
            scale: (frac.len() as i64 - exponent).max(0),
        }
    }

    /// The power of ten of the first nonzero digit; `None` for zero.
    fn leading_power(&self) -> Option<i64> {
        let first = self.digits.iter().position(|&d| d != 0)?;
        Some(self.top - first as i64)
    }

    fn digit_at(&self, power: i64) -> u8 {
        let index = self.top - power;
        if index < 0 || index >= self.digits.len() as i64 {
            return 0;
        }
        self.digits[index as usize]
    }

    /// Rule 3.
    fn overflows(&self) -> bool {
        self.exponent.abs() >= i64::from(i32::MAX / 2)
            || self.scale > 16383
            || self.leading_power().is_some_and(|power| power >= 131072)
    }

    /// Rule 7: `numeric_out`'s text.
    fn print(&self, out: &mut String) {
        let leading = self.leading_power();
        if self.negative && leading.is_some() {
            out.push('-');
        }
        match leading {
            Some(power) if power >= 0 => {
                for p in (0..=power).rev() {
                    out.push(char::from(b'0' + self.digit_at(p)));
                }
            }
            _ => out.push('0'),
        }
        if self.scale > 0 {
            out.push('.');
            for p in 1..=self.scale {
                out.push(char::from(b'0' + self.digit_at(-p)));
            }
        }
    }
}

/// Rules 2-5: the error core must give for a value serde accepts, if any.
fn first_difference(value: &Json, open: usize) -> Option<Error> {
    match value {
        Json::Null | Json::Bool(_) => None,
        Json::Number(text) => Decimal::parse(text)
            .overflows()
            .then_some(Error::NumericOverflow),
        Json::String(text) => text
            .contains('\0')
            .then_some(Error::UnsupportedUnicodeEscape),
        Json::Array(_) | Json::Object(_) if open >= MAX_DEPTH => {
            Some(Error::JsonTooDeep { limit: MAX_DEPTH })
        }
        Json::Array(items) => items
            .iter()
            .find_map(|item| first_difference(item, open + 1)),
        Json::Object(members) => members.iter().find_map(|(key, value)| {
            if key.contains('\0') {
                return Some(Error::UnsupportedUnicodeEscape);
            }
            first_difference(value, open + 1)
        }),
    }
}

/// Postgres' `escape_json`.
fn print_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The text Postgres' jsonb output gives for the value (rules 6 and 7);
/// without `dedupe`, with every duplicate member kept (rule 9).
fn jsonb_text(value: &Json, dedupe: bool, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(text) => Decimal::parse(text).print(out),
        Json::String(text) => print_string(text, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                jsonb_text(item, dedupe, out);
            }
            out.push(']');
        }
        Json::Object(members) => {
            // Rule 6: a map that a later key replaces in place, then sorted.
            let mut kept: Vec<(&str, &Json)> = Vec::new();
            for (key, value) in members {
                match kept.iter_mut().find(|(k, _)| dedupe && k == key) {
                    Some(slot) => slot.1 = value,
                    None => kept.push((key, value)),
                }
            }
            kept.sort_by_key(|(key, _)| (key.len(), key.as_bytes()));
            out.push('{');
            for (i, (key, value)) in kept.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print_string(key, out);
                out.push_str(": ");
                jsonb_text(value, dedupe, out);
            }
            out.push('}');
        }
    }
}

fn printed(value: &Json) -> String {
    let mut out = String::new();
    jsonb_text(value, true, &mut out);
    out
}

/// Rule 9: the longest the text grows while it is written.
fn written_len(value: &Json) -> usize {
    let mut out = String::new();
    jsonb_text(value, false, &mut out);
    out.len()
}

/// A refusal is one of the JSON errors, with its SQLSTATE, and what it
/// names is in the input.
fn check_refusal(input: &str, error: &Error) {
    match error {
        Error::InvalidJson { detail } => {
            assert_eq!(error.sqlstate(), "22P02");
            assert_eq!(error.to_string(), "invalid input syntax for type json");
            assert_eq!(error.detail().as_ref(), Some(detail));
            let quoted = |prefix: &str, suffix: &str| {
                detail
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_suffix(suffix))
                    .is_some_and(|named| input.contains(named))
            };
            let known = detail == "The input string ended unexpectedly."
                || detail == "Unicode low surrogate must follow a high surrogate."
                || detail == "Unicode high surrogate must not follow a high surrogate."
                || detail == "\"\\u\" must be followed by four hexadecimal digits."
                || quoted("Token \"", "\" is invalid.")
                || quoted("Escape sequence \"", "\" is invalid.")
                || detail
                    .strip_prefix("Expected ")
                    .and_then(|rest| rest.split_once(", but found \""))
                    .is_some_and(|(_, found)| {
                        found
                            .strip_suffix("\".")
                            .is_some_and(|token| input.contains(token))
                    })
                || detail
                    .strip_prefix("Character with value 0x")
                    .and_then(|rest| rest.strip_suffix(" must be escaped."))
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .is_some_and(|byte| byte < 0x20 && input.as_bytes().contains(&byte));
            assert!(known, "{input:?}: unknown detail {detail:?}");
        }
        Error::UnsupportedUnicodeEscape => {
            assert_eq!(error.sqlstate(), "22P05");
            assert!(input.contains("\\u0000"), "{input:?}");
        }
        Error::NumericOverflow => assert_eq!(error.sqlstate(), "22003"),
        Error::JsonTooDeep { limit } => {
            assert_eq!(*limit, MAX_DEPTH);
            assert_eq!(error.sqlstate(), "54001");
            let opens = input.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
            assert!(opens > MAX_DEPTH, "{input:?}");
        }
        Error::NulInText => assert!(input.contains('\0'), "{input:?}"),
        other => panic!("{input:?}: not a JSON error: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let got = canonical_json(input);
    // Rule 1.
    if input.contains('\0') {
        assert_eq!(got, Err(Error::NulInText), "{input:?}");
        return;
    }
    let too_big = |limit: usize| {
        Err(Error::StringOrBlobTooBig {
            limit: limit as u64,
        })
    };
    match &got {
        Ok(text) => {
            assert_eq!(canonical_json(text).as_ref(), Ok(text), "not idempotent");
            let short = text.len() - 1;
            assert_eq!(canonical_json_within(input, short), too_big(short));
            let exact = canonical_json_within(input, text.len());
            assert!(exact.as_ref() == Ok(text) || exact == too_big(text.len()));
        }
        Err(error) => {
            check_refusal(input, error);
            let limit = input.len() / 2;
            let limited = canonical_json_within(input, limit);
            assert!(
                limited == got || limited == too_big(limit),
                "{input:?}: {limited:?}"
            );
        }
    }
    if may_spell_serde_token(input) {
        return;
    }
    let Some(value) = serde_read(input) else {
        assert!(
            got.is_err(),
            "serde_json refuses {input:?}, core gives {got:?}"
        );
        return;
    };
    if let Some(error) = first_difference(&value, 0) {
        assert_eq!(got, Err(error), "{input:?}");
        return;
    }
    let expected = printed(&value);
    assert_eq!(got.as_deref(), Ok(expected.as_str()), "{input:?}");
    let written = written_len(&value);
    assert!(written >= expected.len());
    assert_eq!(canonical_json_within(input, written), got, "{input:?}");
    if written == expected.len() {
        assert_eq!(
            canonical_json_within(input, expected.len()),
            got,
            "{input:?}"
        );
    }
    // The canonical text reads back to the same value.
    let reread = serde_read(&expected).expect("the canonical text is JSON");
    assert_eq!(printed(&reread), expected);
    assert!(first_difference(&reread, 0).is_none());
});
