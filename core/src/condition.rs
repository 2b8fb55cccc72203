//! The rule of a reader's SQL condition, the same on both engines.
//!
//! A reader pastes its caller's condition into its own query, as Message DB
//! does: `… WHERE <the reader's filters> AND (<condition>) ORDER BY … LIMIT …`.
//! The condition must be one boolean expression inside those parentheses and
//! nothing else: it must not end the expression or the statement, and it
//! must not hide the rest of the query. So outside quoted strings and quoted
//! names it may hold no `;`, no comment (`--`, `/*`), and no `)` that closes
//! a parenthesis it did not open; every parenthesis it opens it closes. And
//! outside its own parentheses it may hold no `,` and none of the words that
//! begin another clause of a select (`FROM`, `ORDER`, `LIMIT`, `UNION`, …;
//! `IS DISTINCT FROM` is an operator): those make it a list or a clause, not
//! an expression, and both engines then answer with the same error.
//!
//! [`check`] reads the condition with the lexical rules of the engine that
//! will parse it ([`Dialect`]): where literals and quoted names begin and
//! end is what decides whether a `;` or a `)` is SQL or text. The Postgres
//! extension also asks Postgres' own parser whether the text is one
//! expression; SQLite has no parser interface, so there this rule, written
//! after SQLite's tokenizer, is the whole check.

use std::fmt;

use crate::error::Error;

/// The lexical rules a condition is read with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite's: `'…'` strings, `"…"`, `` `…` `` and `[…]` names, `x'…'`
    /// blobs, `?NNN`, `:name`, `@name`, `#name` and `$name` parameters.
    Sqlite,
    /// Postgres': `'…'` strings (backslash escapes too while
    /// `standard_conforming_strings` is off), `E'…'`, `B'…'`, `X'…'`,
    /// `N'…'`, `U&'…'`, dollar-quoted strings, `"…"` and `U&"…"` names.
    Postgres { standard_conforming_strings: bool },
}

/// Why a text is not one expression inside the reader's parentheses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing but white space.
    Empty,
    /// A NUL character, which ends the text for SQLite and which Postgres'
    /// text types cannot hold.
    Nul,
    /// A `;` outside quotes: it would end the reader's statement.
    Semicolon,
    /// `--` or `/*` outside quotes: a comment could hide the rest of the query.
    Comment,
    /// A `)` with no `(` of the condition's own before it: it would close the
    /// reader's parenthesis and put the rest of the text outside it.
    UnopenedParenthesis,
    /// A `(` that is never closed.
    UnclosedParenthesis,
    /// A quoted string or name that does not end.
    UnterminatedQuote,
    /// A `,` or a word that begins another clause (`FROM`, `ORDER`, …),
    /// outside the condition's own parentheses.
    TopLevel(&'static str),
    /// A SQLite parameter with a `(…)` suffix that holds more than name
    /// characters (SQLite builds read such suffixes differently).
    ParameterSuffix,
    /// The engine's parser read the text as something other than one
    /// expression (a list, a clause, an alias).
    NotOneExpression,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Fault::TopLevel(word) => {
                return write!(
                    f,
                    "\"{word}\" outside parentheses makes it more than one expression"
                )
            }
            Fault::Empty => "it is empty",
            Fault::Nul => "it contains a NUL character",
            Fault::Semicolon => "\";\" outside a quoted string would end the statement",
            Fault::Comment => "a comment (\"--\" or \"/*\") would hide the rest of the query",
            Fault::UnopenedParenthesis => {
                "\")\" would close a parenthesis the condition did not open"
            }
            Fault::UnclosedParenthesis => "a parenthesis it opens is not closed",
            Fault::UnterminatedQuote => "a quoted string or name is not closed",
            Fault::ParameterSuffix => {
                "a parameter's \"(…)\" suffix may hold only letters, digits, \"_\" and \"$\""
            }
            Fault::NotOneExpression => "it is not a single expression",
        };
        f.write_str(text)
    }
}

/// Checks that `condition` stays one expression inside the reader's
/// parentheses when read with `dialect`'s lexical rules. Returns the first
/// fault from the left (an unclosed parenthesis or an empty text is known
/// only at the end).
pub fn check(condition: &str, dialect: Dialect) -> Result<(), Fault> {
    let text = condition.as_bytes();
    if text.contains(&0) {
        return Err(Fault::Nul);
    }
    let mut lexer = Lexer {
        text,
        at: 0,
        dialect,
    };
    let mut depth: usize = 0;
    let mut tokens = 0usize;
    let mut after_distinct = false;
    while let Some(token) = lexer.next()? {
        tokens += 1;
        let distinct = matches!(token, Token::Name(name) if name.eq_ignore_ascii_case(b"distinct"));
        match token {
            Token::Open => depth += 1,
            Token::Close => {
                depth = depth.checked_sub(1).ok_or(Fault::UnopenedParenthesis)?;
            }
            Token::Semicolon => return Err(Fault::Semicolon),
            Token::Comment => return Err(Fault::Comment),
            Token::Comma if depth == 0 => return Err(Fault::TopLevel(",")),
            Token::Name(name) if depth == 0 => {
                if let Some(&word) = CLAUSE_WORDS
                    .iter()
                    .find(|word| name.eq_ignore_ascii_case(word.as_bytes()))
                {
                    if !(word == "FROM" && after_distinct) {
                        return Err(Fault::TopLevel(word));
                    }
                }
            }
            _ => {}
        }
        after_distinct = distinct;
    }
    if depth > 0 {
        return Err(Fault::UnclosedParenthesis);
    }
    if tokens == 0 {
        return Err(Fault::Empty);
    }
    Ok(())
}

/// Words that, outside parentheses, end an expression and begin another
/// part of a select statement in both engines' grammars. None has a place
/// at the top of an expression (`FROM` only in `IS [NOT] DISTINCT FROM`);
/// inside parentheses they belong to subqueries, `CAST(… AS …)`,
/// `EXTRACT(… FROM …)` and the like, which are the caller's to write.
const CLAUSE_WORDS: [&str; 16] = [
    "AS",
    "EXCEPT",
    "FETCH",
    "FOR",
    "FROM",
    "GROUP",
    "HAVING",
    "INTERSECT",
    "INTO",
    "LIMIT",
    "OFFSET",
    "ORDER",
    "RETURNING",
    "SELECT",
    "UNION",
    "VALUES",
];

/// [`check`] with its fault as the catalogue's error.
pub fn checked(condition: &str, dialect: Dialect) -> Result<(), Error> {
    check(condition, dialect).map_err(|fault| Error::InvalidCondition { fault })
}

/// A reader's query with a checked condition added to its filters:
/// `<select and filters> AND (<condition>) <order and limit>`. The condition
/// ends with a line break of its own, so even a comment the rule had missed
/// could not run past the closing parenthesis.
pub fn with_condition(filtered: &str, condition: &str, order: &str) -> String {
    format!("{filtered} AND ({condition}\n){order}")
}

/// What the rule looks at: parentheses, semicolons, commas, comments and
/// unquoted names; everything else (literals, quoted names, parameters,
/// numbers, operators) is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token<'a> {
    Open,
    Close,
    Semicolon,
    Comma,
    Comment,
    Name(&'a [u8]),
    Other,
}

struct Lexer<'a> {
    text: &'a [u8],
    at: usize,
    dialect: Dialect,
}

fn is_digit(c: u8) -> bool {
    c.is_ascii_digit()
}

impl<'a> Lexer<'a> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.text.get(self.at + ahead).copied()
    }

    fn sqlite(&self) -> bool {
        self.dialect == Dialect::Sqlite
    }

    fn is_space(&self, c: u8) -> bool {
        match self.dialect {
            // SQLite's sqlite3Isspace: space, \t, \n, \v, \f, \r.
            Dialect::Sqlite => matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
            // Postgres' scanner: space, \t, \n, \r, \f.
            Dialect::Postgres { .. } => matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c),
        }
    }

    /// A character that may start a name (bytes of multi-byte UTF-8
    /// characters included, as both engines take them).
    fn is_name_start(c: u8) -> bool {
        c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
    }

    /// A character that may continue a name; both engines take `$`.
    fn is_name_char(c: u8) -> bool {
        Self::is_name_start(c) || is_digit(c) || c == b'$'
    }

    fn next(&mut self) -> Result<Option<Token<'a>>, Fault> {
        while let Some(c) = self.peek(0) {
            if !self.is_space(c) {
                break;
            }
            self.at += 1;
        }
        let Some(c) = self.peek(0) else {
            return Ok(None);
        };
        let next = self.peek(1);
        let token = match c {
            b'-' if next == Some(b'-') => Token::Comment,
            b'/' if next == Some(b'*') => Token::Comment,
            b';' => Token::Semicolon,
            b',' => {
                self.at += 1;
                Token::Comma
            }
            b'(' => {
                self.at += 1;
                Token::Open
            }
            b')' => {
                self.at += 1;
                Token::Close
            }
            b'\'' => {
                let backslashes = matches!(
                    self.dialect,
                    Dialect::Postgres {
                        standard_conforming_strings: false
                    }
                );
                self.string(backslashes)?;
                Token::Other
            }
            b'"' => {
                self.quoted(b'"')?;
                Token::Other
            }
            b'`' if self.sqlite() => {
                self.quoted(b'`')?;
                Token::Other
            }
            b'[' if self.sqlite() => {
                self.until(1, b']')?;
                Token::Other
            }
            b'$' | b'@' | b':' | b'#' if self.sqlite() => {
                self.sqlite_parameter()?;
                Token::Other
            }
            b'$' => {
                self.postgres_dollar()?;
                Token::Other
            }
            c if is_digit(c) || (c == b'.' && next.is_some_and(is_digit)) => {
                self.number();
                Token::Other
            }
            c if Self::is_name_start(c) => self.name_or_prefixed_literal()?,
            _ => {
                self.at += 1;
                Token::Other
            }
        };
        Ok(Some(token))
    }

    /// A `'…'` string from the opening quote: `''` is a quote inside it, and
    /// with `backslashes` a backslash takes the next character as it is.
    fn string(&mut self, backslashes: bool) -> Result<(), Fault> {
        self.at += 1;
        loop {
            match self.peek(0) {
                None => return Err(Fault::UnterminatedQuote),
                Some(b'\\') if backslashes => {
                    if self.peek(1).is_none() {
                        return Err(Fault::UnterminatedQuote);
                    }
                    self.at += 2;
                }
                Some(b'\'') if self.peek(1) == Some(b'\'') => self.at += 2,
                Some(b'\'') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(_) => self.at += 1,
            }
        }
    }

    /// A quoted name from its opening `quote`: a doubled quote is a quote
    /// inside it.
    fn quoted(&mut self, quote: u8) -> Result<(), Fault> {
        self.at += 1;
        loop {
            match self.peek(0) {
                None => return Err(Fault::UnterminatedQuote),
                Some(c) if c == quote && self.peek(1) == Some(quote) => self.at += 2,
                Some(c) if c == quote => {
                    self.at += 1;
                    return Ok(());
                }
                Some(_) => self.at += 1,
            }
        }
    }

    /// From `skip` bytes on, up to and including the first `end`, with no
    /// escapes (SQLite's `[…]` names and `x'…'` blobs, Postgres' `B'…'` and
    /// `X'…'` bit strings).
    fn until(&mut self, skip: usize, end: u8) -> Result<(), Fault> {
        let from = self.at + skip;
        match self.text[from.min(self.text.len())..]
            .iter()
            .position(|&c| c == end)
        {
            Some(offset) => {
                self.at = from + offset + 1;
                Ok(())
            }
            None => Err(Fault::UnterminatedQuote),
        }
    }

    /// SQLite's `$name`, `@name`, `:name`, `#name`: name characters and
    /// `::`, then, after at least one name character, perhaps a Tcl-style
    /// `(…)` suffix. SQLite reads such a suffix up to the first `)` or white
    /// space as part of the name, whatever it holds, while a build without
    /// Tcl names reads it as SQL; so a suffix is taken only when it holds
    /// name characters alone, which both read alike.
    fn sqlite_parameter(&mut self) -> Result<(), Fault> {
        self.at += 1;
        let mut named = false;
        while let Some(c) = self.peek(0) {
            if Self::is_name_char(c) {
                named = true;
                self.at += 1;
            } else if c == b'(' && named {
                let body = self.at + 1;
                let end = self.text[body..]
                    .iter()
                    .position(|&c| !Self::is_name_char(c))
                    .map(|offset| body + offset);
                return match end {
                    Some(end) if self.text[end] == b')' => {
                        self.at = end + 1;
                        Ok(())
                    }
                    _ => Err(Fault::ParameterSuffix),
                };
            } else if c == b':' && self.peek(1) == Some(b':') {
                self.at += 2;
            } else {
                break;
            }
        }
        Ok(())
    }

    /// Postgres' `$`: a parameter (`$1`), a dollar-quoted string (`$$…$$`,
    /// `$tag$…$tag$`), or a lone `$`.
    fn postgres_dollar(&mut self) -> Result<(), Fault> {
        let start = self.at;
        let mut end = start + 1;
        if self.text.get(end).is_some_and(|&c| is_digit(c)) {
            while self.text.get(end).is_some_and(|&c| is_digit(c)) {
                end += 1;
            }
            self.at = end;
            return Ok(());
        }
        // A tag starts with a letter, `_` or a non-ASCII byte, then digits too.
        if self.text.get(end).is_some_and(|&c| Self::is_name_start(c)) {
            end += 1;
            while self
                .text
                .get(end)
                .is_some_and(|&c| Self::is_name_start(c) || is_digit(c))
            {
                end += 1;
            }
        }
        if self.text.get(end) != Some(&b'$') {
            // Not a delimiter: the `$` alone; the tag is read as a name.
            self.at = start + 1;
            return Ok(());
        }
        let delimiter = &self.text[start..=end];
        let body = end + 1;
        match self.text[body..]
            .windows(delimiter.len())
            .position(|w| w == delimiter)
        {
            Some(offset) => {
                self.at = body + offset + delimiter.len();
                Ok(())
            }
            None => Err(Fault::UnterminatedQuote),
        }
    }

    /// A number. SQLite reads name characters right after a decimal number
    /// as part of one (invalid) token; Postgres stops at the number.
    fn number(&mut self) {
        let text = self.text;
        let mut i = self.at;
        if self.sqlite()
            && text[i] == b'0'
            && matches!(text.get(i + 1), Some(b'x' | b'X'))
            && text.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            i += 3;
            while text.get(i).is_some_and(u8::is_ascii_hexdigit) {
                i += 1;
            }
            self.at = i;
            return;
        }
        while text.get(i).is_some_and(|&c| is_digit(c)) {
            i += 1;
        }
        if text.get(i) == Some(&b'.') {
            i += 1;
            while text.get(i).is_some_and(|&c| is_digit(c)) {
                i += 1;
            }
        }
        if matches!(text.get(i), Some(b'e' | b'E')) {
            let signed = matches!(text.get(i + 1), Some(b'+' | b'-'));
            let digit_at = if signed { i + 2 } else { i + 1 };
            if text.get(digit_at).is_some_and(|&c| is_digit(c)) {
                i = digit_at;
                while text.get(i).is_some_and(|&c| is_digit(c)) {
                    i += 1;
                }
            }
        }
        if self.sqlite() {
            while text.get(i).is_some_and(|&c| Self::is_name_char(c)) {
                i += 1;
            }
        }
        self.at = i;
    }

    /// A name, or a literal whose one-letter prefix is read as a name first:
    /// SQLite's `x'…'`; Postgres' `E'…'`, `B'…'`, `X'…'`, `N'…'`, `U&'…'`,
    /// `U&"…"`.
    fn name_or_prefixed_literal(&mut self) -> Result<Token<'a>, Fault> {
        let start = self.at;
        let mut end = start;
        while self.text.get(end).is_some_and(|&c| Self::is_name_char(c)) {
            end += 1;
        }
        let text: &'a [u8] = self.text;
        let name = &text[start..end];
        let after = text.get(end).copied();
        self.at = end;
        let prefix = match name {
            [c] => c.to_ascii_lowercase(),
            _ => return Ok(Token::Name(name)),
        };
        let literal = match (self.dialect, prefix, after) {
            (Dialect::Sqlite, b'x', Some(b'\'')) => self.until(1, b'\''),
            (Dialect::Postgres { .. }, b'e', Some(b'\'')) => self.string(true),
            (Dialect::Postgres { .. }, b'b' | b'x', Some(b'\'')) => self.until(1, b'\''),
            (Dialect::Postgres { .. }, b'n', Some(b'\'')) => self.string(false),
            (Dialect::Postgres { .. }, b'u', Some(b'&')) => match self.peek(1) {
                Some(b'\'') => {
                    self.at += 1;
                    self.string(false)
                }
                Some(b'"') => {
                    self.at += 1;
                    self.quoted(b'"')
                }
                _ => return Ok(Token::Name(name)),
            },
            _ => return Ok(Token::Name(name)),
        };
        literal.map(|()| Token::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG: Dialect = Dialect::Postgres {
        standard_conforming_strings: true,
    };
    const PG_OLD_STRINGS: Dialect = Dialect::Postgres {
        standard_conforming_strings: false,
    };
    const SQLITE: Dialect = Dialect::Sqlite;

    #[track_caller]
    fn accepted(condition: &str, dialects: &[Dialect]) {
        for &dialect in dialects {
            assert_eq!(
                check(condition, dialect),
                Ok(()),
                "{condition:?} {dialect:?}"
            );
        }
    }

    #[track_caller]
    fn refused(condition: &str, fault: Fault, dialects: &[Dialect]) {
        for &dialect in dialects {
            assert_eq!(
                check(condition, dialect),
                Err(fault),
                "{condition:?} {dialect:?}"
            );
        }
    }

    const ALL: &[Dialect] = &[SQLITE, PG, PG_OLD_STRINGS];

    #[test]
    fn expressions_pass() {
        for condition in [
            "true",
            "global_position >= 2",
            "type = 'a;b'",
            "type = ')'",
            "type = '('",
            "type = 'it''s'",
            "type IN ('a', 'b')",
            "((position > 0) AND (position < 9))",
            "position IN (SELECT position FROM messages WHERE type = 'x')",
            "EXISTS (SELECT 1)",
            "length(type) > 1",
            "\"type\" = 'x'",
            "\"we)ird;\" = 1",
            "type = '--not a comment'",
            "type = '/* not a comment */'",
            "position - 1 > 0",
            "position/2 > 0",
            "position * -1 < 0",
            "1.5e3 > position",
            ".5 < 1",
            "type <> 'a'\n",
            "type IS DISTINCT FROM 'x'",
            "type IS NOT DISTINCT FROM 'x'",
            "position IN (SELECT position FROM messages ORDER BY 1 LIMIT 2)",
            "CAST(position AS TEXT) = '1'",
            "coalesce(type, 'a') = 'a'",
            "\"order\" = 1",
            "type = 'ORDER BY'",
            "ordering = 1",
        ] {
            accepted(condition, ALL);
        }
    }

    #[test]
    fn escapes_are_refused() {
        use Fault::*;
        for (condition, fault) in [
            (
                "true); DELETE FROM message_store.messages; SELECT 1 AS position WHERE (true",
                UnopenedParenthesis,
            ),
            ("true) OR (true", UnopenedParenthesis),
            (
                "true) UNION ALL SELECT * FROM messages WHERE (true",
                UnopenedParenthesis,
            ),
            ("true; DELETE FROM messages", Semicolon),
            ("true;", Semicolon),
            ("true --", Comment),
            ("true -- ) OR (true", Comment),
            ("true /* */", Comment),
            ("true /*", Comment),
            ("position--1 > 0", Comment),
            ("(true", UnclosedParenthesis),
            ("((true)", UnclosedParenthesis),
            ("true)", UnopenedParenthesis),
            (") (", UnopenedParenthesis),
            ("type = 'a", UnterminatedQuote),
            ("\"type = 1", UnterminatedQuote),
            ("", Empty),
            ("  \n\t ", Empty),
            ("true ORDER BY 1", TopLevel("ORDER")),
            ("true order by 1", TopLevel("ORDER")),
            ("true LIMIT 1", TopLevel("LIMIT")),
            ("true UNION SELECT 1", TopLevel("UNION")),
            ("true AS x", TopLevel("AS")),
            ("1, 2", TopLevel(",")),
            ("true FROM messages", TopLevel("FROM")),
            ("SELECT 1", TopLevel("SELECT")),
            ("true\0", Nul),
            ("'\0'", Nul),
        ] {
            refused(condition, fault, ALL);
        }
    }

    #[test]
    fn sqlite_quotes_and_parameters() {
        accepted("[we)ird] = 1", &[SQLITE]);
        accepted("`we)ird` = 1", &[SQLITE]);
        accepted("`a``b` = 1", &[SQLITE]);
        accepted("data = x'29'", &[SQLITE]);
        accepted("$a(b) = 1", &[SQLITE]);
        accepted("$a(b)", &[SQLITE]);
        accepted("@a::b = 1", &[SQLITE]);
        accepted("?1 IS NOT NULL", &[SQLITE]);
        // A blob ends at its first quote; the next quote opens a string.
        refused("x'00'')", Fault::UnterminatedQuote, &[SQLITE]);
        accepted("x'00'' )'", &[SQLITE]);
        // Name characters after a decimal number belong to it, so `x'` there
        // is no blob: the quote opens a string, in which `''` is a quote.
        accepted("1x'a'') OR ('", &[SQLITE]);
        refused("[abc", Fault::UnterminatedQuote, &[SQLITE]);
        refused("`abc", Fault::UnterminatedQuote, &[SQLITE]);
        refused("x'00", Fault::UnterminatedQuote, &[SQLITE]);
        // SQLite reads a Tcl-style suffix as part of the parameter's name,
        // quotes and all, where a build without Tcl names reads SQL: only
        // name characters are taken there.
        for suffix in ["$a(;) = 1", "$a(')') = 1", "@a( ) = 1", "$a(b", ":a(()"] {
            refused(suffix, Fault::ParameterSuffix, &[SQLITE]);
        }
        // Postgres' forms are not SQLite's.
        refused("$$;$$", Fault::Semicolon, &[SQLITE]);
    }

    #[test]
    fn postgres_quotes_and_parameters() {
        let pg = &[PG, PG_OLD_STRINGS];
        accepted("type = $$a;b)$$", pg);
        accepted("type = $t$a $$ ;)$t$", pg);
        accepted("$1 IS NOT NULL", pg);
        accepted("a$$b = 1", pg);
        accepted("type = E'\\';)'", pg);
        accepted("type = e'a\\\\'", pg);
        accepted("type = U&'d\\0061t\\+000061;)'", pg);
        accepted("U&\"ty;pe\" = 'x'", pg);
        accepted("x'1f' = x'1f'", pg);
        accepted("b'10' = b'10'", pg);
        accepted("type = N'a;'", pg);
        accepted("metadata->>'a' = 'b'", pg);
        accepted("arr[1] = 2", pg);
        accepted("position::text = '1'", pg);
        accepted("time > timestamp with time zone '2020-01-01'", pg);
        accepted("extract(year FROM time) > 2000", pg);
        refused("type = $t$a;", Fault::UnterminatedQuote, pg);
        refused("type = E'\\'", Fault::UnterminatedQuote, pg);
        // `[` is no quote in Postgres.
        refused("[;]", Fault::Semicolon, pg);
        // A backslash escapes a quote only in E'' strings, or in every string
        // while standard_conforming_strings is off.
        refused("type = 'a\\'; x'", Fault::Semicolon, &[PG]);
        accepted("type = 'a\\'; x'", &[PG_OLD_STRINGS]);
        refused("type = 'a\\'') OR (true", Fault::UnterminatedQuote, &[PG]);
        refused(
            "type = 'a\\'') OR (true",
            Fault::UnopenedParenthesis,
            &[PG_OLD_STRINGS],
        );
        // A one-letter name only prefixes a literal it touches.
        refused("e'\\'') OR (true'", Fault::UnopenedParenthesis, &[PG]);
        accepted("e '\\'') OR (true'", &[PG]);
        accepted("ae'\\'') OR (true'", &[PG]);
        refused("E'\\'' ; x'", Fault::Semicolon, pg);
        accepted("E'\\'' ; x'", &[SQLITE]);
        // A dollar sign inside a name opens no string.
        refused("a$x$ ; $x$", Fault::Semicolon, pg);
    }

    #[test]
    fn texts() {
        assert_eq!(
            Fault::Semicolon.to_string(),
            "\";\" outside a quoted string would end the statement"
        );
        assert_eq!(
            Fault::UnopenedParenthesis.to_string(),
            "\")\" would close a parenthesis the condition did not open"
        );
    }
}
