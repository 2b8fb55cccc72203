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
    joined_norms(tokens.iter().map(|t| t.norm.as_str()))
}

fn joined_norms<'a>(norms: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for norm in norms {
        let word = |c: Option<char>| c.is_some_and(|c| is_word_char(c) || c == '\'');
        if word(out.chars().last()) && word(norm.chars().next()) {
            out.push(' ');
        }
        out.push_str(norm);
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

/// The comma-separated items of the list in the first parentheses of
/// `tokens`, and the position of its closing parenthesis.
fn first_list(tokens: &[Token]) -> Option<(Vec<&[Token]>, usize)> {
    let open = tokens.iter().position(|t| t.norm == "(")?;
    let mut depth = 0;
    let mut items = Vec::new();
    let mut item_start = open + 1;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token.norm.as_str() {
            "(" => depth += 1,
            ")" => {
                depth -= 1;
                if depth == 0 {
                    items.push(&tokens[item_start..i]);
                    return Some((items, i));
                }
            }
            "," if depth == 1 => {
                items.push(&tokens[item_start..i]);
                item_start = i + 1;
            }
            _ => {}
        }
    }
    None
}

fn table_definition(sql: &str) -> Option<TableDefinition> {
    let tokens = tokens(sql);
    let (items, close) = first_list(&tokens)?;
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

/// The schema file's statements, each as SQLite keeps it.
fn statements(schema_sql: &str) -> Vec<String> {
    // The file's comments are whole `--` lines or line ends (its strings
    // hold no `--` or `;`), and some hold a `;`.
    let code: Vec<&str> = schema_sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .collect();
    code.join("\n").split(';').map(as_kept).collect()
}

impl Expected {
    pub fn from_schema(schema_sql: &str) -> Expected {
        let mut table = None;
        let mut indexes = Vec::new();
        for statement in statements(schema_sql) {
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

// The category expressions are read at build time (build.rs includes this
// file): the library itself has them as text, and uses none of these.

/// The correlation stream name of a message's metadata, as SQLite reads it.
#[allow(dead_code)]
pub const CORRELATION: &str = "json_extract(metadata, '$.correlationStreamName')";

/// The category expressions of the schema's category index, as written
/// there: readers repeat them exactly, since SQLite uses an expression
/// index only for the expression it indexes.
#[allow(dead_code)]
#[derive(Debug, PartialEq, Eq)]
pub struct CategoryExpressions {
    /// The category of `stream_name`.
    pub stream_name: String,
    /// The category of the metadata's correlation stream name.
    pub correlation: String,
}

/// The category index's expressions, checked to be one expression: of
/// `stream_name`, and of the correlation in its place; the category views
/// must use the same.
#[allow(dead_code)]
pub fn category_expressions(schema_sql: &str) -> Result<CategoryExpressions, String> {
    let statements = statements(schema_sql);
    let starts = |statement: &str, words: &[&str]| {
        let norms: Vec<String> = tokens(statement).into_iter().map(|t| t.norm).collect();
        norms.len() >= words.len() && norms.iter().zip(words).all(|(n, w)| n == w)
    };
    let index = statements
        .iter()
        .find(|s| starts(s, &["CREATE", "INDEX", "MESSAGES_CATEGORY"]))
        .ok_or("it creates no index messages_category")?;
    let words = tokens(index);
    let (columns, _) = first_list(&words).ok_or("index messages_category has no column list")?;
    let [stream, position, correlation] = columns.as_slice() else {
        return Err(format!(
            "index messages_category has {} columns, not three (the category of stream_name, global_position, the category of the correlation)",
            columns.len()
        ));
    };
    let text = |item: &[Token]| match (item.first(), item.last()) {
        (Some(first), Some(last)) => index[first.start..last.end].to_string(),
        _ => String::new(),
    };
    if joined(position) != "GLOBAL_POSITION" {
        return Err(format!(
            "index messages_category's second column is \"{}\", not global_position",
            text(position)
        ));
    }
    if !stream.iter().any(|t| t.norm == "STREAM_NAME") {
        return Err(format!(
            "index messages_category's first column \"{}\" does not read stream_name",
            text(stream)
        ));
    }
    let correlation_words = tokens(CORRELATION);
    let expected = joined_norms(stream.iter().flat_map(|t| {
        if t.norm == "STREAM_NAME" {
            correlation_words.iter().map(|c| c.norm.as_str()).collect()
        } else {
            vec![t.norm.as_str()]
        }
    }));
    if joined(correlation) != expected {
        return Err(format!(
            "index messages_category's third column \"{}\" is not its first, \"{}\", of {CORRELATION} in place of stream_name",
            text(correlation),
            text(stream)
        ));
    }
    for view in statements.iter().filter(|s| starts(s, &["CREATE", "VIEW"])) {
        let words = tokens(view);
        let name = words.get(2).map_or("", |t| t.norm.as_str());
        let mut categories = 0;
        for at in 0..words.len().saturating_sub(1) {
            if words[at].norm != "AS" || words[at + 1].norm != "CATEGORY" {
                continue;
            }
            // The expression named `category`: back to the comma or the
            // SELECT before it, outside parentheses.
            let mut depth = 0;
            let mut start = at;
            while start > 0 {
                match words[start - 1].norm.as_str() {
                    ")" => depth += 1,
                    "(" => depth -= 1,
                    "," | "SELECT" if depth == 0 => break,
                    _ => {}
                }
                start -= 1;
            }
            let expression = &words[start..at];
            if joined(expression) != joined(stream) {
                let shown = match (expression.first(), expression.last()) {
                    (Some(first), Some(last)) => &view[first.start..last.end],
                    _ => "",
                };
                return Err(format!(
                    "view {} computes its category as \"{shown}\", not as index messages_category does, \"{}\"",
                    name.to_ascii_lowercase(),
                    text(stream)
                ));
            }
            categories += 1;
        }
        if categories == 0 && name.contains("CATEGORY") {
            return Err(format!(
                "view {} has no column named category",
                name.to_ascii_lowercase()
            ));
        }
    }
    Ok(CategoryExpressions {
        stream_name: text(stream),
        correlation: text(correlation),
    })
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

    #[test]
    fn the_category_expressions_come_from_the_index_and_match_the_views() {
        assert_eq!(
            category_expressions(SCHEMA),
            Ok(CategoryExpressions {
                stream_name: "substr(stream_name, 1, instr(stream_name || '-', '-') - 1)".into(),
                correlation: "substr(json_extract(metadata, '$.correlationStreamName'), 1, instr(json_extract(metadata, '$.correlationStreamName') || '-', '-') - 1)".into(),
            })
        );
        // Spelled otherwise but read alike by SQLite: the index's own text is kept.
        let spaced = SCHEMA.replacen(
            "substr(stream_name, 1, instr(stream_name || '-', '-') - 1),\n  global_position",
            "SUBSTR( stream_name,1,instr(stream_name||'-','-')-1 ),\n  global_position",
            1,
        );
        assert_eq!(
            category_expressions(&spaced).map(|c| c.stream_name),
            Ok("SUBSTR( stream_name,1,instr(stream_name||'-','-')-1 )".into())
        );
    }

    #[test]
    fn a_schema_whose_category_expressions_disagree_is_refused() {
        let view =
            "SELECT type, substr(stream_name, 1, instr(stream_name || '-', '-') - 1) AS category";
        let cases = [
            (
                SCHEMA.replacen(view, "SELECT type, substr(stream_name, 1, instr(stream_name || '-', '-')) AS category", 1),
                "view type_category_summary computes its category as \"substr(stream_name, 1, instr(stream_name || '-', '-'))\", not as index messages_category does, \"substr(stream_name, 1, instr(stream_name || '-', '-') - 1)\"",
            ),
            (
                SCHEMA.replacen(view, "SELECT type, stream_name AS kind", 1),
                "view type_category_summary has no column named category",
            ),
            (
                SCHEMA.replacen("'$.correlationStreamName') || '-'", "'$.correlationStreamName') || '+'", 1),
                "index messages_category's third column \"substr(json_extract(metadata, '$.correlationStreamName'), 1, instr(json_extract(metadata, '$.correlationStreamName') || '+', '-') - 1)\" is not its first, \"substr(stream_name, 1, instr(stream_name || '-', '-') - 1)\", of json_extract(metadata, '$.correlationStreamName') in place of stream_name",
            ),
            (
                SCHEMA.replacen("  global_position,\n", "", 1),
                "index messages_category has 2 columns, not three (the category of stream_name, global_position, the category of the correlation)",
            ),
            (
                SCHEMA.replacen("  global_position,\n", "  position,\n", 1),
                "index messages_category's second column is \"position\", not global_position",
            ),
            (
                SCHEMA.replacen("substr(stream_name, 1, instr(stream_name || '-', '-') - 1),\n", "substr(type, 1, 2),\n", 1),
                "index messages_category's first column \"substr(type, 1, 2)\" does not read stream_name",
            ),
            (
                SCHEMA.replacen("INDEX IF NOT EXISTS main.messages_category", "INDEX IF NOT EXISTS main.messages_by_category", 1),
                "it creates no index messages_category",
            ),
        ];
        for (schema, why) in cases {
            assert_ne!(schema, SCHEMA, "{why}");
            assert_eq!(category_expressions(&schema), Err(why.to_string()));
        }
    }
}
