//! Releases without a database: released scripts never change, the version
//! is the same everywhere it is written, a schema change cannot land
//! without its upgrade script, and the library exports every C function any
//! script names.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use message_store_pg_tests::{
    changelog_versions, released_versions, workspace_file, CURRENT_VERSION,
};

const PG_CONFIG: &str = "/usr/lib/postgresql/15/bin/pg_config";

fn sql_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sql")
}

fn pg_config(what: &str) -> PathBuf {
    let out = Command::new(PG_CONFIG).arg(what).output().unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn install_script(version: &str) -> String {
    format!("message_store--{version}.sql")
}

fn upgrade_script(from: &str, to: &str) -> String {
    format!("message_store--{from}--{to}.sql")
}

/// The scripts in sql/ whose content is frozen, with their sha256.
fn frozen() -> Vec<(String, String)> {
    workspace_file("sql/released.sha256")
        .lines()
        .map(|line| {
            let (sum, name) = line.split_once("  ").expect("sha256sum format");
            (name.to_string(), sum.to_string())
        })
        .collect()
}

#[test]
fn released_scripts_never_change() {
    let frozen = frozen();
    for (name, sum) in &frozen {
        let out = Command::new("sha256sum")
            .arg(sql_dir().join(name))
            .output()
            .unwrap();
        let actual = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            actual.split_whitespace().next(),
            Some(sum.as_str()),
            "sql/{name} is a released script and must not change"
        );
    }
    // Every release's install script, and the upgrade between each two
    // releases, is on the list.
    let names: BTreeSet<&str> = frozen.iter().map(|(name, _)| name.as_str()).collect();
    let released = released_versions();
    assert!(!released.is_empty());
    for version in &released {
        assert!(
            names.contains(install_script(version).as_str()),
            "{version} is released: sql/released.sha256 must hold its install script"
        );
    }
    for pair in released.windows(2) {
        let name = upgrade_script(&pair[0], &pair[1]);
        assert!(names.contains(name.as_str()), "{name} is released");
    }
}

#[test]
fn the_version_is_the_same_everywhere() {
    let versions = changelog_versions();
    assert_eq!(
        versions.first().map(|(version, _)| version.as_str()),
        Some(CURRENT_VERSION),
        "the newest CHANGELOG.md entry is the workspace's version"
    );
    for (version, date) in &versions {
        if let Some(date) = date {
            let bytes = date.as_bytes();
            assert!(
                date.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-',
                "{version}: {date}"
            );
        }
    }
    // Only the newest entry may be unreleased.
    assert!(versions.iter().skip(1).all(|(_, date)| date.is_some()));
    let control = workspace_file("pg_ext/message_store.control");
    assert!(
        control
            .lines()
            .any(|line| line == "default_version = '@CARGO_VERSION@'"),
        "the control file takes its version from Cargo"
    );
    let schema_versions: Vec<&str> = message_store_core::release::SQLITE_SCHEMA_VERSIONS
        .iter()
        .rev()
        .map(|(version, _)| *version)
        .collect();
    let changelog: Vec<&str> = versions.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(
        schema_versions, changelog,
        "every release has its SQLite schema version in core/src/release.rs"
    );
    assert_eq!(message_store_core::release::VERSION, CURRENT_VERSION);
}

/// An install script as cargo-pgrx writes it, without the line that names
/// where in pg_ext its SQL file is included (which moves with the code).
fn normalized(script: &str) -> String {
    script
        .lines()
        .filter(|line| !line.starts_with("-- pg_ext/src/lib.rs:"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_schema_change_comes_with_its_upgrade() {
    let released = released_versions();
    let newest = released.last().expect("a released version");
    let generated = std::fs::read_to_string(
        pg_config("--sharedir")
            .join("extension")
            .join(install_script(CURRENT_VERSION)),
    )
    .expect("the installed install script of this version (run tests/install.sh)");
    let frozen = std::fs::read_to_string(sql_dir().join(install_script(newest))).unwrap();
    if newest == CURRENT_VERSION {
        assert_eq!(
            normalized(&generated),
            normalized(&frozen),
            "{newest} is released: sql/schema.sql must stay its install script; open the next version for a change"
        );
        return;
    }
    let upgrade = sql_dir().join(upgrade_script(newest, CURRENT_VERSION));
    assert!(
        upgrade.exists(),
        "{CURRENT_VERSION} is not released: {} must exist, so databases on {newest} reach it{}",
        upgrade.display(),
        if normalized(&generated) == normalized(&frozen) {
            ""
        } else {
            " (and sql/schema.sql has changed since)"
        }
    );
    let text = std::fs::read_to_string(&upgrade).unwrap();
    assert!(
        text.starts_with(
            "\\echo Use \"ALTER EXTENSION message_store UPDATE\" to load this file. \\quit\n"
        ),
        "{} must start with the psql guard",
        upgrade.display()
    );
}

/// The C functions SQL scripts name: `AS 'MODULE_PATHNAME', '<symbol>'`.
fn symbols(script: &str) -> BTreeSet<String> {
    script
        .split("'MODULE_PATHNAME', '")
        .skip(1)
        .map(|rest| rest[..rest.find('\'').unwrap()].to_string())
        .collect()
}

#[test]
fn the_library_has_every_c_function_any_script_names() {
    let mut named = symbols(&workspace_file("sql/schema.sql"));
    for entry in std::fs::read_dir(sql_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("message_store--") && name.ends_with(".sql") {
            named.extend(symbols(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    assert!(named.len() >= 13, "{named:?}");
    let library = pg_config("--pkglibdir").join("message_store.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&library)
        .output()
        .unwrap();
    assert!(out.status.success());
    let exported: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().last().map(str::to_string))
        .collect();
    for symbol in &named {
        assert!(
            exported.contains(symbol),
            "{} lacks {symbol}",
            library.display()
        );
        let finfo = format!("pg_finfo_{symbol}");
        assert!(
            exported.contains(&finfo),
            "{} lacks {finfo}",
            library.display()
        );
    }
}
