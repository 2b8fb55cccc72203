//! A panic in any callback SQLite makes into the extension becomes an
//! SQLite error, or is dropped in a destructor, and the host lives on: the
//! library built with the test-only `panic_probe` feature
//! (`cargo build --profile panic-probe -p message_store_sqlite --features
//! panic_probe`, into target/panic-probe/, or the file named by
//! `MESSAGE_STORE_SQLITE_PANIC_PROBE_LIB`) in Debian's python3, which makes
//! each kind of callback panic in turn (tests/hosts/panics.py).

use std::path::{Path, PathBuf};
use std::process::Command;

fn probe_library() -> PathBuf {
    message_store_sqlite_tests::built_library(
        "MESSAGE_STORE_SQLITE_PANIC_PROBE_LIB",
        "panic-probe",
        "cargo build --profile panic-probe -p message_store_sqlite --features panic_probe",
    )
}

/// The callbacks of a virtual table that report an error to SQLite, in the
/// order the host tries them.
const TABLE_CALLBACKS: [&str; 8] = [
    "xConnect",
    "xBestIndex",
    "xOpen",
    "xFilter",
    "xEof",
    "xNext",
    "xColumn",
    "xRowid",
];

/// A virtual table's destructors, whose panics are dropped.
const TABLE_DESTRUCTORS: [&str; 3] = ["xClose", "xDisconnect", "drop_aux"];

/// Each case's probe and what the host printed for it.
fn expected() -> Vec<String> {
    let fails = |what: &str, callback: &str| {
        format!("{what}.{callback}: {what}: internal error (panic in {callback})")
    };
    let mut lines = Vec::new();
    for callback in TABLE_CALLBACKS {
        lines.push(fails("get_stream_messages", callback));
    }
    lines.push(fails("get_category_messages", "xFilter"));
    lines.push(fails("get_last_stream_message", "xColumn"));
    lines.push(fails("get_all_messages", "xFilter"));
    for callback in TABLE_DESTRUCTORS {
        lines.push(format!("get_stream_messages.{callback}: lived, 2 rows"));
    }
    for callback in TABLE_CALLBACKS {
        lines.push(fails("message_store_settings", callback));
    }
    for callback in TABLE_DESTRUCTORS {
        lines.push(format!("message_store_settings.{callback}: lived, 1 rows"));
    }
    for function in ["hash_64", "write_message", "set_config"] {
        lines.push(fails(function, "xFunc"));
    }
    lines.push("write_message.xDestroy: lived, 1 rows".to_string());
    for function in ["write_messages", "write_batch"] {
        lines.push(fails(function, "xFunc"));
    }
    // The batch writers' insert reads its rows through every callback but
    // xRowid; a panic in xEof is reported by the next callback, xColumn.
    for callback in TABLE_CALLBACKS.iter().filter(|c| **c != "xRowid") {
        lines.push(match *callback {
            "xEof" => "message_store_batch_rows.xEof: message_store_batch_rows: internal error (panic in xEof)".to_string(),
            _ => fails("message_store_batch_rows", callback),
        });
    }
    for callback in TABLE_DESTRUCTORS {
        lines.push(format!(
            "message_store_batch_rows.{callback}: lived, 1 rows"
        ));
    }
    // Only the calls whose destructors panicked stored their two messages.
    lines.push("6".to_string());
    for callback in ["xFilter", "xNext", "xColumn"] {
        lines.push(fails("export_messages", callback));
    }
    lines.push(fails("import_messages", "xFunc"));
    lines.push(fails("message_store_batch_rows", "xColumn"));
    // Neither import stored its message.
    lines.push("0".to_string());
    for function in [
        "remove_messages",
        "redact_stream",
        "set_retention_policy",
        "clear_retention_policy",
        "apply_retention_policies",
    ] {
        lines.push(fails(function, "xFunc"));
    }
    // Every message is still there with its data, and no policy was set.
    lines.push("(8, 8, 0)".to_string());
    for listing in ["get_streams", "get_categories"] {
        for callback in ["xFilter", "xNext", "xColumn"] {
            lines.push(fails(listing, callback));
        }
    }
    for entry_point in ["sqlite3_extension_init", "sqlite3_messagestoresqlite_init"] {
        lines.push(format!(
            "message_store.register: error during initialization: message_store: internal error (panic in {entry_point})"
        ));
    }
    // The normal write and read after them all.
    lines.push("2".to_string());
    lines.push("(3, 2)".to_string());
    lines
}

#[test]
fn every_callback_turns_a_panic_into_an_error_and_the_host_lives_on() {
    let library = probe_library();
    let text = library.to_string_lossy();
    let stem = text
        .strip_suffix(std::env::consts::DLL_SUFFIX)
        .unwrap_or(&text);
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hosts/panics.py");
    let output = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(stem)
        .arg(dir.path().join("store.db"))
        .env_remove("MESSAGE_STORE_PANIC_IN")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("Debian's python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // A panic that reached SQLite's frames aborts the process (SIGABRT).
    assert!(
        output.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        expected(),
        "stderr: {stderr}"
    );
    // Each case panicked for real, destructors included: Rust's panic hook
    // printed the probe's message.
    for line in expected().iter().filter(|line| line.contains(": ")) {
        let probe = line.split(": ").next().unwrap();
        assert!(
            stderr.contains(&format!("panic probe: {probe}\n")),
            "no panic in {probe}: {stderr}"
        );
    }
}

/// The probe is in the test build only: the shipped library does not read
/// the variable, the probe build does.
#[test]
fn the_shipped_library_has_no_probe() {
    let has_probe = |path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        let name = b"MESSAGE_STORE_PANIC_IN";
        bytes.windows(name.len()).any(|window| window == name)
    };
    assert!(has_probe(&probe_library()));
    assert!(!has_probe(&message_store_sqlite_tests::library_path()));
}
