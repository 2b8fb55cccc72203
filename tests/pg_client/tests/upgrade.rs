//! Upgrades: a database installed at any released version and updated with
//! `ALTER EXTENSION message_store UPDATE` has exactly the catalog of a fresh
//! install of this version and keeps every message; and before the update,
//! the new library serves that version's SQL objects.

use message_store_pg_tests::*;
use postgres::Client;

/// The extension's objects as text lines, one query per kind of object,
/// named by name (never by oid), sorted.
fn catalog(client: &mut Client) -> Vec<String> {
    const QUERIES: &[(&str, &str)] = &[
        (
            "extension",
            "SELECT extname || ' owner=' || extowner::regrole || ' schema=' || extnamespace::regnamespace
                    || ' relocatable=' || extrelocatable || ' version=' || extversion
             FROM pg_extension WHERE extname = 'message_store'",
        ),
        (
            "schema",
            "SELECT nspname || ' owner=' || nspowner::regrole || ' acl=' || coalesce(nspacl::text, '-')
             FROM pg_namespace WHERE nspname = 'message_store'",
        ),
        (
            "function",
            "SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ') returns '
                    || pg_get_function_result(p.oid) || ' kind=' || p.prokind::text::text
                    || ' volatility=' || p.provolatile::text || ' strict=' || p.proisstrict
                    || ' parallel=' || p.proparallel::text || ' security_definer=' || p.prosecdef
                    || ' leakproof=' || p.proleakproof || ' cost=' || p.procost || ' rows=' || p.prorows
                    || ' language=' || l.lanname || ' src=' || md5(p.prosrc) || ' bin=' || coalesce(p.probin, '-')
                    || ' config=' || coalesce(p.proconfig::text, '-')
                    || ' owner=' || p.proowner::regrole || ' acl=' || coalesce(p.proacl::text, '-')
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
             WHERE p.pronamespace = 'message_store'::regnamespace",
        ),
        (
            "type",
            "SELECT t.typname || ' kind=' || t.typtype::text || ' owner=' || t.typowner::regrole
                    || ' acl=' || coalesce(t.typacl::text, '-') || ' attributes=' || coalesce((
                      SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                      FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '-')
             FROM pg_type t WHERE t.typnamespace = 'message_store'::regnamespace",
        ),
        (
            "relation",
            "SELECT c.relname || ' kind=' || c.relkind::text || ' owner=' || c.relowner::regrole
                    || ' acl=' || coalesce(c.relacl::text, '-') || ' persistence=' || c.relpersistence::text
                    || ' options=' || coalesce(c.reloptions::text, '-')
             FROM pg_class c WHERE c.relnamespace = 'message_store'::regnamespace",
        ),
        (
            "column",
            "SELECT c.relname || '.' || a.attname || ' #' || a.attnum || ' ' || format_type(a.atttypid, a.atttypmod)
                    || ' not_null=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
                    || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
                    || ' collation=' || a.attcollation::regcollation || ' storage=' || a.attstorage::text
                    || ' compression=' || a.attcompression::text
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE c.relnamespace = 'message_store'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped",
        ),
        (
            "constraint",
            "SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
             FROM pg_constraint WHERE connamespace = 'message_store'::regnamespace",
        ),
        (
            "index",
            "SELECT indexrelid::regclass || ' ' || pg_get_indexdef(indexrelid)
             FROM pg_index WHERE indrelid = 'message_store.messages'::regclass",
        ),
        (
            "view",
            "SELECT c.relname || ' ' || pg_get_viewdef(c.oid)
             FROM pg_class c WHERE c.relnamespace = 'message_store'::regnamespace AND c.relkind = 'v'",
        ),
        (
            "sequence",
            "SELECT s.seqrelid::regclass || ' ' || s.seqtypid::regtype || ' start=' || s.seqstart
                    || ' increment=' || s.seqincrement || ' min=' || s.seqmin || ' max=' || s.seqmax
                    || ' cache=' || s.seqcache || ' cycle=' || s.seqcycle
                    || ' owned_by=' || coalesce(pg_get_serial_sequence('message_store.messages', 'global_position'), '-')
             FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
             WHERE c.relnamespace = 'message_store'::regnamespace",
        ),
        (
            "config_dump",
            "SELECT u.relation::regclass || ' condition=' || u.condition
             FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(relation, condition)
             WHERE e.extname = 'message_store'",
        ),
        (
            "member",
            "SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
             FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
             WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'message_store' AND d.deptype = 'e'",
        ),
        (
            "trigger",
            "SELECT tgrelid::regclass || ' ' || tgname FROM pg_trigger
             WHERE tgrelid = 'message_store.messages'::regclass",
        ),
        (
            "comment",
            "SELECT pg_describe_object(d.classoid, d.objoid, d.objsubid) || ' ' || d.description
             FROM pg_description d JOIN pg_depend x ON x.classid = d.classoid AND x.objid = d.objoid
             JOIN pg_extension e ON x.refobjid = e.oid
             WHERE x.refclassid = 'pg_extension'::regclass AND e.extname = 'message_store'",
        ),
    ];
    let mut lines = Vec::new();
    for (kind, sql) in QUERIES {
        let mut rows: Vec<String> = client
            .query(*sql, &[])
            .unwrap_or_else(|e| panic!("{kind}: {e:?}"))
            .iter()
            .map(|row| format!("{kind}: {}", row.get::<_, String>(0)))
            .collect();
        assert!(
            !rows.is_empty() || matches!(*kind, "trigger" | "comment"),
            "no {kind} rows"
        );
        rows.sort();
        lines.extend(rows);
    }
    lines
}

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
    let expected = catalog(&mut fresh);
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
        let actual = catalog(&mut client);
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
