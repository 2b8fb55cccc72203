//! The functions' argument reads against their SQL declarations: the table
//! in `pg_ext/src/signatures.rs`, through which every C function reads its
//! arguments (by position and type), must be exactly what `sql/schema.sql`
//! and every released install script declare, and what the installed
//! extension's catalog holds. A read at a position or of a type the SQL
//! does not declare is a table entry that differs here.

#[allow(dead_code)] // the library's half (reads and checks) is not used here
#[path = "../../../pg_ext/src/signatures.rs"]
mod signatures;

use message_store_pg_tests::{fresh_database, workspace_file};
use signatures::{Function, SqlType, Volatility, FUNCTIONS};

/// A C function's declaration, from any of the three sources.
#[derive(Debug, PartialEq, Eq)]
struct Declaration {
    name: String,
    symbol: String,
    library: String,
    args: Vec<(String, SqlType)>,
    defaults: usize,
    returns: SqlType,
    returns_set: bool,
    volatility: Volatility,
    strict: bool,
    parallel_safe: bool,
}

impl Declaration {
    fn of(function: &Function) -> Declaration {
        Declaration {
            name: function.name.to_string(),
            symbol: function.symbol.to_string(),
            library: "MODULE_PATHNAME".to_string(),
            args: function
                .args
                .iter()
                .map(|arg| (arg.name.to_string(), arg.ty))
                .collect(),
            defaults: function.defaults,
            returns: function.returns,
            returns_set: function.returns_set,
            volatility: function.volatility,
            strict: function.strict,
            parallel_safe: function.parallel_safe,
        }
    }
}

/// A release's version as numbers, for ordering.
fn version(text: &str) -> Vec<u32> {
    text.split('.').map(|part| part.parse().unwrap()).collect()
}

/// The table's declarations of the functions `keep` takes, by name.
fn table_where(keep: impl Fn(&Function) -> bool) -> Vec<Declaration> {
    let mut declarations: Vec<Declaration> = FUNCTIONS
        .iter()
        .filter(|f| keep(f))
        .map(|f| Declaration::of(f))
        .collect();
    declarations.sort_by(|a, b| a.name.cmp(&b.name));
    declarations
}

/// Asserts that `source` declares exactly the table's C functions, each as
/// its table says.
#[track_caller]
fn assert_declares_the_table(source: &str, found: &[Declaration]) {
    assert_declares(source, found, table_where(|_| true));
}

/// Asserts that `source` declares exactly `table`'s C functions.
#[track_caller]
fn assert_declares(source: &str, found: &[Declaration], table: Vec<Declaration>) {
    let names = |declarations: &[Declaration]| -> Vec<String> {
        declarations.iter().map(|d| d.name.clone()).collect()
    };
    assert_eq!(names(found), names(&table), "{source}: its C functions");
    for (found, table) in found.iter().zip(&table) {
        assert_eq!(
            found, table,
            "{source}: {} (left: {source}, right: the table)",
            table.name
        );
    }
}

fn sql_type(spelling: &str) -> SqlType {
    match spelling {
        "varchar" | "character varying" => SqlType::Varchar,
        "bigint" => SqlType::Bigint,
        "jsonb" => SqlType::Jsonb,
        "boolean" => SqlType::Boolean,
        "bigint[]" => SqlType::BigintArray,
        "message_store.message" => SqlType::Message,
        "text" => SqlType::Text,
        "message_store.stream_listing" => SqlType::StreamListing,
        "message_store.category_listing" => SqlType::CategoryListing,
        "timestamptz" | "timestamp with time zone" => SqlType::Timestamptz,
        "void" => SqlType::Void,
        other => panic!("a type the table has no name for: {other}"),
    }
}

fn unquote(name: &str) -> String {
    name.trim_matches('"').to_string()
}

/// The script without its comments (`-- …` lines' tails and `/* … */`).
fn without_comments(script: &str) -> String {
    let mut text = String::new();
    let mut rest = script;
    while let Some(start) = rest.find("/*") {
        text.push_str(&rest[..start]);
        let end = rest[start..].find("*/").expect("an unclosed comment") + start + 2;
        rest = &rest[end..];
    }
    text.push_str(rest);
    text.lines()
        .map(|line| line.split("--").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits at commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// Every `LANGUAGE c` function a script creates, by name.
fn c_functions_of(script: &str) -> Vec<Declaration> {
    // Message DB's functions are CREATE OR REPLACE (an adopted store has them).
    let text = without_comments(script).replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION");
    let mut declarations = Vec::new();
    for (at, _) in text.match_indices("CREATE FUNCTION message_store.") {
        let statement = &text[at + "CREATE FUNCTION message_store.".len()..];
        let open = statement.find('(').unwrap();
        let name = statement[..open].trim().to_string();
        // The argument list ends at the parenthesis that closes the first.
        let mut depth = 0;
        let close = open
            + statement[open..]
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .unwrap()
                .0;
        let mut args = Vec::new();
        let mut defaults = 0;
        for arg in split_top_level(&statement[open + 1..close]) {
            let (declared, default) = match arg.split_once(" DEFAULT ") {
                Some((declared, _)) => (declared, true),
                None => (arg, false),
            };
            assert!(
                default || defaults == 0,
                "{name}: an argument without a default after one with"
            );
            defaults += usize::from(default);
            let (arg_name, ty) = declared.trim().split_once(char::is_whitespace).unwrap();
            args.push((unquote(arg_name), ty.trim().to_string()));
        }
        let words: Vec<&str> = statement[close + 1..].split_whitespace().collect();
        assert_eq!(words[0], "RETURNS", "{name}");
        let language = words.iter().position(|w| *w == "LANGUAGE").unwrap();
        if !words[language + 1].eq_ignore_ascii_case("c") {
            continue;
        }
        let args = args
            .into_iter()
            .map(|(arg_name, ty)| (arg_name, sql_type(&ty)))
            .collect();
        let (returns_set, returns) = match words[1] {
            "SETOF" => (true, words[2]),
            returns => (false, returns),
        };
        // `SET name = value` clauses are settings of the call, not
        // attributes of the signature.
        let mut attributes: Vec<&str> = Vec::new();
        let mut rest = &words[if returns_set { 3 } else { 2 }..language];
        while let Some((&word, tail)) = rest.split_first() {
            if word == "SET" {
                assert_eq!(tail.get(1), Some(&"="), "{name}: {rest:?}");
                rest = &tail[3..];
            } else {
                attributes.push(word);
                rest = tail;
            }
        }
        let attributes = &attributes[..];
        let volatility = match attributes
            .iter()
            .filter(|w| ["IMMUTABLE", "STABLE", "VOLATILE"].contains(w))
            .collect::<Vec<_>>()[..]
        {
            [&"IMMUTABLE"] => Volatility::Immutable,
            [&"STABLE"] => Volatility::Stable,
            [&"VOLATILE"] | [] => Volatility::Volatile,
            ref other => panic!("{name}: volatility {other:?}"),
        };
        let known = [
            "IMMUTABLE",
            "STABLE",
            "VOLATILE",
            "STRICT",
            "PARALLEL",
            "SAFE",
        ];
        assert!(
            attributes.iter().all(|w| known.contains(w)),
            "{name}: attributes {attributes:?}"
        );
        let parallel_safe = attributes.windows(2).any(|w| w == ["PARALLEL", "SAFE"]);
        // AS 'MODULE_PATHNAME', 'symbol';
        let tail = words[language + 2..].join(" ");
        let tail = tail.split(';').next().unwrap();
        let link = tail
            .strip_prefix("AS ")
            .unwrap_or_else(|| panic!("{name}: {tail}"));
        let link: Vec<String> = link
            .split(',')
            .map(|part| part.trim().trim_matches('\'').to_string())
            .collect();
        let [library, symbol] = &link[..] else {
            panic!("{name}: AS {link:?}")
        };
        declarations.push(Declaration {
            name,
            symbol: symbol.clone(),
            library: library.clone(),
            args,
            defaults,
            returns: sql_type(returns),
            returns_set,
            volatility,
            strict: attributes.contains(&"STRICT"),
            parallel_safe,
        });
    }
    declarations.sort_by(|a, b| a.name.cmp(&b.name));
    declarations
}

#[test]
fn the_table_is_what_schema_sql_declares() {
    assert_declares_the_table(
        "sql/schema.sql",
        &c_functions_of(&workspace_file("sql/schema.sql")),
    );
}

#[test]
fn the_table_is_what_every_released_script_declares() {
    // The library serves every released version's SQL objects.
    let mut scripts = Vec::new();
    for entry in std::fs::read_dir(format!("{}/../../sql", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(version) = name
            .strip_prefix("message_store--")
            .and_then(|rest| rest.strip_suffix(".sql"))
        else {
            continue;
        };
        if !version.contains("--") {
            scripts.push(name);
        }
    }
    assert!(
        scripts.contains(&"message_store--0.1.0.sql".to_string()),
        "{scripts:?}"
    );
    for script in scripts {
        let path = format!("sql/{script}");
        let release = version(&script["message_store--".len()..script.len() - ".sql".len()]);
        // A release's script declares the functions of that release and
        // before, as the table has them (the library still serves them so).
        assert_declares(
            &path,
            &c_functions_of(&workspace_file(&path)),
            table_where(|f| version(f.since) <= release),
        );
    }
}

#[test]
fn each_upgrade_script_declares_the_functions_its_release_adds() {
    for entry in std::fs::read_dir(format!("{}/../../sql", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some((_, to)) = name
            .strip_prefix("message_store--")
            .and_then(|rest| rest.strip_suffix(".sql"))
            .and_then(|versions| versions.split_once("--"))
        else {
            continue;
        };
        let path = format!("sql/{name}");
        assert_declares(
            &path,
            &c_functions_of(&workspace_file(&path)),
            table_where(|f| f.since == to),
        );
    }
    assert_eq!(
        table_where(|f| f.since == "0.2.0")
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>(),
        [
            "apply_retention_policies",
            "clear_retention_policy",
            "export_messages",
            "get_all_messages",
            "get_categories",
            "get_streams",
            "import_messages",
            "redact_stream",
            "remove_messages",
            "set_retention_policy",
            "write_batch",
            "write_messages"
        ]
    );
}

#[test]
fn the_table_is_what_the_catalog_holds() {
    let (_db, mut client) = fresh_database("signatures_catalog");
    let rows = client
        .query(
            "SELECT p.proname::text, p.prosrc, p.probin,
                    coalesce(p.proargnames, '{}')::text[],
                    ARRAY(SELECT pg_catalog.format_type(t.oid, NULL)
                          FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS t(oid, n)
                          ORDER BY t.n)::text[],
                    p.pronargs::int, p.pronargdefaults::int, p.proretset,
                    pg_catalog.format_type(p.prorettype, NULL),
                    p.provolatile::text, p.proisstrict, p.proparallel::text,
                    p.proargmodes IS NULL AND p.proallargtypes IS NULL
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
             WHERE p.pronamespace = 'message_store'::regnamespace AND l.lanname = 'c'
             ORDER BY 1",
            &[],
        )
        .unwrap();
    let catalog: Vec<Declaration> = rows
        .iter()
        .map(|row| {
            let name: String = row.get(0);
            let names: Vec<String> = row.get(3);
            let types: Vec<String> = row.get(4);
            let nargs: i32 = row.get(5);
            assert_eq!(
                (names.len(), nargs as usize),
                (types.len(), types.len()),
                "{name}: argument names and types"
            );
            assert!(
                row.get::<_, bool>(12),
                "{name} has OUT or variadic arguments"
            );
            let probin: String = row.get(2);
            Declaration {
                name,
                symbol: row.get(1),
                // The control file's module_pathname, which MODULE_PATHNAME stands for.
                library: match probin.as_str() {
                    "$libdir/message_store" => "MODULE_PATHNAME".to_string(),
                    other => other.to_string(),
                },
                args: names
                    .into_iter()
                    .zip(types.iter().map(|t| sql_type(t)))
                    .collect(),
                defaults: row.get::<_, i32>(6) as usize,
                returns_set: row.get(7),
                returns: sql_type(&row.get::<_, String>(8)),
                volatility: match row.get::<_, String>(9).as_str() {
                    "i" => Volatility::Immutable,
                    "s" => Volatility::Stable,
                    "v" => Volatility::Volatile,
                    other => panic!("provolatile {other}"),
                },
                strict: row.get(10),
                parallel_safe: row.get::<_, String>(11) == "s",
            }
        })
        .collect();
    assert_declares_the_table("the catalog", &catalog);
    // The codes the table would use for the catalog agree with it too.
    for function in FUNCTIONS {
        let row = rows
            .iter()
            .find(|row| row.get::<_, String>(0) == function.name)
            .unwrap();
        assert_eq!(
            row.get::<_, String>(9),
            function.volatility.code().to_string()
        );
        let types: Vec<String> = row.get(4);
        let declared: Vec<&str> = function
            .args
            .iter()
            .map(|arg| arg.ty.catalog_name())
            .collect();
        assert_eq!(types, declared, "{}", function.name);
        assert_eq!(
            row.get::<_, String>(8),
            function.returns.catalog_name(),
            "{}",
            function.name
        );
    }
}
