//! Upgrades: a database installed at any released version and updated with
//! `ALTER EXTENSION message_store UPDATE` has exactly the catalog of a fresh
//! install of this version and keeps every message; and before the update,
//! the new library serves that version's SQL objects.

use message_store_pg_tests::*;
use postgres::Client;

/// Messages over several streams and categories, with and without
/// metadata, unicode included.
fn write_messages(client: &mut Client) {
    for (stream, metadata) in [
        ("account-1", None),
        ("account-2", Some(r#"{"correlationStreamName": "order-9"}"#)),
        ("account-1", Some(r#"{"a": {"b": [1, 2.50, null]}}"#)),
        ("order-9", None),
        ("withdrawal:command-7", None),
        ("ünïcødé-κ", Some(r#"{"emoji": "✓"}"#)),
        ("account-1", None),
    ] {
        client
            .execute(
                "SELECT message_store.write_message($1, $2, 'Happened', '{\"n\": 1}'::jsonb, $3::text::jsonb)",
                &[&new_id(), &stream, &metadata],
            )
            .unwrap();
    }
}

fn max_global_position(client: &mut Client) -> i64 {
    client
        .query_one(
            "SELECT max(global_position) FROM message_store.messages",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn updating_from_every_release_gives_a_fresh_install() {
    let (_, mut fresh) = fresh_database("upgrade_fresh");
    let expected = extension_catalog(&mut fresh);
    assert!(expected.contains(&format!(
        "extension: message_store owner=postgres schema=message_store relocatable=false version={CURRENT_VERSION}"
    )));
    let released = released_versions();
    let older: Vec<&String> = released.iter().filter(|v| *v != CURRENT_VERSION).collect();
    assert!(!older.is_empty(), "a release to update from");
    for version in older {
        let (_, mut client) = fresh_database_at(
            version,
            &format!("upgrade_from_{}", version.replace('.', "_")),
        );
        write_messages(&mut client);
        let messages = messages_as_text(&mut client);
        let last = max_global_position(&mut client);
        client
            .batch_execute("ALTER EXTENSION message_store UPDATE")
            .unwrap();
        let actual = extension_catalog(&mut client);
        let missing: Vec<&String> = expected.iter().filter(|l| !actual.contains(l)).collect();
        let extra: Vec<&String> = actual.iter().filter(|l| !expected.contains(l)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "from {version}: missing {missing:#?}\nextra {extra:#?}"
        );
        assert_eq!(messages_as_text(&mut client), messages, "from {version}");
        // The stream and the global sequence go on after the kept messages.
        let position: i64 = client
            .query_one(
                "SELECT message_store.write_message($1, 'account-1', 'After', '{}', NULL, 2)",
                &[&new_id()],
            )
            .unwrap()
            .get(0);
        assert_eq!(position, 3);
        assert_eq!(max_global_position(&mut client), last + 1);
        // 0.2.0's batch writers, there after the update, go on from the
        // stream's version too.
        let batch = format!(
            r#"[{{"stream_name": "account-1", "expected_version": 3, "messages": [{{"id": "{}", "type": "Batched", "data": {{}}}}]}}, {{"stream_name": "other-1", "messages": [{{"id": "{}", "type": "Batched", "data": {{}}}}]}}]"#,
            new_id(),
            new_id()
        );
        let positions: Vec<i64> = client
            .query_one(
                "SELECT message_store.write_batch($1::text::jsonb)",
                &[&batch],
            )
            .unwrap()
            .get(0);
        assert_eq!(positions, [4, 0], "from {version}");
        assert_eq!(max_global_position(&mut client), last + 3);
    }
}

/// Every function of 0.1.0's script, called through 0.1.0's objects (the
/// database is not updated) against this build's library.
#[test]
fn the_new_library_serves_a_database_still_on_0_1_0() {
    let (db, mut client) = fresh_database_at("0.1.0", "upgrade_library_serves_0_1_0");
    let functions: Vec<String> = client
        .query(
            "SELECT proname::text FROM pg_proc WHERE pronamespace = 'message_store'::regnamespace ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        functions,
        [
            "acquire_lock",
            "cardinal_id",
            "category",
            "get_category_messages",
            "get_last_stream_message",
            "get_stream_messages",
            "grant_client_privileges",
            "hash_64",
            "id",
            "is_category",
            "is_consumer_group_member",
            "message_store_version",
            "stream_version",
            "write_message",
        ]
    );
    let extversion: String = client
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'message_store'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(extversion, "0.1.0");
    let one = |client: &mut Client, sql: &str| -> String {
        client
            .query_one(&format!("SELECT ({sql})::text"), &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get::<_, Option<String>>(0)
            .unwrap_or_else(|| "NULL".to_string())
    };
    let id = new_id();
    let cases = [
        (
            format!("message_store.write_message('{id}', 'account-1', 'Opened', '{{\"a\": 1}}', '{{\"correlationStreamName\": \"order-1\"}}', -1)"),
            "0",
        ),
        (
            format!("message_store.write_message('{}', 'account-1', 'Deposited', '{{}}')", new_id()),
            "1",
        ),
        ("message_store.category('account-1')".to_string(), "account"),
        ("message_store.id('account-1+2')".to_string(), "1+2"),
        ("message_store.cardinal_id('account-1+2')".to_string(), "1"),
        ("message_store.is_category('account')".to_string(), "true"),
        // Message DB's definition of hash_64.
        (
            "message_store.hash_64('account') = ('x' || left(md5('account'), 16))::bit(64)::bigint".to_string(),
            "true",
        ),
        (
            "message_store.is_consumer_group_member('account-123', 1, 3)".to_string(),
            "true",
        ),
        ("message_store.message_store_version()".to_string(), "1.3.0"),
        ("message_store.stream_version('account-1')".to_string(), "1"),
        (
            "message_store.acquire_lock('account-1') = message_store.hash_64('account')".to_string(),
            "true",
        ),
        (
            "SELECT string_agg(position::text, ',') FROM message_store.get_stream_messages('account-1')".to_string(),
            "0,1",
        ),
        (
            "SELECT count(*) FROM message_store.get_category_messages('account', 1, 10, 'order', NULL, NULL)".to_string(),
            "1",
        ),
        (
            "SELECT type FROM message_store.get_last_stream_message('account-1')".to_string(),
            "Deposited",
        ),
        (
            "SELECT type FROM message_store.get_last_stream_message('account-1', 'Opened')".to_string(),
            "Opened",
        ),
        (
            "SELECT message_count FROM message_store.stream_summary".to_string(),
            "2",
        ),
    ];
    for (sql, expected) in &cases {
        assert_eq!(one(&mut client, sql), *expected, "{sql}");
    }
    // The library's checks hold for the old objects too.
    client
        .batch_execute("SET message_store.sql_condition = on")
        .unwrap();
    assert_error(
        client.query(
            "SELECT * FROM message_store.get_stream_messages('account-1', 0, 10, 'true) OR (true')",
            &[],
        ),
        "42601",
        "SQL condition must be one boolean expression: \")\" would close a parenthesis the condition did not open",
    );
    client_role(&mut client, "ms_upgrade_client");
    let mut app = connect_as(&db, "ms_upgrade_client", "");
    let position: i64 = app
        .query_one(
            "SELECT message_store.write_message($1, 'account-1', 'ByClient', '{}')",
            &[&new_id()],
        )
        .unwrap()
        .get(0);
    assert_eq!(position, 2);
}

/// A store on a release has clients: the update keeps what
/// `grant_client_privileges` gave them, so they read and write on after
/// it, and takes back only CREATE on the schema, which would let a role
/// put objects where the clients' search_path finds them.
#[test]
fn updating_keeps_the_clients_privileges() {
    for version in released_versions()
        .iter()
        .filter(|v| v.as_str() != CURRENT_VERSION)
    {
        let (db, mut admin) = fresh_database_at(
            version,
            &format!("upgrade_clients_{}", version.replace('.', "_")),
        );
        let role = format!("ms_upgrade_client_{}", version.replace('.', "_"));
        client_role(&mut admin, &role);
        admin
            .batch_execute(&format!("GRANT CREATE ON SCHEMA message_store TO {role}"))
            .unwrap();
        let mut client = connect_as(&db, &role, "");
        write(&mut client, "account-1", "Before");
        admin
            .batch_execute("ALTER EXTENSION message_store UPDATE")
            .unwrap();
        let mut client = connect_as(&db, &role, "");
        assert_eq!(
            write(&mut client, "account-1", "After"),
            1,
            "from {version}"
        );
        let types: Vec<String> = client
            .query(
                "SELECT type FROM message_store.get_stream_messages('account-1')",
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(types, ["Before", "After"], "from {version}");
        let privileges: (bool, bool) = {
            let row = admin
                .query_one(
                    "SELECT has_schema_privilege($1, 'message_store', 'USAGE'),
                            has_schema_privilege($1, 'message_store', 'CREATE')",
                    &[&role],
                )
                .unwrap();
            (row.get(0), row.get(1))
        };
        assert_eq!(privileges, (true, false), "from {version}");
    }
}
