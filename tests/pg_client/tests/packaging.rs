//! The Postgres extension's packaging metadata, without a database:
//! `pg_ext/META.json` (for PGXN) holds every key the PGXN meta spec 1.0
//! requires, in the spec's forms, and says what the workspace and the control
//! file say. META.json is committed JSON that no build rewrites, so this test
//! is what keeps its version the workspace's.
//! (`tests/packages/deb.sh` tests the Debian package end to end.)

use std::path::Path;

use message_store_pg_tests::{workspace_file, CURRENT_VERSION};
use serde_json::{Map, Value};

fn meta() -> Map<String, Value> {
    let text = workspace_file("pg_ext/META.json");
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => map,
        Ok(other) => panic!("META.json is not a JSON object: {other}"),
        Err(e) => panic!("META.json is not JSON: {e}"),
    }
}

/// A control file setting's value, unquoted.
fn control(key: &str) -> String {
    workspace_file("pg_ext/message_store.control")
        .lines()
        .find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('\'').to_string())
        })
        .unwrap_or_else(|| panic!("no {key} in the control file"))
}

fn string<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    match map.get(key) {
        Some(Value::String(s)) if !s.is_empty() => s,
        other => panic!("{key} must be a non-empty string, is {other:?}"),
    }
}

/// The spec's Term: two characters or more, no slash, backslash, space or
/// control character.
fn is_term(s: &str) -> bool {
    s.chars().count() >= 2
        && !s
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_whitespace() || c.is_control())
}

/// SemVer 2.0.0: MAJOR.MINOR.PATCH without leading zeros, then an optional
/// `-pre.release` and `+build`, each of dot-separated [0-9A-Za-z-] parts.
fn is_semver(s: &str) -> bool {
    let (rest, build) = match s.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (s, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let number = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'))
    };
    let ident = |p: &str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && (!p.bytes().all(|b| b.is_ascii_digit()) || number(p))
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| number(p))
        && pre.is_none_or(|pre| pre.split('.').all(ident))
        && build.is_none_or(|b| {
            b.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
        })
}

/// The license keys the spec names.
const LICENSES: &[&str] = &[
    "agpl_3",
    "apache_1_1",
    "apache_2_0",
    "artistic_1",
    "artistic_2",
    "bsd",
    "freebsd",
    "gfdl_1_2",
    "gfdl_1_3",
    "gpl_1",
    "gpl_2",
    "gpl_3",
    "lgpl_2_1",
    "lgpl_3_0",
    "mit",
    "mozilla_1_0",
    "mozilla_1_1",
    "openssl",
    "perl_5",
    "postgresql",
    "qpl_1_0",
    "ssleay",
    "sun",
    "zlib",
    "open_source",
    "restricted",
    "unrestricted",
    "unknown",
];

/// A key of the spec, or a custom one (`x_…`).
fn allowed(key: &str, known: &[&str]) -> bool {
    known.contains(&key) || key.starts_with("x_") || key.starts_with("X_")
}

#[test]
fn meta_json_has_the_required_keys_in_the_specs_forms() {
    let meta = meta();
    for key in [
        "name",
        "version",
        "abstract",
        "maintainer",
        "license",
        "provides",
        "meta-spec",
    ] {
        assert!(
            meta.contains_key(key),
            "META.json lacks the required key {key}"
        );
    }
    let known = [
        "name",
        "version",
        "abstract",
        "maintainer",
        "license",
        "provides",
        "meta-spec",
        "description",
        "generated_by",
        "tags",
        "no_index",
        "prereqs",
        "release_status",
        "resources",
    ];
    for key in meta.keys() {
        assert!(
            allowed(key, &known),
            "META.json: {key} is no key of the spec"
        );
    }

    let spec = meta["meta-spec"]
        .as_object()
        .expect("meta-spec is an object");
    let spec_version = string(spec, "version");
    assert!(
        spec_version
            .strip_prefix("1.0.")
            .is_some_and(|patch| !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit())),
        "meta-spec.version must be 1.0.x, is {spec_version}"
    );
    if let Some(url) = spec.get("url") {
        assert_eq!(url, "https://pgxn.org/meta/spec.txt");
    }

    let name = string(&meta, "name");
    assert!(is_term(name), "name {name:?} is no Term");
    assert_eq!(name, "message_store");
    assert!(is_semver(string(&meta, "version")));
    // The abstract is the control file's comment, which `\dx` shows.
    assert_eq!(string(&meta, "abstract"), control("comment"));

    match &meta["maintainer"] {
        Value::String(s) => assert!(!s.is_empty(), "maintainer is empty"),
        Value::Array(list) => {
            assert!(!list.is_empty(), "maintainer is an empty list");
            for m in list {
                assert!(m.as_str().is_some_and(|s| !s.is_empty()), "maintainer {m}");
            }
        }
        other => panic!("maintainer must be a string or a list of strings, is {other}"),
    }

    // The workspace's license, as the spec spells it.
    assert_eq!(
        meta["license"],
        env!("CARGO_PKG_LICENSE").to_lowercase(),
        "META.json's license is not the workspace's"
    );
    assert!(LICENSES.contains(&meta["license"].as_str().unwrap()));

    let provides = meta["provides"].as_object().expect("provides is an object");
    assert!(!provides.is_empty(), "provides is empty");
    let extension_keys = ["file", "version", "abstract", "docfile", "docpath"];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pg_ext");
    for (extension, entry) in provides {
        assert!(is_term(extension), "provides: {extension:?} is no Term");
        let entry = entry.as_object().expect("a provides entry is an object");
        for key in entry.keys() {
            assert!(
                allowed(key, &extension_keys),
                "provides.{extension}: {key} is no key of the spec"
            );
        }
        // A relative Unix path from the distribution's root (META.json's folder).
        let file = string(entry, "file");
        assert!(
            !file.starts_with('/') && !file.contains('\\'),
            "provides.{extension}.file {file}"
        );
        assert!(
            root.join(file).is_file(),
            "provides.{extension}.file: no pg_ext/{file}"
        );
        assert!(is_semver(string(entry, "version")));
    }
    assert!(
        provides.contains_key(&control_extension_name()),
        "provides lacks the extension the control file installs"
    );

    if let Some(status) = meta.get("release_status") {
        assert!(
            ["stable", "testing", "unstable"].contains(&status.as_str().unwrap_or("")),
            "release_status {status}"
        );
    }
    if let Some(tags) = meta.get("tags") {
        let tags = tags.as_array().expect("tags is a list");
        assert!(!tags.is_empty(), "tags is an empty list");
        for tag in tags {
            let tag = tag.as_str().expect("a tag is a string");
            let n = tag.chars().count();
            assert!(
                (2..=255).contains(&n)
                    && !tag.chars().any(|c| c == '/' || c == '\\' || c.is_control()),
                "tag {tag:?}"
            );
        }
    }
    if let Some(prereqs) = meta.get("prereqs") {
        let phases = prereqs.as_object().expect("prereqs is an object");
        for (phase, relations) in phases {
            assert!(
                allowed(phase, &["configure", "build", "test", "runtime", "develop"]),
                "prereqs: {phase} is no phase"
            );
            for (relation, _) in relations.as_object().expect("a phase is an object") {
                assert!(
                    allowed(
                        relation,
                        &["requires", "recommends", "suggests", "conflicts"]
                    ),
                    "prereqs.{phase}: {relation} is no relationship"
                );
            }
        }
    }
}

/// The extension's name: its control file's, `<name>.control`.
fn control_extension_name() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pg_ext");
    let controls: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".control").map(str::to_string)
        })
        .collect();
    assert_eq!(
        controls.len(),
        1,
        "pg_ext holds one control file: {controls:?}"
    );
    controls.into_iter().next().unwrap()
}

#[test]
fn meta_json_versions_are_the_workspaces() {
    let meta = meta();
    assert_eq!(
        meta["version"], CURRENT_VERSION,
        "META.json's version is not the workspace's (Cargo.toml [workspace.package])"
    );
    for (extension, entry) in meta["provides"].as_object().unwrap() {
        assert_eq!(
            entry["version"], CURRENT_VERSION,
            "META.json's provides.{extension}.version is not the workspace's"
        );
    }
    // The control file takes the same version from cargo-pgrx at build time.
    assert_eq!(control("default_version"), "@CARGO_VERSION@");
}

#[test]
fn semver_rule() {
    for good in [
        "0.2.0",
        "1.0.0-rc.1",
        "1.0.0-alpha-a.b-c+build.1-aef.1",
        "10.20.30",
    ] {
        assert!(is_semver(good), "{good}");
    }
    for bad in [
        "0.2", "01.2.3", "1.2.3-", "1.2.3-01", "1.2.3+", "1.2.3.4", "v1.2.3", "",
    ] {
        assert!(!is_semver(bad), "{bad}");
    }
}
