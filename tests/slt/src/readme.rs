//! The README's examples that tests of both engines run.

/// The statements of the README's SQL example in its SQLite section, which
/// it says runs unchanged (and more than once) on both engines.
pub fn sqlite_example() -> Vec<String> {
    let readme = include_str!("../../../README.md");
    let section =
        &readme[readme.find("## SQLite").unwrap()..readme.find("## Postgres quick start").unwrap()];
    let block = section.split("```sql\n").nth(1).unwrap();
    let block = &block[..block.find("```").unwrap()];
    block
        .lines()
        .map(|line| line.split("--").next().unwrap().trim())
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

/// The statements of the README's first example in "Writing many
/// messages", and the result its comment gives each (`-- 2`).
pub fn batch_example() -> Vec<(String, String)> {
    let readme = include_str!("../../../README.md");
    let section = &readme[readme.find("## Writing many messages").unwrap()..];
    let block = section.split("```sql\n").nth(1).unwrap();
    let block = &block[..block.find("```").unwrap()];
    let mut examples = Vec::new();
    let mut statement = String::new();
    for line in block.lines() {
        if let Some(result) = line.strip_prefix("-- ") {
            if !statement.trim().is_empty() {
                let result = result.split_whitespace().next().unwrap().to_string();
                examples.push((std::mem::take(&mut statement), result));
            }
            continue;
        }
        if line.starts_with("--") {
            continue;
        }
        let code = line.split("  --").next().unwrap();
        statement.push_str(code);
        statement.push('\n');
    }
    examples
        .into_iter()
        .map(|(sql, result)| (sql.trim().trim_end_matches(';').to_string(), result))
        .collect()
}
