//! Canonical JSON text: what Postgres prints for `'<input>'::jsonb::text`.
//! The SQLite extension stores data and metadata in this form so that both
//! engines hand back byte-identical text: keys ordered shorter-first then
//! bytewise with the last duplicate winning, `", "` and `": "` as the only
//! spacing, numbers printed as `numeric` prints them, strings re-escaped as
//! Postgres' `escape_json` does.
//!
//! Input is read by the rules of Postgres' json lexer and parser, and refused
//! with the DETAIL line Postgres gives. One pass, with an explicit stack
//! rather than recursion: output is written while reading, and an object's
//! members are rewritten in order when it closes, only if they are not in
//! order already.

use std::cmp::Ordering;

use crate::error::Error;

/// The deepest nesting accepted: recent SQLite releases' JSON functions,
/// which read the stored metadata, refuse deeper text (3.40 stops at 2000).
/// Postgres' limit is its stack depth, over ten thousand levels by default,
/// so everything accepted here also loads into Postgres.
pub const MAX_DEPTH: usize = 1000;

/// The largest display scale of a Postgres `numeric` (14 bits).
const MAX_SCALE: i64 = 16383;
/// The largest power of ten a `numeric`'s leading digit may stand for: its
/// weight, in base-10000 digits, is an int16.
const MAX_POWER: i64 = 4 * 32768 - 1;
/// Postgres refuses exponents of this size or more before anything else.
const EXPONENT_LIMIT: i64 = i32::MAX as i64 / 2;

/// Parses JSON text by Postgres' json input rules and returns the text
/// Postgres' jsonb output gives for it.
pub fn canonical_json(input: &str) -> Result<String, Error> {
    canonical_json_within(input, usize::MAX)
}

/// `canonical_json`, refused with `StringOrBlobTooBig` as soon as the text
/// would be longer than `max_len` bytes. The text can be far longer than the
/// input (`1e131000` prints as 131,001 digits), so the bound holds while it
/// is written: memory stays within a small multiple of `max_len` whatever
/// the input.
pub fn canonical_json_within(input: &str, max_len: usize) -> Result<String, Error> {
    let src = input.as_bytes();
    // Postgres never sees a NUL: its text input refuses one first.
    if src.contains(&0) {
        return Err(Error::NulInText);
    }
    let mut parser = Parser {
        input,
        src,
        pos: 0,
        tok_start: 0,
        tok_end: 0,
        out: Vec::with_capacity((src.len() + src.len() / 8 + 2).min(max_len)),
        max_len,
        stack: Vec::new(),
        members: Vec::new(),
        keys: Vec::new(),
        key: Key::Input(0, 0),
        pending: None,
    };
    parser.document().map_err(|error| *error)?;
    // Only numbers grow much; the rest is at most twice the input.
    if parser.out.len() > max_len {
        return Err(parser.too_big());
    }
    // Every byte written is an input slice cut at a character boundary,
    // ASCII, or a whole encoded character.
    Ok(String::from_utf8(parser.out).expect("canonical JSON is UTF-8"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    ObjectStart,
    ObjectEnd,
    ArrayStart,
    ArrayEnd,
    Comma,
    Colon,
    String,
    Number,
    Literal,
    End,
}

/// Where an object key's decoded bytes are: in the input itself (no
/// escapes), or in the key arena.
#[derive(Clone, Copy)]
enum Key {
    Input(usize, usize),
    Arena(usize, usize),
}

enum Frame {
    Array,
    Object {
        /// Where the members start in the output, just after `{`.
        body: usize,
        /// This object's first entry in `members`.
        members: usize,
        /// This object's first byte in the key arena.
        keys: usize,
    },
}

/// One object member: its key, and its `"key": value` text in the output.
struct Member {
    key: Key,
    start: usize,
    end: usize,
}

struct Parser<'a> {
    input: &'a str,
    src: &'a [u8],
    pos: usize,
    /// The last token's place in the input, for error details.
    tok_start: usize,
    tok_end: usize,
    out: Vec<u8>,
    /// The longest output allowed.
    max_len: usize,
    stack: Vec<Frame>,
    members: Vec<Member>,
    /// Decoded keys that had escapes, for the objects still open.
    keys: Vec<u8>,
    /// The key of the last string lexed as a key.
    key: Key,
    /// A number that `numeric` refuses: Postgres converts a number only
    /// after lexing the token that follows it, so a lexical error there wins.
    pending: Option<Error>,
}

/// Errors travel boxed inside the parser so that its results fit in
/// registers on the hot path.
type Fail = Box<Error>;

#[cold]
fn fail(error: Error) -> Fail {
    Box::new(error)
}

fn invalid(detail: String) -> Fail {
    fail(Error::InvalidJson { detail })
}

/// Bytes Postgres' lexer takes as part of a word: letters, digits, `_` and
/// anything non-ASCII.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn hex_value(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}

fn key_bytes<'k>(src: &'k [u8], arena: &'k [u8], key: Key) -> &'k [u8] {
    match key {
        Key::Input(start, end) => &src[start..end],
        Key::Arena(start, end) => &arena[start..end],
    }
}

/// jsonb's key order: shorter first, then bytewise.
fn key_order(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Appends a decoded character as Postgres' escape_json writes it.
fn push_escaped(out: &mut Vec<u8>, c: char) {
    match c {
        '"' => out.extend_from_slice(b"\\\""),
        '\\' => out.extend_from_slice(b"\\\\"),
        '\u{8}' => out.extend_from_slice(b"\\b"),
        '\u{c}' => out.extend_from_slice(b"\\f"),
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.extend_from_slice(b"\\t"),
        c if (c as u32) < 0x20 => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let v = c as usize;
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[v >> 4], HEX[v & 15]]);
        }
        c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
    }
}

impl Parser<'_> {
    fn document(&mut self) -> Result<(), Fail> {
        let mut tok = self.next(false)?;
        'value: loop {
            // `tok` must begin a value here.
            match tok {
                Kind::ArrayStart => {
                    self.open()?;
                    self.out.push(b'[');
                    self.stack.push(Frame::Array);
                    tok = self.next(false)?;
                    if tok != Kind::ArrayEnd {
                        continue 'value;
                    }
                    self.out.push(b']');
                    self.stack.pop();
                }
                Kind::ObjectStart => {
                    self.open()?;
                    self.out.push(b'{');
                    self.stack.push(Frame::Object {
                        body: self.out.len(),
                        members: self.members.len(),
                        keys: self.keys.len(),
                    });
                    let start = self.out.len();
                    tok = self.next(true)?;
                    match tok {
                        Kind::ObjectEnd => {
                            self.out.push(b'}');
                            self.stack.pop();
                        }
                        Kind::String => {
                            tok = self.member(start)?;
                            continue 'value;
                        }
                        _ => return Err(self.expected("string or \"}\"")),
                    }
                }
                // The lexer has written it already.
                Kind::String => {}
                Kind::Number => self.number(self.tok_start, self.tok_end)?,
                Kind::Literal => self
                    .out
                    .extend_from_slice(&self.src[self.tok_start..self.tok_end]),
                _ => return Err(self.expected("JSON value")),
            }
            // A value is complete: close what it completes, then find the next.
            loop {
                match self.stack.last() {
                    None => {
                        tok = self.next(false)?;
                        if tok == Kind::End {
                            return Ok(());
                        }
                        return Err(self.expected("end of input"));
                    }
                    Some(Frame::Array) => {
                        tok = self.next(false)?;
                        match tok {
                            Kind::Comma => {
                                self.out.extend_from_slice(b", ");
                                tok = self.next(false)?;
                                continue 'value;
                            }
                            Kind::ArrayEnd => {
                                self.out.push(b']');
                                self.stack.pop();
                            }
                            _ => return Err(self.expected("\",\" or \"]\"")),
                        }
                    }
                    Some(Frame::Object { .. }) => {
                        let end = self.out.len();
                        if let Some(member) = self.members.last_mut() {
                            member.end = end;
                        }
                        tok = self.next(false)?;
                        match tok {
                            Kind::Comma => {
                                self.out.extend_from_slice(b", ");
                                let start = self.out.len();
                                tok = self.next(true)?;
                                if tok != Kind::String {
                                    return Err(self.expected("string"));
                                }
                                tok = self.member(start)?;
                                continue 'value;
                            }
                            Kind::ObjectEnd => self.close_object(),
                            _ => return Err(self.expected("\",\" or \"}\"")),
                        }
                    }
                }
            }
        }
    }

    /// After a key written at `start`: records the member, reads the colon,
    /// and returns the token that begins the value.
    fn member(&mut self, start: usize) -> Result<Kind, Fail> {
        self.members.push(Member {
            key: self.key,
            start,
            end: start,
        });
        let tok = self.next(false)?;
        if tok != Kind::Colon {
            return Err(self.expected("\":\""));
        }
        self.out.extend_from_slice(b": ");
        self.next(false)
    }

    fn open(&self) -> Result<(), Fail> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(fail(Error::JsonTooDeep { limit: MAX_DEPTH }));
        }
        Ok(())
    }

    /// Closes the innermost object: when its keys are not already strictly
    /// in order, rewrites its members sorted, keeping the last of equal keys.
    fn close_object(&mut self) {
        let Some(Frame::Object {
            body,
            members,
            keys,
        }) = self.stack.pop()
        else {
            unreachable!("close_object outside an object");
        };
        let (src, arena) = (self.src, &self.keys);
        let list = &mut self.members[members..];
        let in_order = list.windows(2).all(|pair| {
            key_order(
                key_bytes(src, arena, pair[0].key),
                key_bytes(src, arena, pair[1].key),
            ) == Ordering::Less
        });
        if !in_order {
            // Stable, so equal keys stay in input order and the last is kept.
            list.sort_by(|a, b| {
                key_order(key_bytes(src, arena, a.key), key_bytes(src, arena, b.key))
            });
            let mut body_text = Vec::with_capacity(self.out.len() - body);
            for (i, member) in list.iter().enumerate() {
                if let Some(next) = list.get(i + 1) {
                    if key_bytes(src, arena, member.key) == key_bytes(src, arena, next.key) {
                        continue;
                    }
                }
                if !body_text.is_empty() {
                    body_text.extend_from_slice(b", ");
                }
                body_text.extend_from_slice(&self.out[member.start..member.end]);
            }
            self.out.truncate(body);
            self.out.extend_from_slice(&body_text);
        }
        self.members.truncate(members);
        self.keys.truncate(keys);
        self.out.push(b'}');
    }

    /// The DETAIL for a token the grammar does not allow here.
    #[cold]
    fn expected(&self, what: &str) -> Fail {
        if self.tok_start == self.src.len() {
            return invalid("The input string ended unexpectedly.".to_string());
        }
        invalid(format!(
            "Expected {what}, but found \"{}\".",
            &self.input[self.tok_start..self.tok_end]
        ))
    }

    #[cold]
    fn invalid_token(&self, start: usize, end: usize) -> Fail {
        invalid(format!("Token \"{}\" is invalid.", &self.input[start..end]))
    }

    /// The next token; a number refused before it is reported only now.
    fn next(&mut self, key: bool) -> Result<Kind, Fail> {
        let kind = self.lex(key)?;
        match self.pending.take() {
            Some(error) => Err(fail(error)),
            None => Ok(kind),
        }
    }

    /// Postgres' json lexer. Strings are written to the output as they are
    /// read; `key` also keeps a string's decoded bytes for ordering.
    fn lex(&mut self, key: bool) -> Result<Kind, Fail> {
        let src = self.src;
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = src.get(self.pos) {
            self.pos += 1;
        }
        let start = self.pos;
        self.tok_start = start;
        let Some(&first) = src.get(start) else {
            self.tok_end = start;
            return Ok(Kind::End);
        };
        let (kind, end) = match first {
            b'{' => (Kind::ObjectStart, start + 1),
            b'}' => (Kind::ObjectEnd, start + 1),
            b'[' => (Kind::ArrayStart, start + 1),
            b']' => (Kind::ArrayEnd, start + 1),
            b',' => (Kind::Comma, start + 1),
            b':' => (Kind::Colon, start + 1),
            b'"' => (Kind::String, self.lex_string(start, key)?),
            b'-' | b'0'..=b'9' => (Kind::Number, self.lex_number(start)?),
            _ => {
                let end = start
                    + src[start..]
                        .iter()
                        .take_while(|&&b| is_word_byte(b))
                        .count();
                if end == start {
                    // Any other character is a token by itself; it is ASCII,
                    // as non-ASCII bytes all count as word bytes.
                    return Err(self.invalid_token(start, start + 1));
                }
                if !matches!(&src[start..end], b"true" | b"false" | b"null") {
                    return Err(self.invalid_token(start, end));
                }
                (Kind::Literal, end)
            }
        };
        self.pos = end;
        self.tok_end = end;
        Ok(kind)
    }

    /// Postgres' number lexing: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)?
    /// ([eE] [+-]? [0-9]+)?, and any word characters straight after it make
    /// the whole run an invalid token.
    fn lex_number(&self, start: usize) -> Result<usize, Fail> {
        let src = self.src;
        let digits_from = |i: usize| i + src[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let mut ok = true;
        let mut i = start + usize::from(src[start] == b'-');
        match src.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits_from(i),
            _ => ok = false,
        }
        if src.get(i) == Some(&b'.') {
            let after = digits_from(i + 1);
            ok &= after > i + 1;
            i = after;
        }
        if let Some(b'e' | b'E') = src.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = src.get(i) {
                i += 1;
            }
            let after = digits_from(i);
            ok &= after > i;
            i = after;
        }
        let end = i + src[i..].iter().take_while(|&&b| is_word_byte(b)).count();
        if !ok || end > i {
            return Err(self.invalid_token(start, end));
        }
        Ok(end)
    }

    /// Lexes the string starting at `start` (its opening quote), writes its
    /// output form, and returns where it ends.
    fn lex_string(&mut self, start: usize, key: bool) -> Result<usize, Fail> {
        let src = self.src;
        let mut i = start + 1;
        // Most strings need no decoding: copy them whole.
        loop {
            match src.get(i) {
                None => return Err(self.invalid_token(start, src.len())),
                Some(b'"') => {
                    self.out.extend_from_slice(&src[start..=i]);
                    self.key = Key::Input(start + 1, i);
                    return Ok(i + 1);
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => return Err(escaping_required(c)),
                Some(_) => i += 1,
            }
        }
        self.out.extend_from_slice(&src[start..i]);
        let arena_start = self.keys.len();
        if key {
            self.keys.extend_from_slice(&src[start + 1..i]);
        }
        let mut high: Option<u32> = None;
        let low_surrogate =
            || invalid("Unicode low surrogate must follow a high surrogate.".to_string());
        loop {
            let Some(&c) = src.get(i) else {
                return Err(self.invalid_token(start, src.len()));
            };
            match c {
                b'"' => {
                    if high.is_some() {
                        return Err(low_surrogate());
                    }
                    break;
                }
                c if c < 0x20 => return Err(escaping_required(c)),
                b'\\' => {
                    i += 1;
                    let Some(&e) = src.get(i) else {
                        return Err(self.invalid_token(start, src.len()));
                    };
                    if e == b'u' {
                        let mut unit = 0;
                        for _ in 0..4 {
                            i += 1;
                            let Some(&d) = src.get(i) else {
                                return Err(self.invalid_token(start, src.len()));
                            };
                            let Some(v) = hex_value(d) else {
                                return Err(invalid(
                                    "\"\\u\" must be followed by four hexadecimal digits."
                                        .to_string(),
                                ));
                            };
                            unit = unit * 16 + v;
                        }
                        i += 1;
                        let code = match unit {
                            0xD800..=0xDBFF => {
                                if high.is_some() {
                                    return Err(invalid(
                                        "Unicode high surrogate must not follow a high surrogate."
                                            .to_string(),
                                    ));
                                }
                                high = Some(unit);
                                continue;
                            }
                            0xDC00..=0xDFFF => match high.take() {
                                Some(h) => 0x10000 + ((h - 0xD800) << 10) + (unit - 0xDC00),
                                None => return Err(low_surrogate()),
                            },
                            _ if high.is_some() => return Err(low_surrogate()),
                            0 => return Err(fail(Error::UnsupportedUnicodeEscape)),
                            _ => unit,
                        };
                        let ch = char::from_u32(code).expect("not a surrogate");
                        push_escaped(&mut self.out, ch);
                        if key {
                            self.keys
                                .extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        continue;
                    }
                    if high.is_some() {
                        return Err(low_surrogate());
                    }
                    let (shown, decoded): (&[u8], u8) = match e {
                        b'"' => (b"\\\"", b'"'),
                        b'\\' => (b"\\\\", b'\\'),
                        b'/' => (b"/", b'/'),
                        b'b' => (b"\\b", 0x08),
                        b'f' => (b"\\f", 0x0c),
                        b'n' => (b"\\n", b'\n'),
                        b'r' => (b"\\r", b'\r'),
                        b't' => (b"\\t", b'\t'),
                        _ => {
                            let sequence = &self.input[i..i + utf8_len(e)];
                            return Err(invalid(format!(
                                "Escape sequence \"\\{sequence}\" is invalid."
                            )));
                        }
                    };
                    self.out.extend_from_slice(shown);
                    if key {
                        self.keys.push(decoded);
                    }
                    i += 1;
                }
                _ => {
                    if high.is_some() {
                        return Err(low_surrogate());
                    }
                    let run = src[i..]
                        .iter()
                        .take_while(|&&b| b >= 0x20 && b != b'"' && b != b'\\')
                        .count();
                    self.out.extend_from_slice(&src[i..i + run]);
                    if key {
                        self.keys.extend_from_slice(&src[i..i + run]);
                    }
                    i += run;
                }
            }
        }
        self.out.push(b'"');
        self.key = Key::Arena(arena_start, self.keys.len());
        Ok(i + 1)
    }

    #[cold]
    fn too_big(&self) -> Error {
        Error::StringOrBlobTooBig {
            limit: self.max_len as u64,
        }
    }

    /// Makes room for `n` more bytes of output, or fails when they would
    /// pass the limit. Capacity grows as `Vec` grows it, but never past the
    /// limit, so no allocation is larger than the limit.
    fn room(&mut self, n: usize) -> Result<(), Fail> {
        let needed = self.out.len().saturating_add(n);
        if needed > self.max_len {
            return Err(fail(self.too_big()));
        }
        if needed > self.out.capacity() {
            let target = needed
                .max(self.out.capacity().saturating_mul(2))
                .min(self.max_len);
            self.out.reserve_exact(target - self.out.len());
        }
        Ok(())
    }

    /// Writes the number token `start..end` as `numeric_out` prints it, or
    /// leaves the error `numeric_in` gives to be reported after the next
    /// token. Fails at once when its text would pass the output limit.
    fn number(&mut self, start: usize, end: usize) -> Result<(), Fail> {
        let text = &self.src[start..end];
        let negative = text[0] == b'-';
        let body = &text[usize::from(negative)..];
        let int_len = body.iter().take_while(|b| b.is_ascii_digit()).count();
        let int = &body[..int_len];
        let mut rest = &body[int_len..];
        let mut frac: &[u8] = &[];
        if rest.first() == Some(&b'.') {
            let n = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            frac = &rest[1..=n];
            rest = &rest[1 + n..];
        }
        let zero = int == b"0" && frac.iter().all(|&d| d == b'0');
        let frac_len = frac.len() as i64;
        if rest.is_empty() {
            // No exponent: the digits are printed as written, but for the
            // sign of a zero.
            if frac_len > MAX_SCALE || int_len as i64 > MAX_POWER + 1 {
                self.pending = Some(Error::NumericOverflow);
                return Ok(());
            }
            let shown = if negative && zero { body } else { text };
            self.room(shown.len())?;
            self.out.extend_from_slice(shown);
            return Ok(());
        }
        let exponent = {
            let (sign, digits) = match rest[1] {
                b'-' => (-1, &rest[2..]),
                b'+' => (1, &rest[2..]),
                _ => (1, &rest[1..]),
            };
            // Saturates: every value from the limit on is refused alike.
            let magnitude = digits.iter().fold(0i64, |acc, &d| {
                (acc * 10 + i64::from(d - b'0')).min(EXPONENT_LIMIT)
            });
            sign * magnitude
        };
        let scale = (frac_len - exponent).max(0);
        if exponent.abs() >= EXPONENT_LIMIT || scale > MAX_SCALE {
            self.pending = Some(Error::NumericOverflow);
            return Ok(());
        }
        let fraction_len = if scale > 0 { 1 + scale as usize } else { 0 };
        if zero {
            self.room(1 + fraction_len)?;
            let out = &mut self.out;
            out.push(b'0');
            if scale > 0 {
                out.push(b'.');
                out.resize(out.len() + scale as usize, b'0');
            }
            return Ok(());
        }
        // The digits int ++ frac, with the decimal point `point` digits in
        // after shifting by the exponent; outside them, zeros.
        let len = int_len as i64 + frac_len;
        let digit = |i: i64| -> u8 {
            if i < 0 || i >= len {
                b'0'
            } else if i < int_len as i64 {
                int[i as usize]
            } else {
                frac[(i - int_len as i64) as usize]
            }
        };
        let first = (0..len).find(|&i| digit(i) != b'0').unwrap_or(len);
        let point = int_len as i64 + exponent;
        if point - first - 1 > MAX_POWER {
            self.pending = Some(Error::NumericOverflow);
            return Ok(());
        }
        let integer_len = if first >= point {
            1
        } else {
            (point - first) as usize
        };
        self.room(usize::from(negative) + integer_len + fraction_len)?;
        let out = &mut self.out;
        if negative {
            out.push(b'-');
        }
        if first >= point {
            out.push(b'0');
        } else {
            out.extend((first..point).map(digit));
        }
        if scale > 0 {
            out.push(b'.');
            out.extend((point..point + scale).map(digit));
        }
        Ok(())
    }
}

#[cold]
fn escaping_required(c: u8) -> Fail {
    invalid(format!("Character with value 0x{c:02x} must be escaped."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Postgres 15's `'<input>'::jsonb::text` for each input.
    const OUTPUTS: &[(&str, &str)] = &[
        (r#"{"b":1,"a":[1,2]}"#, r#"{"a": [1, 2], "b": 1}"#),
        (
            r#"{"aa":1,"b":2,"a":3,"a":4}"#,
            r#"{"a": 4, "b": 2, "aa": 1}"#,
        ),
        (
            r#"{"a":{"x":1},"a":2,"b":3,"a":[]}"#,
            r#"{"a": [], "b": 3}"#,
        ),
        (r#"{"a":1,"a":{"b":1}}"#, r#"{"a": {"b": 1}}"#),
        (
            r#"{"b":{"d":1,"c":2},"a":[{"y":1,"x":2}]}"#,
            r#"{"a": [{"x": 2, "y": 1}], "b": {"c": 2, "d": 1}}"#,
        ),
        (
            r#"{"\u00e9":1,"z":2,"\n":3,"é":4,"ab":5,"\u0001":6}"#,
            r#"{"\u0001": 6, "\n": 3, "z": 2, "ab": 5, "é": 4}"#,
        ),
        (r#"{"\u00e9":1,"é":2}"#, r#"{"é": 2}"#),
        (
            r#"{"ab":1,"b":2,"abc":3,"":4}"#,
            r#"{"": 4, "b": 2, "ab": 1, "abc": 3}"#,
        ),
        (r#"{"\"":1,"\\":2}"#, r#"{"\"": 1, "\\": 2}"#),
        (
            r#"{"\ud83d\ude00":1,"aaaa":2,"aaa":3}"#,
            r#"{"aaa": 3, "aaaa": 2, "😀": 1}"#,
        ),
        ("{}", "{}"),
        ("[]", "[]"),
        ("[ ]", "[]"),
        ("{ }", "{}"),
        (r#"[{}, [], {"":""}]"#, r#"[{}, [], {"": ""}]"#),
        (" \n{ } ", "{}"),
        ("[1,\t\r\n 2]", "[1, 2]"),
        ("[[[[[]]]]]", "[[[[[]]]]]"),
        (
            r#"{"b":1,"a":2,"aa":[1,2.50,{}],"c":{"y":null,"x":true}}"#,
            r#"{"a": 2, "b": 1, "c": {"x": true, "y": null}, "aa": [1, 2.50, {}]}"#,
        ),
        (
            r#"{"correlationStreamName":"x","z":"\u00e9\/\t"}"#,
            r#"{"z": "é/\t", "correlationStreamName": "x"}"#,
        ),
        ("null", "null"),
        ("true", "true"),
        ("false", "false"),
        (" 5 ", "5"),
        (r#""x""#, r#""x""#),
        (r#""""#, r#""""#),
        ("1.0", "1.0"),
        ("-0", "0"),
        ("-0.0", "0.0"),
        ("0.00", "0.00"),
        ("-0.000", "0.000"),
        ("1.50e1", "15.0"),
        ("1.50E+1", "15.0"),
        ("1e2", "100"),
        ("1E+02", "100"),
        ("1e+2", "100"),
        ("1E-2", "0.01"),
        ("12e-1", "1.2"),
        ("100e-2", "1.00"),
        ("5e-0", "5"),
        ("0e5", "0"),
        ("0e-5", "0.00000"),
        ("-0e-3", "0.000"),
        ("0.0e-3", "0.0000"),
        ("1.5e-1", "0.15"),
        ("-1.5e-3", "-0.0015"),
        ("-1.23e2", "-123"),
        ("123.456e1", "1234.56"),
        ("1.000e5", "100000"),
        ("0.5e-3", "0.0005"),
        ("0.000123e2", "0.0123"),
        ("0.000123e10", "1230000"),
        ("1e0000000000000000000000000000002", "100"),
        ("0e1073741822", "0"),
        (
            "12345678901234567890.123456789012345678900",
            "12345678901234567890.123456789012345678900",
        ),
        (r#""\u001f\u0001/\u00e9""#, r#""\u001f\u0001/é""#),
        (
            r#""\u007f\u0080\u00ff\u2028\uFFFF\uD83D\uDE00""#,
            "\"\u{7f}\u{80}ÿ\u{2028}\u{ffff}😀\"",
        ),
        (r#""\/\b\f\n\r\t\"\\""#, r#""/\b\f\n\r\t\"\\""#),
        (
            r#""\u0008\u000C\u000a\u000D\u0009\u0022\u005C\u002F""#,
            r#""\b\f\n\r\t\"\\/""#,
        ),
        ("\"\u{7f}\"", "\"\u{7f}\""),
        (r#""\ud83d\ude00""#, r#""😀""#),
        (r#""😀é漢""#, r#""😀é漢""#),
    ];

    /// Postgres 15's DETAIL for inputs it refuses with "invalid input
    /// syntax for type json" (22P02).
    const DETAILS: &[(&str, &str)] = &[
        ("", "The input string ended unexpectedly."),
        (" ", "The input string ended unexpectedly."),
        ("[", "The input string ended unexpectedly."),
        ("{", "The input string ended unexpectedly."),
        (r#"{"a""#, "The input string ended unexpectedly."),
        (r#"{"a":"#, "The input string ended unexpectedly."),
        (r#"{"a":1"#, "The input string ended unexpectedly."),
        (r#"{"a":1,"#, "The input string ended unexpectedly."),
        ("[1,", "The input string ended unexpectedly."),
        ("[1 2]", r#"Expected "," or "]", but found "2"."#),
        ("[,]", r#"Expected JSON value, but found ","."#),
        ("[1,]", r#"Expected JSON value, but found "]"."#),
        ("{,}", r#"Expected string or "}", but found ","."#),
        (r#"{"a":1,}"#, r#"Expected string, but found "}"."#),
        ("{1:2}", r#"Expected string or "}", but found "1"."#),
        (
            r#"{"a":1 "b":2}"#,
            r#"Expected "," or "}", but found ""b""."#,
        ),
        (r#"{"a"}"#, r#"Expected ":", but found "}"."#),
        (r#"{"a" 1}"#, r#"Expected ":", but found "1"."#),
        ("[1}", r#"Expected "," or "]", but found "}"."#),
        (r#"{"a":1]"#, r#"Expected "," or "}", but found "]"."#),
        ("1 2", r#"Expected end of input, but found "2"."#),
        ("true false", r#"Expected end of input, but found "false"."#),
        (r#"{"a":1}}"#, r#"Expected end of input, but found "}"."#),
        ("]", r#"Expected JSON value, but found "]"."#),
        (":", r#"Expected JSON value, but found ":"."#),
        ("x", r#"Token "x" is invalid."#),
        ("tru", r#"Token "tru" is invalid."#),
        ("truex", r#"Token "truex" is invalid."#),
        ("nul", r#"Token "nul" is invalid."#),
        ("NaN", r#"Token "NaN" is invalid."#),
        ("-Infinity", r#"Token "-Infinity" is invalid."#),
        ("$", r#"Token "$" is invalid."#),
        ("tru$", r#"Token "tru" is invalid."#),
        ("é", r#"Token "é" is invalid."#),
        ("\u{a0}1", "Token \"\u{a0}1\" is invalid."),
        ("\u{c}1", "Token \"\u{c}\" is invalid."),
        ("1\u{c}", "Token \"\u{c}\" is invalid."),
        ("\u{7f}", "Token \"\u{7f}\" is invalid."),
        ("01", r#"Token "01" is invalid."#),
        ("-01", r#"Token "-01" is invalid."#),
        ("1.", r#"Token "1." is invalid."#),
        ("1.e5", r#"Token "1.e5" is invalid."#),
        ("-", r#"Token "-" is invalid."#),
        ("-x", r#"Token "-x" is invalid."#),
        ("1e", r#"Token "1e" is invalid."#),
        ("1e+", r#"Token "1e+" is invalid."#),
        ("0E--0", r#"Token "0E-" is invalid."#),
        (".5", r#"Token "." is invalid."#),
        ("+1", r#"Token "+" is invalid."#),
        ("1.5.3", r#"Token "." is invalid."#),
        ("1x", r#"Token "1x" is invalid."#),
        ("0x10", r#"Token "0x10" is invalid."#),
        ("1_0", r#"Token "1_0" is invalid."#),
        ("[1 x]", r#"Token "x" is invalid."#),
        ("1 x", r#"Token "x" is invalid."#),
        ("{x", r#"Token "x" is invalid."#),
        ("[1,2]x", r#"Token "x" is invalid."#),
        (r#""a"b"#, r#"Token "b" is invalid."#),
        (r#"null""#, r#"Token """ is invalid."#),
        (r#"[1"a"]"#, r#"Expected "," or "]", but found ""a""."#),
        (r#"4\u0000"#, r#"Token "\" is invalid."#),
        (r#""abc"#, r#"Token ""abc" is invalid."#),
        (r#""\"#, r#"Token ""\" is invalid."#),
        (r#""\u12"#, r#"Token ""\u12" is invalid."#),
        (r#""a\x""#, r#"Escape sequence "\x" is invalid."#),
        (r#""a\é""#, r#"Escape sequence "\é" is invalid."#),
        (
            r#""\u12""#,
            r#""\u" must be followed by four hexadecimal digits."#,
        ),
        (
            r#""\u12g4""#,
            r#""\u" must be followed by four hexadecimal digits."#,
        ),
        (
            r#""\u00G0""#,
            r#""\u" must be followed by four hexadecimal digits."#,
        ),
        ("\"a\u{1}b\"", "Character with value 0x01 must be escaped."),
        ("\"a\tb\"", "Character with value 0x09 must be escaped."),
        ("\"\u{1f}\"", "Character with value 0x1f must be escaped."),
        (
            r#""\ud800""#,
            "Unicode low surrogate must follow a high surrogate.",
        ),
        (
            r#""\udc00""#,
            "Unicode low surrogate must follow a high surrogate.",
        ),
        (
            r#""\ud800\ud800""#,
            "Unicode high surrogate must not follow a high surrogate.",
        ),
        (
            r#""\uD800\uDBFF""#,
            "Unicode high surrogate must not follow a high surrogate.",
        ),
        (
            r#""\ud83d\u0041""#,
            "Unicode low surrogate must follow a high surrogate.",
        ),
        (
            r#""\ud83dx""#,
            "Unicode low surrogate must follow a high surrogate.",
        ),
        (
            r#""\ud83d\n""#,
            "Unicode low surrogate must follow a high surrogate.",
        ),
        (
            r#""\udc00\ud800""#,
            "Unicode low surrogate must follow a high surrogate.",
        ),
        (
            r#""\ud800\u0000""#,
            "Unicode low surrogate must follow a high surrogate.",
        ),
        (
            "\"\\ud800\u{1}\"",
            "Character with value 0x01 must be escaped.",
        ),
        (r#""\ud800"#, r#"Token ""\ud800" is invalid."#),
        (r#""\ud800\u"#, r#"Token ""\ud800\u" is invalid."#),
        (
            r#""\ud800\uzz"#,
            r#""\u" must be followed by four hexadecimal digits."#,
        ),
        (
            r#"{"\ud800":1}"#,
            "Unicode low surrogate must follow a high surrogate.",
        ),
        ("[1e99999999999999999999999 x]", r#"Token "x" is invalid."#),
        (
            r#"{"a":1e99999999999999999999999 x}"#,
            r#"Token "x" is invalid."#,
        ),
        (
            "{1e99999999999999999999999:1}",
            r#"Expected string or "}", but found "1e99999999999999999999999"."#,
        ),
    ];

    /// Inputs Postgres 15 refuses with "value overflows numeric format" (22003).
    const OVERFLOWS: &[&str] = &[
        "1e131072",
        "1e-16384",
        "1.5e-16383",
        "0e-16384",
        "0.1e131073",
        "0e1073741823",
        "1e99999999999999999999999",
        "[1e99999999999999999999999, x]",
        r#"{"a":1e99999999999999999999999,}"#,
        r#"{"a":1e99999999999999999999999"#,
        "1e99999999999999999999999 1",
    ];

    #[test]
    fn matches_postgres_output() {
        for &(input, expected) in OUTPUTS {
            assert_eq!(canonical_json(input).as_deref(), Ok(expected), "{input:?}");
            assert_eq!(
                canonical_json(expected).as_deref(),
                Ok(expected),
                "{expected:?}"
            );
        }
    }

    #[test]
    fn refuses_what_postgres_refuses() {
        for &(input, detail) in DETAILS {
            let error = canonical_json(input).expect_err(input);
            assert_eq!(error.detail().as_deref(), Some(detail), "{input:?}");
            assert_eq!(error.to_string(), "invalid input syntax for type json");
            assert_eq!(error.sqlstate(), "22P02");
        }
    }

    #[test]
    fn numeric_limits() {
        for &input in OVERFLOWS {
            assert_eq!(
                canonical_json(input),
                Err(Error::NumericOverflow),
                "{input}"
            );
        }
        // Postgres 15 takes up to 131072 digits before the point and 16383 after.
        let ones = |n: usize| "1".repeat(n);
        let cases = [
            (ones(131072), true),
            (ones(131073), false),
            (format!("0.{}", ones(16383)), true),
            (format!("0.{}", ones(16384)), false),
            (
                format!("-{}.{}", "9".repeat(131072), "9".repeat(16383)),
                true,
            ),
            (format!("0.{}", "0".repeat(16384)), false),
            (format!("{}e-1", ones(131073)), true),
            (format!("{}e1", ones(131072)), false),
        ];
        for (input, fits) in cases {
            match canonical_json(&input) {
                Ok(text) => {
                    assert!(fits, "{} digits", input.len());
                    assert_eq!(text.len(), input.len() - input.find('e').map_or(0, |_| 2));
                }
                Err(error) => {
                    assert!(!fits, "{} digits", input.len());
                    assert_eq!(error, Error::NumericOverflow);
                }
            }
        }
        assert_eq!(
            canonical_json(&format!("{}e-1", ones(3))).as_deref(),
            Ok("11.1")
        );
        let big = canonical_json("1e131071").unwrap();
        assert_eq!((big.len(), &big[..2]), (131072, "10"));
        let small = canonical_json("-1e-16383").unwrap();
        assert_eq!((small.len(), &small[..4]), (16386, "-0.0"));
        assert!(small.ends_with("01"));
        let zeros = format!("0.{}1e20000", "0".repeat(20000));
        assert_eq!(canonical_json(&zeros).as_deref(), Ok("0.1"));
    }

    #[test]
    fn output_limit() {
        let too_big = |limit: u64| Err(Error::StringOrBlobTooBig { limit });
        let big = canonical_json_within("1e131000", 131001).unwrap();
        assert_eq!((big.len(), &big[..3]), (131001, "100"));
        assert_eq!(canonical_json_within("1e131000", 131000), too_big(131000));
        assert_eq!(canonical_json_within("-1e5", 7).as_deref(), Ok("-100000"));
        assert_eq!(canonical_json_within("-1e5", 6), too_big(6));
        assert_eq!(canonical_json_within("1.5e-3", 6).as_deref(), Ok("0.0015"));
        assert_eq!(canonical_json_within("1.5e-3", 5), too_big(5));
        let zeros = canonical_json_within("0e-16383", 16385).unwrap();
        assert_eq!((zeros.len(), &zeros[..3]), (16385, "0.0"));
        assert_eq!(canonical_json_within("0e-16383", 16384), too_big(16384));
        assert_eq!(canonical_json_within("12345", 4), too_big(4));
        // Spacing and keys count too: the text is checked as a whole.
        assert_eq!(canonical_json_within("[1,2]", 6).as_deref(), Ok("[1, 2]"));
        assert_eq!(canonical_json_within("[1,2]", 5), too_big(5));
        assert_eq!(
            canonical_json_within(r#"{"b":1,"a":2}"#, 16).as_deref(),
            Ok(r#"{"a": 2, "b": 1}"#)
        );
        assert_eq!(canonical_json_within(r#"{"b":1,"a":2}"#, 15), too_big(15));
        // A number numeric refuses is still refused as Postgres refuses it.
        assert_eq!(
            canonical_json_within("[1e99999999999999999999999, 1e131000]", 10),
            Err(Error::NumericOverflow)
        );
        // Many large numbers fail when the limit is reached, not after
        // writing them all (this input's text would be 4.3 GB).
        let input = format!("[{}1]", "1e131000,".repeat(32786));
        assert_eq!(
            canonical_json_within(&input, 10_000_000),
            too_big(10_000_000)
        );
        assert_eq!(
            canonical_json(&format!("[{}1]", "1e131000,".repeat(3))).map(|t| t.len()),
            Ok(3 * 131003 + 3)
        );
    }

    #[test]
    fn unicode_zero_and_nul() {
        for input in [r#""\u0000""#, r#""x\u0000"#, r#"{"\u0000":1}"#] {
            let error = canonical_json(input).expect_err(input);
            assert_eq!(error, Error::UnsupportedUnicodeEscape);
            assert_eq!(error.to_string(), "unsupported Unicode escape sequence");
            assert_eq!(error.sqlstate(), "22P05");
            assert_eq!(
                error.detail().as_deref(),
                Some("\\u0000 cannot be converted to text.")
            );
        }
        for input in ["[1]\0", "\"a\0b\"", "\0"] {
            assert_eq!(canonical_json(input), Err(Error::NulInText), "{input:?}");
        }
    }

    #[test]
    fn nesting() {
        let arrays = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(
            canonical_json(&arrays(MAX_DEPTH)).as_deref(),
            Ok(arrays(MAX_DEPTH).as_str())
        );
        let too_deep = Err(Error::JsonTooDeep { limit: MAX_DEPTH });
        assert_eq!(canonical_json(&arrays(MAX_DEPTH + 1)), too_deep);
        // Far deeper than any stack would hold if the parser recursed.
        assert_eq!(canonical_json(&"[".repeat(1_000_000)), too_deep);
        let objects = |n: usize| format!("{}1{}", r#"{"b":0,"a":"#.repeat(n), "}".repeat(n));
        let expected = |n: usize| format!("{}1{}", r#"{"a": "#.repeat(n), r#", "b": 0}"#.repeat(n));
        assert_eq!(canonical_json(&objects(MAX_DEPTH)), Ok(expected(MAX_DEPTH)));
        assert_eq!(canonical_json(&objects(MAX_DEPTH + 1)), too_deep);
    }

    /// JSON text for arbitrary values, written in assorted equivalent ways:
    /// spacing, escapes, number forms, key order and duplicates.
    fn json_text() -> impl Strategy<Value = String> {
        let space = "[ \t\r\n]{0,2}";
        let number = (
            "-?(0|[1-9][0-9]{0,24})",
            proptest::option::of("[0-9]{1,8}"),
            proptest::option::of(("[eE][+-]?", 0u32..60)),
        )
            .prop_map(|(int, frac, exp)| {
                let mut text = int;
                if let Some(frac) = frac {
                    text = format!("{text}.{frac}");
                }
                if let Some((e, n)) = exp {
                    text = format!("{text}{e}{n}");
                }
                text
            });
        let piece = prop_oneof![
            "[a-zA-Z0-9 /\u{e9}\u{6f22}\u{1f600}\u{7f}\u{2028}]{1,4}",
            Just(r#"\""#.to_string()),
            Just(r#"\\"#.to_string()),
            Just(r#"\/"#.to_string()),
            Just(r#"\b\f\n\r\t"#.to_string()),
            Just(r#"\u00e9\u00E9"#.to_string()),
            Just(r#"\u0001\u001F"#.to_string()),
            Just(r#"\ud83d\uDE00"#.to_string()),
        ];
        let string = prop::collection::vec(piece, 0..4).prop_map(|p| format!("\"{}\"", p.concat()));
        let leaf = prop_oneof![
            number,
            string.clone(),
            Just("true".to_string()),
            Just("false".to_string()),
            Just("null".to_string()),
        ];
        let value = leaf.prop_recursive(5, 64, 6, move |inner| {
            let key = prop_oneof![
                Just(r#""a""#.to_string()),
                Just(r#""b""#.to_string()),
                Just(r#""ab""#.to_string()),
                Just(r#""\u0061""#.to_string()),
                string.clone(),
            ];
            prop_oneof![
                prop::collection::vec((inner.clone(), space), 0..5).prop_map(|items| {
                    let items: Vec<String> = items
                        .into_iter()
                        .map(|(v, s)| s.clone() + &v + &s)
                        .collect();
                    format!("[{}]", items.join(","))
                }),
                prop::collection::vec((key, inner, space), 0..6).prop_map(|members| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(k, v, s)| format!("{s}{k}{s}:{s}{v}{s}"))
                        .collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        });
        (space, value, space).prop_map(|(a, v, b)| format!("{a}{v}{b}"))
    }

    proptest! {
        #[test]
        fn canonical_text_is_a_fixed_point(input in json_text()) {
            let once = canonical_json(&input).unwrap();
            prop_assert_eq!(canonical_json(&once).unwrap(), once);
        }
    }
}
