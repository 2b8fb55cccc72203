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
