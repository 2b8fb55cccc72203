//! The built library loaded by path, with its default entry point, into the
//! hosts the README names: the sqlite3 CLI, Python's sqlite3, Node's
//! better-sqlite3 (and rusqlite, in every other test here). Each runs the
//! same short session and must print the same lines.

use std::path::{Path, PathBuf};
use std::process::Command;

use message_store_sqlite_tests::library_path;

/// What every host prints for its session.
const SESSION_OUTPUT: [&str; 5] = [
    "0",
    "1",
    r#"account-123|Opened|0|1|{"limit": 100, "owner": "ann"}"#,
    r#"account-123|Deposited|1|2|{"amount": 10}"#,
    // cardinal id 123 is member 1 of a group of 3
    "2",
];
const CONFLICT: &str = "Wrong expected version: 0 (Stream: account-123, Stream Version: 1)";

fn hosts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../hosts")
}

/// The path without its suffix: hosts add the platform's own.
fn library_stem() -> String {
    let path = library_path();
    let text = path.to_string_lossy();
    text.strip_suffix(std::env::consts::DLL_SUFFIX)
        .unwrap_or(&text)
        .to_string()
}

/// The session's lines, then the conflict's error as the host printed it.
#[track_caller]
fn assert_session_with_conflict(stdout: &str, stderr: &str) {
    let mut expected = SESSION_OUTPUT.to_vec();
    expected.push(CONFLICT);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        expected,
        "stderr: {stderr}"
    );
}

fn run(command: &mut Command) -> (String, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (stdout, stderr)
}

#[test]
fn sqlite3_cli() {
    let script = format!(
        ".load {}\n\
         SELECT write_message('8a6b6d4c-43ae-4a4f-9b7c-3c1d2a3b4c5d', 'account-123', 'Opened', '{{\"owner\":\"ann\",\"limit\":100}}');\n\
         SELECT write_message('8a6b6d4c-43ae-4a4f-9b7c-3c1d2a3b4c5e', 'account-123', 'Deposited', '{{\"amount\":10}}', NULL, 0);\n\
         SELECT stream_name, type, position, global_position, data FROM get_stream_messages('account-123');\n\
         SELECT count(*) FROM get_category_messages('account', 1, 1000, NULL, 1, 3);\n\
         SELECT write_message('8a6b6d4c-43ae-4a4f-9b7c-3c1d2a3b4c5f', 'account-123', 'Deposited', '{{}}', NULL, 0);\n",
        library_stem()
    );
    let mut child = Command::new("sqlite3")
        .arg(":memory:")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sqlite3 CLI (apt package sqlite3)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        SESSION_OUTPUT,
        "stderr: {stderr}"
    );
    assert!(stderr.contains(CONFLICT), "stderr: {stderr}");
}

#[test]
fn python_sqlite3() {
    // Debian's python3: its sqlite3 module can load extensions.
    let (stdout, stderr) = run(Command::new("/usr/bin/python3")
        .arg(hosts_dir().join("python_host.py"))
        .arg(library_stem()));
    assert_session_with_conflict(&stdout, &stderr);
}

#[test]
fn node_better_sqlite3() {
    let node = hosts_dir().join("node");
    assert!(
        node.join("node_modules/better-sqlite3").exists(),
        "better-sqlite3 is not installed: run `npm ci` in {} (tests/setup.sh does)",
        node.display()
    );
    let (stdout, stderr) = run(Command::new("node")
        .current_dir(&node)
        .arg("host.js")
        .arg(library_path()));
    assert_session_with_conflict(&stdout, &stderr);
}

/// Runs the Python program `file` of `tests/hosts/`, which README.md
/// quotes whole in one code block (so the README shows what the tests
/// run), on a fresh store, and checks that it prints `expected`, what its
/// comments say, line by line.
fn readme_example_prints(file: &str, expected: &[&str]) {
    let example = hosts_dir().join(file);
    let code = std::fs::read_to_string(&example).unwrap();
    let readme = include_str!("../../../README.md");
    assert!(
        readme.contains(&format!("```python\n{code}```\n")),
        "README.md must quote {} whole",
        example.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = run(Command::new("/usr/bin/python3")
        .arg(&example)
        .arg(library_stem())
        .arg(dir.path().join("store.db")));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        expected,
        "stderr: {stderr}"
    );
}

/// The README's Python example.
#[test]
fn python_example_in_the_readme() {
    readme_example_prints(
        "python_example.py",
        &[
            "0",
            "1",
            "Wrong expected version: -1 (Stream: account-1, Stream Version: 1)",
            "2",
            "0",
            "database is locked after 0 s",
            r#"0 Opened {"owner": "ada"}"#,
            "1 Noted {}",
            r#"2 Deposited {"amount": 10}"#,
            r#"3 Deposited {"amount": 5}"#,
        ],
    );
}

/// The README's Python example of retention on SQLite (policies, removal
/// loops of short transactions, VACUUM and incremental vacuum).
#[test]
fn python_retention_example() {
    readme_example_prints(
        "retention_example.py",
        &["1170", "399", "99", "True", "2 0", "11", "True", "0"],
    );
}
