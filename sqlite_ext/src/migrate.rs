//! Migrations of a database file's message store from one schema version
//! to the next.
//!
//! A release that changes `sql/sqlite_schema.sql` gives it the next schema
//! version (`core/src/release.rs`) and adds the migration from the version
//! before to `MIGRATIONS`. The first write to a file at an older version
//! applies every step from its version to this library's, in one
//! transaction, and records the new version in `message_store_schema`
//! (`Session::migrate`); reads leave the file as it is.
//!
//! `Session::inspect` checks a file's table against the current schema. A
//! migration that changes the table or the store's indexes must also let it
//! accept the older shape, or files at the older version are refused before
//! their first write can migrate them.

/// The SQL that turns a store at schema version `from` into `from + 1`.
#[derive(Debug, PartialEq, Eq)]
pub struct Migration {
    pub from: i64,
    pub sql: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    // Release 0.2.0: the retention policies' table, as the schema file
    // creates it (a test checks the text is the file's). Without `IF NOT
    // EXISTS`: a table of that name the file's owner made is not taken
    // for the store's; the migration fails, and the file stays as it was.
    Migration {
        from: 1,
        sql: "CREATE TABLE main.retention_policies (
  category TEXT PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('keep_seconds', 'keep_last')),
  amount INTEGER NOT NULL CHECK (amount >= 1)
);",
    },
];

/// The migrations that take a store from version `from` to `to`, in order;
/// an error naming the versions when a step is missing.
pub fn path(migrations: &[Migration], from: i64, to: i64) -> Result<Vec<&Migration>, String> {
    (from..to)
        .map(|version| {
            migrations
                .iter()
                .find(|migration| migration.from == version)
                .ok_or_else(|| {
                    format!(
                        "the message store in this database has schema version {from}, older than this extension's {to}, and this extension has no migration from schema version {version} to {}",
                        version + 1
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use message_store_core::release::{sqlite_schema_version, SQLITE_SCHEMA_VERSIONS};

    /// Steps with no SQL: what `path` picks, not a schema.
    const STEPS: &[Migration] = &[
        Migration { from: 1, sql: "" },
        Migration { from: 2, sql: "" },
        Migration { from: 3, sql: "" },
    ];

    fn froms(steps: Result<Vec<&Migration>, String>) -> Result<Vec<i64>, String> {
        steps.map(|steps| steps.iter().map(|step| step.from).collect())
    }

    #[test]
    fn a_store_at_the_library_version_needs_no_step() {
        assert_eq!(froms(path(&[], 1, 1)), Ok(vec![]));
        assert_eq!(froms(path(STEPS, 3, 3)), Ok(vec![]));
    }

    #[test]
    fn every_step_from_the_store_version_to_the_library_version_in_order() {
        assert_eq!(froms(path(STEPS, 1, 4)), Ok(vec![1, 2, 3]));
        assert_eq!(froms(path(STEPS, 2, 4)), Ok(vec![2, 3]));
        assert_eq!(froms(path(STEPS, 1, 2)), Ok(vec![1]));
    }

    #[test]
    fn a_missing_step_is_refused_with_the_versions() {
        assert_eq!(
            froms(path(&[], 0, 1)),
            Err("the message store in this database has schema version 0, older than this extension's 1, and this extension has no migration from schema version 0 to 1".to_string())
        );
        let gap = [
            Migration { from: 1, sql: "" },
            Migration { from: 3, sql: "" },
        ];
        assert_eq!(
            froms(path(&gap, 1, 4)),
            Err("the message store in this database has schema version 1, older than this extension's 4, and this extension has no migration from schema version 2 to 3".to_string())
        );
    }

    /// Fails when a release takes a new schema version without bringing
    /// the migration to it.
    #[test]
    fn every_released_schema_version_reaches_this_library() {
        for (release, version) in SQLITE_SCHEMA_VERSIONS {
            assert!(
                path(MIGRATIONS, *version, sqlite_schema_version()).is_ok(),
                "no way from release {release}'s schema version {version}"
            );
        }
    }

    /// A migrated file has the tables a new file gets: each step's SQL is
    /// a statement of the schema file, word for word but for the file's
    /// `IF NOT EXISTS`.
    #[test]
    fn each_step_is_the_schema_file_s_own_statement() {
        let schema = include_str!("../../sql/sqlite_schema.sql");
        for step in MIGRATIONS {
            let in_schema =
                step.sql
                    .replacen("CREATE TABLE main.", "CREATE TABLE IF NOT EXISTS main.", 1);
            assert!(schema.contains(&in_schema), "{}", step.sql);
        }
    }

    #[test]
    fn one_migration_per_version_oldest_first() {
        for pair in MIGRATIONS.windows(2) {
            assert_eq!(pair[0].from + 1, pair[1].from);
        }
        if let Some(last) = MIGRATIONS.last() {
            assert_eq!(last.from + 1, sqlite_schema_version());
        }
    }
}
