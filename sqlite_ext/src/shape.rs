//! Whether a database's `messages` table is a message store's: its
//! definition, and that of the store's indexes where they exist, compared
//! with `sql/sqlite_schema.sql`'s. A table with the same column names but
//! other types, constraints or collations would take messages and answer
//! reads differently, so anything else is refused and left as it is.
//!
//! Definitions are compared as SQLite reads them: case, whitespace,
//! comments and the quoting of plain names do not count.

/// One token of SQL text: its form for comparison, and where it is.
struct Token {
    norm: String,
    start: usize,
    end: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// SQLite's tokens, enough to compare definitions: words (upper-cased),
/// string literals (as written), quoted names (unquoted when plain), and
/// single punctuation characters. Whitespace and comments separate tokens.
fn tokens(sql: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = sql.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let offset = |i: usize| chars.get(i).map_or(sql.len(), |&(o, _)| o);
    let mut i = 0;
    while let Some(c) = at(i) {
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '-' && at(i + 1) == Some('-') {
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
            continue;
        }
        if c == '/' && at(i + 1) == Some('*') {
            i += 2;
            while at(i).is_some() && !(at(i) == Some('*') && at(i + 1) == Some('/')) {
                i += 1;
            }
            i = (i + 2).min(chars.len());
            continue;
        }
        let norm = match c {
            '\'' | '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                i += 1;
                // A doubled quote inside is the quote itself (not for `[]`).
                while let Some(d) = at(i) {
                    i += 1;
                    if d == close {
                        if close != ']' && at(i) == Some(close) {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
                let text = &sql[offset(start)..offset(i)];
                let inner = text
                    .get(1..text.len().saturating_sub(1))
                    .unwrap_or_default();
                if c != '\'' && is_plain_name(inner) {
                    inner.to_ascii_uppercase()
                } else {
                    text.to_string()
                }
            }
            c if is_word_char(c) => {
                while at(i).is_some_and(is_word_char) {
                    i += 1;
                }
                sql[offset(start)..offset(i)].to_ascii_uppercase()
            }
            c => {
                i += 1;
                c.to_string()
            }
        };
        out.push(Token {
            norm,
            start: offset(start),
            end: offset(i),
        });
    }
    out
}

/// The tokens joined for comparison: a space only between two words.
fn joined(tokens: &[Token]) -> String {
    let mut out = String::new();
    for token in tokens {
        let word = |c: Option<char>| c.is_some_and(|c| is_word_char(c) || c == '\'');
        if word(out.chars().last()) && word(token.norm.chars().next()) {
            out.push(' ');
        }
        out.push_str(&token.norm);
    }
    out
}

/// The source text of `tokens`, whitespace runs shown as one space.
fn shown(sql: &str, tokens: &[Token]) -> String {
    match (tokens.first(), tokens.last()) {
        (Some(first), Some(last)) => sql[first.start..last.end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// A `CREATE TABLE` statement's column and constraint definitions, and
/// what follows its parentheses (`WITHOUT ROWID`, `STRICT`).
struct TableDefinition {
    /// Each definition's comparison form and source text.
    items: Vec<(String, String)>,
    tail: (String, String),
}

fn table_definition(sql: &str) -> Option<TableDefinition> {
    let tokens = tokens(sql);
    let open = tokens.iter().position(|t| t.norm == "(")?;
    let mut depth = 0;
    let mut close = None;
    let mut items = Vec::new();
    let mut item_start = open + 1;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token.norm.as_str() {
            "(" => depth += 1,
            ")" => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            "," if depth == 1 => {
                items.push(&tokens[item_start..i]);
                item_start = i + 1;
            }
            _ => {}
        }
    }
    let close = close?;
    items.push(&tokens[item_start..close]);
    let tail = &tokens[close + 1..];
    Some(TableDefinition {
        items: items
            .into_iter()
            .map(|item| (joined(item), shown(sql, item)))
            .collect(),
        tail: (joined(tail), shown(sql, tail)),
    })
}

/// The message store's definitions, read from `sql/sqlite_schema.sql`.
pub struct Expected {
    table: TableDefinition,
    /// Each index's name and the comparison form of the text SQLite keeps
    /// for it (`CREATE … INDEX name ON …`, without `IF NOT EXISTS main.`).
    indexes: Vec<(String, String, String)>,
}

/// The statement's text as SQLite keeps it in `sqlite_schema`.
fn as_kept(statement: &str) -> String {
    statement.trim().replacen("IF NOT EXISTS main.", "", 1)
}

impl Expected {
    pub fn from_schema(schema_sql: &str) -> Expected {
        let mut table = None;
        let mut indexes = Vec::new();
        // The file's comments are whole `--` lines or line ends (its
        // strings hold no `--` or `;`), and some hold a `;`.
        let code: Vec<&str> = schema_sql
            .lines()
            .map(|line| line.split("--").next().unwrap_or_default())
            .collect();
        for statement in code.join("\n").split(';') {
            let statement = as_kept(statement);
            let words = tokens(&statement);
            let norms: Vec<&str> = words.iter().map(|t| t.norm.as_str()).collect();
            match norms.as_slice() {
                ["CREATE", "TABLE", "MESSAGES", ..] => table = table_definition(&statement),
                ["CREATE", "UNIQUE", "INDEX", name, ..] | ["CREATE", "INDEX", name, ..] => indexes
                    .push((
                        name.to_ascii_lowercase(),
                        joined(&words),
                        shown(&statement, &words),
                    )),
                _ => {}
            }
        }
        Expected {
            table: table.expect("sqlite_schema.sql defines table messages"),
            indexes,
        }
    }

    /// The store's index names.
    pub fn index_names(&self) -> impl Iterator<Item = &str> {
        self.indexes.iter().map(|(name, _, _)| name.as_str())
    }

    /// How the `CREATE TABLE` text of a `messages` table whose columns
    /// have the store's names differs from the store's, if it does.
    pub fn table_difference(&self, sql: &str) -> Option<String> {
        let Some(actual) = table_definition(sql) else {
            return Some(format!("its definition cannot be read: {sql}"));
        };
        let expected = &self.table;
        for (i, (norm, text)) in actual.items.iter().enumerate() {
            match expected.items.get(i) {
                Some((expected_norm, _)) if expected_norm == norm => {}
                Some((_, expected_text)) => {
                    return Some(format!(
                    "its definition has \"{text}\" where a message store's has \"{expected_text}\""
                ))
                }
                None => {
                    return Some(format!(
                        "its definition has \"{text}\", which a message store's does not"
                    ))
                }
            }
        }
        if actual.tail.0 != expected.tail.0 {
            return Some(format!(
                "it is declared \"{}\" after its columns, a message store's table is not",
                actual.tail.1
            ));
        }
        None
    }

    /// How the schema object named like one of the store's indexes differs
    /// from that index, if it does.
    pub fn index_difference(&self, name: &str, sql: Option<&str>) -> Option<String> {
        let (_, norm, text) = self
            .indexes
            .iter()
            .find(|(index, _, _)| index.eq_ignore_ascii_case(name))?;
        let sql = sql.unwrap_or_default();
        if joined(&tokens(sql)) == *norm {
            return None;
        }
        Some(format!(
            "the database's \"{name}\" is \"{}\", a message store's is \"{text}\"",
            shown(sql, &tokens(sql))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = include_str!("../../sql/sqlite_schema.sql");
    /// What SQLite 3.40 keeps in `sqlite_schema` for the store's table.
    const KEPT: &str = "CREATE TABLE messages (\n  global_position INTEGER PRIMARY KEY AUTOINCREMENT,\n  position INTEGER NOT NULL,\n  time TEXT NOT NULL,\n  stream_name TEXT NOT NULL,\n  type TEXT NOT NULL,\n  data TEXT,\n  metadata TEXT,\n  id TEXT NOT NULL\n)";

    #[test]
    fn the_store_itself_and_equivalent_spellings_pass() {
        let expected = Expected::from_schema(SCHEMA);
        assert_eq!(
            expected.index_names().collect::<Vec<_>>(),
            ["messages_id", "messages_stream", "messages_category"]
        );
        for sql in [
            KEPT,
            "create table \"messages\"(global_position integer primary key autoincrement, [position] INTEGER NOT NULL, `time` TEXT NOT NULL, stream_name TEXT /* c */ NOT NULL, type TEXT NOT NULL, data TEXT, metadata TEXT, id TEXT NOT NULL -- end\n)",
        ] {
            assert_eq!(expected.table_difference(sql), None, "{sql}");
        }
        assert_eq!(
            expected.index_difference(
                "messages_id",
                Some("CREATE UNIQUE INDEX messages_id ON messages (id)")
            ),
            None
        );
        assert_eq!(
            expected.index_difference(
                "messages_category",
                Some("CREATE INDEX messages_category ON messages (\n  substr(stream_name, 1, instr(stream_name || '-', '-') - 1),\n  global_position,\n  substr(json_extract(metadata, '$.correlationStreamName'), 1, instr(json_extract(metadata, '$.correlationStreamName') || '-', '-') - 1)\n)")
            ),
            None
        );
        assert_eq!(expected.index_difference("other", Some("x")), None);
    }

    #[test]
    fn differences_are_named() {
        let expected = Expected::from_schema(SCHEMA);
        let cases = [
            (
                KEPT.replace("position INTEGER NOT NULL", "position TEXT NOT NULL"),
                "its definition has \"position TEXT NOT NULL\" where a message store's has \"position INTEGER NOT NULL\"",
            ),
            (
                KEPT.replace("stream_name TEXT NOT NULL", "stream_name TEXT NOT NULL COLLATE NOCASE"),
                "its definition has \"stream_name TEXT NOT NULL COLLATE NOCASE\" where a message store's has \"stream_name TEXT NOT NULL\"",
            ),
            (
                KEPT.replace(" AUTOINCREMENT", ""),
                "its definition has \"global_position INTEGER PRIMARY KEY\" where a message store's has \"global_position INTEGER PRIMARY KEY AUTOINCREMENT\"",
            ),
            (
                KEPT.replace("data TEXT,", "data TEXT DEFAULT '{}',"),
                "its definition has \"data TEXT DEFAULT '{}'\" where a message store's has \"data TEXT\"",
            ),
            (
                KEPT.replace("id TEXT NOT NULL\n)", "id TEXT NOT NULL, UNIQUE (type)\n)"),
                "its definition has \"UNIQUE (type)\", which a message store's does not",
            ),
            (
                format!("{KEPT} STRICT"),
                "it is declared \"STRICT\" after its columns, a message store's table is not",
            ),
        ];
        for (sql, difference) in cases {
            assert_eq!(
                expected.table_difference(&sql).as_deref(),
                Some(difference),
                "{sql}"
            );
        }
        assert_eq!(
            expected
                .index_difference("MESSAGES_ID", Some("CREATE INDEX messages_id ON messages (id)"))
                .as_deref(),
            Some("the database's \"MESSAGES_ID\" is \"CREATE INDEX messages_id ON messages (id)\", a message store's is \"CREATE UNIQUE INDEX messages_id ON messages (id)\"")
        );
        assert_eq!(
            expected
                .index_difference("messages_stream", None)
                .as_deref(),
            Some("the database's \"messages_stream\" is \"\", a message store's is \"CREATE UNIQUE INDEX messages_stream ON messages (stream_name, position)\"")
        );
    }
}
