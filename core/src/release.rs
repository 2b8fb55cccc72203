//! The releases: the version of this build, and which schema each release's
//! SQLite library writes. The version itself lives once, in the workspace's
//! `Cargo.toml`; the Postgres control file takes it from there
//! (`@CARGO_VERSION@`), and `CHANGELOG.md` is checked against it.

/// This build's version, from the workspace's `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every release, oldest first, with the schema version of the SQLite file
/// its library writes (`message_store_schema.version`). A release that
/// changes the SQLite schema takes the next number and brings the migration
/// from the one before.
pub const SQLITE_SCHEMA_VERSIONS: &[(&str, i64)] = &[("0.1.0", 1), ("0.2.0", 2)];

/// The SQLite schema version this build writes and migrates files to.
pub const fn sqlite_schema_version() -> i64 {
    SQLITE_SCHEMA_VERSIONS[SQLITE_SCHEMA_VERSIONS.len() - 1].1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_release_is_this_build() {
        assert_eq!(SQLITE_SCHEMA_VERSIONS.last().unwrap().0, VERSION);
    }

    #[test]
    fn schema_versions_never_go_down() {
        for pair in SQLITE_SCHEMA_VERSIONS.windows(2) {
            assert!(pair[0].1 <= pair[1].1, "{pair:?}");
        }
    }
}
